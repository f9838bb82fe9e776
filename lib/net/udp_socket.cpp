// UDP sockets: socket/bind as plain calls, datagrams through sendmsg/recvmsg requests whose
// message header lives in the awaiter.
#include <ringo/net/udp_socket.hpp>

#include <unistd.h>

#include <stdexcept>

#include <fmt/format.h>

#include <ringo/io_context.hpp>

#include "backend/reactor.hpp"

namespace ringo::detail {

datagram_awaiter::datagram_awaiter(int fd_, const net::endpoint& local, std::span<std::byte> data,
                                   const net::endpoint* to, std::chrono::nanoseconds limit,
                                   std::source_location where) noexcept
    : io_awaiter(where), local_(local), limit_(limit), sending_(to != nullptr) {
  fd = fd_;
  if (to != nullptr) to_ = *to;
  iov_.iov_base = data.data();
  iov_.iov_len = data.size();
}

bool datagram_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (fd < 0) {
    throw std::logic_error("udp_socket used while empty (closed or moved from): bind one first");
  }
  msg_.msg_iov = &iov_;
  msg_.msg_iovlen = 1;
  msg_.msg_name = &peer_;
  if (sending_) {
    msg_.msg_namelen = to_.to_sockaddr(peer_);
    opcode = io_opcode::sendmsg;
    msg_flags = MSG_NOSIGNAL;
    describe = [](const wait_node& n, std::string& out) {
      out += fmt::format("sendmsg to {}", static_cast<const datagram_awaiter&>(n).to_);
    };
  } else {
    msg_.msg_namelen = sizeof peer_;
    opcode = io_opcode::recvmsg;
    msg_flags = 0;
    describe = [](const wait_node& n, std::string& out) {
      out += fmt::format("recvmsg on {}", static_cast<const datagram_awaiter&>(n).local_);
    };
  }
  msg = &msg_;
  return start(h, limit_);
}

int datagram_awaiter::finish() {
  auto what = [this] {
    return sending_ ? fmt::format("sendmsg to {}", to_) : fmt::format("recvmsg on {}", local_);
  };
  const int res = result(what);
  if (res < 0) throw_io_error(-res, what());
  return res;
}

}  // namespace ringo::detail

namespace ringo::detail {

net::datagram receive_from_awaiter::await_resume() {
  const int n = finish();
  net::datagram d;
  d.size = static_cast<std::size_t>(n);
  try {
    d.from =
        net::endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer_), msg_.msg_namelen);
  } catch (const std::invalid_argument&) {
  }
  return d;
}

}  // namespace ringo::detail

namespace ringo::net {

udp_socket udp_socket::bind(const endpoint& local) {
  const int fd = ::socket(local.is_v6() ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) detail::throw_io_error(errno, fmt::format("socket for udp on {}", local));
  if (::bind(fd, local.data(), local.size()) != 0) {
    const int err = errno;
    ::close(fd);
    detail::throw_io_error(err, fmt::format("bind to {}", local));
  }
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &n);
  udp_socket s;
  s.fd_ = fd;
  s.local_ = endpoint::from_sockaddr(ss);
  return s;
}

detail::send_to_awaiter udp_socket::send_to(std::span<const std::byte> data, const endpoint& to,
                                            std::chrono::nanoseconds timeout,
                                            std::source_location where) const {
  return detail::send_to_awaiter{fd_, local_, data, to, timeout, where};
}

detail::receive_from_awaiter udp_socket::receive_from(std::span<std::byte> buf,
                                                      std::chrono::nanoseconds timeout,
                                                      std::source_location where) const {
  return detail::receive_from_awaiter{fd_, local_, buf, timeout, where};
}

void udp_socket::close() noexcept {
  if (fd_ < 0) return;
  // Through the backend when on a loop: it may know the number (epoll registers it) and must
  // forget it before another socket gets it.
  if (detail::loop* ctx = detail::current_loop()) {
    ctx->io().close_later(std::exchange(fd_, -1));
  } else {
    ::close(std::exchange(fd_, -1));
  }
}

}  // namespace ringo::net
