#pragma once
/// \file
/// ringo::net::unix_listener: a listening Unix domain stream socket whose accept() suspends
/// the calling task.
#include <sys/types.h>

#include <chrono>
#include <source_location>
#include <string>
#include <utility>

#include <ringo/detail/listener_state.hpp>
#include <ringo/net/unix_stream.hpp>

namespace ringo::detail {

/// unix_listener::accept(): the accepted connection as a unix_stream named by the listener's
/// path (shared, not copied).
class unix_accept_awaiter final : public accept_awaiter {
 public:
  using accept_awaiter::accept_awaiter;
  net::unix_stream await_resume();
};

}  // namespace ringo::detail

namespace ringo::net {

/// A listening Unix domain stream socket (Python's asyncio.start_unix_server). Move-only. Its
/// first accept() ties it to the awaiting task's io_context, as tcp_listener's does.
///
/// The socket file: bind() creates it and fails with EADDRINUSE if anything is already at the
/// path, a live server's socket or one that a server that exited left behind (ringo never
/// removes a file it did not make: remove a stale one yourself). close() and the destructor
/// remove the file this listener made, unless it was replaced meanwhile (another file at the
/// path is left alone). An abstract name ("@name") has no file.
class unix_listener {
 public:
  unix_listener() noexcept = default;
  unix_listener(unix_listener&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)), file_(std::exchange(o.file_, {})) {}
  unix_listener& operator=(unix_listener&& o) noexcept {
    if (this != &o) {
      close();
      s_ = std::exchange(o.s_, nullptr);
      file_ = std::exchange(o.file_, {});
    }
    return *this;
  }
  unix_listener(const unix_listener&) = delete;
  unix_listener& operator=(const unix_listener&) = delete;
  ~unix_listener() { close(); }

  /// Binds to `path` ("@name": abstract) and listens. Plain system calls (bind creates the
  /// socket file). Throws std::system_error naming the path ("bind to /tmp/x.sock (...):
  /// Address already in use"; ENOENT when its directory does not exist), or
  /// std::invalid_argument for a path that is empty or too long.
  static unix_listener bind(std::string path, int backlog = 1024);

  /// Waits for the next connection and returns it. Errors, `timeout`, cancellation and the
  /// one-acceptor rule as tcp_listener::accept. Resumes on the caller's context.
  [[nodiscard]] detail::unix_accept_awaiter accept(
      std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());

  /// Stops listening now (a task waiting in accept() fails with EBADF) and removes the socket
  /// file this listener created. Nothing if the listener is empty.
  void close() noexcept;
  /// The path it is bound to, as given to bind ("@name" for an abstract name); empty when the
  /// listener is empty.
  [[nodiscard]] const std::string& path() const noexcept;
  [[nodiscard]] bool is_open() const noexcept { return s_ != nullptr; }
  [[nodiscard]] int native_handle() const noexcept { return s_ != nullptr ? s_->fd : -1; }

 private:
  /// The socket file bind() made, to remove it at close only if it is still that file.
  struct made_file {
    dev_t dev = 0;
    ino_t ino = 0;
    bool made = false;
  };

  detail::listener_state* s_ = nullptr;
  made_file file_;
};

}  // namespace ringo::net
