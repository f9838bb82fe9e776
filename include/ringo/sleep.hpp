#pragma once
/// \file
/// Timers for tasks: ringo::sleep_for, sleep_until and yield (gevent.sleep).
#include <chrono>
#include <coroutine>
#include <source_location>
#include <string>

#include <fmt/format.h>

#include <ringo/detail/loop.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/task_record.hpp>
#include <ringo/detail/timer_node.hpp>
#include <ringo/error.hpp>

namespace ringo {

namespace detail {

class sleep_awaiter : suspension, timer_node {
 public:
  sleep_awaiter(std::chrono::steady_clock::time_point until, std::source_location loc) noexcept
      : suspension(loc) {
    deadline = until;
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    fire = &on_fire;
    cancel = &on_cancel;
    describe = &describe_sleep;
    context->add_timer(*this);
    park(h);
    return true;
  }
  void await_resume() const { throw_if_cancelled(); }

 private:
  static void on_fire(timer_node& t) noexcept { static_cast<sleep_awaiter&>(t).wake(); }
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<sleep_awaiter&>(n);
    self.context->remove_timer(self);
    self.cancelled = true;
    self.wake();
  }
  static void describe_sleep(const wait_node& n, std::string& out) {
    const auto& self = static_cast<const sleep_awaiter&>(n);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        self.deadline - std::chrono::steady_clock::now());
    out += fmt::format("a sleep ending in {} ms", left.count());
  }
};

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
[[nodiscard]] inline detail::sleep_awaiter sleep_until(
    std::chrono::steady_clock::time_point deadline,
    std::source_location where = std::source_location::current()) noexcept {
  return detail::sleep_awaiter{deadline, where};
}

/// Suspends the running task for `d` (gevent.sleep(d)). A zero or negative duration still
/// suspends and lets timers and I/O run, like yield().
template <class Rep, class Period>
[[nodiscard]] detail::sleep_awaiter sleep_for(
    std::chrono::duration<Rep, Period> d,
    std::source_location where = std::source_location::current()) noexcept {
  return detail::sleep_awaiter{
      std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::steady_clock::duration>(d),
      where};
}

/// Lets every other ready task run once, then resumes (gevent.sleep(0)). Allocates nothing.
[[nodiscard]] inline detail::yield_awaiter yield() noexcept {
  return detail::yield_awaiter{};
}

}  // namespace ringo
