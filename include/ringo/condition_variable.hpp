#pragma once
/// \file
/// ringo::condition_variable: wait for a condition under a ringo::mutex (Python's
/// threading.Condition).
#include <coroutine>
#include <cstddef>
#include <iterator>
#include <source_location>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <ringo/detail/suspension.hpp>
#include <ringo/detail/waiter_list.hpp>
#include <ringo/mutex.hpp>
#include <ringo/task.hpp>

namespace ringo {

namespace detail {
class condition_awaiter;
}  // namespace detail

/// A condition variable for the tasks of one io_context, used with a ringo::mutex.
///
/// `co_await cv.wait(guard)` releases the guard's mutex and waits for a notify; the notified
/// task then queues for the mutex (first come, first served with the tasks already waiting for
/// it) and resumes on its own context holding it again. There are no spurious wake-ups, but
/// another task may have changed the state in between: prefer wait(guard, pred). If the task
/// is cancelled while it waits, it still takes the mutex back before operation_cancelled
/// leaves wait(), as std::condition_variable does, so the guard always owns the lock when
/// wait() returns or throws (a task cancelled while queued for the mutex waits for it). A
/// wait cancelled after it was notified passes the notification on to the next waiter (as
/// asyncio.Condition does), so a wait racing in when_any or under with_timeout takes none.
/// The condition variable must outlive its waiters.
class condition_variable {
 public:
  condition_variable() noexcept = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  /// Awaitable: releases `guard`'s mutex, waits for a notify, takes the mutex back. `guard`
  /// must own a mutex that the calling task holds (std::logic_error otherwise) and must
  /// outlive the wait. Throws operation_cancelled if cancelled, with the lock held again.
  [[nodiscard]] inline detail::condition_awaiter wait(
      mutex::guard& guard, std::source_location where = std::source_location::current());

  /// Waits until `pred()` is true: `while (!pred()) co_await wait(guard);`. `pred` runs with
  /// the lock held, on the waiting task. Returns a task (its frame comes from the per-thread
  /// frame recycler, so it allocates nothing once warm); `pred` and `guard` must outlive it.
  template <class Pred>
  [[nodiscard]] task<void> wait(mutex::guard& guard, Pred pred,
                                std::source_location where = std::source_location::current());

  /// Wakes the first waiter, if any.
  void notify_one() noexcept { notify(1); }
  /// Wakes up to `n` waiters, first come first woken (Python's notify(n)).
  inline void notify(std::size_t n) noexcept;
  /// Wakes every waiter.
  void notify_all() noexcept { notify(waiters_.size()); }
  /// How many tasks wait for a notify (not counting notified ones queued for the mutex).
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  friend class detail::condition_awaiter;
  static void disown(mutex::guard& g) noexcept { g.disown(); }
  static void adopt(mutex::guard& g) noexcept { g.adopt(); }
  detail::waiter_list waiters_;
};

namespace detail {

/// What condition_variable::wait(guard) returns. While waiting for a notify it sits in the
/// condition variable's list; once notified (or cancelled) it moves to the mutex's list as an
/// ordinary mutex waiter, and mutex::unlock hands it the lock.
class condition_awaiter : mutex_waiter {
 public:
  condition_awaiter(condition_variable& cv, mutex::guard& g, std::source_location where)
      : mutex_waiter(check(g), where), cv_(cv), guard_(g) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (mutex_->holder_ != current_task()) {
      throw std::logic_error(
          "ringo::condition_variable::wait: the guard's mutex is held by another task; wait "
          "with the guard of a lock this task took");
    }
    if (!prepare()) return false;  // cancelled before waiting: the lock was never let go
    cancel = &on_cancel;
    describe = &describe_wait;
    cv_.waiters_.push_back(*this);
    on_cv_ = true;
    released_ = true;
    condition_variable::disown(guard_);
    mutex_->hand_over();
    park(h);
    return true;
  }
  void await_resume() {
    if (released_) condition_variable::adopt(guard_);
    throw_if_cancelled();
    // Notified, then cancelled before it resumed: the notification goes on to the next
    // waiter, so a cancelled wait takes none (the lock is held again, as after any wait).
    if (cancelled_since_wake()) [[unlikely]] {
      cv_.notify(1);
      throw operation_cancelled();
    }
  }

  /// Queues for the mutex (or takes it if free). Called on notify and on cancel.
  void queue_for_mutex() noexcept {
    on_cv_ = false;
    if (!mutex_->locked_) {
      mutex_->grant(*this);
    } else {
      mutex_->waiters_.push_back(*this);
    }
  }

 private:
  friend class ::ringo::condition_variable;

  static mutex& check(mutex::guard& g) {
    if (!g.owns_lock()) {
      throw std::logic_error(
          "ringo::condition_variable::wait with a guard that owns no lock: lock the mutex "
          "first (auto guard = co_await m.lock();)");
    }
    return *g.owner();
  }

  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<condition_awaiter&>(n);
    self.cancelled = true;
    // Notified already, queued for the mutex: keep the place; the unlock that hands over the
    // lock wakes the task, which then throws with the lock held. The notification it took
    // goes on to the next waiter.
    if (!self.on_cv_) {
      self.cv_.notify(1);
      return;
    }
    self.cv_.waiters_.erase(self);
    self.queue_for_mutex();
  }

  static void describe_wait(const wait_node& n, std::string& out) {
    const auto& self = static_cast<const condition_awaiter&>(n);
    if (self.on_cv_) {
      fmt::format_to(std::back_inserter(out), "condition_variable {} (with ", fmt::ptr(&self.cv_));
      self.mutex_->describe(out);
      out += ')';
    } else {
      self.mutex_->describe(out);
      fmt::format_to(std::back_inserter(out),
                     " (taking it back after a wait on condition_variable {})",
                     fmt::ptr(&self.cv_));
    }
  }

  condition_variable& cv_;
  mutex::guard& guard_;
  bool on_cv_ = false;
  bool released_ = false;
};

}  // namespace detail

inline detail::condition_awaiter condition_variable::wait(mutex::guard& guard,
                                                          std::source_location where) {
  return detail::condition_awaiter{*this, guard, where};
}

template <class Pred>
task<void> condition_variable::wait(mutex::guard& guard, Pred pred, std::source_location where) {
  while (!pred())
    co_await wait(guard, where);
}

inline void condition_variable::notify(std::size_t n) noexcept {
  for (; n > 0 && !waiters_.empty(); --n) {
    static_cast<detail::condition_awaiter&>(
        static_cast<detail::mutex_waiter&>(waiters_.pop_front()))
        .queue_for_mutex();
  }
}

}  // namespace ringo
