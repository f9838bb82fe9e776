#pragma once
/// \file
/// ringo::net::tcp_listener: a listening TCP socket whose accept() suspends the calling task.
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include <ringo/detail/reactor.hpp>
#include <ringo/detail/socket_state.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/timer_node.hpp>
#include <ringo/net/endpoint.hpp>
#include <ringo/net/tcp_stream.hpp>

namespace ringo::detail {

class accept_awaiter;

/// A listener's heap state (a socket_state): where the kernel has multishot accept, the one
/// accept request that stays armed plus the connections it accepted while no task waited.
class listener_state final : public socket_state<listener_state> {
 public:
  listener_state(int fd, const net::endpoint& local) noexcept;

  /// The listener lets go: closes the descriptor and the queued connections, fails a waiting
  /// task, and frees the state now or when the last thing that refers to it is done.
  void orphan() noexcept;
  /// Connections (or errors) waiting to be taken.
  [[nodiscard]] std::size_t pending() const noexcept {
    return queue_.size() - head_ + (failure_ != 0 ? 1 : 0);
  }
  /// The oldest: a descriptor (>= 0) or -errno.
  int pop() noexcept;

  net::endpoint local;
  accept_awaiter* waiter = nullptr;
  /// Past this many unclaimed connections the multishot accept is cancelled, leaving the rest
  /// in the kernel's backlog until accept() is called again.
  static constexpr std::size_t pause_at = 64;

 private:
  friend class socket_state<listener_state>;
  /// Queues a connection or an error; allocates only while it succeeds: when no memory is
  /// left, a connection is refused (closed) and an error is kept in failure_.
  void push(int fd_or_error) noexcept;
  static void on_accept(io_operation& op, int res, std::uint32_t flags,
                        std::uint16_t buffer) noexcept;

  std::vector<int> queue_;  // accepted descriptors (>= 0) or -errno, oldest at head_
  std::size_t head_ = 0;
  int failure_ = 0;  // -errno for the waiting task, after the queue, when it could not be queued
};

/// accept(): takes a queued connection, or waits for the multishot accept to deliver one, or
/// (without multishot accept) owns a one-shot accept request.
class accept_awaiter final : suspension, timer_node, io_operation {
 public:
  accept_awaiter(listener_state& s, std::chrono::nanoseconds limit,
                 std::source_location where) noexcept
      : suspension(where), s_(&s), limit_(limit) {
    s.hold();
  }
  accept_awaiter(const accept_awaiter&) = delete;
  accept_awaiter& operator=(const accept_awaiter&) = delete;
  ~accept_awaiter() { s_->unhold(); }

  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);
  net::tcp_stream await_resume();

 private:
  friend class listener_state;
  enum class mode : std::uint8_t { ready, waiting, oneshot };
  void wake_waiter() noexcept;
  void detach() noexcept;
  std::string what() const;
  [[noreturn]] void throw_closed() const;
  static void on_oneshot(io_operation& op, int res, std::uint32_t flags,
                         std::uint16_t buffer) noexcept;
  static void on_cancel_accept(wait_node& n) noexcept;
  static void on_deadline(timer_node& t) noexcept;

  listener_state* s_;  // held: valid, if orphaned, until this awaiter ends
  std::chrono::nanoseconds limit_;
  sockaddr_storage peer_{};
  socklen_t peer_len_ = sizeof(sockaddr_storage);
  int res_ = 0;
  mode mode_ = mode::ready;
  bool deadline_passed_ = false;
  bool detached_ = false;
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

  /// Waits for the next connection and returns it. Uses one multishot accept that stays armed
  /// where the kernel has it (io_context::features().multishot_accept). Throws
  /// std::system_error naming the listener ("accept on 0.0.0.0:9090: Too many open files"; the
  /// listener stays usable), ringo::timed_out after `timeout` (zero: none), or
  /// operation_cancelled. One task accepts at a time. Resumes on the caller's context.
  [[nodiscard]] detail::accept_awaiter accept(
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
