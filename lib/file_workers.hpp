#pragma once
// The threads that do the epoll backend's file operations (private to the library). A regular
// file is always "ready" to epoll, and its reads and writes can still block on the disk; so
// opening, reading and writing files runs here, off the loop thread, and the result goes back
// to the loop.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <ringo/detail/reactor.hpp>

namespace ringo::detail {

class file_workers {
 public:
  struct finished {
    io_operation* op;
    int result;  // >= 0, or -errno
  };

  /// `notify(arg)` is called (from a worker) when a result is ready; thread-safe.
  file_workers(void (*notify)(void*) noexcept, void* arg) noexcept : notify_(notify), arg_(arg) {}
  ~file_workers();
  file_workers(const file_workers&) = delete;
  file_workers& operator=(const file_workers&) = delete;

  /// Queues `op` (openat, or read or write of a regular file). Starts the threads on first
  /// use. Throws std::bad_alloc or std::system_error, and then nothing was queued.
  void push(io_operation& op);
  /// Takes `op` back if no worker has started it; false if one has (it will finish).
  bool cancel(io_operation& op) noexcept;
  /// Moves the results that are ready into `out`.
  void take_finished(std::vector<finished>& out);
  /// Operations queued or running.
  [[nodiscard]] std::size_t busy() const noexcept;

 private:
  static constexpr std::size_t threads = 2;
  void work() noexcept;
  static int perform(io_operation& op) noexcept;

  void (*notify_)(void*) noexcept;
  void* arg_;
  mutable std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<io_operation*> queue_;
  std::vector<finished> finished_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ringo::detail
