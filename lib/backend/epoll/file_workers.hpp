#pragma once
// The threads that do the epoll backend's file operations (private to the library). A regular
// file is always "ready" to epoll, and its reads and writes can still block on the disk; so
// opening, reading and writing files runs here, off the loop thread, and the result goes back
// to the loop.
//
// A file call can block for as long as it likes (an open of a FIFO that no writer opens, a
// read from a hung network or FUSE file system), and no signal-free way exists to cut it short.
// Yet a deadline or a cancel must end the wait at once, as io_uring's do. So a request is
// never tied to a thread's call: the thread works on a job of its own (shared by the thread
// and the loop), holding a copy of what the call needs (the path, the bytes to write, a buffer
// to read into, its own duplicate of the descriptor), never a pointer into the caller's
// memory. Cancelling a running job abandons it: the request completes with -ECANCELED at
// once, and the thread, whenever its call returns, closes whatever the call made (the opened
// descriptor) and drops the job. Its place among the workers is taken by a new thread, and the
// threads share the queue by shared ownership, so the backend may be destroyed while a thread
// is still stuck: that thread ends on its own when its call returns.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/reactor.hpp"

namespace ringo::detail {

class file_workers {
 public:
  /// One request as a file thread sees it.
  struct job {
    io_operation* op;  // null once abandoned: the loop no longer waits for it
    io_opcode opcode;
    int fd;        // openat: the directory; read, write: a duplicate, closed with the job
    bool own_fd;   // whether `fd` is the job's duplicate
    int flags;     // openat
    unsigned mode;  // openat
    std::uint64_t offset;
    std::size_t len;
    std::string path;                   // openat
    std::unique_ptr<std::byte[]> data;  // read: filled by the call; write: a copy of the bytes
    int result = 0;                     // >= 0, or -errno
    ~job();
  };

  struct finished {
    io_operation* op;
    int result;  // >= 0, or -errno; for a read, the bytes are already in op's buffer
  };

  /// `notify(arg)` is called (from a worker) when a result is ready; thread-safe. It is never
  /// called once the destructor has begun.
  file_workers(void (*notify)(void*) noexcept, void* arg);
  ~file_workers();
  file_workers(const file_workers&) = delete;
  file_workers& operator=(const file_workers&) = delete;

  /// Queues `op` (openat, or read or write of a regular file). Starts a thread if fewer than
  /// `threads` serve the queue. Throws std::bad_alloc or std::system_error, and then nothing
  /// was queued.
  void push(io_operation& op);
  /// Takes `op` back: out of the queue, or abandoned by the thread that runs it (see above).
  /// False if it is not here (its result is already on its way).
  bool cancel(io_operation& op) noexcept;
  /// Takes back every request queued or running, as cancel() does each; returns them.
  std::vector<io_operation*> cancel_all() noexcept;
  /// Moves the results that are ready into `out` (a read's bytes copied into its buffer).
  void take_finished(std::vector<finished>& out);

 private:
  static constexpr std::size_t threads = 2;
  struct shared;  // the queue and its lock, owned jointly by this object and every thread
  static void work(std::shared_ptr<shared> s) noexcept;
  static void perform(job& j) noexcept;
  void start_thread_if_short();

  std::shared_ptr<shared> shared_;
};

}  // namespace ringo::detail
