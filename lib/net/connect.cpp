// The connect request every stream family shares (lib/net/connect.hpp).
#include "net/connect.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>

#include <fmt/format.h>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/io_context.hpp>

#include "backend/reactor.hpp"

namespace ringo::detail {
namespace {

class connect_awaiter final : io_awaiter {
 public:
  connect_awaiter(int fd_, const sockaddr_storage& to_addr, socklen_t to_len, const socket_name& to,
                  std::chrono::nanoseconds limit, std::source_location w) noexcept
      : io_awaiter(w), to_(&to), limit_(limit), storage_(to_addr) {
    opcode = io_opcode::connect;
    fd = fd_;
    len = to_len;
    addr = reinterpret_cast<sockaddr*>(&storage_);
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    describe = [](const wait_node& n, std::string& out) {
      out += fmt::format("connect to {}", *static_cast<const connect_awaiter&>(n).to_);
    };
    return start(h, limit_);
  }
  int await_resume() {
    // A connect that io_uring had to hand to a worker thread (a Unix socket whose listener's
    // backlog is full blocks there) ends with EINTR when it is cancelled or its deadline
    // passes: the worker's wait is interrupted. That is the cancellation, not an error.
    if (res_ == -EINTR && (cancelled || deadline_passed_)) res_ = -ECANCELED;
    return result([this] { return fmt::format("connect to {}", *to_); });
  }

 private:
  const socket_name* to_;  // the caller's: it outlives the co_await
  std::chrono::nanoseconds limit_;
  sockaddr_storage storage_;
};

task<void> connect_body(int fd, sockaddr_storage addr, socklen_t len, socket_name to,
                        std::chrono::nanoseconds timeout, std::source_location where) {
  // A failed connect's socket is closed through the backend, which may know its number (epoll
  // registered it while the connect waited).
  auto close_socket = [fd] {
    if (detail::loop* ctx = detail::current_loop()) {
      ctx->io().close_later(fd);
    } else {
      ::close(fd);
    }
  };
  int res = 0;
  try {
    res = co_await connect_awaiter{fd, addr, len, to, timeout, where};
  } catch (...) {
    close_socket();
    throw;
  }
  if (res < 0) {
    close_socket();
    throw_io_error(-res, fmt::format("connect to {}", to));
  }
}

}  // namespace

task<void> connect_or_close(int fd, sockaddr_storage addr, socklen_t len, socket_name to,
                            std::chrono::nanoseconds timeout, std::source_location where) {
  try {
    return connect_body(fd, addr, len, std::move(to), timeout, where);
  } catch (...) {
    ::close(fd);  // no memory for the connect's frame: it never began
    throw;
  }
}

}  // namespace ringo::detail
