#pragma once
/// \file
/// ringo::net::udp_socket: datagrams sent and received through the ring.
#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <source_location>
#include <span>
#include <utility>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/net/endpoint.hpp>

namespace ringo::net {

/// One received datagram: how many bytes landed in the caller's buffer, and from whom.
struct datagram {
  std::size_t size = 0;
  endpoint from;
};

}  // namespace ringo::net

namespace ringo::detail {

/// sendmsg / recvmsg with the message header, address and iovec in the awaiter.
class datagram_awaiter : protected io_awaiter {
 public:
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);

 protected:
  datagram_awaiter(int fd, const net::endpoint& local, std::span<std::byte> data,
                   const net::endpoint* to, std::chrono::nanoseconds limit,
                   std::source_location where) noexcept;
  /// Before it is awaited (spawn(u.receive_from(buf)) moves it into its task): the message's
  /// pointers into the awaiter are set only when it starts.
  datagram_awaiter(datagram_awaiter&&) noexcept = default;
  ~datagram_awaiter() = default;
  int finish();

  net::endpoint local_;
  net::endpoint to_;
  std::chrono::nanoseconds limit_;
  sockaddr_storage peer_{};
  iovec iov_{};
  msghdr msg_{};
  bool sending_;
};

class send_to_awaiter final : public datagram_awaiter {
 public:
  send_to_awaiter(int fd, const net::endpoint& local, std::span<const std::byte> data,
                  const net::endpoint& to, std::chrono::nanoseconds limit,
                  std::source_location where) noexcept
      : datagram_awaiter(fd, local,
                         {const_cast<std::byte*>(data.data()), data.size()},  // sendmsg only reads
                         &to, limit, where) {}
  std::size_t await_resume() { return static_cast<std::size_t>(finish()); }
};

class receive_from_awaiter final : public datagram_awaiter {
 public:
  receive_from_awaiter(int fd, const net::endpoint& local, std::span<std::byte> data,
                       std::chrono::nanoseconds limit, std::source_location where) noexcept
      : datagram_awaiter(fd, local, data, nullptr, limit, where) {}
  net::datagram await_resume();
};

}  // namespace ringo::detail

namespace ringo::net {

/// A UDP socket. Move-only; closed on destruction. Its operations resume the awaiting task on
/// its own context; the buffers passed to them must outlive the co_await.
class udp_socket {
 public:
  udp_socket() noexcept = default;
  udp_socket(udp_socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), local_(o.local_) {}
  udp_socket& operator=(udp_socket&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
      local_ = o.local_;
    }
    return *this;
  }
  udp_socket(const udp_socket&) = delete;
  udp_socket& operator=(const udp_socket&) = delete;
  ~udp_socket() { close(); }

  /// A socket bound to `local` (port 0: a free port). Throws std::system_error naming it.
  static udp_socket bind(const endpoint& local);

  /// Sends `data` as one datagram to `to`; returns the bytes sent. Throws std::system_error
  /// ("sendmsg to 127.0.0.1:9: ..."), ringo::timed_out after `timeout` (zero: none), or
  /// operation_cancelled.
  [[nodiscard]] detail::send_to_awaiter send_to(
      std::span<const std::byte> data, const endpoint& to, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current()) const;

  /// Receives one datagram into `buf` (a longer one is truncated); returns its size and
  /// sender. Errors as send_to.
  [[nodiscard]] detail::receive_from_awaiter receive_from(
      std::span<std::byte> buf, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current()) const;

  /// The bound address, with the real port when bound to port 0.
  [[nodiscard]] endpoint local_endpoint() const noexcept { return local_; }
  /// Closes the socket now (a plain close: UDP has nothing to flush).
  void close() noexcept;
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int native_handle() const noexcept { return fd_; }

 private:
  int fd_ = -1;
  endpoint local_;
};

}  // namespace ringo::net
