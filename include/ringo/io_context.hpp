#pragma once
/// \file
/// ringo::io_context: one thread's event loop: an io_uring ring, the ready queue, the timers
/// and the live tasks.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/detail/reactor.hpp>
#include <ringo/detail/task_record.hpp>
#include <ringo/detail/timer_node.hpp>
#include <ringo/io_context_options.hpp>
#include <ringo/task.hpp>

namespace ringo {

class io_context;

namespace detail {
/// The context running on this thread (set by run()). Inline in the header so an awaiter's
/// look-up is a plain thread-local load, not a call into the library.
inline thread_local constinit io_context* this_thread_context = nullptr;
[[noreturn]] void throw_outside_task();
/// Throws the std::logic_error for an awaiter used with no event loop on the thread (out of
/// line, so that the awaiters' hot paths stay small enough to inline).
[[noreturn]] void throw_outside_loop();
}  // namespace detail

/// One thread's event loop. Everything awaited on a context belongs to the thread that runs
/// it; only post() may be called from other threads.
class io_context {
 public:
  explicit io_context(io_context_options options = {});
  ~io_context();
  io_context(const io_context&) = delete;
  io_context& operator=(const io_context&) = delete;

  /// Runs `main` as a task on this context, on the calling thread, until `main` and every
  /// non-daemon task spawned under it have finished; then cancels the daemon tasks still
  /// alive and waits for them to end. Returns main's result or rethrows its exception.
  /// Throws ringo::deadlock_error if tasks wait while nothing can ever wake them.
  template <class T>
  T run(task<T> main, std::source_location where = std::source_location::current());

  /// The context running on this thread, or nullptr outside of run().
  static io_context* current() noexcept { return detail::this_thread_context; }

  /// Runs `f()` on this context's thread from its loop, soon. Thread-safe; wakes a sleeping
  /// loop. A burst of posts costs one wake-up.
  template <class F>
  requires(!std::is_base_of_v<detail::remote_node, std::remove_cvref_t<F>> &&
           std::is_invocable_v<std::decay_t<F>&>) void post(F&& f);
  /// The allocation-free form of post(): `node` must live until its run() is called.
  void post(detail::remote_node& node) noexcept;

  /// A listing of every live task: its id, spawn site, state, and where and on what it waits.
  std::string dump_tasks() const;

  /// How many times posts from other threads had to wake the loop; a burst of posts between
  /// two turns of the loop counts once.
  std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }

  /// What the kernel offered and the loop uses.
  const detail::reactor_features& features() const noexcept;

  /// Live tasks (spawned and not finished), and those that are not daemons.
  std::size_t live_tasks() const noexcept { return live_count_; }

  // ---- for ringo's awaitables; not part of the user-facing API ----
  detail::reactor& io() noexcept { return *reactor_; }
  /// The task whose code is running now (throws std::logic_error outside a task).
  detail::task_record& running_task() {
    if (running_ == nullptr) detail::throw_outside_task();
    return *running_;
  }
  detail::task_record* running_task_or_null() const noexcept { return running_; }
  /// Marks `t` as waiting at `node`; `h` is resumed when someone schedules it.
  void suspend(detail::task_record& t, std::coroutine_handle<> h,
               detail::wait_node& node) noexcept {
    t.resume_point = h;
    t.waiting_on = &node;
    t.state = detail::task_state::waiting;
  }
  /// Makes a waiting task runnable; it resumes in a later turn of the loop.
  void schedule(detail::task_record& t) noexcept {
    t.next_ready = nullptr;  // also ends waiting_on, which shares its storage
    t.cancel_in_progress = false;
    t.state = detail::task_state::ready;
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
  void requeue_running(detail::task_record& t, std::coroutine_handle<> h) noexcept {
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
  void cancel(detail::task_record& t) noexcept;
  void add_timer(detail::timer_node& timer);
  void remove_timer(detail::timer_node& timer) noexcept;
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
  void adopt(detail::task_record& t) noexcept;
  /// Called by a task's root coroutine when it has finished.
  void retire(detail::task_record& t) noexcept;

 private:
  void bind_to_this_thread();
  void drive();
  void run_ready();
  void fire_timers();
  void run_remote();
  [[noreturn]] void report_deadlock();
  void cancel_daemons() noexcept;
  void teardown() noexcept;
  std::chrono::nanoseconds wait_budget() const;

  std::unique_ptr<detail::reactor> reactor_;
  detail::task_record* ready_head_ = nullptr;
  detail::task_record* ready_tail_ = nullptr;
  detail::task_record* live_head_ = nullptr;
  detail::task_record* running_ = nullptr;
  int rounds_left_ = 0;  // rounds run_ready() may still run before the loop polls; 0 outside it
  std::size_t live_count_ = 0;
  std::size_t live_non_daemon_ = 0;
  std::size_t remote_work_ = 0;
  std::size_t orphans_ = 0;
  std::uint64_t next_task_id_ = 1;
  bool daemons_cancelled_ = false;
  std::vector<detail::timer_node*> timers_;  // a binary min-heap on deadline

  std::mutex remote_mutex_;
  detail::remote_node* remote_head_ = nullptr;
  detail::remote_node* remote_tail_ = nullptr;
  std::atomic<bool> remote_pending_{false};
  std::atomic<std::uint64_t> wakeups_{0};
  std::thread::id owner_{};
};

}  // namespace ringo

// spawn() and the member templates above need the class complete.
#include <ringo/spawn.hpp>

/// Formats a context as its task listing (io_context::dump_tasks()). Takes no format spec.
template <>
struct fmt::formatter<ringo::io_context> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class FormatContext>
  auto format(const ringo::io_context& ctx, FormatContext& out) const {
    const std::string text = ctx.dump_tasks();
    return std::copy(text.begin(), text.end(), out.out());
  }
};
