#pragma once
/// \file
/// ringo::future<R>: the result of work submitted to a ringo::thread_pool (Python's
/// concurrent.futures.Future). Block on it from a plain thread, co_await it from a task, or
/// attach callbacks.
#include <chrono>
#include <coroutine>
#include <exception>
#include <memory>
#include <source_location>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/future_state.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/timer_node.hpp>
#include <ringo/error.hpp>
#include <ringo/io_context.hpp>

namespace ringo {

class thread_pool;

template <class R>
class future;

namespace detail {

struct future_access;

// A task suspended on a future. The awaiter is three nodes at once, all in the task's frame,
// so awaiting allocates nothing: a future_callback in the future's list (the worker calls it on
// completion), a remote_node that the callback posts to the task's context, and the wait_node
// that the context knows the task waits at.
//
// While the task waits, its context counts one unit of remote work, so the deadlock detector
// knows another thread owes it a wake-up. The count is dropped on the context's thread, either
// when the post arrives or when a cancellation took the callback out of the list first.
template <class R, bool Move>
class future_awaiter : suspension, future_callback, remote_node {
 public:
  future_awaiter(std::shared_ptr<future_state<R>> state, std::source_location where) noexcept
      : suspension(where), state_(std::move(state)) {}
  future_awaiter(const future_awaiter&) = delete;
  future_awaiter& operator=(const future_awaiter&) = delete;

  bool await_ready() const noexcept { return state_->done() && !cancellation_due(); }

  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    wait_node::cancel = &on_cancel;
    describe = &describe_wait;
    invoke = &on_complete;
    run = &on_posted;
    if (!state_->add_callback(*this)) return false;  // finished meanwhile: no need to wait
    context->add_remote_work();
    park(h);
    return true;
  }

  decltype(auto) await_resume() {
    throw_if_cancelled();
    // Cancelled after the result came but before this task resumed: the result stays in the
    // future for a later await, so an await racing in when_any takes nothing.
    if (cancelled_since_wake()) [[unlikely]]
      throw operation_cancelled();
    if constexpr (Move && !std::is_void_v<R> && !std::is_reference_v<R>) {
      return R(std::move(state_->value()));
    } else {
      return state_->value();
    }
  }

 private:
  // On the completing thread: hand the resumption to the task's own context.
  static void on_complete(future_callback& cb, future_state_base&) noexcept {
    auto& self = static_cast<future_awaiter&>(cb);
    io_context& home = context_of(*self.context.get());
    home.post(static_cast<remote_node&>(self));
  }
  // On the task's context.
  static void on_posted(remote_node& n) noexcept {
    auto& self = static_cast<future_awaiter&>(n);
    self.context->remove_remote_work();
    self.wake();
  }
  // On the task's context, when the task is cancelled. As asyncio.wrap_future does, the
  // future is cancelled too, which stops work that has not started.
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<future_awaiter&>(n);
    self.cancelled = true;
    if (self.state_->remove_callback(self)) {
      self.state_->cancel();
      self.context->remove_remote_work();
      self.wake();
    }
    // Otherwise the completing thread holds the callback: its post resumes the task, which
    // then throws operation_cancelled.
  }
  static void describe_wait(const wait_node& n, std::string& out) {
    const auto& self = static_cast<const future_awaiter&>(n);
    out += fmt::format("a ringo::future {} (work on another thread)",
                       static_cast<const void*>(self.state_.get()));
  }

  std::shared_ptr<future_state<R>> state_;
};

template <class R, class F>
class done_callback final : public future_callback {
 public:
  explicit done_callback(F f) : fn_(std::move(f)) { invoke = &call; }

  static void call(future_callback& cb, future_state_base& state) noexcept;

 private:
  F fn_;
};

}  // namespace detail

/// The eventual result of work running on another thread: a value of type R, a reference
/// (R&), nothing (void), or an exception. Copies share one state, as Python's Future object
/// is shared: any copy can wait, cancel or read the result.
///
/// Thread-safe: any thread may call any member of any copy. A default-made future is empty
/// (valid() is false); every other member throws std::logic_error on it.
template <class R>
class future {
 public:
  /// The type of the result.
  using value_type = R;

  /// An empty future (valid() is false).
  future() noexcept = default;

  /// Whether this future refers to a state (it came from thread_pool::submit).
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(state_); }

  /// True once the work has finished (with a result or an exception) or was cancelled.
  [[nodiscard]] bool done() const { return state().done(); }
  /// True while a worker runs the work.
  [[nodiscard]] bool running() const { return state().status() == detail::future_status::running; }
  /// True if cancel() succeeded.
  [[nodiscard]] bool cancelled() const {
    return state().status() == detail::future_status::cancelled;
  }

  /// Cancels the work if it has not started: returns true, the work never runs, get() throws
  /// ringo::operation_cancelled and the done-callbacks run now, on this thread. Returns false
  /// if the work is running or finished (Python's rule); true again on a cancelled future.
  bool cancel() const { return state().cancel(); }

  /// Blocks the calling thread until the future is done. Never call it on a thread that runs
  /// an io_context: co_await the future there instead.
  void wait() const { state().wait(); }
  /// Blocks for at most `d` (a duration too long for the clock: no limit); returns whether
  /// the future is done.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    const auto deadline = detail::deadline_after(d);
    if (deadline == detail::no_deadline) {
      state().wait();
      return true;
    }
    return state().wait_until(deadline);
  }
  /// Blocks until `deadline` at the latest; returns whether the future is done.
  template <class Clock, class Duration>
  bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) const {
    return state().wait_until(deadline);
  }

  /// Blocks until done (Python's result()), then returns a reference to the stored result,
  /// shared by every copy and valid while one of them lives (for R&, the referred object; for
  /// void, nothing). Rethrows the work's exception, or operation_cancelled if it was
  /// cancelled; every call rethrows it again.
  std::add_lvalue_reference_t<R> get() const& {
    wait();
    return state().value();
  }
  /// On an rvalue future, moves the result out (for a move-only R such as std::unique_ptr):
  /// other copies then see a moved-from value.
  R get() && {
    wait();
    if constexpr (std::is_void_v<R> || std::is_reference_v<R>) {
      return state().value();
    } else {
      return R(std::move(state().value()));
    }
  }

  /// The stored exception (null if the work succeeded); blocks until done. Null for a
  /// cancelled future: get() throws operation_cancelled then.
  std::exception_ptr exception() const {
    wait();
    return state().error();
  }

  /// Calls `cb(f)` with a copy `f` of this future once it is done, on the thread that
  /// completed it (a pool worker, or the thread that called cancel()); if it is already done,
  /// calls it at once on this thread. Callbacks run in the order they were added. An
  /// exception thrown by a callback is printed to stderr and otherwise ignored.
  template <class F>
  requires std::is_invocable_v < std::decay_t<F>
  &, future < R >> void add_done_callback(F&& cb) const {
    auto& s = state();
    auto node = std::make_unique<detail::done_callback<R, std::decay_t<F>>>(std::forward<F>(cb));
    if (s.add_callback(*node)) {
      node.release();  // the list owns it now; call() frees it
      return;
    }
    detail::done_callback<R, std::decay_t<F>>::call(*node.release(), s);
  }

  /// Suspends the awaiting task until the future is done, without blocking its context, and
  /// resumes it on that same context. Returns a reference to the stored result (see get())
  /// or rethrows the work's exception. If the task is cancelled meanwhile it resumes with
  /// ringo::operation_cancelled, and the future is cancelled too (its work does not run if it
  /// has not started), as asyncio cancels a wrapped concurrent future. The future's state
  /// lives on in the awaiter, so the awaited expression may be a temporary.
  detail::future_awaiter<R, false> operator co_await() const& {
    return {shared(), std::source_location::current()};
  }
  /// Awaiting an rvalue future moves the result out, as get() && does.
  detail::future_awaiter<R, true> operator co_await() && {
    return {shared(), std::source_location::current()};
  }

  /// Whether two futures share a state.
  friend bool operator==(const future& a, const future& b) noexcept { return a.state_ == b.state_; }

 private:
  friend struct detail::future_access;
  explicit future(std::shared_ptr<detail::future_state<R>> s) noexcept : state_(std::move(s)) {}

  detail::future_state<R>& state() const {
    if (!state_) {
      throw std::logic_error(
          "ringo::future is empty (default-made): get futures from thread_pool::submit");
    }
    return *state_;
  }
  std::shared_ptr<detail::future_state<R>> shared() const {
    state();
    return state_;
  }

  std::shared_ptr<detail::future_state<R>> state_;
};

namespace detail {

/// Lets the pool make futures from states.
struct future_access {
  template <class R>
  static future<R> make(std::shared_ptr<future_state<R>> s) noexcept {
    return future<R>{std::move(s)};
  }
  template <class R>
  static const std::shared_ptr<future_state<R>>& state(const future<R>& f) noexcept {
    return f.state_;
  }
};

template <class R, class F>
void done_callback<R, F>::call(future_callback& cb, future_state_base& state) noexcept {
  std::unique_ptr<done_callback> self{static_cast<done_callback*>(&cb)};
  try {
    auto typed = std::static_pointer_cast<future_state<R>>(state.shared_from_this());
    self->fn_(future_access::make<R>(std::move(typed)));
  } catch (...) {
    report_callback_exception(std::current_exception());
  }
}

}  // namespace detail
}  // namespace ringo
