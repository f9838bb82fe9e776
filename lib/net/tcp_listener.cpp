// TCP listeners: socket/bind/listen as plain calls (they do not block); accept is every
// listener's (lib/net/listener.cpp), and makes a tcp_stream here.
#include <ringo/net/tcp_listener.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/io_context.hpp>

namespace ringo::detail {

net::tcp_stream tcp_accept_awaiter::await_resume() {
  const int fd = take_connection();
  net::endpoint peer;
  try {
    sockaddr_storage ss{};
    socklen_t n = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0) {
      peer = net::endpoint::from_sockaddr(ss);
    }
  } catch (const std::invalid_argument&) {
  }
  return net::tcp_stream::adopt(fd, peer);
}

}  // namespace ringo::detail

namespace ringo::net {

tcp_listener tcp_listener::bind(const endpoint& local, int backlog, listen_options options) {
  const int fd = ::socket(local.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) detail::throw_io_error(errno, fmt::format("socket for listening on {}", local));
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    detail::throw_io_error(err, fmt::format("{} {}", what, local));
  };
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    fail("setsockopt(SO_REUSEADDR) for");
  }
  if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    fail("setsockopt(SO_REUSEPORT) for");
  }
  if (::bind(fd, local.data(), local.size()) != 0) fail("bind to");
  if (::listen(fd, backlog) != 0) fail("listen on");
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &n) != 0) fail("getsockname for");
  tcp_listener l;
  try {
    l.s_ = new detail::listener_state(fd, endpoint::from_sockaddr(ss));
  } catch (...) {
    ::close(fd);
    throw;
  }
  return l;
}

detail::tcp_accept_awaiter tcp_listener::accept(std::chrono::nanoseconds timeout,
                                                std::source_location where) {
  if (s_ == nullptr) {
    throw std::logic_error(
        "tcp_listener::accept on an empty listener (closed or moved from): bind one first");
  }
  if (io_context::current() == nullptr) detail::throw_outside_loop();
  if (!s_->on_owner_thread()) detail::throw_second_context(*s_);
  return detail::tcp_accept_awaiter{*s_, timeout, where};
}

endpoint tcp_listener::local_endpoint() const {
  if (s_ == nullptr) {
    throw std::logic_error("tcp_listener::local_endpoint on an empty listener: bind one first");
  }
  return s_->local.endpoint();
}

}  // namespace ringo::net
