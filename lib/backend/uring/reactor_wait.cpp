// The io_uring backend's waits: entering the kernel for completions, reaping them, and
// dispatching each to its request's handler (a receive bundle split into one completion per
// buffer), and the wake-up that ends a wait from another thread.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>

#include "backend/throw_errno.hpp"
#include "backend/uring/reactor.hpp"

namespace ringo::detail {

void uring_reactor::wait(std::chrono::nanoseconds timeout) {
  // The backlog goes first; what does not fit waits for the kernel to take entries, which
  // it does once completions are reaped.
  while (!flush_backlog()) {
    enter(std::chrono::nanoseconds{0});
    reap();
  }
  enter(timeout);
  reap();
  flush_backlog();  // what the handlers submitted, now that the completion queue advanced
  if (rearm_wake_) {
    rearm_wake_ = false;
    reserve_room(1, false);
    queue(wake_op_);
  }
  buffers_.take_back_returned();
}

void uring_reactor::recycle_buffer(std::uint32_t buffer) noexcept {
  if (buffers_.give_back(buffer)) [[unlikely]] wake();
}

void uring_reactor::wake() noexcept {
  const std::uint64_t one = 1;
  // Blocking only at a counter of 2^64-2, which coalesced posts never reach.
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void uring_reactor::enter(std::chrono::nanoseconds timeout) {
  int rc = 0;
  if (timeout.count() == 0) {
    // DEFER_TASKRUN posts completions only when we enter the kernel asking for them.
    rc = features_.defer_taskrun ? io_uring_submit_and_get_events(&ring_)
                                 : io_uring_submit(&ring_);
  } else if (timeout.count() < 0) {
    rc = io_uring_submit_and_wait(&ring_, 1);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = timeout.count() / 1'000'000'000;
    ts.tv_nsec = timeout.count() % 1'000'000'000;
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  }
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    throw_errno(-rc, "io_uring_enter");
  }
}

void uring_reactor::reap() {
  for (;;) {
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    dispatching_ = true;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      dispatch(*cqe);
    }
    dispatching_ = false;
    io_uring_cq_advance(&ring_, seen);
    // With NODROP, completions that did not fit wait in the kernel; flush them in.
    if (io_uring_cq_has_overflow(&ring_)) {
      io_uring_get_events(&ring_);
      continue;
    }
    if (seen == 0) return;
    if (!features_.defer_taskrun) return;
    if (io_uring_cq_ready(&ring_) == 0) return;
  }
}

void uring_reactor::dispatch(const io_uring_cqe& cqe) noexcept {
  const std::uint64_t data = cqe.user_data;
  if (data == ignored_user_data || data == LIBURING_UDATA_TIMEOUT) return;
  auto& op = *reinterpret_cast<io_operation*>(data);
  if (&op == &wake_op_) {
    // Stay armed (the loop looks at its posted work after every wait), unless the ring is
    // going away. Re-armed after the reap, where a failure to find memory may throw.
    if (!draining_ && (cqe.res >= 0 || cqe.res == -EINTR)) rearm_wake_ = true;
    return;
  }
  std::uint32_t flags = 0;
  std::uint16_t buffer_id = 0;
  if ((cqe.flags & IORING_CQE_F_MORE) != 0) flags |= more_completions;
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    flags |= has_buffer;
    buffer_id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  }
  int res = cqe.res;
  if ((flags & has_buffer) != 0 && res > 0 && static_cast<unsigned>(res) > buffer_size_ &&
      features_.recv_bundle) {
    // A bundle: the bytes fill consecutive buffers of the ring, each but the last one whole.
    // The handler gets one completion per buffer, all but the last marked to be followed.
    std::uint32_t slot = buffers_.slot_of(buffer_id);
    while (static_cast<unsigned>(res) > buffer_size_) {
      op.on_complete(op, static_cast<int>(buffer_size_), flags | more_completions, buffer_id);
      res -= static_cast<int>(buffer_size_);
      buffer_id = buffers_.next_in_bundle(slot);
    }
  }
  // The handle of this completion's part of its buffer (the buffer id when whole).
  const std::uint32_t buffer =
      (flags & has_buffer) != 0 ? buffers_.take(buffer_id, res, cqe.flags) : 0;
  if ((flags & more_completions) == 0) {
    --in_flight_;
    if (!op.cancel_requested && cancellable_ > 0) --cancellable_;  // its cancel's room is free
    untrack(op);
  }
  op.on_complete(op, res, flags, buffer);  // may free `op` if this was its last
}

}  // namespace ringo::detail
