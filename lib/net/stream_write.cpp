// Streams of every family (TCP, Unix): the write awaiters (one send, a batch of received
// buffers, a gathered write of a caller's parts, each continued on short writes, each waiting
// its turn behind the writes called before it) and the lazy write_all(parts) task.
#include <ringo/net/stream_socket.hpp>

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/frame_allocator.hpp>
#include <ringo/io_context.hpp>

#include "net/stream_tasks.hpp"

namespace ringo::detail {

// ---- writes --------------------------------------------------------------------------------


struct stream_send_awaiter::parts {
  iovec* iov;           // count entries; the sent ones are advanced past
  std::uint32_t first;  // the first part not yet sent whole
  std::uint32_t count;
  msghdr msg;
};

stream_send_awaiter::stream_send_awaiter(stream_state& s, op_deadline until,
                                         std::source_location where) noexcept
    : io_awaiter(where), s_(&s), end_(nullptr) {
  // The timer's deadline holds the whole write's from the start (the timer is armed at the
  // first send): a write keeps it once.
  deadline = until.at();
  this->fd = s.fd;
  s.hold();
}

struct stream_send_awaiter::queued : turn_waiter {
  stream_send_awaiter* self() const noexcept {
    return static_cast<stream_send_awaiter*>(const_cast<void*>(owner));
  }
};

stream_send_awaiter::~stream_send_awaiter() {
  leave_line();  // (only when its frame is destroyed with the context)
  if (owns_turn_) s_->turn.pass();
  s_->unhold();
}

bool stream_send_awaiter::begin(std::coroutine_handle<> h) {
  if (s_->orphaned) {
    detached_ = true;  // closed before this part of the write began: await_resume throws EBADF
    return false;
  }
  if (io_context::current() != s_->context) [[unlikely]] {
    throw_foreign_context(fmt::format("send on {}", s_->peer), s_->context);
  }
  if (!owns_turn_) {
    if (!s_->turn.try_take()) return wait_turn(h);
    owns_turn_ = true;
  }
  if (!prepare() || !send_first()) {
    end_turn();  // cancelled, or ended before its first send: the next write goes on
    return false;
  }
  park(h);
  return true;
}

bool stream_send_awaiter::wait_turn(std::coroutine_handle<> h) {
  if (!prepare()) return false;  // cancelled before it queued: await_resume throws
  if (deadline_passed_ || until().passed()) {
    timed_out_early_ = true;
    return false;
  }
  auto* q = ::new (allocate_frame(sizeof(queued))) queued{};
  q->owner = this;
  q->granted = &on_turn;
  q->dropped = &on_dropped;
  q->deadline = until().at();
  try {
    s_->turn.enqueue(*q, *context.get());
  } catch (...) {
    free_place(*q);
    throw;
  }
  in_line_ = true;
  cancel = &on_cancel_queued;
  describe = &describe_queued;
  park(h);
  return true;
}

bool stream_send_awaiter::send_first() noexcept {
  if (deadline_passed_ || until().passed()) {
    timed_out_early_ = true;  // passed before the first send (between two parts of a long write)
    return false;
  }
  prepare_send();
  describe = &describe_send;
  try {
    // The whole write's deadline, one timer however many sends it takes.
    if (!until().none()) arm_deadline(until().at());
    submit_now();
  } catch (...) {
    failed_to_continue_ = true;  // no memory to queue the request
    return false;
  }
  s_->writer = this;  // so that a close lets the write go before the descriptor is reused
  return true;
}

void stream_send_awaiter::on_turn(turn_waiter& w) noexcept {
  stream_send_awaiter& self = *static_cast<queued&>(w).self();
  self.free_place(static_cast<queued&>(w));
  self.owns_turn_ = true;
  // The task stays parked: it resumes when the send is over, as one that found the turn free.
  if (!self.send_first()) self.finish();
}

void stream_send_awaiter::on_dropped(turn_waiter& w, int err) noexcept {
  stream_send_awaiter& self = *static_cast<queued&>(w).self();
  self.free_place(static_cast<queued&>(w));
  if (err == ETIMEDOUT) {
    self.timed_out_early_ = true;
  } else {
    self.detached_ = true;  // the stream was closed while the write waited its turn
  }
  self.wake();
}

void stream_send_awaiter::on_cancel_queued(wait_node& n) noexcept {
  auto& self = static_cast<stream_send_awaiter&>(n);
  self.leave_line();
  self.cancelled = true;
  self.wake();
}

void stream_send_awaiter::leave_line() noexcept {
  if (!in_line_) return;
  if (turn_waiter* w = s_->turn.find(this)) free_place(static_cast<queued&>(*w));
}

void stream_send_awaiter::free_place(queued& q) noexcept {
  s_->turn.remove(q);  // (nothing when the line let it go already)
  q.~queued();
  deallocate_frame(&q, sizeof(queued));
  in_line_ = false;
}

void stream_send_awaiter::end_turn() noexcept {
  if (!owns_turn_ || keeps_turn_) return;
  owns_turn_ = false;
  s_->turn.pass();
}

void stream_send_awaiter::detach() noexcept {
  detached_ = true;
  context->cancel_request(*this);  // the task resumes when the send has completed
}

void stream_send_awaiter::finish() noexcept {
  finish_request();
  if (s_->writer == this) s_->writer = nullptr;
  end_turn();  // the next write in line starts now, before this task runs again
  wake();
}

void stream_send_awaiter::prepare_send() noexcept {
  on_complete = &on_sent;
  msg_flags = MSG_NOSIGNAL;  // a vanished peer is EPIPE, never SIGPIPE
  if (!gathered_ || parts_->count - parts_->first == 1) {
    // One run left: a plain send, which spares the kernel copying in a msghdr and iovec.
    opcode = io_opcode::send;
    cbuf = gathered_ ? parts_->iov[parts_->first].iov_base : end_ - left_;
    len = static_cast<std::uint32_t>(std::min<std::size_t>(left_, 1u << 30));
    return;
  }
  parts_->msg = msghdr{};
  parts_->msg.msg_iov = parts_->iov + parts_->first;
  parts_->msg.msg_iovlen = parts_->count - parts_->first;
  opcode = io_opcode::sendmsg;
  msg = &parts_->msg;
}

void stream_send_awaiter::consume(std::size_t n) noexcept {
  left_ -= n;
  if (!gathered_) return;  // the run's rest is its last left_ bytes
  while (n != 0 && parts_->first < parts_->count) {
    iovec& v = parts_->iov[parts_->first];
    const std::size_t k = std::min(n, v.iov_len);
    v.iov_base = static_cast<std::byte*>(v.iov_base) + k;
    v.iov_len -= k;
    n -= k;
    if (v.iov_len == 0) ++parts_->first;
  }
}

void stream_send_awaiter::on_sent(io_operation& op, int res, std::uint32_t,
                                  std::uint32_t) noexcept {
  auto& self = static_cast<stream_send_awaiter&>(op);
  self.res_ = res;
  if (res > 0) {
    self.consume(static_cast<std::size_t>(res));
    // A short write: send the rest without a trip through the task, unless the stream was
    // closed meanwhile (its descriptor number may already belong to another connection).
    if (self.left_ != 0 && !self.cancelled && !self.detached_) {
      if (self.deadline_passed_ || self.until().passed()) {
        self.res_ = -ECANCELED;
        self.deadline_passed_ = true;
        self.finish();
        return;
      }
      try {
        self.prepare_send();
        self.submit_now();
        return;
      } catch (...) {
        self.failed_to_continue_ = true;
      }
    }
  }
  self.finish();
}

void stream_send_awaiter::await_resume() {
  if (left_ == 0 && !submitted_) return;  // nothing to send
  auto what = [this] { return fmt::format("send on {}", s_->peer); };
  if (detached_ && left_ != 0) {
    throw std::system_error(
        EBADF, std::system_category(),
        fmt::format("{}: the stream was closed while this task wrote to it ({} bytes not sent)",
                    what(), left_));
  }
  if (timed_out_early_) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
  if (cancelled && !submitted_) throw operation_cancelled(what() + ": operation cancelled");
  if (failed_to_continue_) throw_io_error(ENOMEM, what());
  const int res = result(what);
  if (res < 0) throw_io_error(-res, what());
  if (left_ != 0) {
    if (!cancelled) throw_io_error(EIO, what() + ": the kernel took no bytes");
    // Cancelled between two parts of the write: the caller cannot know how much went out.
    task->cancel_pending = false;
    throw operation_cancelled(what() + ": operation cancelled");
  }
}

void stream_send_awaiter::describe_send(const wait_node& n, std::string& out) {
  const auto& self = static_cast<const stream_send_awaiter&>(n);
  out += fmt::format("send on {} ({} bytes left)", self.s_->peer, self.left_);
}

void stream_send_awaiter::describe_queued(const wait_node& n, std::string& out) {
  const auto& self = static_cast<const stream_send_awaiter&>(n);
  out += fmt::format("send on {} ({} bytes, waiting for an earlier write to end)", self.s_->peer,
                     self.left_);
}

send_all_awaiter::send_all_awaiter(stream_state& s, std::span<const std::byte> data,
                                   std::chrono::nanoseconds limit,
                                   std::source_location where) noexcept
    : stream_send_awaiter(s, op_deadline{limit}, where) {
  send_run(data);
}

// ---- a batch of received buffers -------------------------------------------------------------

struct send_batch_awaiter::batch_parts {
  parts p;
  std::array<iovec, net::received_buffers::capacity> iov;
};

send_batch_awaiter::send_batch_awaiter(stream_state& s, const net::received_buffers& bufs,
                                       std::chrono::nanoseconds limit,
                                       std::source_location where) noexcept
    : stream_send_awaiter(s, op_deadline{limit}, where), bufs_(&bufs) {
  left_ = bufs.total_size();
}

send_batch_awaiter::~send_batch_awaiter() {
  if (own_ != nullptr) deallocate_frame(own_, sizeof(batch_parts));
}

bool send_batch_awaiter::await_suspend(std::coroutine_handle<> h) {
  const net::received_buffers& b = *bufs_;
  if (b.size() == 1) {
    send_run(b[0]);
  } else {
    own_ = ::new (allocate_frame(sizeof(batch_parts))) batch_parts{};
    for (std::size_t i = 0; i < b.size(); ++i)
      own_->iov[i] = iovec{const_cast<std::byte*>(b[i].data()), b[i].size()};
    own_->p.iov = own_->iov.data();
    own_->p.count = static_cast<std::uint32_t>(b.size());
    send_gathered(own_->p);
  }
  return begin(h);
}

// ---- a gathered write of a caller's parts ------------------------------------------------------

namespace {

// write_all(parts): up to max_parts iovecs per sendmsg, refilled by send_parts() for the next
// ones. It lives in the frame of the write_all task, never in the caller's: a connection idle
// between two writes pays nothing for it.
class sendmsg_all_awaiter final : public stream_send_awaiter {
 public:
  static constexpr std::size_t max_parts = 16;

  sendmsg_all_awaiter(stream_state& s, op_deadline until, std::source_location where) noexcept
      : stream_send_awaiter(s, until, where) {
    keep_turn();  // from the first part to the last
    p_.iov = iov_.data();
    send_gathered(p_);
  }

  /// Adds a part; false when the awaiter is full. Empty parts are skipped.
  bool add(std::span<const std::byte> part) noexcept {
    if (part.empty()) return true;
    if (p_.count == max_parts) return false;
    iov_[p_.count++] = iovec{const_cast<std::byte*>(part.data()), part.size()};
    left_ += part.size();
    return true;
  }
  /// Empties the awaiter for the next parts of a longer write.
  void clear() noexcept {
    p_.count = 0;
    p_.first = 0;
    left_ = 0;
  }
  bool await_suspend(std::coroutine_handle<> h) { return begin(h); }

 private:
  parts p_{};
  std::array<iovec, max_parts> iov_;
};

}  // namespace

task<void> send_parts(state_hold<stream_state> s, std::span<const std::span<const std::byte>> parts,
                      std::chrono::nanoseconds timeout, std::source_location where) {
  sendmsg_all_awaiter send{*s, op_deadline{timeout}, where};
  std::size_t i = 0;
  while (i < parts.size()) {
    send.clear();
    while (i < parts.size() && send.add(parts[i]))
      ++i;
    co_await send;
  }
}

}  // namespace ringo::detail
