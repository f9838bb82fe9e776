#pragma once
// A request to the I/O backend, as the loop and the sockets write it: what to do (the
// opcode), on which descriptor and memory, and whom to tell. It says what the caller means,
// never how a backend carries it out: whether "keep receiving" becomes a multishot receive
// into a ring of provided buffers (io_uring) or something else is the backend's choice, behind
// the seam (lib/backend/reactor.hpp, not installed).
//
// A request lives in the awaiting coroutine's frame or in a socket's state; its address is
// its identity while it is in flight. The backend calls on_complete once per completion and,
// after the final one (flags without more_completions), never touches the request again:
// only then may its memory go.
#include <sys/socket.h>

#include <cstdint>

namespace ringo::detail {

enum class io_opcode : std::uint8_t {
  nop,
  read,      // fd, buf, len, offset (-1: current position)
  write,     // fd, cbuf, len, offset
  recv,      // fd, buf, len, msg_flags: one receive into the caller's buffer
  send,      // fd, cbuf, len, msg_flags
  recvmsg,   // fd, msg, msg_flags
  sendmsg,   // fd, msg, msg_flags
  accept,    // fd, addr, addrlen, flags (SOCK_CLOEXEC ...): one connection
  connect,   // fd, addr, addr_len
  close,     // fd
  openat,    // dirfd, path, open flags (msg_flags), mode (len)
  poll,      // fd: completes once it is readable, with the poll events (POLLIN, POLLHUP ...)
  // Standing requests: one completion per arrival, each but the last with more_completions.
  // They end on an error, the end of the stream, a cancel, or wherever the backend chooses
  // (a final completion may carry a result too); their owner arms them again when it wants
  // more.
  keep_receiving,  // fd, msg_flags: bytes in buffers the backend lends (has_buffer), in
                   // order; ends with -ENOBUFS when it has none to lend (or, first, with
                   // the bytes that took the last one). Only where features().provided_buffers
                   // says the backend offers it.
  keep_accepting,  // fd, flags: each completion is a new connection's descriptor. Every
                   // backend; features().multishot_accept: more than one per arming.
};

/// Completion flags handed to on_complete.
enum completion_flags : std::uint32_t {
  more_completions = 1u << 0,  // a standing request stays armed
  has_buffer = 1u << 1,        // the result's bytes are in a lent buffer: see lent_buffers
};

struct io_operation {
  /// `buffer`, with has_buffer, is the lent buffer's handle: it names the buffer and, where
  /// small receives share one buffer, where in it this completion's bytes begin. Only the
  /// backend takes it apart; the reader passes it to lent_buffers as it came.
  using complete_fn = void (*)(io_operation&, int result, std::uint32_t flags,
                               std::uint32_t buffer) noexcept;

  complete_fn on_complete = nullptr;
  io_opcode opcode = io_opcode::nop;
  bool cancel_requested = false;  // a cancel was asked for it (set by the backend)
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
  /// One word the backend keeps with the request while it is in flight (where it tracks it);
  /// no one else reads or writes it.
  static constexpr std::uint32_t no_slot = ~std::uint32_t{0};
  std::uint32_t backend_slot = no_slot;
};

}  // namespace ringo::detail
