// TCP streams: connecting (to an endpoint, or to a host name's addresses in turn) and the
// calls that only TCP has (TCP_NODELAY, endpoints). Reads, writes and close are every
// stream's (lib/net/stream_read.cpp, lib/net/stream_write.cpp).
#include <ringo/net/tcp_stream.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/io_context.hpp>
#include <ringo/net/resolve.hpp>

#include "net/connect.hpp"

namespace ringo::net {

tcp_stream tcp_stream::adopt(int fd, const endpoint& peer) {
  tcp_stream s;
  s.adopt_fd(fd, peer, "tcp_stream");
  return s;
}

task<tcp_stream> tcp_stream::connect(endpoint to, std::chrono::nanoseconds timeout,
                                     std::source_location where) {
  const int fd = ::socket(to.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) detail::throw_io_error(errno, fmt::format("socket for connect to {}", to));
  sockaddr_storage addr{};
  const socklen_t len = to.to_sockaddr(addr);
  co_await detail::connect_or_close(fd, addr, len, to, timeout, where);
  co_return adopt(fd, to);
}

task<tcp_stream> tcp_stream::connect(std::string host, std::uint16_t port,
                                     std::chrono::nanoseconds timeout, std::source_location where) {
  std::vector<endpoint> candidates = co_await resolve(host, port);
  co_return co_await detail::connect_in_turn(std::move(candidates), std::move(host), timeout,
                                             where);
}

void tcp_stream::set_nodelay(bool on) {
  const auto& s = state("set_nodelay");
  const int v = on ? 1 : 0;
  if (::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
    detail::throw_io_error(errno, fmt::format("setsockopt(TCP_NODELAY) on {}", s.peer));
  }
}

endpoint tcp_stream::remote_endpoint() const {
  return state("remote_endpoint").peer.endpoint();
}

endpoint tcp_stream::local_endpoint() const {
  const auto& s = state("local_endpoint");
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&ss), &n) != 0) {
    detail::throw_io_error(errno, fmt::format("getsockname on the stream to {}", s.peer));
  }
  return endpoint::from_sockaddr(ss);
}

}  // namespace ringo::net

namespace ringo::detail {

task<net::tcp_stream> connect_in_turn(std::vector<net::endpoint> candidates, std::string host,
                                      std::chrono::nanoseconds timeout,
                                      std::source_location where) {
  if (candidates.empty()) {
    throw std::system_error(EADDRNOTAVAIL, std::system_category(),
                            fmt::format("connect to {}: no address to try", host));
  }
  std::error_code last;
  for (const net::endpoint& to : candidates) {
    try {
      co_return co_await net::tcp_stream::connect(to, timeout, where);
    } catch (const operation_cancelled&) {
      throw;  // no further attempt: the task is being cancelled
    } catch (const std::system_error& e) {
      last = e.code();  // the next address may answer (an IPv6 address on an IPv4-only host)
    }
  }
  const std::string what = fmt::format("connect to {} ({})", host, candidates.back());
  if (last.category() == std::system_category()) throw_io_error(last.value(), what);
  throw std::system_error(last, what);
}

}  // namespace ringo::detail
