#pragma once
// What the runtime knows of every spawned task, and of the place where it waits.
#include <coroutine>
#include <cstddef>
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
/// is an awaited one's too), so its size counts in every frame: the number, the flags and
/// where the frame starts share one word. Only the context's thread reads or writes a record.
struct task_record {
  /// The context the task was spawned on. First, and a pointer, so that the record's first
  /// word never has its low bit set: task_promise_base keeps an awaited task's continuation in
  /// the same bytes, tagged with that bit.
  loop* context = nullptr;
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
  /// How far before the record (in 8-byte steps) its spawned frame starts, set by set_root:
  /// the record lives in that frame's promise, so the distance is all it needs to find it.
  std::uint8_t root_distance : 6 = 0;
  std::source_location spawned_at{};
  union {
    wait_node* waiting_on = nullptr;  // while waiting: where (read only in that state)
    task_record* next_ready;          // while ready: the next task in the ready queue
  };
  std::coroutine_handle<> resume_point{};  // the innermost coroutine to resume
  task_record* prev_live = nullptr;
  task_record* next_live = nullptr;
  join_waiter* joiners = nullptr;  // tasks awaiting this one's end

  /// The farthest a spawned frame may start before its record.
  static constexpr std::size_t max_root_distance = 63 * 8;

  /// The spawned frame, for teardown.
  [[nodiscard]] std::coroutine_handle<> root() const noexcept {
    auto* here = const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(this));
    return std::coroutine_handle<>::from_address(here - std::size_t{root_distance} * 8);
  }
  /// Records where `frame`, which holds this record, starts: false (nothing set) if it starts
  /// farther before the record than max_root_distance.
  [[nodiscard]] bool set_root(std::coroutine_handle<> frame) noexcept {
    const auto distance = static_cast<std::size_t>(reinterpret_cast<unsigned char*>(this) -
                                                   static_cast<unsigned char*>(frame.address()));
    if (distance > max_root_distance || distance % 8 != 0) return false;
    root_distance = static_cast<std::uint8_t>(distance / 8) & 63;
    return true;
  }

  /// True (and clears the mark) if a cancellation waits to be delivered at this suspension.
  bool take_cancellation() noexcept {
    if (!cancel_pending) return false;
    cancel_pending = false;
    return true;
  }
};
// Seven pointers and the word of number, flags and root distance: part of every task's frame.
static_assert(sizeof(task_record) <= 8 * sizeof(void*));
static_assert(offsetof(task_record, context) == 0);

}  // namespace ringo::detail
