#pragma once
/// \file
/// ringo::net::unix_stream: a connected Unix domain stream socket (a local daemon's socket
/// file, or an abstract name) whose reads and writes suspend the calling task, never the thread.
#include <chrono>
#include <source_location>
#include <string>

#include <ringo/detail/socket_name.hpp>
#include <ringo/net/stream_socket.hpp>
#include <ringo/task.hpp>

namespace ringo::detail {
class unix_accept_awaiter;
}  // namespace ringo::detail

namespace ringo::net {

/// A connected Unix domain stream socket (SOCK_STREAM, AF_UNIX). It reads and writes as
/// tcp_stream does, with the same members and the same rules (see tcp_stream: one reader at a
/// time, writers served in call order, it belongs to the io_context it was made on, destroying it closes it);
/// its errors name the socket's path ("recv on /run/app.sock: Connection reset by peer").
///
/// A path that begins with '@' names a socket in Linux's abstract namespace ("@app" is the
/// name "\0app"): no file is made, and the name goes when the last socket bound to it closes.
/// A path longer than a sockaddr_un holds (107 bytes) is a std::invalid_argument naming it.
class unix_stream : public stream_socket {
 public:
  /// An empty stream (not connected).
  unix_stream() noexcept = default;
  unix_stream(unix_stream&&) noexcept = default;
  unix_stream& operator=(unix_stream&&) noexcept = default;
  ~unix_stream() = default;

  /// Connects to the Unix socket at `path` (Python's asyncio.open_unix_connection). When the
  /// listener's backlog is full the connect waits for room, as a blocking connect does, on
  /// every backend. Throws std::system_error naming the path ("connect to /tmp/x.sock: No such
  /// file or directory"; ECONNREFUSED when no one listens there), ringo::timed_out after
  /// `timeout` (zero: none), operation_cancelled, or std::invalid_argument for a path that is
  /// empty or too long. Resumes on the calling task's context.
  static task<unix_stream> connect(std::string path, std::chrono::nanoseconds timeout = {},
                                   std::source_location where = std::source_location::current());

  /// Takes ownership of connected Unix socket `fd` on the current context; `path` names it in
  /// error messages.
  static unix_stream adopt(int fd, std::string path);

  // read_some, read_exact, read_line, read_until, receive, receive_some, write_all, shutdown,
  // close, is_open and native_handle: see stream_socket.

  /// The path this stream was connected to, or that of the listener that accepted it.
  [[nodiscard]] const std::string& path() const;

 private:
  friend class detail::unix_accept_awaiter;
};

}  // namespace ringo::net
