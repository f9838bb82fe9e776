#pragma once
/// \file
/// ringo::io_context: one thread's event loop: an I/O backend (io_uring, or epoll where
/// io_uring is refused), the ready queue, the timers and the live tasks.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <ringo/detail/loop.hpp>
#include <ringo/detail/spawned_task.hpp>
#include <ringo/detail/timer_node.hpp>
#include <ringo/io_context_options.hpp>
#include <ringo/task.hpp>

namespace ringo {

namespace detail {
/// Prints the exception that a function given to io_context::post threw. Defined in lib/.
void report_posted_exception(const std::exception_ptr& e) noexcept;
/// The loop of a context, for ringo's own code (io_context's base is private).
loop& loop_of(io_context& c) noexcept;
/// The context a loop is (every loop is one).
io_context& context_of(loop& l) noexcept;
}  // namespace detail

/// One thread's event loop. Everything awaited on a context belongs to the thread that runs
/// it; only post() may be called from other threads. What ringo's awaiters use of it (the
/// running task, the ready queue, the timers, the backend) comes from its private base,
/// detail::loop, which only ringo's code reaches (detail::loop_of).
class io_context : detail::loop {
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
  static io_context* current() noexcept {
    return static_cast<io_context*>(detail::this_thread_context);
  }

  /// Runs `f()` on this context's thread from its loop, soon. Thread-safe; wakes a sleeping
  /// loop. A burst of posts costs one wake-up. A post to a context that is not running (its
  /// run() has returned, or has not begun) waits there: `f` runs at the context's next run(),
  /// and if the context is destroyed first, `f` is destroyed with it, unrun (on the thread
  /// that destroys the context), so nothing it holds leaks. Posting concurrently with the
  /// context's destruction is undefined.
  template <class F>
  requires(!std::is_base_of_v<detail::remote_node, std::remove_cvref_t<F>> &&
           std::is_invocable_v<std::decay_t<F>&>) void post(F&& f);
  /// The allocation-free form of post(): `node` must live until its run() is called, or
  /// until its discard() is (or the context is gone, if it has none): see post(f).
  void post(detail::remote_node& node) noexcept;

  /// A listing of every live task: its id, spawn site, state, and where and on what it waits.
  std::string dump_tasks() const;

  /// How many times posts from other threads had to wake the loop; a burst of posts between
  /// two turns of the loop counts once.
  std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }

  /// What the kernel offered and the loop uses.
  using detail::loop::features;
  /// The backend in use: io_uring or epoll, never automatic.
  io_backend backend() const noexcept { return backend_; }
  /// Empty, unless the options (or RINGO_BACKEND) left the choice to ringo and io_uring could
  /// not be set up: then why, as the sentence an explicit io_uring request would throw.
  std::string_view fallback_reason() const noexcept { return fallback_reason_; }
  /// Live tasks (spawned and not finished).
  using detail::loop::live_tasks;

 private:
  friend detail::loop& detail::loop_of(io_context& c) noexcept;
  friend io_context& detail::context_of(detail::loop& l) noexcept;

  void bind_to_this_thread();
  void drive();
  void run_ready();
  void fire_timers();
  void run_remote();
  [[noreturn]] void report_deadlock();
  void cancel_daemons() noexcept;
  void teardown() noexcept;
  void discard_posted() noexcept;
  std::chrono::nanoseconds wait_budget() const;

  std::mutex remote_mutex_;
  detail::remote_node* remote_head_ = nullptr;
  detail::remote_node* remote_tail_ = nullptr;
  std::atomic<bool> remote_pending_{false};
  std::atomic<std::uint64_t> wakeups_{0};
  std::thread::id owner_{};
  io_backend backend_ = io_backend::io_uring;
  std::string fallback_reason_;
};

inline detail::loop& detail::loop_of(io_context& c) noexcept { return c; }
inline io_context& detail::context_of(detail::loop& l) noexcept {
  return static_cast<io_context&>(l);
}

template <class T>
T io_context::run(task<T> main, std::source_location where) {
  bind_to_this_thread();
  detail::spawned_task<T> root = detail::start_spawned(*this, std::move(main), false, where);
  drive();
  return detail::take_result(root.state());
}

template <class F>
requires(!std::is_base_of_v<detail::remote_node, std::remove_cvref_t<F>> &&
         std::is_invocable_v<std::decay_t<F>&>) void io_context::post(F&& f) {
  struct node : detail::remote_node {
    std::decay_t<F> fn;
    explicit node(F&& f) : fn(std::forward<F>(f)) {
      run = [](detail::remote_node& n) noexcept {
        using detail::report_posted_exception;
        std::unique_ptr<node> self{static_cast<node*>(&n)};
        try {
          self->fn();
        } catch (...) {
          report_posted_exception(std::current_exception());
        }
      };
      discard = [](detail::remote_node& n) noexcept { delete static_cast<node*>(&n); };
    }
  };
  post(*new node(std::forward<F>(f)));
}

}  // namespace ringo

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
