#pragma once
// What a listening socket keeps on the heap and the awaiter of its accept, for every family
// (tcp_listener, unix_listener).
#include <sys/socket.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include <ringo/detail/io_operation.hpp>
#include <ringo/detail/socket_name.hpp>
#include <ringo/detail/socket_state.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/timer_node.hpp>

namespace ringo::detail {

class accept_awaiter;

/// A listener's heap state (a socket_state), TCP or Unix: its standing accept request
/// (io_opcode::keep_accepting: one request for many connections where the backend can, one
/// connection per arming where it cannot) and the connections it accepted while no task
/// waited. Every accept goes through it, so a connection accepted for a task that then left
/// (cancelled, timed out) waits here for the next accept.
class listener_state final : public socket_state<listener_state> {
 public:
  listener_state(int fd, socket_name local) noexcept;

  /// The listener lets go: closes the descriptor and the queued connections, fails a waiting
  /// task, and frees the state now or when the last thing that refers to it is done.
  void orphan() noexcept;
  /// Connections (or errors) waiting to be taken.
  [[nodiscard]] std::size_t pending() const noexcept {
    return queue_.size() - head_ + (failure_ != 0 ? 1 : 0);
  }
  /// The oldest: a descriptor (>= 0) or -errno.
  int pop() noexcept;
  /// Queues a connection or an error; allocates only while it succeeds: when no memory is
  /// left, a connection is refused (closed) and an error is kept in failure_.
  void push(int fd_or_error) noexcept;

  socket_name local;  // the bound endpoint (TCP) or path (Unix)
  accept_awaiter* waiter = nullptr;
  /// Past this many unclaimed connections the standing accept is cancelled, leaving the rest
  /// in the kernel's backlog until accept() is called again.
  static constexpr std::size_t pause_at = 64;

 private:
  friend class socket_state<listener_state>;
  static void on_accept(io_operation& op, int res, std::uint32_t flags,
                        std::uint32_t buffer) noexcept;

  std::vector<int> queue_;  // accepted descriptors (>= 0) or -errno, oldest at head_
  std::size_t head_ = 0;
  int failure_ = 0;  // -errno for the waiting task, after the queue, when it could not be queued
};

/// Throws the std::logic_error for an accept from a context other than the listener's.
[[noreturn]] void throw_second_context(const listener_state& s);

/// accept(): takes a queued connection, or arms the listener's standing accept if it is not
/// armed and waits for it to deliver one. The derived awaiter of each family makes its stream
/// of the accepted descriptor.
class accept_awaiter : suspension, timer_node {
 public:
  accept_awaiter(listener_state& s, std::chrono::nanoseconds limit,
                 std::source_location where) noexcept
      : suspension(where), s_(&s), limit_(limit) {
    s.hold();
  }
  /// Before it is awaited (spawn(l.accept()) moves it into its task): a second hold on the
  /// listener's state, which each awaiter lets go of when it ends.
  accept_awaiter(accept_awaiter&& o) noexcept
      : suspension(o.where), s_(o.s_), limit_(o.limit_) {
    s_->hold();
  }
  accept_awaiter(const accept_awaiter&) = delete;
  accept_awaiter& operator=(const accept_awaiter&) = delete;

  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);

 protected:
  ~accept_awaiter() { s_->unhold(); }
  /// The accepted descriptor, or throws (the listener's error, cancellation, a deadline, a
  /// close). The caller asks getpeername for the peer if it needs it.
  int take_connection();

  listener_state* s_;  // held: valid, if orphaned, until this awaiter ends

 private:
  friend class listener_state;
  enum class mode : std::uint8_t { ready, waiting };
  void wake_waiter() noexcept;
  void detach() noexcept;
  std::string what() const;
  [[noreturn]] void throw_closed() const;
  static void on_cancel_accept(wait_node& n) noexcept;
  static void on_deadline(timer_node& t) noexcept;

  std::chrono::nanoseconds limit_;
  mode mode_ = mode::ready;
  bool deadline_passed_ = false;
  bool detached_ = false;
};

}  // namespace ringo::detail
