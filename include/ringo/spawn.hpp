#pragma once
/// \file
/// ringo::spawn and ringo::join_handle: start a task that runs beside the current one
/// (gevent.spawn), and wait for its result.
#include <coroutine>
#include <cstdint>
#include <source_location>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <ringo/detail/awaitable_task.hpp>
#include <ringo/detail/loop.hpp>
#include <ringo/detail/spawned_task.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/task_record.hpp>
#include <ringo/error.hpp>
#include <ringo/task.hpp>

namespace ringo {

/// Tag for spawn(): the task is a daemon. run() does not wait for daemons; those still alive
/// when every other task has finished are cancelled, as Python ends daemon threads.
struct daemon_t {
  explicit daemon_t() = default;
};
inline constexpr daemon_t daemon{};

template <class T>
class join_handle;

namespace detail {

struct join_waiter : wait_node {
  join_waiter* next = nullptr;
  task_record* task = nullptr;
};

template <class T>
join_handle<T> spawn_on(loop& ctx, task<T> t, bool daemon, std::source_location where);

}  // namespace detail

/// A spawned task's handle. Await it for the task's result; drop it to let the task run on
/// detached. Move-only; belongs to the context the task was spawned on.
template <class T>
class join_handle {
  using promise = detail::task_promise<T>;

 public:
  join_handle() noexcept = default;
  join_handle(join_handle&& o) noexcept = default;
  /// Detaches from the task held before, then takes over `o`'s.
  join_handle& operator=(join_handle&& o) noexcept = default;
  join_handle(const join_handle&) = delete;
  join_handle& operator=(const join_handle&) = delete;
  /// Detaches: the task runs on; an exception it ends with is printed to stderr.
  ~join_handle() = default;

  /// True once the task has finished (with a result, an exception, or cancelled).
  [[nodiscard]] bool done() const { return record().finished; }
  /// The task's number in diagnostics ("task #3").
  [[nodiscard]] std::uint64_t id() const { return record().id; }
  /// Whether this handle refers to a task.
  [[nodiscard]] bool valid() const noexcept { return task_.valid(); }

  /// Cancels the task: operation_cancelled is thrown in it at its current suspension point
  /// (once any I/O it is in has been cancelled in the kernel) or at its next one. Does nothing
  /// if the task has finished. Returns at once; await the handle to wait for the end.
  void cancel() {
    detail::task_record& r = record();
    if (!r.finished) r.context->cancel(r);
  }

  /// Lets the task run on without a handle.
  void detach() noexcept { task_.release(); }

  class awaiter : detail::join_waiter {
   public:
    explicit awaiter(promise& p, std::source_location where) noexcept : p_(p), r_(p.record()) {
      this->where = where;
    }
    bool await_ready() const noexcept { return r_.finished && !detail::cancellation_due(); }
    bool await_suspend(std::coroutine_handle<> h) {
      detail::loop& ctx = *r_.context;
      task = &ctx.running_task();
      if (task->take_cancellation()) {
        cancelled_ = true;
        return false;
      }
      next = r_.joiners;
      r_.joiners = this;
      cancel = &on_cancel;
      describe = &describe_join;
      ctx.suspend(*task, h, *this);
      return true;
    }
    T await_resume() {
      if (cancelled_) throw operation_cancelled("join cancelled");
      // Cancelled after the task ended but before this one resumed: the result stays in the
      // handle for a later join, so a join racing in when_any takes nothing.
      if (task != nullptr && task->take_cancellation()) [[unlikely]]
        throw operation_cancelled("join cancelled");
      return detail::take_result(p_);
    }

   private:
    static void on_cancel(detail::wait_node& n) noexcept {
      auto& self = static_cast<awaiter&>(n);
      for (detail::join_waiter** link = &self.r_.joiners; *link != nullptr; link = &(*link)->next) {
        if (*link == &self) {
          *link = self.next;
          break;
        }
      }
      self.cancelled_ = true;
      self.task->context->schedule(*self.task);
    }
    static void describe_join(const detail::wait_node& n, std::string& out) {
      const auto& self = static_cast<const awaiter&>(n);
      out += fmt::format("join of task #{} spawned at {}:{}", std::uint64_t{self.r_.id},
                         self.r_.spawned_at.file_name(), self.r_.spawned_at.line());
    }
    promise& p_;
    detail::task_record& r_;
    bool cancelled_ = false;
  };

  /// Waits for the task to finish; returns its result or rethrows its exception. The awaiting
  /// task resumes on its context in a later turn of the loop. Throws std::logic_error on a
  /// second await.
  /// (An operator cannot learn its caller's line: `co_await h.join()` records it for
  /// diagnostics, plain `co_await h` does not.)
  awaiter operator co_await() const { return awaiter{state(), std::source_location{}}; }

  /// Waits for the task, remembering the caller's line for diagnostics.
  awaiter join(std::source_location where = std::source_location::current()) const {
    return awaiter{state(), where};
  }

 private:
  template <class U>
  friend join_handle<U> detail::spawn_on(detail::loop&, task<U>, bool, std::source_location);
  explicit join_handle(detail::spawned_task<T> t) noexcept : task_(std::move(t)) {}

  promise& state() const {
    if (!task_.valid()) {
      throw std::logic_error("ringo::join_handle is empty (moved from or default-made)");
    }
    return task_.state();
  }
  detail::task_record& record() const { return state().record(); }

  detail::spawned_task<T> task_;
};

namespace detail {

template <class T>
join_handle<T> spawn_on(loop& ctx, task<T> t, bool daemon, std::source_location where) {
  return join_handle<T>{start_spawned(ctx, std::move(t), daemon, where)};
}

inline loop& context_for_spawn() {
  loop* ctx = current_loop();
  if (ctx == nullptr) {
    throw std::logic_error(
        "ringo::spawn outside of an event loop: call it from a task running under ringo::run "
        "(or io_context::run)");
  }
  // sync_wait runs its task without the loop, and destroys its frame when it waits: a task
  // spawned from there (a when_all or when_any child) would outlive what it refers to.
  if (in_sync_wait) {
    throw std::logic_error(
        "ringo::spawn inside ringo::sync_wait: sync_wait runs a task without the event loop, "
        "so it cannot start tasks (when_all, when_any, with_timeout and task_group do); "
        "co_await the task from a task instead, or use ringo::run");
  }
  return *ctx;
}

}  // namespace detail

/// Starts `t` as a new task on the current context (gevent.spawn). It first runs in a later
/// turn of the loop, after the spawning task suspends. run() waits for it to finish.
template <class T>
join_handle<T> spawn(task<T> t, std::source_location where = std::source_location::current()) {
  return detail::spawn_on(detail::context_for_spawn(), std::move(t), false, where);
}

/// Starts `t` as a daemon task: run() does not wait for it, and cancels it if it is still
/// alive when every non-daemon task has finished.
template <class T>
join_handle<T> spawn(task<T> t, daemon_t,
                     std::source_location where = std::source_location::current()) {
  return detail::spawn_on(detail::context_for_spawn(), std::move(t), true, where);
}

/// Starts any other wait as a task of its own (asyncio's ensure_future): `spawn(s.read_line())`,
/// `spawn(q.get())`, `spawn(sleep_for(1s))`. The new task owns the wait (moved into its frame
/// before it begins), so only a wait not yet awaited, passed as an rvalue, is taken; the
/// handle gives its result as a task wrapping the same wait would.
template <class A>
requires(detail::awaitable_other_than_task<A> && !std::is_lvalue_reference_v<A>)
auto spawn(A&& wait, std::source_location where = std::source_location::current()) {
  return spawn(detail::as_task(std::move(wait)), where);
}

}  // namespace ringo
