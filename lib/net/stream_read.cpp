// A stream's reads: the read awaiters, served from the stream's receive queue (what the
// standing receive brought: lib/net/stream_state.cpp) or by a one-shot receive.
//
// An idle connection's task waits in a read awaiter: what the awaiters and the state keep is
// what a server pays per connection. So the awaiters refer to the state (held, see
// socket_state::hold) instead of copying the peer, and every message is formatted only when an
// operation fails.
#include <ringo/net/tcp_stream.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/frame_allocator.hpp>
#include <ringo/detail/io_awaiter.hpp>
#include <ringo/io_context.hpp>

#include "net/stream_lines.hpp"

namespace ringo::detail {
// ---- reads ---------------------------------------------------------------------------------

bool stream_read_awaiter::await_ready() {
  if (!whole_buffer_ && into_.empty()) return true;
  // Not what the queue holds for a woken reader that has not run yet.
  if (s_->orphaned || s_->handing_over ||
      (!s_->eof && !s_->has_event() && (past_unread_ || !s_->has_unread()))) {
    return false;
  }
  // Something is queued: take it without suspending, unless a cancellation must be delivered.
  detail::loop* ctx = detail::current_loop();
  task_record* t = ctx != nullptr ? ctx->running_task_or_null() : nullptr;
  return t == nullptr || !t->cancel_pending;
}

bool stream_read_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (s_->orphaned) throw_closed();  // closed after this read was made, before it began
  // A read made on the owner's thread but awaited on another (inside read_exact, say).
  if (io_context::current() != s_->context) [[unlikely]] {
    throw_foreign_context(what(), s_->context);
  }
  if (!prepare()) return false;
  if (s_->reader != nullptr || s_->handing_over) {
    throw std::logic_error(
        fmt::format("two tasks read from the {} connected to {} at once: read from one task (or "
                    "hand the bytes to the other through a queue)",
                    s_->peer.kind(false), s_->peer));
  }
  if (s_->eof || s_->has_event() || (!past_unread_ && s_->has_unread())) return false;
  describe = &describe_read;
  cancel = &on_cancel_read;
  // One timer for the read's time limit, whichever way its bytes come: the loop's, armed
  // first, so that a failure to arm it starts nothing.
  fire = &on_deadline;
  context->add_timer_after(*this, limit());
  try {
    if (s_->reads_standing()) {
      if (!s_->armed) s_->arm();
      mode_ = mode::waiting;
      s_->reader = this;
    } else {
      s_->starved = false;  // try the standing receive again on the next read
      start_oneshot();
    }
  } catch (...) {
    context->remove_timer(*this);
    throw;
  }
  park(h);
  return true;
}

// The stream's request record is free here: the standing receive is not armed (it never is
// without lent buffers, and a starved one has had its final completion), and no other
// reader can start while this one is the stream's reader.
void stream_read_awaiter::start_oneshot() {
  stream_state& s = *s_;
  std::size_t n = std::min<std::size_t>(into_.size(), UINT32_MAX);
  if (whole_buffer_) {
    n = own_buffer_size(*s.backend);
    own_ = s.take_spare();
    if (!own_) own_ = std::make_unique_for_overwrite<std::byte[]>(n);
  }
  mode_ = mode::oneshot;
  s.on_complete = &on_oneshot;
  s.opcode = io_opcode::recv;
  s.buf = whole_buffer_ ? own_.get() : into_.data();
  s.len = static_cast<std::uint32_t>(n);
  s.msg_flags = 0;
  s.cancel_requested = false;
  s.reader = this;  // before the submission: the completion finds the awaiter through it
  try {
    context->submit(s);
  } catch (...) {
    s.reader = nullptr;
    s.restore_standing();
    throw;
  }
}

void stream_read_awaiter::wake_reader() noexcept {
  s_->reader = nullptr;
  s_->handing_over = true;  // until this reader takes the event
  context->remove_timer(*this);
  wake();
}

void stream_read_awaiter::switch_to_oneshot() noexcept {
  try {
    start_oneshot();  // the read's timer stays armed
  } catch (...) {
    mode_ = mode::oneshot;
    res_ = -ENOMEM;
    s_->reader = nullptr;
    context->remove_timer(*this);
    wake();
  }
}

bool stream_read_awaiter::detach() noexcept {
  detached_ = true;  // s_ stays valid (held) for the message, but nothing more is read from it
  if (mode_ == mode::waiting) {
    context->remove_timer(*this);
    wake();
  } else if (mode_ == mode::oneshot) {
    context->cancel_request(*s_);
    return true;
  }
  return false;
}

void stream_read_awaiter::on_oneshot(io_operation& op, int res, std::uint32_t,
                                     std::uint32_t) noexcept {
  auto& s = static_cast<stream_state&>(op);
  stream_read_awaiter& self = *std::exchange(s.reader, nullptr);
  self.res_ = res;
  s.restore_standing();
  self.context->remove_timer(self);
  self.wake();
}

void stream_read_awaiter::on_cancel_read(wait_node& n) noexcept {
  auto& self = static_cast<stream_read_awaiter&>(n);
  self.cancelled = true;
  if (self.mode_ == mode::waiting) {
    // The standing receive belongs to the stream and stays armed; only this reader leaves.
    self.s_->reader = nullptr;
    self.context->remove_timer(self);
    self.wake();
  } else {
    self.context->cancel_request(*self.s_);  // resumes when the receive has completed
  }
}

void stream_read_awaiter::on_deadline(timer_node& t) noexcept {
  auto& self = static_cast<stream_read_awaiter&>(t);
  if (self.mode_ == mode::waiting) {
    self.deadline_passed_ = true;
    self.s_->reader = nullptr;
    self.wake();
  } else if (!self.s_->cancel_requested) {  // (else that cancel ends it, as that cancel)
    self.deadline_passed_ = true;
    self.context->cancel_request(*self.s_);  // the task resumes when the receive has completed
  }
}

void stream_read_awaiter::describe_read(const wait_node& n, std::string& out) {
  out += static_cast<const stream_read_awaiter&>(n).what();
}

std::string stream_read_awaiter::what() const {
  return fmt::format("recv on {}", s_->peer);
}

void stream_read_awaiter::throw_closed() const {
  throw std::system_error(
      EBADF, std::system_category(),
      fmt::format("{}: the stream was closed while this task read from it", what()));
}

bool stream_read_awaiter::check_outcome() {
  if (mode_ == mode::waiting) s_->handing_over = false;
  if (mode_ == mode::oneshot) {
    if (res_ == -ECANCELED) {
      if (cancelled) throw operation_cancelled(what() + ": operation cancelled");
      if (detached_) throw_closed();
      if (deadline_passed_) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
    }
    // Bytes that came as the read was cancelled (it lost a when_any race as they arrived, or
    // its task was cancelled between their arrival and its resumption): they go back to the
    // stream, first for its next read, and this read takes nothing.
    if (res_ > 0 && !detached_ && (cancelled || task->cancel_pending) && give_back_received()) {
      task->cancel_pending = false;
      throw operation_cancelled(what() + ": operation cancelled");
    }
    // Without the memory to keep them, the read returns them; the cancellation waits for the
    // task's next suspension.
    if (cancelled) task->cancel_pending = true;
    if (res_ < 0) {
      if (detached_) throw_closed();
      throw_io_error(-res_, what());
    }
    return true;
  }
  // Cancelled while waiting, or after bytes woke it but before it resumed (it lost a when_any
  // race): the bytes stay queued for the next read.
  if (cancelled || (mode_ == mode::waiting && cancelled_since_wake()))
    throw operation_cancelled(mode_ == mode::ready ? "operation cancelled"
                                                   : what() + ": operation cancelled");
  // Also when the stream went after this reader was woken: the event it was woken for went
  // with the stream's queue.
  if (detached_ || s_->orphaned) throw_closed();
  if (deadline_passed_) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
  return false;
}

bool stream_read_awaiter::give_back_received() noexcept {
  const std::byte* bytes = whole_buffer_ ? own_.get() : into_.data();
  try {
    // The unread area is empty or holds what a line read gathered before these bytes (a
    // one-shot receive goes out only then): they go after it, before anything queued later.
    s_->unread().append({bytes, static_cast<std::size_t>(res_)});
  } catch (...) {
    return false;
  }
  if (whole_buffer_) s_->keep_spare(std::move(own_));
  return true;
}

bool stream_read_awaiter::lend_own_buffer() noexcept {
  // Bytes that arrived before a close are still handed over: the state is held, and takes the
  // buffer back (orphaned or not) when it is released.
  if (res_ == 0) {  // end of stream: the buffer goes back home
    s_->keep_spare(std::move(own_));
    return false;
  }
  ++s_->lent;
  return true;
}

bool stream_read_awaiter::at_end_of_queue() {
  stream_state& s = *s_;
  if (!s.has_event()) return true;  // end of stream, read before
  const int result = s.front().result;
  if (result > 0) return false;
  if (result < 0) throw_queued_error();
  s.pop();
  s.eof = true;
  return true;
}

void stream_read_awaiter::throw_queued_error() {
  const int err = -s_->front().result;
  s_->pop();
  throw_io_error(err, what());
}

std::size_t stream_read_awaiter::take_bytes() {
  if (!whole_buffer_ && into_.empty()) return 0;
  if (check_outcome()) return static_cast<std::size_t>(res_);
  if (s_->has_unread()) return s_->unread().take(into_);
  if (at_end_of_queue()) return 0;
  stream_state& s = *s_;
  const recv_event& ev = s.front();
  const std::size_t avail = static_cast<std::size_t>(ev.result) - s.front_offset;
  const std::size_t n = std::min(avail, into_.size());
  std::memcpy(into_.data(), s.backend->buffer_data(ev.buffer) + s.front_offset, n);
  s.front_offset += static_cast<std::uint32_t>(n);
  if (n == avail) {
    s.backend->recycle_buffer(ev.buffer);
    s.front_offset = 0;
    s.pop();
  }
  return n;
}

net::received_buffer stream_read_awaiter::take_buffer() {
  if (check_outcome()) {
    if (!lend_own_buffer()) return {};
    return net::received_buffer{*s_, std::move(own_), static_cast<std::size_t>(res_)};
  }
  if (s_->has_unread()) {
    std::size_t n = 0;
    std::unique_ptr<std::byte[]> b = take_unread(n);
    return net::received_buffer{*s_, std::move(b), n};
  }
  if (at_end_of_queue()) return {};
  stream_state& s = *s_;
  const recv_event ev = s.front();
  const std::uint32_t offset = std::exchange(s.front_offset, 0);
  s.pop();
  return net::received_buffer{*s.backend, ev.buffer, s.backend->buffer_data(ev.buffer) + offset,
                              static_cast<std::size_t>(ev.result) - offset};
}

net::received_buffers stream_read_awaiter::take_buffers() {
  net::received_buffers out;
  if (check_outcome()) {  // a one-shot receive into the stream's own buffer
    if (lend_own_buffer()) {
      out.set_own_buffer(*s_, std::move(own_), static_cast<std::uint32_t>(res_));
    }
    return out;
  }
  if (s_->has_unread()) {
    std::size_t n = 0;
    std::unique_ptr<std::byte[]> b = take_unread(n);
    out.set_own_buffer(*s_, std::move(b), static_cast<std::uint32_t>(n));
    return out;
  }
  if (at_end_of_queue()) return out;
  // Take the data at the front; an end of stream or error behind it waits for the next call.
  stream_state& s = *s_;
  do {
    const recv_event ev = s.front();
    const std::uint32_t offset = std::exchange(s.front_offset, 0);
    s.pop();
    out.add_ring_buffer(*s.backend, ev.buffer, offset, static_cast<std::uint32_t>(ev.result) - offset);
  } while (!out.full() && s.has_event() && s.front().result > 0);
  return out;
}

}  // namespace ringo::detail
