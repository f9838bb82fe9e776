#pragma once
// Closing a descriptor through the ring (streams, files, sockets).
#include <coroutine>
#include <source_location>
#include <string>
#include <utility>

#include <ringo/detail/io_awaiter.hpp>

namespace ringo::detail {

/// close(): the descriptor closed through the ring.
class close_awaiter final : io_awaiter {
 public:
  close_awaiter(int fd, std::string what, std::source_location where) noexcept
      : io_awaiter(where), what_(std::move(what)) {
    this->fd = fd;
  }
  bool await_ready() const noexcept { return fd < 0; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  std::string what_;
};

}  // namespace ringo::detail
