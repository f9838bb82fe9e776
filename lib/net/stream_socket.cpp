// Streams of every family (TCP, Unix): stream_socket's members, which check the stream (open,
// used on its context's thread) and hand out the read and write awaiters, and the lazy
// read_exact task.
#include <ringo/net/stream_socket.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <ringo/io_context.hpp>

#include "net/stream_tasks.hpp"

namespace ringo::detail {

task<void> read_all(state_hold<stream_state> s, std::span<std::byte> buf,
                    std::chrono::nanoseconds timeout, std::source_location where) {
  std::size_t done = 0;
  while (done < buf.size()) {
    const std::size_t n = co_await read_some_awaiter{*s, buf.subspan(done), false, timeout, where};
    if (n == 0) {
      throw std::system_error(
          ENODATA, std::system_category(),
          fmt::format("recv on {}: end of stream after {} of {} bytes", s->peer, done, buf.size()));
    }
    done += n;
  }
}

void stream_close_awaiter::name(const close_awaiter& self, std::string& out) {
  out += fmt::format("close of {}", static_cast<const stream_close_awaiter&>(self).peer_);
}

}  // namespace ringo::detail

namespace ringo::net {

// ---- stream_socket -------------------------------------------------------------------------

void stream_socket::adopt_fd(int fd, detail::socket_name peer, const char* kind) {
  io_context* ctx = io_context::current();
  if (ctx == nullptr) {
    ::close(fd);
    throw std::logic_error(fmt::format(
        "ringo::net::{} made outside of an event loop: streams belong to an io_context; make "
        "them in a task run by ringo::run",
        kind));
  }
  reset();
  try {
    s_ = new detail::stream_state(*ctx, fd, std::move(peer));
  } catch (...) {
    ::close(fd);  // the stream owns the descriptor from here, made or not: the peer sees it end
    throw;
  }
}

detail::stream_state& stream_socket::state(const char* op) const {
  if (s_ == nullptr) {
    throw std::logic_error(fmt::format(
        "{} on an empty stream (closed, moved from or never connected): connect or accept "
        "first",
        op));
  }
  // Checked before anything is submitted: a foreign thread would submit to the owner's ring
  // and put its timers on its own context.
  if (s_->context != io_context::current()) [[unlikely]] {
    detail::throw_foreign_context(
        fmt::format("{}::{} on the stream connected to {}", s_->peer.kind(false), op, s_->peer),
        s_->context);
  }
  return *s_;
}

detail::read_some_awaiter stream_socket::read_some(std::span<std::byte> buf,
                                                   std::chrono::nanoseconds timeout,
                                                   std::source_location where) {
  return detail::read_some_awaiter{state("read_some"), buf, false, timeout, where};
}

task<void> stream_socket::read_exact(std::span<std::byte> buf, std::chrono::nanoseconds timeout,
                                     std::source_location where) {
  return detail::read_all(detail::state_hold{state("read_exact")}, buf, timeout, where);
}

detail::receive_awaiter stream_socket::receive(std::chrono::nanoseconds timeout,
                                               std::source_location where) {
  return detail::receive_awaiter{state("receive"), {}, true, timeout, where};
}

detail::receive_some_awaiter stream_socket::receive_some(std::chrono::nanoseconds timeout,
                                                         std::source_location where) {
  return detail::receive_some_awaiter{state("receive_some"), {}, true, timeout, where};
}

detail::send_all_awaiter stream_socket::write_all(std::span<const std::byte> data,
                                                  std::chrono::nanoseconds timeout,
                                                  std::source_location where) {
  return detail::send_all_awaiter{state("write_all"), data, timeout, where};
}

task<void> stream_socket::write_all(std::span<const std::span<const std::byte>> parts,
                                    std::chrono::nanoseconds timeout, std::source_location where) {
  return detail::send_parts(detail::state_hold{state("write_all")}, parts, timeout, where);
}

detail::send_batch_awaiter stream_socket::write_all(const received_buffers& bufs,
                                                    std::chrono::nanoseconds timeout,
                                                    std::source_location where) {
  return detail::send_batch_awaiter{state("write_all"), bufs, timeout, where};
}

void stream_socket::shutdown() {
  const auto& s = state("shutdown");
  if (::shutdown(s.fd, SHUT_WR) != 0) {
    detail::throw_io_error(errno, fmt::format("shutdown on {}", s.peer));
  }
}

detail::stream_close_awaiter stream_socket::close(std::source_location where) {
  if (s_ == nullptr) return detail::stream_close_awaiter{-1, detail::socket_name{}, where};
  state("close");
  detail::stream_state* s = std::exchange(s_, nullptr);
  const int fd = s->fd;
  detail::socket_name peer = s->peer;
  s->orphan(false);  // the ring closes the descriptor
  return detail::stream_close_awaiter{fd, std::move(peer), where};
}

}  // namespace ringo::net
