#pragma once
// Request deadlines, for the backends (private to the library).
//
// Deadlines live in a user-space min-heap rather than in kernel timers (io_uring's linked
// timeouts, a timerfd per request): most requests (a send into a socket with room, say) finish
// long before their deadline, and then the deadline costs a heap push and pop instead of a
// kernel timer armed and disarmed. When a deadline passes the backend cancels the request like
// any other, with deadline_passed set so that its -ECANCELED reads as a timeout.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/reactor.hpp>

namespace ringo::detail {

class deadline_heap {
 public:
  using clock = std::chrono::steady_clock;

  [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }

  /// Room for one more deadline; the only call that allocates.
  void reserve_one() {
    if (heap_.size() == heap_.capacity()) heap_.reserve(heap_.size() * 2 + 16);
  }

  /// Arms `op`'s deadline (op.timeout from now), if it has one: a timeout too long for the
  /// clock to add is none. Room must be reserved.
  void arm(io_operation& op) noexcept {
    if (op.timeout.count() <= 0) return;
    op.timed_out = false;
    op.deadline_passed = false;
    if (op.deadline_slot != io_operation::no_slot) remove(op);
    const clock::time_point at = deadline_after(op.timeout);
    if (at == no_deadline) return;
    heap_.push_back({at, &op});
    sift(heap_.size() - 1);
  }

  /// Takes `op`'s deadline out, if it has one (its request completed).
  void remove(io_operation& op) noexcept {
    const std::size_t i = op.deadline_slot;
    if (i == io_operation::no_slot) return;
    op.deadline_slot = io_operation::no_slot;
    const entry last = heap_.back();
    heap_.pop_back();
    if (i < heap_.size()) {
      heap_[i] = last;
      sift(i);
    }
  }

  /// `timeout` shortened so that a wait ends by the nearest deadline (negative: no limit).
  [[nodiscard]] std::chrono::nanoseconds bound(std::chrono::nanoseconds timeout) const noexcept {
    if (heap_.empty()) return timeout;
    const auto left = heap_.front().at - clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return std::chrono::nanoseconds::zero();
    if (timeout.count() < 0 || left < timeout) return std::chrono::ceil<std::chrono::nanoseconds>(left);
    return timeout;
  }

  /// Calls cancel(op) for each request whose deadline has passed, nearest first, after taking
  /// its deadline out and marking it; a request already being cancelled is left to that cancel.
  template <class Cancel>
  void expire(Cancel&& cancel) {
    const auto now = clock::now();
    while (!heap_.empty() && heap_.front().at <= now) {
      io_operation& op = *heap_.front().op;
      remove(op);
      if (op.cancel_requested) continue;
      op.deadline_passed = true;
      cancel(op);
    }
  }

 private:
  struct entry {
    clock::time_point at;
    io_operation* op;
  };

  void place(std::size_t i, entry e) noexcept {
    heap_[i] = e;
    e.op->deadline_slot = static_cast<std::uint32_t>(i);
  }

  void sift(std::size_t i) noexcept {
    const entry e = heap_[i];
    while (i > 0 && e.at < heap_[(i - 1) / 2].at) {  // up
      place(i, heap_[(i - 1) / 2]);
      i = (i - 1) / 2;
    }
    for (;;) {  // down
      std::size_t child = 2 * i + 1;
      if (child >= heap_.size()) break;
      if (child + 1 < heap_.size() && heap_[child + 1].at < heap_[child].at) ++child;
      if (!(heap_[child].at < e.at)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, e);
  }

  std::vector<entry> heap_;
};

}  // namespace ringo::detail
