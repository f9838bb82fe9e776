#pragma once
/// \file
/// Timers for tasks: ringo::sleep_for, sleep_until and yield (gevent.sleep).
#include <chrono>
#include <coroutine>
#include <source_location>
#include <string>

#include <fmt/format.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/loop.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/task_record.hpp>
#include <ringo/detail/timer_node.hpp>
#include <ringo/error.hpp>

namespace ringo {

namespace detail {

/// A sleep: a timer in the context's heap and the place where the task waits. Every task asleep
/// keeps one in its frame, so it keeps no more than that: the context is the task's own (its
/// record knows it), and a cancelled sleep is a timer without a `fire` handler.
class sleep_awaiter : wait_node, timer_node {
 public:
  sleep_awaiter(std::chrono::steady_clock::time_point until, std::source_location loc) noexcept {
    where = loc;
    deadline = until;
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    loop& ctx = context_of_awaiter();
    task_ = &ctx.running_task();
    if (task_->take_cancellation()) return false;  // fire stays null: await_resume throws
    fire = &on_fire;
    cancel = &on_cancel;
    describe = &describe_sleep;
    ctx.add_timer(*this);
    ctx.suspend(*task_, h, *this);
    return true;
  }
  void await_resume() const {
    if (fire == nullptr) throw operation_cancelled();
  }

 private:
  static void on_fire(timer_node& t) noexcept {
    auto& self = static_cast<sleep_awaiter&>(t);
    self.task_->context->schedule(*self.task_);
  }
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<sleep_awaiter&>(n);
    self.task_->context->remove_timer(self);
    self.fire = nullptr;  // the mark of a cancelled sleep
    self.task_->context->schedule(*self.task_);
  }
  static void describe_sleep(const wait_node& n, std::string& out) {
    const auto& self = static_cast<const sleep_awaiter&>(n);
    if (self.deadline == no_deadline) {
      out += "a sleep that never ends";
      return;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        time_until(self.deadline, std::chrono::steady_clock::now()));
    out += fmt::format("a sleep ending in {} ms", left.count());
  }

  task_record* task_ = nullptr;
};
// What a sleeping task keeps in its frame besides its record: the wait and the timer.
static_assert(sizeof(sleep_awaiter) <= sizeof(wait_node) + sizeof(timer_node) + sizeof(void*));

/// What yield() returns. Not a suspension: the task goes straight back to the ready queue, so
/// it never waits anywhere that a cancel or a deadlock report would need to know of. When no
/// other task is ready the task goes on without suspending, as the next round's only task
/// would, until the loop owes a look at I/O and timers: the order of everything is the same.
class yield_awaiter {
 public:
  bool await_ready() {
    context_ = &context_of_awaiter();
    task_ = &context_->running_task();
    if (task_->take_cancellation()) {
      cancelled_ = true;
      return true;
    }
    return context_->continue_as_next_round();
  }
  void await_suspend(std::coroutine_handle<> h) noexcept { context_->requeue_running(*task_, h); }
  void await_resume() const {
    if (cancelled_) throw operation_cancelled();
  }

 private:
  loop* context_ = nullptr;
  task_record* task_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace detail

/// Suspends the running task until `deadline`; other tasks run meanwhile. The task resumes
/// on its own context. Cancellable: throws operation_cancelled when its task is cancelled.
/// time_point::max() never comes: the task sleeps until it is cancelled.
[[nodiscard]] inline detail::sleep_awaiter sleep_until(
    std::chrono::steady_clock::time_point deadline,
    std::source_location where = std::source_location::current()) noexcept {
  return detail::sleep_awaiter{deadline, where};
}

/// Suspends the running task for `d` (gevent.sleep(d)). A zero or negative duration still
/// suspends and lets timers and I/O run, like yield(). A duration too long for the clock to
/// add to now (nanoseconds::max(), seconds::max()) never ends: the task sleeps until it is
/// cancelled, and holds up no other timer.
template <class Rep, class Period>
[[nodiscard]] detail::sleep_awaiter sleep_for(
    std::chrono::duration<Rep, Period> d,
    std::source_location where = std::source_location::current()) noexcept {
  return detail::sleep_awaiter{detail::deadline_after(d), where};
}

/// Lets every other ready task run once, then resumes (gevent.sleep(0)). Allocates nothing.
[[nodiscard]] inline detail::yield_awaiter yield() noexcept {
  return detail::yield_awaiter{};
}

}  // namespace ringo
