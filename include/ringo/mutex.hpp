#pragma once
/// \file
/// ringo::mutex: mutual exclusion between the tasks of one context (Python's threading.Lock,
/// asyncio.Lock), with first-come-first-served hand-off and deadlock reports that name the
/// holder.
#include <coroutine>
#include <exception>
#include <iterator>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <ringo/detail/scoped_release.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/waiter_list.hpp>

namespace ringo {

class mutex;
class condition_variable;

namespace detail {

/// A task queued on a mutex. condition_variable's awaiter is one too: a notified waiter
/// queues here to get its lock back.
struct mutex_waiter : list_waiter {
  mutex_waiter(mutex& m, std::source_location loc) noexcept : list_waiter(loc), mutex_(&m) {}
  mutex* mutex_;
  /// Set when unlock() handed the lock to this waiter.
  bool granted_ = false;
};

class mutex_lock_awaiter;
class condition_awaiter;

}  // namespace detail

/// A lock for the tasks of one io_context. Not for threads: it uses no atomics.
///
/// `auto guard = co_await m.lock();` takes it, waiting while another task holds it. Waiters
/// are served first come, first served: unlock() hands the lock straight to the first
/// waiter, so a task that comes later cannot take it in between. Locking it again from the
/// task that holds it is a deadlock (Python: "a Lock cannot be acquired twice"); the task
/// simply waits, and when nothing else can run, ringo::run throws ringo::deadlock_error
/// naming this mutex, its holder and the line of each co_await. Use ringo::recursive_mutex to
/// lock again from the holder. The mutex must outlive its waiters and guards.
class mutex {
 public:
  /// Owns the lock; unlocks it when destroyed or on unlock(). Move-only. It may be destroyed
  /// on any task of the context (no owner check: holding the guard is the proof).
  using guard = detail::scoped_release<mutex>;
  /// The name used in guard misuse errors.
  static constexpr const char* guard_name = "ringo::mutex::guard";

  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  /// Awaitable: takes the lock, waiting in FIFO order while another task holds it; yields a
  /// guard. Taking a free lock does not suspend. A waiting task resumes on its own context in
  /// a later turn of the loop, holding the lock. Throws operation_cancelled if the task is
  /// cancelled before it holds the lock: before it got here, while it waits, or after the lock
  /// was handed to it but before it resumed (the lock then goes on to the next waiter); it then
  /// holds nothing. `where` names the caller's line in deadlock reports.
  [[nodiscard]] inline detail::mutex_lock_awaiter lock(
      std::source_location where = std::source_location::current()) noexcept;

  /// Takes the lock if it is free; never waits. The caller must unlock() it (or adopt it
  /// into a guard with `mutex::guard{m}`).
  [[nodiscard]] bool try_lock() noexcept {
    if (locked_) return false;
    locked_ = true;
    holder_ = detail::current_task();
    return true;
  }

  /// try_lock() that returns a guard owning the lock, or nullopt if it is held.
  [[nodiscard]] std::optional<guard> try_lock_guard() noexcept {
    if (!try_lock()) return std::nullopt;
    return std::optional<guard>{std::in_place, *this};
  }

  /// Releases the lock, handing it to the first waiter if there is one. Throws
  /// std::logic_error if the mutex is not locked or is held by another task.
  void unlock() {
    if (!locked_) {
      throw std::logic_error(
          "ringo::mutex::unlock on a mutex that is not locked: unlock only after a lock (a "
          "mutex::guard does it for you)");
    }
    detail::task_record* me = detail::current_task();
    if (holder_ != me) {
      std::string who;
      detail::append_task(me, who, "code outside any task");
      std::string holder;
      detail::append_task(holder_, holder, "code outside any task");
      throw std::logic_error(
          fmt::format("ringo::mutex::unlock by {} but the mutex is held by {}: only the "
                      "holder may unlock it (pass the mutex::guard instead)",
                      who, holder));
    }
    hand_over();
  }

  /// Whether some task holds the lock.
  [[nodiscard]] bool locked() const noexcept { return locked_; }
  /// The id of the task holding the lock ("task #3"), or 0 when it is free or was taken
  /// outside any task.
  [[nodiscard]] std::uint64_t holder_id() const noexcept {
    return holder_ != nullptr ? holder_->id : 0;
  }
  /// How many tasks wait for the lock.
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

  /// Appends "mutex 0x... held by task #3 spawned at f.cpp:41" (or "... unlocked") to `out`.
  void describe(std::string& out) const {
    fmt::format_to(std::back_inserter(out), "mutex {}", fmt::ptr(this));
    if (!locked_) {
      out += " (unlocked)";
      return;
    }
    out += " held by ";
    detail::append_task(holder_, out, "code outside any task");
  }

 private:
  friend guard;
  friend class detail::mutex_lock_awaiter;
  friend class detail::condition_awaiter;

  void release_from_guard() noexcept { hand_over(); }

  /// Unlocks, or passes the lock straight to the first waiter (which stays locked_).
  void hand_over() noexcept {
    if (waiters_.empty()) {
      locked_ = false;
      holder_ = nullptr;
      return;
    }
    grant(static_cast<detail::mutex_waiter&>(waiters_.pop_front()));
  }

  /// Gives the (now or already) locked mutex to `w` and makes its task runnable.
  void grant(detail::mutex_waiter& w) noexcept {
    locked_ = true;
    holder_ = w.task;
    w.granted_ = true;
    w.wake();
  }

  detail::waiter_list waiters_;
  detail::task_record* holder_ = nullptr;
  bool locked_ = false;
};

namespace detail {

/// What mutex::lock() returns. The list node is built in place only when the lock is taken
/// and the task must wait, so an uncontended lock writes three words.
class mutex_lock_awaiter {
 public:
  mutex_lock_awaiter(mutex& m, std::source_location where) noexcept : mutex_(m), where_(where) {}
  mutex_lock_awaiter(const mutex_lock_awaiter&) = delete;
  mutex_lock_awaiter& operator=(const mutex_lock_awaiter&) = delete;
  /// Moves a lock() that has not been awaited (its node is built only when it waits), as
  /// when_any, when_all and with_timeout do when they take it into a task of their own.
  mutex_lock_awaiter(mutex_lock_awaiter&& o) noexcept : mutex_(o.mutex_), where_(o.where_) {
    if (o.node_) [[unlikely]]
      std::terminate();  // awaited already: its node may sit in the mutex's list
  }

  bool await_ready() noexcept { return !cancellation_due() && mutex_.try_lock(); }
  bool await_suspend(std::coroutine_handle<> h) {
    node& n = node_.emplace(mutex_, where_);
    if (!n.prepare()) return false;
    n.cancel = &on_cancel;
    n.describe = &describe_lock;
    mutex_.waiters_.push_back(n);
    n.park(h);
    return true;
  }
  mutex::guard await_resume() {
    if (node_) {
      node_->throw_if_cancelled();
      // Cancelled after unlock() handed it the lock but before it resumed: the lock goes on
      // to the next waiter, so a cancelled lock() holds nothing.
      if (node_->cancelled_since_wake()) [[unlikely]] {
        mutex_.hand_over();
        throw operation_cancelled();
      }
    }
    return mutex::guard{mutex_};
  }

 private:
  struct node : mutex_waiter {
    using mutex_waiter::mutex_waiter;
  };
  static void on_cancel(wait_node& w) noexcept {
    auto& n = static_cast<node&>(w);
    if (n.linked()) n.mutex_->waiters_.erase(n);
    n.cancelled = true;
    n.wake();
  }
  static void describe_lock(const wait_node& w, std::string& out) {
    const auto& n = static_cast<const node&>(w);
    n.mutex_->describe(out);
    if (n.mutex_->holder_ != nullptr && n.mutex_->holder_ == n.task) {
      out +=
          " (this same task: a ringo::mutex cannot be locked twice; use "
          "ringo::recursive_mutex)";
    }
  }
  mutex& mutex_;
  std::source_location where_;
  std::optional<node> node_;
};

}  // namespace detail

inline detail::mutex_lock_awaiter mutex::lock(std::source_location where) noexcept {
  return detail::mutex_lock_awaiter{*this, where};
}

}  // namespace ringo

/// Formats a mutex as its describe() text: "mutex 0x... held by task #3 spawned at f.cpp:41".
template <>
struct fmt::formatter<ringo::mutex> : fmt::formatter<fmt::string_view> {
  template <class FormatContext>
  auto format(const ringo::mutex& m, FormatContext& ctx) const {
    std::string text;
    m.describe(text);
    return fmt::formatter<fmt::string_view>::format(text, ctx);
  }
};
