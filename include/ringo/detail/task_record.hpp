#pragma once
// What the runtime knows of every spawned task, and of the place where it waits.
#include <coroutine>
#include <cstdint>
#include <exception>
#include <source_location>
#include <string>

namespace ringo::detail {

class loop;

/// A place where a task is suspended: lives in the awaiter, in the task's frame.
struct wait_node {
  /// Called on the context's thread when the waiting task is cancelled. It must make the task
  /// runnable again (at once, or once the kernel has let go of the awaiter's memory) and leave
  /// a mark for await_resume to throw operation_cancelled. Null: the wait cannot be cut short.
  void (*cancel)(wait_node&) noexcept = nullptr;
  /// Appends to `out` what the task waits on ("sleep for 2s", "mutex 0x.. held by task #3").
  void (*describe)(const wait_node&, std::string& out) = nullptr;
  /// The co_await that suspended the task.
  std::source_location where{};
};

enum class task_state : std::uint8_t { ready, running, waiting, finished };

struct join_waiter;

/// One spawned task, and what it shares with its join_handle. Lives in the task's own
/// coroutine frame (constructed there by spawn), so a spawned task costs one allocation;
/// trivially destructible, so the frame needs no code to end it. Linked into its context's
/// lists while the task lives. Every task's frame has room for one (a spawned task's promise
/// is an awaited one's too), so its size counts in every frame: the number and the flags share
/// one word. Only the context's thread reads or writes a record.
struct task_record {
  /// The task's number in diagnostics (a context would need 2^48 spawns to wrap it).
  std::uint64_t id : 48 = 0;
  task_state state : 2 = task_state::ready;
  bool daemon : 1 = false;
  /// Set by cancel() when the task is not at a cancellable wait: the next suspension point
  /// throws operation_cancelled (once).
  bool cancel_pending : 1 = false;
  /// Set once a cancellation was handed to a wait_node, so a second cancel() waits for it.
  bool cancel_in_progress : 1 = false;
  std::uint8_t refs : 2 = 2;   // the running body and the handle; the last one frees the frame
  bool finished : 1 = false;   // the body ended (or the context gave up on it)
  bool consumed : 1 = false;   // the result (or exception) was taken by a join
  bool abandoned : 1 = false;  // the context was torn down with the task suspended
  std::source_location spawned_at{};
  loop* context = nullptr;  // the context the task was spawned on
  union {
    wait_node* waiting_on = nullptr;  // while waiting: where (read only in that state)
    task_record* next_ready;          // while ready: the next task in the ready queue
  };
  std::coroutine_handle<> resume_point{};  // the innermost coroutine to resume
  std::coroutine_handle<> root{};          // the spawned frame, for teardown
  task_record* prev_live = nullptr;
  task_record* next_live = nullptr;
  join_waiter* joiners = nullptr;  // tasks awaiting this one's end

  /// True (and clears the mark) if a cancellation waits to be delivered at this suspension.
  bool take_cancellation() noexcept {
    if (!cancel_pending) return false;
    cancel_pending = false;
    return true;
  }
};
// Eight pointers and the word of number and flags: part of every task's frame.
static_assert(sizeof(task_record) <= 9 * sizeof(void*));

}  // namespace ringo::detail
