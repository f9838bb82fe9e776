#pragma once
/// \file
/// ringo::net::tcp_stream: a connected TCP socket whose reads and writes suspend the calling
/// task, never the thread.
#include <chrono>
#include <cstdint>
#include <source_location>
#include <string>
#include <vector>

#include <ringo/net/stream_socket.hpp>
#include <ringo/net/endpoint.hpp>
#include <ringo/net/received_buffer.hpp>
#include <ringo/net/received_buffers.hpp>
#include <ringo/task.hpp>

namespace ringo::net {

/// A connected TCP socket. Move-only; belongs to the io_context it was made on, and must not
/// outlive it: using it from a thread that does not run that context is a std::logic_error.
/// One task may read while others write. Several tasks may write at once (Go's rule for
/// net.Conn): their write_all calls are served one after the other, in the order they were
/// called, each one's bytes contiguous on the wire; a write waiting its turn that times out or
/// is cancelled leaves the line without touching the others, and a close ends every waiting
/// write with EBADF. Two concurrent reads are a std::logic_error (which bytes would each get?).
/// Every awaiting task resumes on its own context. Destroying an open stream closes it: its pending requests
/// are cancelled and its descriptor is closed through the ring behind them, in the loop's next
/// turn (at once when the loop is not running); co_await close() to wait for the close and
/// learn its error. Either way a read or write in flight in another task fails with EBADF (or
/// keeps what it completed before), and no byte of a write is sent after the close, on this
/// connection or on the next one to get its descriptor number. Destroy a stream on its
/// context's thread.
///
/// With provided buffers (io_context::features().provided_buffers) the stream arms one
/// standing receive on its first read and keeps it armed: bytes arrive in buffers the
/// backend lends (io_uring's shared ring, or the epoll backend's pool), and an idle
/// connection holds none.
class tcp_stream : public stream_socket {
 public:
  /// An empty stream (not connected).
  tcp_stream() noexcept = default;
  tcp_stream(tcp_stream&&) noexcept = default;
  tcp_stream& operator=(tcp_stream&&) noexcept = default;
  ~tcp_stream() = default;

  /// Connects to `to`. Throws std::system_error naming the endpoint ("connect to
  /// 127.0.0.1:1: Connection refused"), ringo::timed_out after `timeout` (zero: none), or
  /// operation_cancelled. Resumes on the calling task's context.
  static task<tcp_stream> connect(endpoint to, std::chrono::nanoseconds timeout = {},
                                  std::source_location where = std::source_location::current());

  /// Resolves `host` (net::resolve: a name, or a numeric IPv4 or IPv6 address) and connects to
  /// its addresses in the resolver's order, each in turn until one connects (Python's
  /// asyncio.open_connection(host, port)). Throws what resolve throws, or, when no address
  /// connects, the last address's error naming the host and that address ("connect to
  /// localhost (127.0.0.1:1): Connection refused"; ringo::timed_out when it timed out).
  /// `timeout` (zero: none) bounds each attempt. Cancellation stops at once, with no further
  /// attempt. Resumes on the calling task's context.
  static task<tcp_stream> connect(std::string host, std::uint16_t port,
                                  std::chrono::nanoseconds timeout = {},
                                  std::source_location where = std::source_location::current());

  /// Takes ownership of connected socket `fd` (peer `peer`) on the current context.
  static tcp_stream adopt(int fd, const endpoint& peer);

  // read_some, read_exact, read_line, read_until, receive, receive_some, write_all, shutdown,
  // close, is_open and native_handle: see stream_socket.

  /// Turns Nagle's algorithm off (true) or on.
  void set_nodelay(bool on);
  [[nodiscard]] endpoint remote_endpoint() const;
  [[nodiscard]] endpoint local_endpoint() const;
};

}  // namespace ringo::net

namespace ringo::detail {

/// tcp_stream::connect(host, port) once the host is resolved: connects to each of `candidates`
/// in turn and returns the first stream that connects; when none does, throws the last error
/// naming `host` and the address. std::system_error (EADDRNOTAVAIL) for an empty list.
task<net::tcp_stream> connect_in_turn(std::vector<net::endpoint> candidates, std::string host,
                                      std::chrono::nanoseconds timeout, std::source_location where);

}  // namespace ringo::detail
