// The io_uring backend's submissions: requests, cancels and closes written into the submission
// queue, or into the backlog behind it when the queue is full or completions are being
// dispatched, and the list of requests in flight kept where the kernel cannot cancel them all
// at once.
#include <unistd.h>

#include <cstddef>
#include <vector>

#include "backend/uring/prepare_sqe.hpp"
#include "backend/uring/reactor.hpp"

namespace ringo::detail {

void uring_reactor::submit(io_operation& op) {
  reserve_room(2, true);  // its entry, and its cancel's
  op.cancel_requested = false;
  queue(op);
  ++in_flight_;
  ++cancellable_;
  if (!features_.cancel_any) track(op);
}

void uring_reactor::cancel(io_operation& op) noexcept {
  if (op.cancel_requested) return;
  op.cancel_requested = true;
  if (cancellable_ > 0) --cancellable_;
  push({&op, deferred::cancel, -1});  // into the room its submit set aside
}

void uring_reactor::close_later(int fd) noexcept {
  try {
    reserve_room(1, false);
  } catch (...) {
    flush();  // no room to queue the close: what is queued goes first, then the close
    ::close(fd);
    return;
  }
  push({nullptr, deferred::close, fd});
}

void uring_reactor::flush() noexcept {
  if (dispatching_) return;
  flush_backlog();
  io_uring_submit(&ring_);
}

void uring_reactor::reserve_room(std::size_t entries, bool request) {
  const std::size_t need = backlog_.size() + entries + cancellable_;
  if (backlog_.capacity() < need) backlog_.reserve(std::max(need, backlog_.capacity() * 2 + 16));
  if (request && !features_.cancel_any && tracked_.size() == tracked_.capacity()) {
    tracked_.reserve(tracked_.size() * 2 + 16);
  }
}

void uring_reactor::prepare_cancel(io_uring_sqe* sqe, io_operation* op) noexcept {
  if (op == nullptr) {
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
  } else {
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(op), 0);
  }
  io_uring_sqe_set_data64(sqe, ignored_user_data);
}

void uring_reactor::write_sqe(io_uring_sqe* sqe, const deferred& d) noexcept {
  switch (d.kind) {
    case deferred::request:
      prepare_sqe(sqe, *d.op, features_);
      io_uring_sqe_set_data(sqe, d.op);
      break;
    case deferred::cancel:
      prepare_cancel(sqe, d.op);
      break;
    case deferred::close:
      io_uring_prep_close(sqe, d.fd);  // nobody waits for it: the descriptor is let go of
      io_uring_sqe_set_data64(sqe, ignored_user_data);
      break;
  }
}

void uring_reactor::push(const deferred& d) noexcept {
  if (io_uring_sqe* sqe = next_sqe()) {
    write_sqe(sqe, d);
  } else {
    backlog_.push_back(d);
  }
}

void uring_reactor::queue(io_operation& op) noexcept {
  push({&op, deferred::request, -1});
}

// A free submission entry, or null when the entry must wait in the backlog: nothing may
// overtake the backlog, and while completions are dispatched nothing is submitted.
io_uring_sqe* uring_reactor::next_sqe() noexcept {
  if (!backlog_.empty()) return nullptr;
  if (io_uring_sq_space_left(&ring_) == 0) {
    if (dispatching_) return nullptr;
    io_uring_submit(&ring_);  // the kernel takes the entries; failures leave them queued
    if (io_uring_sq_space_left(&ring_) == 0) return nullptr;
  }
  return io_uring_get_sqe(&ring_);
}

// Moves the backlog into the submission queue, in order, as far as it fits; true when it
// is empty. Never while dispatching; never reaps.
bool uring_reactor::flush_backlog() noexcept {
  std::size_t done = 0;
  while (done < backlog_.size()) {
    if (io_uring_sq_space_left(&ring_) == 0) {
      io_uring_submit(&ring_);
      if (io_uring_sq_space_left(&ring_) == 0) break;
    }
    write_sqe(io_uring_get_sqe(&ring_), backlog_[done++]);
  }
  backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<std::ptrdiff_t>(done));
  return backlog_.empty();
}

// The requests in flight, kept only where the kernel cannot cancel them all at once, so that
// drain() can cancel each. An operation knows its slot; removal swaps the last one in.
void uring_reactor::track(io_operation& op) noexcept {
  tracked_.push_back(&op);  // room is reserved
  op.backend_slot = static_cast<std::uint32_t>(tracked_.size() - 1);
}

void uring_reactor::untrack(io_operation& op) noexcept {
  const std::uint32_t i = op.backend_slot;
  if (i == io_operation::no_slot) return;
  op.backend_slot = io_operation::no_slot;
  io_operation* last = tracked_.back();
  tracked_.pop_back();
  if (last != &op) {
    tracked_[i] = last;
    last->backend_slot = i;
  }
}

}  // namespace ringo::detail
