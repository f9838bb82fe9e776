#pragma once
/// \file
/// ringo::when_all: run tasks side by side and collect every result (gevent.joinall).
#include <cstddef>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <ringo/detail/awaitable_task.hpp>
#include <ringo/task.hpp>
#include <ringo/task_group.hpp>

namespace ringo {

namespace detail {

/// What a task<T> contributes to a combined result: void becomes std::monostate, a reference
/// a std::reference_wrapper.
template <class T>
using result_slot_t =
    std::conditional_t<std::is_void_v<T>, std::monostate,
                       std::conditional_t<std::is_reference_v<T>,
                                          std::reference_wrapper<std::remove_reference_t<T>>, T>>;

template <class T>
task<void> store_result(task<T> t, std::optional<result_slot_t<T>>& slot) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(t);
    slot.emplace();
  } else {
    slot.emplace(co_await std::move(t));
  }
}

}  // namespace detail

/// Runs every task as a child of the awaiting one, concurrently, and returns their results in
/// argument order (void results as std::monostate, references as std::reference_wrapper).
/// If one throws, the others are cancelled, and once all have ended its exception is
/// rethrown. Cancelling the awaiting task cancels all of them and waits for them.
template <class... T>
task<std::tuple<detail::result_slot_t<T>...>> when_all(task<T>... tasks) {
  std::tuple<std::optional<detail::result_slot_t<T>>...> slots;
  task_group group;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (group.spawn(detail::store_result(std::move(tasks), std::get<I>(slots))), ...);
  }(std::index_sequence_for<T...>{});
  co_await group.join();
  co_return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::tuple<detail::result_slot_t<T>...>{std::move(*std::get<I>(slots))...};
  }(std::index_sequence_for<T...>{});
}

/// The same for any mix of tasks and other awaitables: a wait (`q.get()`, `e.wait()`,
/// `m.lock()`, `s.read_some(buf)`, `sleep_for(d)`), a join_handle or a future. Each awaitable
/// is awaited in a task of its own, with the result `co_await x` gives (decayed; void as
/// std::monostate); an error or a cancellation cancels the others, and a wait cancelled that
/// way takes nothing, as when_any's select rule says. An rvalue is moved into that task (the
/// wait is not started yet); an lvalue (a join_handle, a future) is awaited where it is and
/// must outlive the when_all.
template <class... A>
requires(sizeof...(A) > 0 && (detail::task_or_awaitable<A> && ...) &&
         !(detail::is_task_v<std::remove_cvref_t<A>> && ...))
task<std::tuple<detail::result_slot_t<typename detail::as_task_t<A>::value_type>...>> when_all(
    A&&... waits) {
  return when_all(detail::as_task(std::forward<A>(waits))...);
}

/// The same for a run-time number of tasks of one type: results in input order.
template <class T>
task<std::vector<detail::result_slot_t<T>>> when_all(std::vector<task<T>> tasks) {
  std::vector<std::optional<detail::result_slot_t<T>>> slots(tasks.size());
  task_group group;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    group.spawn(detail::store_result(std::move(tasks[i]), slots[i]));
  }
  co_await group.join();
  std::vector<detail::result_slot_t<T>> results;
  results.reserve(slots.size());
  for (auto& s : slots) results.push_back(std::move(*s));
  co_return results;
}

}  // namespace ringo
