#pragma once
/// \file
/// ringo::call_later: run a function after a delay (Python's threading.Timer).
#include <chrono>
#include <concepts>
#include <source_location>
#include <type_traits>
#include <utility>

#include <ringo/detail/deadline.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

namespace ringo {

namespace detail {

template <class F>
task<void> call_after(std::chrono::steady_clock::duration d, F f) {
  co_await sleep_for(d);
  if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
    f();
  } else {
    co_await f();  // a function that returns a task: run it to its end
  }
}

}  // namespace detail

/// Calls `f()` on the current context after `d`, in a task of its own (like threading.Timer,
/// run() waits for it). `f` may return void or a ringo::task. The returned handle cancels the
/// call (cancel() before it fires means it never runs), tells whether it is done, and can be
/// awaited. Must be called from a task. A delay too long for the clock (hours::max()) never
/// comes: the call waits until it is cancelled.
template <class F, class Rep, class Period>
  requires std::invocable<F&>
join_handle<void> call_later(std::chrono::duration<Rep, Period> d, F f,
                             std::source_location where = std::source_location::current()) {
  return spawn(
      detail::call_after(detail::saturating_duration(d), std::move(f)),
      where);
}

}  // namespace ringo
