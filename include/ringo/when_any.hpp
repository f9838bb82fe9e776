#pragma once
/// \file
/// ringo::when_any: race tasks; the first to finish wins and the rest are cancelled.
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>
#include <vector>

#include <ringo/detail/awaitable_task.hpp>
#include <ringo/task.hpp>
#include <ringo/task_group.hpp>
#include <ringo/when_all.hpp>

namespace ringo {

namespace detail {

template <class Result>
struct race {
  task_group group;
  std::optional<Result> winner;
  std::exception_ptr error;
  bool decided = false;

  /// Called by the first child to end (with a value or an exception): stops the others.
  bool claim() noexcept {
    if (decided) return false;
    decided = true;
    group.cancel();
    return true;
  }
};

template <std::size_t I, class Result, class T>
task<void> run_racer(task<T> t, race<Result>& r) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      if (r.claim()) r.winner.emplace(std::in_place_index<I>);
    } else {
      T value = co_await std::move(t);  // (a reference stays one: T& for a task<T&>)
      if (r.claim()) r.winner.emplace(std::in_place_index<I>, std::forward<T>(value));
    }
  } catch (...) {
    // A racer cancelled because another won is not news; any other end is a result.
    if (!r.decided && r.claim()) r.error = std::current_exception();
  }
}

template <class T>
task<void> run_indexed_racer(task<T> t, std::size_t index,
                             race<std::pair<std::size_t, result_slot_t<T>>>& r) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      if (r.claim()) r.winner.emplace(index, std::monostate{});
    } else {
      T value = co_await std::move(t);
      if (r.claim()) r.winner.emplace(index, std::forward<T>(value));
    }
  } catch (...) {
    if (!r.decided && r.claim()) r.error = std::current_exception();
  }
}

}  // namespace detail

/// Runs the tasks concurrently; the first to finish decides the result: its value, as the
/// alternative of the returned variant whose index() is the task's position, or its
/// exception. The others are cancelled, and when_any returns only after they have ended.
///
/// The select rule (Go's `select`): of racers that each take something, exactly one takes.
/// A loser takes nothing, or gives back what it was handed, whether it was cancelled before
/// it first ran (every racer but the first is, when the first finishes without waiting),
/// while it waited, or after it was handed its value but before it resumed. These waits hold
/// to it: queue, lifo_queue and priority_queue get and put (a get gives its item back to the
/// front of the queue; a put's item goes in once or not at all), semaphore acquire and
/// scoped_acquire, mutex and recursive_mutex lock, condition_variable wait (a notification
/// it took goes on to the next waiter), event wait, accept, stream reads from provided
/// buffers (the bytes stay queued for the next read), read_line and read_until on every
/// backend (what they gathered stays in the stream), signal_set and process waits, joining a
/// join_handle (the result stays for a later join) and awaiting a future (the value stays in
/// it). Every ringo wait delivers a cancellation that is due even when it could end at once,
/// so a racer cancelled before it ran takes nothing at its first wait.
///
/// A stream read whose bytes came as it was cancelled (a one-shot receive, without provided
/// buffers) puts them back in the stream, ahead of what arrives later, for its next read; a
/// file read at the current position (a pipe, stdin_reader) does the same for the file. One
/// wait cannot give back: a udp receive, whose datagram is already in the caller's buffer when
/// the cancellation comes; it then returns it, and the cancellation comes at the next
/// suspension (as for a stream read when no memory is left to keep the bytes). A loser that
/// still finishes with a value has that value destroyed, so a result whose destructor cleans
/// up (a lock guard) gives itself back too.
template <class... T>
task<std::variant<detail::result_slot_t<T>...>> when_any(task<T>... tasks) {
  static_assert(sizeof...(T) > 0, "ringo::when_any needs at least one task");
  using result = std::variant<detail::result_slot_t<T>...>;
  detail::race<result> r;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (r.group.spawn(detail::run_racer<I>(std::move(tasks), r)), ...);
  }(std::index_sequence_for<T...>{});
  co_await r.group.join();
  if (r.error) std::rethrow_exception(r.error);
  co_return std::move(*r.winner);
}

/// The same for any mix of tasks and other awaitables: a wait (`q.get()`, `e.wait()`,
/// `m.lock()`, `s.read_some(buf)`, `sleep_for(d)`), a join_handle or a future. Each awaitable
/// is awaited in a task of its own, first thing, so the select rule above holds for it as it
/// does for a task that awaits it: `when_any(q1.get(), q2.get())` takes exactly one item. The
/// alternative is the type `co_await x` gives (decayed; void as std::monostate). An rvalue is
/// moved into that task (the wait is not started yet); an lvalue is awaited where it is and
/// must outlive the when_any: a join_handle or a future that loses keeps its result for a
/// later await. (A join_handle passed as an rvalue is dropped with its racer: its task runs on
/// detached, uncancelled.)
template <class... A>
requires(sizeof...(A) > 0 && (detail::task_or_awaitable<A> && ...) &&
         !(detail::is_task_v<std::remove_cvref_t<A>> && ...))
task<std::variant<detail::result_slot_t<typename detail::as_task_t<A>::value_type>...>> when_any(
    A&&... racers) {
  return when_any(detail::as_task(std::forward<A>(racers))...);
}

/// The same for a run-time number of tasks of one type: returns {index, value} of the first
/// to finish. An empty vector throws std::invalid_argument.
template <class T>
task<std::pair<std::size_t, detail::result_slot_t<T>>> when_any(std::vector<task<T>> tasks) {
  if (tasks.empty()) throw std::invalid_argument("ringo::when_any of no tasks: nothing can win");
  detail::race<std::pair<std::size_t, detail::result_slot_t<T>>> r;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    r.group.spawn(detail::run_indexed_racer(std::move(tasks[i]), i, r));
  }
  co_await r.group.join();
  if (r.error) std::rethrow_exception(r.error);
  co_return std::move(*r.winner);
}

}  // namespace ringo
