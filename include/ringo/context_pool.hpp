#pragma once
/// \file
/// ringo::context_pool: one io_context per core, each on its own thread, started and stopped
/// together: the multi-core server mode (each context binds its own SO_REUSEPORT listener).
#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <ringo/io_context.hpp>
#include <ringo/task.hpp>

namespace ringo {

/// Runs one task per context on `size()` threads. There is no shared state between the
/// contexts: each task does its own accepting and serving, the kernel spreads connections
/// over SO_REUSEPORT listeners.
class context_pool {
 public:
  /// `threads` contexts (0 = one per core), each made with `options`.
  explicit context_pool(unsigned threads = 0, io_context_options options = {});
  ~context_pool();
  context_pool(const context_pool&) = delete;
  context_pool& operator=(const context_pool&) = delete;

  /// Makes `make_main(i)` on thread i and runs it there as that context's main task, until
  /// every one of them (and the tasks they spawned) has finished. With `stop_on_signals`,
  /// SIGINT and SIGTERM call stop(): the calling thread runs a loop of its own meanwhile, with
  /// a ringo::signal_set for them (see signal_set.hpp: the pool's threads block every
  /// asynchronous signal, and threads of yours started before run() must block SIGINT and
  /// SIGTERM themselves, or a signal may land on them instead).
  /// If a main task fails, the others are stopped and its exception is rethrown here once
  /// every thread has ended. Blocks the calling thread; call it once, not from a task.
  void run(std::function<task<void>(unsigned index)> make_main, bool stop_on_signals = true);

  /// Cancels every context's main task (it sees operation_cancelled at its suspension point
  /// and unwinds, closing its listener). Thread-safe; run() then returns normally.
  void stop() noexcept;

  /// Whether stop() was called (by a signal, a failure, or the user).
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  [[nodiscard]] unsigned size() const noexcept { return static_cast<unsigned>(slots_.size()); }

  /// The context of thread `index`; post() to it from anywhere.
  [[nodiscard]] io_context& context(unsigned index) noexcept;

 private:
  struct slot;
  void fail(std::exception_ptr e) noexcept;

  io_context_options options_;  // also for the loop that watches the signals in run()
  std::vector<std::unique_ptr<slot>> slots_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::exception_ptr failure_;
};

}  // namespace ringo
