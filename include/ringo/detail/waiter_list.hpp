#pragma once
// The intrusive FIFO of suspended awaiters that every synchronization primitive keeps.
//
// A waiter is the awaiter object itself, in the awaiting coroutine's frame: linking it costs
// two pointer writes and no allocation. A node knows the list it is in, so an awaiter that is
// destroyed while still linked (its frame torn down with the context) unlinks itself, and a
// primitive destroyed with waiters still linked detaches them instead of leaving them pointing
// at freed memory.
#include <cstddef>
#include <exception>
#include <source_location>
#include <string>

#include <ringo/detail/loop.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/task_record.hpp>

namespace ringo::detail {

class waiter_list;

/// A suspension that can wait in a waiter_list. Derived awaiters add what they receive.
struct list_waiter : suspension {
  explicit list_waiter(std::source_location loc) noexcept : suspension(loc) {}
  list_waiter(const list_waiter&) = delete;
  list_waiter& operator=(const list_waiter&) = delete;
  /// Moves a waiter that has not waited yet, as a when_any, when_all or with_timeout does when
  /// it takes the awaiter into the frame of the task that will await it: only where it was
  /// made carries over. A node in a list never moves (the list points at it): that ends the
  /// program rather than corrupting the list.
  list_waiter(list_waiter&& o) noexcept : suspension(o.where) {
    if (o.linked()) [[unlikely]]
      std::terminate();
  }
  inline ~list_waiter();

  /// True while the node sits in a list.
  [[nodiscard]] bool linked() const noexcept { return list_ != nullptr; }

  // Set by push_back: left uninitialized so an awaiter that never waits pays nothing for them.
  list_waiter* prev_;
  list_waiter* next_;
  waiter_list* list_ = nullptr;
};

/// A doubly linked FIFO of list_waiter nodes. Not thread-safe: one context's tasks only.
class waiter_list {
 public:
  waiter_list() noexcept = default;
  waiter_list(const waiter_list&) = delete;
  waiter_list& operator=(const waiter_list&) = delete;
  /// Detaches the nodes still linked, so their destructors leave this (dead) list alone.
  ~waiter_list() {
    for (list_waiter* n = head_; n != nullptr; n = n->next_)
      n->list_ = nullptr;
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] list_waiter* front() const noexcept { return head_; }

  void push_back(list_waiter& n) noexcept {
    n.prev_ = tail_;
    n.next_ = nullptr;
    n.list_ = this;
    if (tail_ != nullptr) {
      tail_->next_ = &n;
    } else {
      head_ = &n;
    }
    tail_ = &n;
    ++size_;
  }

  /// Unlinks and returns the first node (the list must not be empty).
  list_waiter& pop_front() noexcept {
    list_waiter& n = *head_;
    head_ = n.next_;
    if (head_ != nullptr) {
      head_->prev_ = nullptr;
    } else {
      tail_ = nullptr;
    }
    n.list_ = nullptr;
    --size_;
    return n;
  }

  /// Unlinks `n`, which must be in this list. Its links are left as they were: only list_
  /// says whether a node is linked.
  void erase(list_waiter& n) noexcept {
    if (n.prev_ != nullptr) {
      n.prev_->next_ = n.next_;
    } else {
      head_ = n.next_;
    }
    if (n.next_ != nullptr) {
      n.next_->prev_ = n.prev_;
    } else {
      tail_ = n.prev_;
    }
    n.list_ = nullptr;
    --size_;
  }

 private:
  list_waiter* head_ = nullptr;
  list_waiter* tail_ = nullptr;
  std::size_t size_ = 0;
};

inline list_waiter::~list_waiter() {
  if (list_ != nullptr) list_->erase(*this);
}

/// "task #3 spawned at demo/locks.cpp:41", or `none` when there is no task.
inline void append_task(const task_record* t, std::string& out, const char* none = "no task") {
  if (t == nullptr) {
    out += none;
    return;
  }
  out += "task #";
  out += std::to_string(t->id);
  out += " spawned at ";
  out += t->spawned_at.file_name();
  out += ':';
  out += std::to_string(t->spawned_at.line());
}

/// The task running on this thread's context, or nullptr outside of a task.
inline task_record* current_task() noexcept {
  loop* ctx = current_loop();
  return ctx != nullptr ? ctx->running_task_or_null() : nullptr;
}

}  // namespace ringo::detail
