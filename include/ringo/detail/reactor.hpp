#pragma once
// The one seam between the event loop and its I/O backend.
//
// An operation object lives in the awaiting coroutine's frame; its address travels through
// the kernel as the request's user_data. The backend promises to call on_complete exactly
// once per completion and, after the final one (flags without more_completions), never to
// touch the object again: only then may the awaiter's frame go away. Nothing here names
// io_uring, so a second backend (epoll) can sit behind the same interface.
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ringo::detail {

enum class io_opcode : std::uint8_t {
  nop,
  read,      // fd, buf, len, offset (-1: current position)
  write,     // fd, cbuf, len, offset
  recv,      // fd, buf, len, msg_flags; or a provided buffer with select_buffer
  send,      // fd, cbuf, len, msg_flags
  recvmsg,   // fd, msg, msg_flags
  sendmsg,   // fd, msg, msg_flags
  accept,    // fd, addr, addrlen, flags (SOCK_CLOEXEC ...)
  connect,   // fd, addr, addr_len
  close,     // fd
  openat,    // dirfd, path, open flags (msg_flags), mode (len)
  poll,      // fd: completes once it is readable, with the poll events (POLLIN, POLLHUP ...)
};

/// Completion flags handed to on_complete.
enum completion_flags : std::uint32_t {
  more_completions = 1u << 0,  // a multishot request stays armed
  has_buffer = 1u << 1,        // the result names a provided buffer: see complete_fn
};

struct io_operation {
  /// `buffer`, with has_buffer, is the provided buffer's handle: it names the buffer and, where
  /// small receives share one buffer, where in it this completion's bytes begin. Only the
  /// backend takes it apart; the reader passes it to buffer_data and recycle_buffer as it came.
  using complete_fn = void (*)(io_operation&, int result, std::uint32_t flags,
                               std::uint32_t buffer) noexcept;

  complete_fn on_complete = nullptr;
  io_opcode opcode = io_opcode::nop;
  bool multishot = false;      // accept, recv: stay armed until an error or cancellation
  bool select_buffer = false;  // recv: the kernel picks a buffer from the provided ring
  int fd = -1;
  union {
    void* buf = nullptr;
    const void* cbuf;
    msghdr* msg;
    sockaddr* addr;
    const char* path;
  };
  std::uint32_t len = 0;  // buffer length; connect: address length; openat: mode
  int msg_flags = 0;      // MSG_*, accept/open flags
  union {
    socklen_t* addr_len = nullptr;  // accept
    std::uint64_t offset;           // read, write (-1: the current position)
  };
  bool cancel_requested = false;  // cancel() was called for it (the backend's mark)
  // ---- the backend's own bookkeeping ----
  static constexpr std::uint32_t no_slot = ~std::uint32_t{0};
  std::uint32_t tracking_slot = no_slot;  // where it is in the backend's list of requests
};

/// Kernel features the loop may use; each has a fallback path.
struct reactor_features {
  bool single_issuer = false;
  bool defer_taskrun = false;
  bool coop_taskrun = false;
  bool multishot_accept = false;
  bool provided_buffers = false;  // buffer rings, and multishot recv into them
  bool send_zc = false;
  bool ext_arg = false;     // waits with a timeout need no timeout request
  bool cancel_any = false;  // one request cancels every request (drain)
  bool registered_ring = false;  // io_uring_enter names the ring by its registered index
  bool recv_bundle = false;      // one multishot receive completion fills several buffers
  bool incremental_buffers = false;  // small receives share one provided buffer
  bool kernel_tls = false;  // TCP's `tls` upper-layer protocol: TLS streams hand keys to it
};

class reactor {
 public:
  virtual ~reactor() = default;

  /// Binds the backend to the calling thread, which from now on is the only one to submit.
  virtual void start() = 0;

  /// Queues `op`; it reaches the kernel at the next wait() (or sooner). Throws only
  /// std::bad_alloc, and then nothing was queued. A request queued while completions are
  /// dispatched, or that finds the submission queue full, waits in order in a backlog.
  virtual void submit(io_operation& op) = 0;

  /// Asks the kernel to cancel `op`. The operation still completes (with -ECANCELED, or with
  /// its result if it won the race), and only then may its memory go. Throws as submit().
  virtual void cancel(io_operation& op) = 0;

  /// Closes `fd` once every request and cancel queued before has reached the kernel, so that
  /// none of them can meet another file under the same number. For a socket that is let go
  /// of: nothing waits for the close.
  virtual void close_later(int fd) noexcept = 0;

  /// Hands everything queued to the kernel now (not while completions are dispatched).
  virtual void flush() noexcept = 0;

  /// Submits what is queued, waits for completions for at most `timeout` (zero: only reap
  /// what is there; negative: no limit) and calls their handlers.
  virtual void wait(std::chrono::nanoseconds timeout) = 0;

  /// Cancels every request in flight and delivers their completions (bounded in time), so
  /// that no request outlives the memory it points into. For shutting a context down.
  virtual void drain() noexcept = 0;

  /// Requests whose final completion has not arrived.
  virtual std::size_t in_flight() const noexcept = 0;

  virtual const reactor_features& features() const noexcept = 0;

  /// The provided-buffer ring: where a completion with has_buffer put its bytes, and how the
  /// reader gives the buffer back once it has consumed them (exactly once per completion, on
  /// any thread). buffer_size() bounds the bytes of one completion.
  virtual std::byte* buffer_data(std::uint32_t buffer) noexcept = 0;
  virtual std::size_t buffer_size() const noexcept = 0;
  virtual void recycle_buffer(std::uint32_t buffer) noexcept = 0;

  /// Makes a wait() in progress (or the next one) return soon. Thread-safe; the backend
  /// re-arms itself, so every call after a wait() returned wakes the next one again.
  virtual void wake() noexcept = 0;
};

}  // namespace ringo::detail
