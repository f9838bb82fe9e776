// A stream's state: the standing receive that stays armed and its queue of completions, the
// pause when no one reads, what an orphaned state lets go, and received buffers going home.
#include <ringo/net/tcp_stream.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include <ringo/io_context.hpp>

namespace ringo::detail {

stream_state::stream_state(io_context& ctx, int fd_, socket_name peer_) noexcept
    : socket_state(&ctx, fd_, &stream_state::on_recv),
      peer(std::move(peer_)),
      lent_buffers_(ctx.features().provided_buffers) {
  opcode = io_opcode::keep_receiving;
}

bool stream_state::push(recv_event e) noexcept {
  if (overflowed() == 0 && ring_count_ < inline_capacity) {
    ring_[(ring_head_ + ring_count_) % inline_capacity] = e;
    ++ring_count_;
    return true;
  }
  try {
    if (!extras_) extras_ = std::make_unique<extras>();
    // Room at once for a burst up to the pause and what races it (it rarely goes further), so
    // that the overflow is grown once, not step by step through the first bursts.
    if (extras_->overflow.capacity() == 0) extras_->overflow.reserve(2 * pause_at);
    extras_->overflow.push_back(e);
    return true;
  } catch (...) {
    return false;
  }
}

void stream_state::restore_standing() noexcept {
  on_complete = &stream_state::on_recv;
  opcode = io_opcode::keep_receiving;
  buf = nullptr;
  len = 0;
  msg_flags = 0;
}

void stream_state::keep_spare(std::unique_ptr<std::byte[]> buffer) noexcept {
  if (!extras_) extras_.reset(new (std::nothrow) extras{});
  if (extras_ && !extras_->spare) extras_->spare = std::move(buffer);
}

void stream_state::pop() noexcept {
  if (ring_count_ != 0) {
    ring_head_ = static_cast<std::uint8_t>((ring_head_ + 1) % inline_capacity);
    --ring_count_;
    return;
  }
  if (overflowed() == 0) {
    failure_ = {0, 0};  // the failure is taken once
    return;
  }
  if (++extras_->overflow_head == extras_->overflow.size()) {
    extras_->overflow.clear();
    extras_->overflow_head = 0;
  }
}

// No path here allocates after a failure, and every lent buffer that is not queued goes
// straight back to the ring: a completion handler is noexcept, and a buffer it drops is lost to
// every stream of the context.
void stream_state::on_recv(io_operation& op, int res, std::uint32_t flags,
                           std::uint32_t buffer) noexcept {
  auto& s = static_cast<stream_state&>(op);
  const bool ours = res == -ECANCELED && (s.pausing || s.orphaned);
  s.note_completion(flags);
  const bool data = res > 0 && (flags & has_buffer) != 0;
  if ((flags & has_buffer) != 0 && !data) s.backend->recycle_buffer(buffer);  // no bytes in it
  if (s.orphaned || s.failure_.result != 0) {
    // Nobody will read it, or the queue already ended in an error it must not be read past.
    if (data) s.backend->recycle_buffer(buffer);
    if (s.orphaned) {
      s.free_if_unused();
      return;
    }
  } else if (data) {
    if (!s.push({res, buffer})) {
      s.backend->recycle_buffer(buffer);
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
  while (queued_events() != 0) {
    if (front().result > 0) backend->recycle_buffer(front().buffer);
    pop();
  }
  failure_ = {0, 0};
  if (reader != nullptr && !reader->detach()) reader = nullptr;
  if (writer != nullptr) std::exchange(writer, nullptr)->detach();
  turn.drop_all();  // the writes waiting their turn end with EBADF
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
  if (!home.orphaned) home.keep_spare(std::move(buffer));
  home.free_if_unused();
}

}  // namespace ringo::detail

namespace ringo::net {

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
