// Waiting for a stream's write turn from a write task (TLS writes, shutdown and close; a
// socket's own writes wait in their send awaiter: lib/net/stream_write.cpp).
#include <ringo/detail/write_turn.hpp>

#include <system_error>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/error.hpp>

namespace ringo::detail {

bool turn_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (!prepare()) return false;  // cancelled before it waited: await_resume throws
  if (turn_.try_take()) {
    granted_ = true;  // (await_ready left it to here only to deliver a due cancellation)
    return false;
  }
  if (deadline != deadline_clock::time_point{} && deadline <= deadline_clock::now()) {
    err_ = ETIMEDOUT;
    return false;
  }
  granted = &on_granted;
  dropped = &on_dropped;
  cancel = &on_cancel;
  describe = &describe_wait;
  turn_.enqueue(*this, *context.get());
  park(h);
  return true;
}

turn_hold turn_awaiter::await_resume() {
  if (granted_) {
    // Handed the turn, then cancelled before it ran: the turn goes on to the next writer, so
    // that a cancelled wait holds nothing.
    if (cancelled_since_wake()) [[unlikely]] {
      turn_.pass();
      std::string what;
      name_(who_, what);
      throw operation_cancelled(what + ": operation cancelled");
    }
    return turn_hold{turn_};
  }
  if (task == nullptr) return turn_hold{turn_};  // taken in await_ready, without waiting
  std::string what;
  name_(who_, what);
  if (cancelled) throw operation_cancelled(what + ": operation cancelled");
  if (err_ == ETIMEDOUT) {
    throw_io_error(ETIMEDOUT, what + ": deadline passed while an earlier write held the stream");
  }
  throw std::system_error(
      EBADF, std::system_category(),
      what + ": the stream was closed while this task waited for an earlier write");
}

void turn_awaiter::on_granted(turn_waiter& w) noexcept {
  auto& self = static_cast<turn_awaiter&>(w);
  self.granted_ = true;
  self.wake();
}

void turn_awaiter::on_dropped(turn_waiter& w, int err) noexcept {
  auto& self = static_cast<turn_awaiter&>(w);
  self.err_ = err;
  self.wake();
}

void turn_awaiter::on_cancel(wait_node& n) noexcept {
  auto& self = static_cast<turn_awaiter&>(n);
  self.turn_.remove(self);
  self.cancelled = true;
  self.wake();
}

void turn_awaiter::describe_wait(const wait_node& n, std::string& out) {
  const auto& self = static_cast<const turn_awaiter&>(n);
  self.name_(self.who_, out);
  out += " (waiting for an earlier write to end)";
}

}  // namespace ringo::detail
