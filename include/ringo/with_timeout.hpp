#pragma once
/// \file
/// ringo::with_timeout: give a task a deadline.
#include <algorithm>
#include <chrono>
#include <utility>
#include <variant>

#include <ringo/detail/awaitable_task.hpp>
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

/// The same for any other awaitable: a wait (`q.get()`, `e.wait()`, `m.lock()`,
/// `s.read_some(buf)`), a join_handle or a future, awaited in a task of its own; the result is
/// what `co_await a` gives (decayed). A wait that times out takes nothing (an item stays in
/// its queue, a lock with the next waiter), except a read into the caller's buffer that was
/// already filled: see when_any. An rvalue is moved into that task (the wait is not started
/// yet); an lvalue (a join_handle, a future) is awaited where it is, must outlive the
/// with_timeout, and after a timeout still holds its result for a later await.
template <class Rep, class Period, class A>
requires detail::awaitable_other_than_task<A>
task<detail::wrapped_result_t<A>> with_timeout(std::chrono::duration<Rep, Period> d, A&& a) {
  return with_timeout(d, detail::as_task(std::forward<A>(a)));
}

}  // namespace ringo
