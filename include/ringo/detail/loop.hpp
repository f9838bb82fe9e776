#pragma once
// What awaiters see of the event loop: the context running on this thread, its running task,
// the calls that park a task and make it runnable again, the timers, the backend and the
// counters that keep run() going. ringo::io_context derives from detail::loop, privately, and
// adds what users call (run, post from other threads, diagnostics); awaiters include this
// header instead of all of io_context.hpp.
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/io_operation.hpp>
#include <ringo/detail/kernel_features.hpp>
#include <ringo/detail/sync_wait_scope.hpp>
#include <ringo/detail/task_record.hpp>
#include <ringo/detail/timer_node.hpp>

namespace ringo {
class io_context;
}  // namespace ringo

namespace ringo::detail {

class loop;
class reactor;  // the backend seam: lib/backend/reactor.hpp

/// The loop of the context running on this thread (set by io_context::run). Inline in the
/// header so an awaiter's look-up is a plain thread-local load, not a call into the library.
/// Initial-exec (detail/config.hpp): the library reads it several times per request (the
/// owner checks of every stream operation), where the default model calls __tls_get_addr.
RINGO_TLS_INITIAL_EXEC inline thread_local constinit loop* this_thread_context = nullptr;

/// The loop running on this thread, or nullptr outside of io_context::run.
inline loop* current_loop() noexcept { return this_thread_context; }

/// Throws the std::logic_error for an awaiter used outside of a task, or in a task run by
/// sync_wait (out of line, so that the awaiters' hot paths stay small enough to inline).
[[noreturn]] void throw_outside_task();
/// Throws the std::logic_error for an awaiter used with no event loop on the thread.
[[noreturn]] void throw_outside_loop();

/// One thread's event loop as its awaiters use it. Only ringo::io_context derives from it,
/// privately: its members are ringo's own (awaiters reach them through detail::loop_of and the
/// context_ptr they hold), not the user's. Every loop is an io_context (detail::context_of).
class loop {
 public:
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;

  /// What the kernel offered and the loop uses.
  const reactor_features& features() const noexcept;

  /// Live tasks (spawned and not finished).
  std::size_t live_tasks() const noexcept { return live_count_; }

  // ---- for ringo's awaitables; not part of the user-facing API ----
  /// The backend, for the library's own code (its verbs are private to lib/).
  reactor& io() noexcept { return *reactor_; }
  /// Hands `op` to the backend. Throws only std::bad_alloc, and then nothing was queued.
  void submit(io_operation& op);
  /// Asks the backend to cancel `op`, a request in flight; it still completes (with
  /// -ECANCELED, or with its result if it won the race). Needs no memory: the submission set
  /// its room aside.
  void cancel_request(io_operation& op) noexcept;
  /// The task whose code is running now, for an awaiter about to park it. Throws
  /// std::logic_error outside a task, and while sync_wait runs a task on this thread: the
  /// code running then is not the loop's running task's, so parking that task would leave it
  /// waiting on a frame that sync_wait destroys.
  task_record& running_task() {
    if (running_ == nullptr || in_sync_wait) [[unlikely]]
      throw_outside_task();
    return *running_;
  }
  task_record* running_task_or_null() const noexcept { return running_; }
  /// Marks `t` as waiting at `node`; `h` is resumed when someone schedules it.
  void suspend(task_record& t, std::coroutine_handle<> h, wait_node& node) noexcept {
    t.resume_point = h;
    t.waiting_on = &node;
    t.state = task_state::waiting;
  }
  /// Makes a waiting task runnable; it resumes in a later turn of the loop.
  void schedule(task_record& t) noexcept {
    t.next_ready = nullptr;  // also ends waiting_on, which shares its storage
    t.cancel_in_progress = false;
    t.state = task_state::ready;
    // The head says whether the queue is empty: run_ready() leaves the tail dangling.
    if (ready_head_ != nullptr) {
      ready_tail_->next_ready = &t;
    } else {
      ready_head_ = &t;
    }
    ready_tail_ = &t;
  }
  /// Puts the running task `t`, about to suspend at `h`, at the back of the ready queue
  /// (yield()). It is already in the state `ready` and has no cancellation in progress.
  void requeue_running(task_record& t, std::coroutine_handle<> h) noexcept {
    t.resume_point = h;
    t.next_ready = nullptr;
    if (ready_head_ != nullptr) {
      ready_tail_->next_ready = &t;
    } else {
      ready_head_ = &t;
    }
    ready_tail_ = &t;
  }
  /// For yield(): true if the running task may go on at once instead of suspending, as the
  /// only task of the next round. That holds when nothing else is ready (so the running task
  /// ends the current round) and the loop owes no look at I/O and timers before that round;
  /// the round is counted as if it had gone through the ready queue.
  bool continue_as_next_round() noexcept {
    if (ready_head_ != nullptr || rounds_left_ <= 1) return false;
    --rounds_left_;
    return true;
  }
  /// Requests cancellation of `t` (see join_handle::cancel).
  void cancel(task_record& t) noexcept;
  void add_timer(timer_node& timer);
  void remove_timer(timer_node& timer) noexcept;
  /// Arms `timer` (its `fire` set) to fire at `at`; returns false, arming nothing, for
  /// no_deadline (a time too far for the clock is no deadline at all).
  bool add_timer_at(timer_node& timer, std::chrono::steady_clock::time_point at) {
    if (at == no_deadline) return false;
    timer.deadline = at;
    add_timer(timer);
    return true;
  }
  /// Arms `timer` to fire `limit` from now; a limit of zero or less is none.
  bool add_timer_after(timer_node& timer, std::chrono::nanoseconds limit) {
    return limit.count() > 0 && add_timer_at(timer, deadline_after(limit));
  }
  /// Work owed by another thread (a pool future awaited, to_thread): while any is pending the
  /// loop waits for it instead of reporting a deadlock. Both calls on this context's thread.
  void add_remote_work() noexcept { ++remote_work_; }
  void remove_remote_work() noexcept { --remote_work_; }
  /// An I/O object destroyed with requests in flight becomes an orphan that frees itself on
  /// their last completion; run() keeps reaping until every orphan is gone, so none leaks.
  /// Both calls on this context's thread.
  void add_orphan() noexcept { ++orphans_; }
  void remove_orphan() noexcept { --orphans_; }
  /// Registers a freshly spawned task (its record lives in its frame) and queues it to run.
  void adopt(task_record& t) noexcept;
  /// Called by a task's root coroutine when it has finished.
  void retire(task_record& t) noexcept;

 protected:
  loop() noexcept = default;
  ~loop();  // in lib/, where the backend's type is complete

  std::unique_ptr<reactor> reactor_;
  task_record* ready_head_ = nullptr;
  task_record* ready_tail_ = nullptr;
  task_record* live_head_ = nullptr;
  task_record* running_ = nullptr;
  int rounds_left_ = 0;  // rounds run_ready() may still run before the loop polls; 0 outside it
  std::size_t live_count_ = 0;
  std::size_t live_non_daemon_ = 0;
  std::size_t remote_work_ = 0;
  std::size_t orphans_ = 0;
  std::uint64_t next_task_id_ = 1;
  bool daemons_cancelled_ = false;
  std::vector<timer_node*> timers_;  // a binary min-heap on deadline
};

/// How an awaiter holds the context it waits on: `context->` reaches the loop's members.
/// Code that needs the whole ringo::io_context (to post to it, say) includes io_context.hpp
/// and asks detail::context_of(*context.get()).
class context_ptr {
 public:
  context_ptr() noexcept = default;
  context_ptr(loop* l) noexcept : loop_(l) {}  // implicit, as a pointer's would be
  loop* operator->() const noexcept { return loop_; }
  [[nodiscard]] loop* get() const noexcept { return loop_; }
  explicit operator bool() const noexcept { return loop_ != nullptr; }

 private:
  loop* loop_ = nullptr;
};

}  // namespace ringo::detail
