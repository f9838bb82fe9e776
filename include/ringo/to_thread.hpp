#pragma once
/// \file
/// ringo::to_thread: asyncio.to_thread for ringo. Runs blocking work on a process-wide
/// thread pool while the awaiting task's loop goes on serving its other tasks.
#include <type_traits>
#include <utility>

#include <ringo/future.hpp>
#include <ringo/thread_pool.hpp>

namespace ringo {

namespace detail {
/// The process-wide pool behind to_thread: made on first use with thread_pool's default
/// size, shut down (after its queued work has run) at exit. Defined in lib/.
thread_pool& default_thread_pool();
}  // namespace detail

/// Submits `f(args...)` to the default pool and returns its future: `co_await
/// ringo::to_thread(f, args...)` suspends the task, without blocking its context, until the
/// call returns on a worker, then resumes the task on its own context with the result (moved
/// out) or the call's exception. While it waits, the context's deadlock detector counts the
/// call as work that another thread owes. Cancelling the task resumes it with
/// operation_cancelled, and the call does not run if it has not started. `f` and `args` are
/// decay-copied into the job.
template <class F, class... A>
requires std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>
auto to_thread(F&& f, A&&... args) {
  return detail::default_thread_pool().submit(std::forward<F>(f), std::forward<A>(args)...);
}

}  // namespace ringo
