#pragma once
// What lets when_any, when_all and with_timeout take any wait, not only a task: the awaitable
// is wrapped in a task that awaits it.
#include <concepts>
#include <coroutine>
#include <type_traits>
#include <utility>

#include <ringo/task.hpp>

namespace ringo::detail {

template <class T>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<task<T>> = true;

/// The awaiter that `co_await a` uses for an `a` of type A (A&& being how it is passed): what
/// its member operator co_await returns, else the object itself. (No ringo type has a free
/// operator co_await, and a task's promise transforms nothing.)
template <class A>
struct awaiter_of {
  using type = A&&;
};
template <class A>
requires requires(A&& a) {
  static_cast<A&&>(a).operator co_await();
}
struct awaiter_of<A> {
  using type = decltype(std::declval<A&&>().operator co_await());
};

template <class W>
concept awaiter_type = requires(std::remove_reference_t<W>& w,
                                std::coroutine_handle<task_promise<void>> h) {
  { w.await_ready() } -> std::convertible_to<bool>;
  w.await_suspend(h);
  w.await_resume();
};

/// Something a task can co_await that is not itself a task: a wait (q.get(), e.wait(),
/// m.lock(), s.read_some(buf), sleep_for(d)), a join_handle or a future.
template <class A>
concept awaitable_other_than_task =
    !is_task_v<std::remove_cvref_t<A>> && awaiter_type<typename awaiter_of<A>::type>;

/// The type of `co_await a`, and the decayed type the task that wraps it returns (a future
/// awaited as an lvalue gives a reference to its stored value: the wrapper returns a copy).
template <class A>
using await_result_t =
    decltype(std::declval<std::remove_reference_t<typename awaiter_of<A>::type>&>().await_resume());
template <class A>
using wrapped_result_t = std::remove_cvref_t<await_result_t<A>>;

// A is a plain type (the wrapper owns the awaitable, moved into its frame) or an lvalue
// reference (it borrows it: a join_handle or a future the caller keeps).
template <class R, class A>
task<R> await_wrapped(A a) {
  if constexpr (std::is_void_v<R>) {
    co_await static_cast<A&&>(a);
  } else {
    co_return co_await static_cast<A&&>(a);
  }
}

/// A task for one racer or one member of a when_all: a task passes through as it is; any other
/// awaitable is wrapped in a task that awaits it first thing, so a cancellation that comes
/// before the wrapper runs reaches the wait itself, which then takes nothing. An rvalue is moved
/// into the wrapper (so a wait must be movable until it is awaited); an lvalue is borrowed and
/// must outlive the wrapper.
template <class T>
task<T> as_task(task<T>&& t) noexcept {
  return std::move(t);
}
template <class A>
requires awaitable_other_than_task<A>
task<wrapped_result_t<A>> as_task(A&& a) {
  using owned = std::conditional_t<std::is_lvalue_reference_v<A>, A, std::remove_cvref_t<A>>;
  return await_wrapped<wrapped_result_t<A>, owned>(std::forward<A>(a));
}

/// The type as_task gives an argument of type A.
template <class A>
using as_task_t = decltype(as_task(std::declval<A>()));

/// One argument of a when_any or when_all: a task (an rvalue) or another awaitable.
template <class A>
concept task_or_awaitable = (is_task_v<std::remove_cvref_t<A>> && !std::is_lvalue_reference_v<A>) ||
                            awaitable_other_than_task<A>;

}  // namespace ringo::detail
