// TCP streams: the per-connection state with its multishot receive, the read and write
// awaiters, and the socket calls that never block (setsockopt, shutdown, getsockname).
//
// An idle connection's task waits in a read awaiter: what the awaiters and the state keep is
// what a server pays per connection. So the awaiters refer to the state (held, see
// stream_state::hold) instead of copying the peer, and every message is formatted only when an
// operation fails.
#include <ringo/net/tcp_stream.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/frame_allocator.hpp>
#include <ringo/io_context.hpp>

namespace ringo::detail {
namespace {

// The size of a stream's own receive buffer when the kernel has no provided buffers.
std::size_t own_buffer_size(reactor& r) {
  const std::size_t n = r.buffer_size();
  return n != 0 ? n : 4096;
}

}  // namespace

// ---- stream_state ------------------------------------------------------------------------

stream_state::stream_state(io_context& ctx, int fd_, const net::endpoint& peer_) noexcept
    : socket_state(&ctx, fd_, &stream_state::on_recv), peer(peer_) {
  opcode = io_opcode::recv;
  select_buffer = true;
}

bool stream_state::push(recv_event e) noexcept {
  if (overflow_head_ == overflow_.size() && ring_count_ < inline_capacity) {
    ring_[(ring_head_ + ring_count_) % inline_capacity] = e;
    ++ring_count_;
    return true;
  }
  try {
    overflow_.push_back(e);
    return true;
  } catch (...) {
    return false;
  }
}

void stream_state::pop() noexcept {
  if (ring_count_ != 0) {
    ring_head_ = static_cast<std::uint8_t>((ring_head_ + 1) % inline_capacity);
    --ring_count_;
    return;
  }
  if (overflow_head_ == overflow_.size()) {
    failure_ = {0, 0};  // the failure is taken once
    return;
  }
  if (++overflow_head_ == overflow_.size()) {
    overflow_.clear();
    overflow_head_ = 0;
  }
}

// No path here allocates after a failure, and every provided buffer that is not queued goes
// straight back to the ring: a completion handler is noexcept, and a buffer it drops is lost to
// every stream of the context.
void stream_state::on_recv(io_operation& op, int res, std::uint32_t flags,
                           std::uint16_t buffer) noexcept {
  auto& s = static_cast<stream_state&>(op);
  const bool ours = res == -ECANCELED && (s.pausing || s.orphaned);
  s.note_completion(flags);
  const bool data = res > 0 && (flags & has_buffer) != 0;
  if ((flags & has_buffer) != 0 && !data) s.ring->recycle_buffer(buffer);  // no bytes in it
  if (s.orphaned || s.failure_.result != 0) {
    // Nobody will read it, or the queue already ended in an error it must not be read past.
    if (data) s.ring->recycle_buffer(buffer);
    if (s.orphaned) {
      s.free_if_unused();
      return;
    }
  } else if (data) {
    if (!s.push({res, buffer})) {
      s.ring->recycle_buffer(buffer);
      s.fail(-ENOMEM);  // these bytes are lost: the stream must not go on as if they came
    }
  } else if (res == 0) {
    if (!s.push({0, 0})) s.fail(-ENOMEM);
  } else if (ours || res == -ECANCELED) {
    // Our own cancellation, or the context's as it shuts down: nothing to report.
  } else if (res == -ENOBUFS) {
    s.starved = true;  // the ring is dry; bytes stay in the socket until a read asks
  } else if (res < 0) {
    if (!s.push({res, 0})) s.fail(res);
  }
  if (s.queued() >= pause_at) s.pause();
  stream_read_awaiter* r = s.reader;
  if (r == nullptr || r->mode_ != stream_read_awaiter::mode::waiting) return;
  if (s.has_event()) {
    r->wake_reader();
  } else if (!s.armed) {
    if (s.starved) {
      s.starved = false;
      r->switch_to_oneshot();
      return;
    }
    try {
      s.arm();
    } catch (...) {
      // The backend could not take the request: fail the reader rather than leave it waiting
      // for completions that will not come.
      s.fail(-ENOMEM);
      r->wake_reader();
    }
  }
}

void stream_state::orphan(bool close_fd) noexcept {
  orphaned = true;
  while (ring_count_ + (overflow_.size() - overflow_head_) != 0) {
    if (front().result > 0) ring->recycle_buffer(front().buffer);
    pop();
  }
  failure_ = {0, 0};
  if (reader != nullptr) std::exchange(reader, nullptr)->detach();
  if (writer != nullptr) std::exchange(writer, nullptr)->detach();
  let_go(close_fd);
}

void return_spare_buffer(stream_state& home, std::unique_ptr<std::byte[]> buffer) noexcept {
  if (home.context != io_context::current()) [[unlikely]] {
    // Released on another thread: the state belongs to its loop's thread, so the buffer goes
    // back there. Without memory for that, the buffer is freed here and the state, which can
    // no longer know it is unused, is left to leak rather than race.
    try {
      home.context->post([&home, b = std::move(buffer)]() mutable {
        return_spare_buffer(home, std::move(b));
      });
    } catch (...) {
    }
    return;
  }
  --home.lent;
  if (!home.orphaned && !home.spare) home.spare = std::move(buffer);
  home.free_if_unused();
}

// ---- reads ---------------------------------------------------------------------------------

bool stream_read_awaiter::await_ready() {
  if (!whole_buffer_ && into_.empty()) return true;
  // Not what the queue holds for a woken reader that has not run yet.
  if (s_->orphaned || s_->handing_over || (!s_->eof && !s_->has_event())) return false;
  // Something is queued: take it without suspending, unless a cancellation must be delivered.
  io_context* ctx = io_context::current();
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
    throw std::logic_error(fmt::format(
        "two tasks read from the tcp_stream connected to {} at once: read from one task (or "
        "hand the bytes to the other through a queue)",
        s_->peer));
  }
  if (s_->eof || s_->has_event()) return false;
  describe = &describe_read;
  cancel = &on_cancel_read;
  if (context->features().provided_buffers && !s_->starved) {
    if (!s_->armed) s_->arm();
    mode_ = mode::waiting;
    if (timeout.count() > 0) {
      deadline = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
      fire = &on_deadline;
      context->add_timer(*this);
    }
  } else {
    s_->starved = false;  // try the multishot receive again on the next read
    start_oneshot(timeout);
  }
  s_->reader = this;
  park(h);
  return true;
}

void stream_read_awaiter::start_oneshot(std::chrono::nanoseconds limit) {
  mode_ = mode::oneshot;
  on_complete = &on_oneshot;
  opcode = io_opcode::recv;
  multishot = false;
  select_buffer = false;
  fd = s_->fd;
  if (whole_buffer_) {
    const std::size_t n = own_buffer_size(*s_->ring);
    own_ = s_->spare ? std::move(s_->spare) : std::make_unique_for_overwrite<std::byte[]>(n);
    buf = own_.get();
    len = static_cast<std::uint32_t>(n);
  } else {
    buf = into_.data();
    len = static_cast<std::uint32_t>(std::min<std::size_t>(into_.size(), UINT32_MAX));
  }
  msg_flags = 0;
  timeout = limit;
  timed_out = false;
  cancel_requested = false;
  s_->ring->submit(*this);
}

void stream_read_awaiter::wake_reader() noexcept {
  s_->reader = nullptr;
  s_->handing_over = true;  // until this reader takes the event
  context->remove_timer(*this);
  wake();
}

void stream_read_awaiter::switch_to_oneshot() noexcept {
  try {
    start_oneshot(std::chrono::nanoseconds{0});  // a deadline stays with the timer
  } catch (...) {
    mode_ = mode::oneshot;
    res_ = -ENOMEM;
    s_->reader = nullptr;
    context->remove_timer(*this);
    wake();
  }
}

void stream_read_awaiter::detach() noexcept {
  detached_ = true;  // s_ stays valid (held) for the message, but nothing more is read from it
  if (mode_ == mode::waiting) {
    context->remove_timer(*this);
    wake();
  } else if (mode_ == mode::oneshot) {
    try {
      context->io().cancel(*this);
    } catch (...) {
    }
  }
}

void stream_read_awaiter::on_oneshot(io_operation& op, int res, std::uint32_t,
                                     std::uint16_t) noexcept {
  auto& self = static_cast<stream_read_awaiter&>(op);
  self.res_ = res;
  if (self.s_->reader == &self) self.s_->reader = nullptr;
  self.context->remove_timer(self);
  self.wake();
}

void stream_read_awaiter::on_cancel_read(wait_node& n) noexcept {
  auto& self = static_cast<stream_read_awaiter&>(n);
  self.cancelled = true;
  if (self.mode_ == mode::waiting) {
    // The multishot receive belongs to the stream and stays armed; only this reader leaves.
    self.s_->reader = nullptr;
    self.context->remove_timer(self);
    self.wake();
  } else {
    self.context->io().cancel(self);  // resumes when the receive has completed
  }
}

void stream_read_awaiter::on_deadline(timer_node& t) noexcept {
  auto& self = static_cast<stream_read_awaiter&>(t);
  self.deadline_passed_ = true;
  if (self.mode_ == mode::waiting) {
    self.s_->reader = nullptr;
    self.wake();
  } else {
    self.context->io().cancel(self);
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
      if (deadline_passed_ || timed_out) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
    }
    if (cancelled) task->cancel_pending = true;  // it completed anyway: nothing is lost
    if (res_ < 0) {
      if (detached_) throw_closed();
      throw_io_error(-res_, what());
    }
    return true;
  }
  if (cancelled)
    throw operation_cancelled(mode_ == mode::ready ? "operation cancelled"
                                                   : what() + ": operation cancelled");
  // Also when the stream went after this reader was woken: the event it was woken for went
  // with the stream's queue.
  if (detached_ || s_->orphaned) throw_closed();
  if (deadline_passed_) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
  return false;
}

bool stream_read_awaiter::lend_own_buffer() noexcept {
  // Bytes that arrived before a close are still handed over: the state is held, and takes the
  // buffer back (orphaned or not) when it is released.
  if (res_ == 0) {  // end of stream: the buffer goes back home
    if (!s_->spare) s_->spare = std::move(own_);
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
  if (at_end_of_queue()) return 0;
  stream_state& s = *s_;
  const recv_event& ev = s.front();
  const std::size_t avail = static_cast<std::size_t>(ev.result) - s.front_offset;
  const std::size_t n = std::min(avail, into_.size());
  std::memcpy(into_.data(), s.ring->buffer_data(ev.buffer) + s.front_offset, n);
  s.front_offset += static_cast<std::uint32_t>(n);
  if (n == avail) {
    s.ring->recycle_buffer(ev.buffer);
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
  if (at_end_of_queue()) return {};
  stream_state& s = *s_;
  const recv_event ev = s.front();
  const std::uint32_t offset = std::exchange(s.front_offset, 0);
  s.pop();
  return net::received_buffer{*s.ring, ev.buffer, s.ring->buffer_data(ev.buffer) + offset,
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
  if (at_end_of_queue()) return out;
  // Take the data at the front; an end of stream or error behind it waits for the next call.
  stream_state& s = *s_;
  do {
    const recv_event ev = s.front();
    const std::uint32_t offset = std::exchange(s.front_offset, 0);
    s.pop();
    out.add_ring_buffer(*s.ring, ev.buffer, offset, static_cast<std::uint32_t>(ev.result) - offset);
  } while (!out.full() && s.has_event() && s.front().result > 0);
  return out;
}

// ---- writes --------------------------------------------------------------------------------

namespace {

// What is left of a write's deadline at `until`, for the next part of a short write; zero
// (none) when the write has no deadline, negative once it passed.
std::chrono::nanoseconds time_left(std::chrono::steady_clock::time_point until) noexcept {
  if (until == std::chrono::steady_clock::time_point{}) return std::chrono::nanoseconds{0};
  const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
      until - std::chrono::steady_clock::now());
  return left.count() > 0 ? left : std::chrono::nanoseconds{-1};
}

std::chrono::steady_clock::time_point deadline_after(std::chrono::nanoseconds timeout) noexcept {
  if (timeout.count() <= 0) return {};
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
}

}  // namespace

struct stream_send_awaiter::parts {
  iovec* iov;            // count entries; the sent ones are advanced past
  std::uint32_t first;   // the first part not yet sent whole
  std::uint32_t count;
  msghdr msg;
};

stream_send_awaiter::stream_send_awaiter(stream_state& s,
                                         std::chrono::steady_clock::time_point until,
                                         std::source_location where) noexcept
    : io_awaiter(where), s_(&s), until_(until), end_(nullptr) {
  this->fd = s.fd;
  s.hold();
}

bool stream_send_awaiter::begin(std::coroutine_handle<> h) {
  if (s_->orphaned) {
    detached_ = true;  // closed before this part of the write began: await_resume throws EBADF
    return false;
  }
  if (io_context::current() != s_->context) [[unlikely]] {
    throw_foreign_context(fmt::format("send on {}", s_->peer), s_->context);
  }
  if (s_->writer != nullptr) {
    throw std::logic_error(fmt::format(
        "two tasks write to the tcp_stream connected to {} at once (their bytes would "
        "interleave): write from one task, or take turns with a ringo::mutex",
        s_->peer));
  }
  const std::chrono::nanoseconds limit = time_left(until_);
  if (limit.count() < 0) {
    timed_out_early_ = true;  // passed before the first send (between two parts of a long write)
    return false;
  }
  prepare_send();
  describe = &describe_send;
  if (!start(h, limit)) return false;
  s_->writer = this;  // so that a close lets the write go before the descriptor is reused
  return true;
}

void stream_send_awaiter::detach() noexcept {
  detached_ = true;
  try {
    context->io().cancel(*this);  // the task resumes when the send has completed
  } catch (...) {
    // No memory to queue the cancel: the send completes by itself, and nothing follows it.
  }
}

void stream_send_awaiter::finish() noexcept {
  if (s_->writer == this) s_->writer = nullptr;
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
                                  std::uint16_t) noexcept {
  auto& self = static_cast<stream_send_awaiter&>(op);
  self.res_ = res;
  if (res > 0) {
    self.consume(static_cast<std::size_t>(res));
    // A short write: send the rest without a trip through the task, unless the stream was
    // closed meanwhile (its descriptor number may already belong to another connection).
    if (self.left_ != 0 && !self.cancelled && !self.detached_) {
      const std::chrono::nanoseconds left = time_left(self.until_);
      if (left.count() < 0) {
        self.res_ = -ECANCELED;
        self.timed_out = true;
        self.finish();
        return;
      }
      try {
        self.prepare_send();
        self.submit_now(left);
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

send_all_awaiter::send_all_awaiter(stream_state& s, std::span<const std::byte> data,
                                   std::chrono::nanoseconds limit,
                                   std::source_location where) noexcept
    : stream_send_awaiter(s, deadline_after(limit), where) {
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
    : stream_send_awaiter(s, deadline_after(limit), where), bufs_(&bufs) {
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

  sendmsg_all_awaiter(stream_state& s, std::chrono::steady_clock::time_point until,
                      std::source_location where) noexcept
      : stream_send_awaiter(s, until, where) {
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

// The tasks behind write_all(parts) and read_exact take the state as a held parameter: the
// hold starts when the task is made, so a stream closed or destroyed before the task first runs
// leaves it a valid, orphaned state (and an EBADF), never a dangling one.
task<void> send_parts(state_hold<stream_state> s, std::span<const std::span<const std::byte>> parts,
                      std::chrono::nanoseconds timeout, std::source_location where) {
  sendmsg_all_awaiter send{*s, deadline_after(timeout), where};
  std::size_t i = 0;
  while (i < parts.size()) {
    send.clear();
    while (i < parts.size() && send.add(parts[i]))
      ++i;
    co_await send;
  }
}

task<void> read_all(state_hold<stream_state> s, std::span<std::byte> buf,
                    std::chrono::nanoseconds timeout, std::source_location where) {
  std::size_t done = 0;
  while (done < buf.size()) {
    const std::size_t n = co_await read_some_awaiter{*s, buf.subspan(done), false, timeout, where};
    if (n == 0) {
      throw std::system_error(ENODATA, std::system_category(),
                              fmt::format("recv on {}: end of stream after {} of {} bytes",
                                          s->peer, done, buf.size()));
    }
    done += n;
  }
}

}  // namespace

void stream_close_awaiter::name(const close_awaiter& self, std::string& out) {
  out += fmt::format("close of {}", static_cast<const stream_close_awaiter&>(self).peer_);
}

}  // namespace ringo::detail

namespace ringo::net {

detail::stream_state& tcp_stream::state(const char* op) const {
  if (s_ == nullptr) {
    throw std::logic_error(fmt::format(
        "tcp_stream::{} on an empty stream (closed, moved from or never connected): connect "
        "or accept first",
        op));
  }
  // Checked before anything is submitted: a foreign thread would submit to the owner's ring
  // and put its timers on its own context.
  if (s_->context != io_context::current()) [[unlikely]] {
    detail::throw_foreign_context(
        fmt::format("tcp_stream::{} on the stream connected to {}", op, s_->peer), s_->context);
  }
  return *s_;
}

tcp_stream tcp_stream::adopt(int fd, const endpoint& peer) {
  io_context* ctx = io_context::current();
  if (ctx == nullptr) {
    ::close(fd);
    throw std::logic_error(
        "ringo::net::tcp_stream made outside of an event loop: streams belong to an io_context; "
        "make them in a task run by ringo::run");
  }
  tcp_stream s;
  s.s_ = new detail::stream_state(*ctx, fd, peer);
  return s;
}

task<tcp_stream> tcp_stream::connect(endpoint to, std::chrono::nanoseconds timeout,
                                     std::source_location where) {
  const int fd = ::socket(to.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) detail::throw_io_error(errno, fmt::format("socket for connect to {}", to));

  struct connect_awaiter : detail::io_awaiter {
    connect_awaiter(int fd_, const endpoint& to_, std::chrono::nanoseconds limit_,
                    std::source_location w) noexcept
        : io_awaiter(w), to(to_), limit(limit_) {
      opcode = detail::io_opcode::connect;
      fd = fd_;
      len = to.to_sockaddr(storage);
      addr = reinterpret_cast<sockaddr*>(&storage);
    }
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      describe = [](const detail::wait_node& n, std::string& out) {
        out += fmt::format("connect to {}", static_cast<const connect_awaiter&>(n).to);
      };
      return start(h, limit);
    }
    int await_resume() {
      return result([this] { return fmt::format("connect to {}", to); });
    }
    endpoint to;
    std::chrono::nanoseconds limit;
    sockaddr_storage storage{};
  };

  // A failed connect's socket is closed through the backend, which may know its number (epoll
  // registered it while the connect waited).
  auto close_socket = [fd] {
    if (io_context* ctx = io_context::current()) {
      ctx->io().close_later(fd);
    } else {
      ::close(fd);
    }
  };
  int res = 0;
  try {
    res = co_await connect_awaiter{fd, to, timeout, where};
  } catch (...) {
    close_socket();
    throw;
  }
  if (res < 0) {
    close_socket();
    detail::throw_io_error(-res, fmt::format("connect to {}", to));
  }
  co_return adopt(fd, to);
}

detail::read_some_awaiter tcp_stream::read_some(std::span<std::byte> buf,
                                                std::chrono::nanoseconds timeout,
                                                std::source_location where) {
  return detail::read_some_awaiter{state("read_some"), buf, false, timeout, where};
}

task<void> tcp_stream::read_exact(std::span<std::byte> buf, std::chrono::nanoseconds timeout,
                                  std::source_location where) {
  return detail::read_all(detail::state_hold{state("read_exact")}, buf, timeout, where);
}

detail::receive_awaiter tcp_stream::receive(std::chrono::nanoseconds timeout,
                                            std::source_location where) {
  return detail::receive_awaiter{state("receive"), {}, true, timeout, where};
}

detail::receive_some_awaiter tcp_stream::receive_some(std::chrono::nanoseconds timeout,
                                                      std::source_location where) {
  return detail::receive_some_awaiter{state("receive_some"), {}, true, timeout, where};
}

detail::send_all_awaiter tcp_stream::write_all(std::span<const std::byte> data,
                                               std::chrono::nanoseconds timeout,
                                               std::source_location where) {
  return detail::send_all_awaiter{state("write_all"), data, timeout, where};
}

task<void> tcp_stream::write_all(std::span<const std::span<const std::byte>> parts,
                                 std::chrono::nanoseconds timeout, std::source_location where) {
  return detail::send_parts(detail::state_hold{state("write_all")}, parts, timeout, where);
}

detail::send_batch_awaiter tcp_stream::write_all(const received_buffers& bufs,
                                                 std::chrono::nanoseconds timeout,
                                                 std::source_location where) {
  return detail::send_batch_awaiter{state("write_all"), bufs, timeout, where};
}

void tcp_stream::shutdown() {
  const auto& s = state("shutdown");
  if (::shutdown(s.fd, SHUT_WR) != 0) {
    detail::throw_io_error(errno, fmt::format("shutdown on {}", s.peer));
  }
}

detail::stream_close_awaiter tcp_stream::close(std::source_location where) {
  if (s_ == nullptr) return detail::stream_close_awaiter{-1, endpoint{}, where};
  state("close");
  detail::stream_state* s = std::exchange(s_, nullptr);
  const int fd = s->fd;
  const endpoint peer = s->peer;
  s->orphan(false);  // the ring closes the descriptor
  return detail::stream_close_awaiter{fd, peer, where};
}

void tcp_stream::set_nodelay(bool on) {
  const auto& s = state("set_nodelay");
  const int v = on ? 1 : 0;
  if (::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
    detail::throw_io_error(errno, fmt::format("setsockopt(TCP_NODELAY) on {}", s.peer));
  }
}

endpoint tcp_stream::remote_endpoint() const {
  return state("remote_endpoint").peer;
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

void received_buffer::release() noexcept {
  if (ring_ != nullptr) {
    std::exchange(ring_, nullptr)->recycle_buffer(id_);
  } else if (home_ != nullptr) {
    detail::return_spare_buffer(*std::exchange(home_, nullptr), std::move(owned_));
  }
  owned_.reset();
  data_ = nullptr;
  size_ = 0;
}

}  // namespace ringo::net
