// The loop's timers, ringo's one timer system: one binary min-heap of the timer nodes that
// live in awaiters' frames (sleeps, call_later, timed waits, writes waiting their turn, and
// every I/O request's deadline: the backends keep none), fired in deadline order, and how long
// the loop may wait for I/O before the nearest one is due.
#include <ringo/io_context.hpp>

#include <chrono>
#include <cstddef>

#include <ringo/detail/deadline.hpp>

namespace ringo {

void detail::loop::add_timer(detail::timer_node& timer) {
  timers_.push_back(&timer);
  std::size_t i = timers_.size() - 1;
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (timers_[parent]->deadline <= timer.deadline) break;
    timers_[i] = timers_[parent];
    timers_[i]->heap_index = i;
    i = parent;
  }
  timers_[i] = &timer;
  timer.heap_index = i;
}

void detail::loop::remove_timer(detail::timer_node& timer) noexcept {
  std::size_t i = timer.heap_index;
  if (i == detail::timer_node::not_queued) return;
  timer.heap_index = detail::timer_node::not_queued;
  detail::timer_node* last = timers_.back();
  timers_.pop_back();
  if (last == &timer) return;
  // Put the last node in the hole, then move it up or down to where it belongs.
  while (i > 0 && last->deadline < timers_[(i - 1) / 2]->deadline) {
    timers_[i] = timers_[(i - 1) / 2];
    timers_[i]->heap_index = i;
    i = (i - 1) / 2;
  }
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= timers_.size()) break;
    if (child + 1 < timers_.size() && timers_[child + 1]->deadline < timers_[child]->deadline) {
      ++child;
    }
    if (!(timers_[child]->deadline < last->deadline)) break;
    timers_[i] = timers_[child];
    timers_[i]->heap_index = i;
    i = child;
  }
  timers_[i] = last;
  last->heap_index = i;
}

void io_context::fire_timers() {
  if (timers_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.front()->deadline <= now) {
    detail::timer_node& t = *timers_.front();
    remove_timer(t);
    t.fire(t);
  }
}

std::chrono::nanoseconds io_context::wait_budget() const {
  if (ready_head_ != nullptr || remote_pending_.load(std::memory_order_acquire)) {
    return std::chrono::nanoseconds{0};
  }
  // The nearest timer first: if even it never fires (a sleep too long for the clock), the
  // wait has no limit.
  if (timers_.empty() || timers_.front()->deadline == detail::no_deadline) {
    return std::chrono::nanoseconds{-1};
  }
  return detail::time_until(timers_.front()->deadline, std::chrono::steady_clock::now());
}

}  // namespace ringo
