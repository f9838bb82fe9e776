#pragma once
/// \file
/// ringo::net::tcp_listener: a listening TCP socket whose accept() suspends the calling task.
#include <chrono>
#include <source_location>
#include <utility>

#include <ringo/detail/listener_state.hpp>
#include <ringo/net/endpoint.hpp>
#include <ringo/net/tcp_stream.hpp>

namespace ringo::detail {

/// tcp_listener::accept(): the accepted connection as a tcp_stream, its peer's endpoint named.
class tcp_accept_awaiter final : public accept_awaiter {
 public:
  using accept_awaiter::accept_awaiter;
  net::tcp_stream await_resume();
};

}  // namespace ringo::detail

namespace ringo::net {

/// How tcp_listener::bind sets its socket up.
struct listen_options {
  /// SO_REUSEPORT: several listeners (one per thread's context) share the port and the kernel
  /// spreads connections over them. SO_REUSEADDR is always set.
  bool reuse_port = false;
};

/// A listening TCP socket. Move-only. Its first accept() ties it to the awaiting task's
/// io_context; it must not outlive that context, and accepting from another thread is a
/// std::logic_error. Destroying it stops listening at once.
class tcp_listener {
 public:
  tcp_listener() noexcept = default;
  tcp_listener(tcp_listener&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  tcp_listener& operator=(tcp_listener&& o) noexcept {
    if (this != &o) {
      close();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;
  ~tcp_listener() { close(); }

  /// Binds to `local` (port 0: a free port, see local_endpoint()) and listens. Plain system
  /// calls that do not block. Throws std::system_error ("bind to 127.0.0.1:9090: Address
  /// already in use").
  static tcp_listener bind(const endpoint& local, int backlog = 1024, listen_options options = {});

  /// Waits for the next connection and returns it. The listener keeps one accept request of its
  /// own armed, which takes many connections where the kernel has multishot accept
  /// (io_context::features().multishot_accept) and one per accept() elsewhere. Throws
  /// std::system_error naming the listener ("accept on 0.0.0.0:9090: Too many open files"; the
  /// listener stays usable), ringo::timed_out after `timeout` (zero: none), or
  /// operation_cancelled; a cancelled accept takes no connection (one that arrived as it was
  /// cancelled waits for the next accept), so it can race in when_any. One task accepts at a
  /// time. Resumes on the caller's context.
  [[nodiscard]] detail::tcp_accept_awaiter accept(
      std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());

  /// The bound address, with the real port when bound to port 0.
  [[nodiscard]] endpoint local_endpoint() const;
  /// Stops listening now; a task waiting in accept() fails with EBADF.
  void close() noexcept {
    if (s_ != nullptr) std::exchange(s_, nullptr)->orphan();
  }
  [[nodiscard]] bool is_open() const noexcept { return s_ != nullptr; }
  [[nodiscard]] int native_handle() const noexcept { return s_ != nullptr ? s_->fd : -1; }

 private:
  detail::listener_state* s_ = nullptr;
};

}  // namespace ringo::net
