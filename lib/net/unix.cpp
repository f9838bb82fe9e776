// Unix domain stream sockets: a path to a sockaddr_un (a leading '@' for the abstract
// namespace), connect through the backend, bind/listen as plain calls, and the socket file a
// listener made removed again when it closes. Reads, writes and accept are every stream's and
// listener's (lib/net/stream_*.cpp, lib/net/listener.cpp).
#include <ringo/net/unix_listener.hpp>
#include <ringo/net/unix_stream.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/io_awaiter.hpp>
#include <ringo/error.hpp>
#include <ringo/io_context.hpp>
#include <ringo/sleep.hpp>

#include "net/connect.hpp"

namespace ringo::detail {
namespace {

// The most bytes of a name a sockaddr_un holds: a file's path with its terminating NUL, an
// abstract name after its leading NUL.
constexpr std::size_t max_unix_path = sizeof(sockaddr_un::sun_path) - 1;

// Fills `out` with the address of `path` and returns its length; std::invalid_argument naming
// the path (and `op`, "connect to") when it cannot be one.
socklen_t unix_address(const std::string& path, sockaddr_storage& out, const char* op) {
  const bool abstract = !path.empty() && path.front() == '@';
  const std::size_t name_size = abstract ? path.size() - 1 : path.size();
  if (name_size == 0) {
    throw std::invalid_argument(fmt::format(
        "{} '{}': a Unix socket needs a path (or '@name' for an abstract name)", op, path));
  }
  if (path.find('\0') != std::string::npos) {
    throw std::invalid_argument(fmt::format("{} '{}': the path holds a NUL byte", op,
                                            std::string_view{path.data(), path.find('\0')}));
  }
  if (name_size > max_unix_path) {
    throw std::invalid_argument(
        fmt::format("{} {}: the path is {} bytes long, and a Unix socket address holds at most {}",
                    op, path, name_size, max_unix_path));
  }
  out = sockaddr_storage{};
  auto& un = reinterpret_cast<sockaddr_un&>(out);
  un.sun_family = AF_UNIX;
  if (abstract) {
    // "\0name", and the length says where it ends: abstract names are not NUL-terminated.
    std::memcpy(un.sun_path + 1, path.data() + 1, name_size);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name_size);
  }
  std::memcpy(un.sun_path, path.data(), name_size);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_size + 1);
}

}  // namespace

net::unix_stream unix_accept_awaiter::await_resume() {
  const int fd = take_connection();
  net::unix_stream s;
  s.adopt_fd(fd, s_->local, "unix_stream");  // named by the listener's path, shared
  return s;
}

}  // namespace ringo::detail

namespace ringo::net {

// ---- unix_stream -----------------------------------------------------------------------------

task<unix_stream> unix_stream::connect(std::string path, std::chrono::nanoseconds timeout,
                                       std::source_location where) {
  sockaddr_storage addr{};
  const socklen_t len = detail::unix_address(path, addr, "connect to");
  detail::socket_name name = detail::socket_name::path_of(std::move(path));
  using clock = std::chrono::steady_clock;
  const bool bounded = timeout.count() > 0;
  const clock::time_point until = bounded ? detail::deadline_after(timeout) : detail::no_deadline;
  std::chrono::milliseconds pause{1};
  for (;;) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) detail::throw_io_error(errno, fmt::format("socket for connect to {}", name));
    const auto left = bounded ? detail::time_until(until, clock::now()) : clock::duration{0};
    bool backlog_full = false;
    try {
      co_await detail::connect_or_close(
          fd, addr, len, name, bounded ? std::max(left, std::chrono::nanoseconds{1}) : left, where);
      unix_stream s;
      s.adopt_fd(fd, std::move(name), "unix_stream");
      co_return s;
    } catch (const std::system_error& e) {
      if (e.code() != std::error_code{EAGAIN, std::system_category()}) throw;
      backlog_full = true;
    }
    // The listener's backlog is full. A blocking connect would wait for room, and so does one
    // through io_uring; a non-blocking one (the epoll backend's) is refused with EAGAIN, and
    // its socket signals nothing when room is made. So wait a little and try again.
    // The last pause is cut to what is left of the deadline, so the connect gives up at the
    // deadline, after one more try, and not at the last pause that would have passed it.
    const auto now = clock::now();
    if (backlog_full && now >= until) {
      throw timed_out(
          fmt::format("connect to {}: deadline passed (the listener's backlog stayed full)", name));
    }
    co_await sleep_until(std::min(detail::deadline_after(pause, now), until));
    pause = std::min(pause * 2, std::chrono::milliseconds{64});
  }
}

unix_stream unix_stream::adopt(int fd, std::string path) {
  unix_stream s;
  s.adopt_fd(fd, detail::socket_name::path_of(std::move(path)), "unix_stream");
  return s;
}

const std::string& unix_stream::path() const {
  return state("path").peer.path();
}

// ---- unix_listener ---------------------------------------------------------------------------

unix_listener unix_listener::bind(std::string path, int backlog) {
  sockaddr_storage addr{};
  const socklen_t len = detail::unix_address(path, addr, "bind to");
  const detail::socket_name name = detail::socket_name::path_of(path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) detail::throw_io_error(errno, fmt::format("socket for listening on {}", path));
  auto fail = [&](int err, const std::string& what) {
    ::close(fd);
    detail::throw_io_error(err, what);
  };
  const bool abstract = path.front() == '@';
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    if (err == EADDRINUSE && !abstract) {
      fail(err, fmt::format("bind to {} (a file is already there: a server listens on it, or "
                            "one that exited left it behind; remove it if no server uses it)",
                            path));
    }
    fail(err, fmt::format("bind to {}", path));
  }
  made_file file;
  struct stat st {};
  if (!abstract && ::lstat(path.c_str(), &st) == 0) file = {st.st_dev, st.st_ino, true};
  if (::listen(fd, backlog) != 0) {
    const int err = errno;
    if (file.made) ::unlink(path.c_str());
    fail(err, fmt::format("listen on {}", path));
  }
  unix_listener l;
  try {
    l.s_ = new detail::listener_state(fd, name);
  } catch (...) {
    if (file.made) ::unlink(path.c_str());
    ::close(fd);
    throw;
  }
  l.file_ = file;
  return l;
}

detail::unix_accept_awaiter unix_listener::accept(std::chrono::nanoseconds timeout,
                                                  std::source_location where) {
  if (s_ == nullptr) {
    throw std::logic_error(
        "unix_listener::accept on an empty listener (closed or moved from): bind one first");
  }
  if (io_context::current() == nullptr) detail::throw_outside_loop();
  if (!s_->on_owner_thread()) detail::throw_second_context(*s_);
  return detail::unix_accept_awaiter{*s_, timeout, where};
}

void unix_listener::close() noexcept {
  if (s_ == nullptr) return;
  detail::listener_state* s = std::exchange(s_, nullptr);
  // The file goes only if it is still the one bind made: a server started after this one may
  // have replaced it (lstat and unlink on a local path: quick, like bind's own file creation).
  const made_file file = std::exchange(file_, {});
  if (file.made) {
    const std::string& path = s->local.path();
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == file.dev &&
        st.st_ino == file.ino) {
      ::unlink(path.c_str());
    }
  }
  s->orphan();
}

const std::string& unix_listener::path() const noexcept {
  static const std::string none;
  return s_ != nullptr ? s_->local.path() : none;
}

}  // namespace ringo::net
