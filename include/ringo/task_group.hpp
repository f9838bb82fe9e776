#pragma once
/// \file
/// ringo::task_group: a nursery. Tasks spawned into a group are joined together; the first
/// exception cancels the rest and is rethrown by join().
#include <coroutine>
#include <cstdio>
#include <exception>
#include <memory>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/detail/suspension.hpp>
#include <ringo/error.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

namespace ringo {

/// Runs tasks side by side and waits for all of them. Belongs to one context; use it from
/// tasks on that context. Await join() before the group goes away: a group destroyed with
/// children still running cancels them and lets them end detached (and says so on stderr).
class task_group {
 public:
  task_group() = default;
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group() {
    if (live_ == 0) return;
    fmt::print(stderr,
               "ringo: task_group destroyed with {} task(s) still running: they are cancelled "
               "and left to end on their own; co_await group.join() before leaving its scope\n",
               live_);
    cancel();
    for (auto* c = children_; c != nullptr; c = c->next) c->group = nullptr;
  }

  /// Starts `t` as a child task. It first runs in a later turn of the loop. If the group is
  /// already cancelling (after a child failed, or cancel()), the child starts cancelled.
  /// Throws std::logic_error, starting nothing, where ringo::spawn would (outside a loop,
  /// inside sync_wait).
  template <class T>
  void spawn(task<T> t, std::source_location where = std::source_location::current()) {
    detail::loop& ctx = detail::context_for_spawn();
    auto owned = std::make_unique<child>();
    child* c = owned.get();
    c->handle = detail::spawn_on(ctx, run_child(std::move(t), c), false, where);
    owned.release();  // the child's body deletes it
    c->group = this;
    c->next = children_;
    if (children_ != nullptr) children_->prev = c;
    children_ = c;
    ++live_;
    if (cancelling_) c->handle.cancel();
  }

  /// Cancels every child still running (each gets operation_cancelled at its current or next
  /// suspension point). Children ended by this cancel are not an error: join() then returns
  /// normally, or rethrows the exception of a child that failed first.
  void cancel() noexcept {
    cancelling_ = true;
    for (auto* c = children_; c != nullptr; c = c->next) c->handle.cancel();
  }

  /// Children that have not finished.
  [[nodiscard]] std::size_t size() const noexcept { return live_; }

  class join_awaiter : detail::suspension {
   public:
    join_awaiter(task_group& g, std::source_location where) noexcept
        : suspension(where), group_(g) {}
    bool await_ready() const noexcept { return group_.live_ == 0; }
    bool await_suspend(std::coroutine_handle<> h) {
      if (!prepare()) {
        group_.cancel();  // a cancelled parent takes its children with it
        cancelled = false;
        group_.parent_cancelled_ = true;
        if (group_.live_ == 0) return false;
      }
      if (group_.joiner_ != nullptr) {
        throw std::logic_error("ringo::task_group joined by two tasks at once; join it once");
      }
      group_.joiner_ = this;
      cancel = &on_cancel;
      describe = &describe_join;
      park(h);
      return true;
    }
    void await_resume() {
      group_.joiner_ = nullptr;
      group_.cancelling_ = false;
      if (group_.error_) std::rethrow_exception(std::exchange(group_.error_, nullptr));
      if (group_.parent_cancelled_) {
        group_.parent_cancelled_ = false;
        throw operation_cancelled("task_group join cancelled");
      }
    }

   private:
    friend class task_group;
    static void on_cancel(detail::wait_node& n) noexcept {
      // Stay parked: the join ends once every child has unwound.
      auto& self = static_cast<join_awaiter&>(n);
      self.group_.parent_cancelled_ = true;
      self.group_.cancel();
    }
    static void describe_join(const detail::wait_node& n, std::string& out) {
      const auto& self = static_cast<const join_awaiter&>(n);
      out += fmt::format("task_group {} with {} task(s) running", fmt::ptr(&self.group_),
                         self.group_.live_);
    }
    task_group& group_;
  };

  /// Waits until every child has finished; rethrows the first exception a child ended with
  /// (after cancelling and waiting for the others). Cancelling the joining task cancels the
  /// children and still waits for them before operation_cancelled propagates, so no child
  /// outlives the join. The awaiting task resumes on its own context.
  join_awaiter join(std::source_location where = std::source_location::current()) {
    return join_awaiter{*this, where};
  }

 private:
  // A running child's bookkeeping: lives until the child ends, so a long-lived group (a
  // server's connections) holds nothing for children that are gone.
  struct child {
    task_group* group = nullptr;
    child* prev = nullptr;
    child* next = nullptr;
    join_handle<void> handle;
  };

  template <class T>
  static task<void> run_child(task<T> t, child* c) {
    std::exception_ptr error;
    try {
      co_await std::move(t);
    } catch (...) {
      error = std::current_exception();
    }
    if (c->group != nullptr) c->group->child_done(c, std::move(error));
    delete c;  // detaches the handle: the frame goes when this body ends
  }

  void child_done(child* c, std::exception_ptr error) noexcept {
    (c->prev != nullptr ? c->prev->next : children_) = c->next;
    if (c->next != nullptr) c->next->prev = c->prev;
    --live_;
    if (error && !error_ && !(cancelling_ && detail::is_cancellation(error))) {
      error_ = std::move(error);
      cancel();
    }
    if (live_ == 0 && joiner_ != nullptr) joiner_->wake();
  }

  child* children_ = nullptr;
  std::size_t live_ = 0;
  join_awaiter* joiner_ = nullptr;
  std::exception_ptr error_;
  bool cancelling_ = false;
  bool parent_cancelled_ = false;
};

}  // namespace ringo
