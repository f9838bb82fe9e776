// The shared parts of one-shot awaiters. A failed request becomes an exception whose errno
// stays in std::system_category() and whose what() names the operation and its peer, with the
// system's text after it.
#include <ringo/detail/close_awaiter.hpp>
#include <ringo/detail/io_awaiter.hpp>

#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "backend/reactor.hpp"

namespace ringo::detail {

void throw_io_error(int err, std::string_view what) {
  // system_error appends ": " and the errno text itself.
  if (err == ECANCELED) throw operation_cancelled(std::string{what});
  if (err == ETIMEDOUT) throw ringo::timed_out(std::string{what});
  throw std::system_error(err, std::system_category(), std::string{what});
}

// ---- close ---------------------------------------------------------------------------------

bool close_awaiter::await_suspend(std::coroutine_handle<> h) {
  opcode = io_opcode::close;
  describe = [](const wait_node& n, std::string& out) {
    const auto& self = static_cast<const close_awaiter&>(n);
    self.name_(self, out);
  };
  if (!prepare()) {
    // Cancelled before it started: close it anyway so the descriptor is not lost, behind what
    // the ring still has queued for it.
    context->io().close_later(fd);
    closed_at_once_ = true;
    return false;
  }
  submit_now();
  // A cancellation arriving meanwhile is delivered at the next suspension.
  cancel = nullptr;
  park(h);
  return true;
}

close_awaiter::~close_awaiter() {
  // Never awaited (`(void)s.close();`): the stream already let go of the descriptor, so this
  // is the last one that can close it. Through the ring, after the cancels and requests still
  // queued for it (one of them could otherwise meet the next file to get the number), and at
  // once: a close that was asked for should not wait for the loop's next turn.
  if (fd < 0 || submitted_ || closed_at_once_) return;
  if (detail::loop* ctx = detail::current_loop()) {
    ctx->io().close_later(fd);
    ctx->io().flush();
  } else {
    ::close(fd);
  }
}

void close_awaiter::await_resume() {
  if (fd < 0) return;  // nothing was open
  if (!submitted_) throw operation_cancelled();
  if (res_ < 0) {
    std::string what;
    name_(*this, what);
    throw_io_error(-res_, what);
  }
}

}  // namespace ringo::detail
