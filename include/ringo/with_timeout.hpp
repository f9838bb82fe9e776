#pragma once
/// \file
/// ringo::with_timeout: give a task a deadline.
#include <algorithm>
#include <chrono>
#include <utility>
#include <variant>

#include <ringo/detail/deadline.hpp>
#include <ringo/error.hpp>
#include <ringo/sleep.hpp>
#include <ringo/task.hpp>
#include <ringo/when_any.hpp>

namespace ringo {

namespace detail {
inline task<void> sleep_task(std::chrono::steady_clock::duration d) { co_await sleep_for(d); }
}  // namespace detail

/// Runs `t`; if it has not finished after `d`, cancels it, waits for it to unwind and throws
/// ringo::timed_out ("timed out after 100 ms"). Otherwise returns its result (or rethrows its
/// exception). A zero or negative `d` is already due; one too long for the clock to add to
/// now (nanoseconds::max(), seconds::max()) never passes, so `t` runs to its end.
template <class T, class Rep, class Period>
task<T> with_timeout(std::chrono::duration<Rep, Period> d, task<T> t) {
  // Saturated, so that neither the sleep nor the message overflows.
  const std::chrono::steady_clock::duration limit = detail::saturating_duration(d);
  auto outcome = co_await when_any(std::move(t), detail::sleep_task(limit));
  if (outcome.index() == 1) {
    throw timed_out(fmt::format(
        "timed out after {} ms",
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::max(limit, std::chrono::steady_clock::duration::zero()))
            .count()));
  }
  if constexpr (std::is_reference_v<T>) {
    co_return std::get<0>(outcome).get();
  } else if constexpr (!std::is_void_v<T>) {
    co_return std::move(std::get<0>(outcome));
  }
}

}  // namespace ringo
