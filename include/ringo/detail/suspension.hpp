#pragma once
// The common steps of every awaiter that parks a task on its context.
#include <coroutine>
#include <source_location>

#include <ringo/detail/loop.hpp>
#include <ringo/detail/task_record.hpp>
#include <ringo/error.hpp>

namespace ringo::detail {

/// The loop running on this thread, for an awaiter about to suspend; throws std::logic_error
/// outside of an event loop.
inline loop& context_of_awaiter() {
  loop* ctx = current_loop();
  if (ctx == nullptr) [[unlikely]]
    throw_outside_loop();
  return *ctx;
}

/// True when the task running on this thread has a cancellation waiting to be delivered.
/// Every wait that could end at once by taking something (an item, a slot, a permit, the
/// lock, a finished task's result) asks this in await_ready and, when it holds, goes through
/// await_suspend instead, whose prepare() delivers the cancellation: so a task cancelled
/// before it reached the wait (the loser of a when_any decided before it first ran) takes
/// nothing. (False while sync_wait runs a task: the code running then is not the loop's task's.)
inline bool cancellation_due() noexcept {
  loop* ctx = current_loop();
  if (ctx == nullptr) return false;
  const task_record* t = ctx->running_task_or_null();
  return t != nullptr && t->cancel_pending && !in_sync_wait;
}

/// Base of awaiters that suspend the running task until someone schedules it again. Derived
/// classes fill in wait_node::cancel and describe, and call park() from await_suspend.
struct suspension : wait_node {
  context_ptr context;
  task_record* task = nullptr;
  bool cancelled = false;

  explicit suspension(std::source_location loc) noexcept { where = loc; }

  /// Looks up the running task; returns false (do not suspend) if a cancellation is due,
  /// which await_resume then throws.
  bool prepare() {
    loop& ctx = context_of_awaiter();
    context = &ctx;
    task = &ctx.running_task();
    if (task->take_cancellation()) {
      cancelled = true;
      return false;
    }
    return true;
  }

  void park(std::coroutine_handle<> h) noexcept { context->suspend(*task, h, *this); }
  void wake() noexcept { context->schedule(*task); }
  void throw_if_cancelled() const {
    if (cancelled) throw operation_cancelled();
  }
  /// On resuming: true (and the cancellation taken) when the task was cancelled after what it
  /// waited for was handed to it but before it ran again. An awaiter that can give back what
  /// it was handed then does so and throws operation_cancelled: a cancelled wait takes
  /// nothing, which is what lets it race in when_any or run under with_timeout.
  [[nodiscard]] bool cancelled_since_wake() noexcept {
    return task != nullptr && task->take_cancellation();
  }
};

}  // namespace ringo::detail
