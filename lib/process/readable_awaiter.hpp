#pragma once
// Waiting until a descriptor is readable, as one poll request through the reactor seam
// (private to the library): for a pidfd, whose readiness is the event itself (the child
// ended), and for a signalfd, which is then read without blocking.
#include <coroutine>
#include <source_location>
#include <string>

#include <ringo/detail/io_awaiter.hpp>

namespace ringo::detail {

/// Resumes once `fd` is readable. Cancellable: nothing is consumed by the wait itself, so a
/// cancelled wait loses nothing. `what` names the wait ("wait for SIGTERM") in task listings
/// and errors, and must outlive the co_await.
class readable_awaiter final : io_awaiter {
 public:
  readable_awaiter(int fd, const std::string& what, std::source_location where) noexcept
      : io_awaiter(where), what_(&what) {
    this->fd = fd;
    opcode = io_opcode::poll;
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    describe = [](const wait_node& n, std::string& out) {
      out += *static_cast<const readable_awaiter&>(n).what_;
    };
    return start(h, std::chrono::nanoseconds{0});
  }
  void await_resume() {
    // The wait consumes nothing, so a cancellation that came as the descriptor turned
    // readable, or after that but before the task resumed (it lost a when_any race), is
    // delivered here: what made it readable (a signal, an ended child) waits for the next
    // wait instead of being taken by a task that is going away.
    if (cancelled || cancelled_since_wake())
      throw operation_cancelled(*what_ + ": operation cancelled");
    const int res = result([this] { return *what_; });
    if (res < 0) throw_io_error(-res, *what_);
  }

 private:
  const std::string* what_;
};

}  // namespace ringo::detail
