#pragma once
/// \file
/// ringo::queue, lifo_queue and priority_queue: queues between the tasks of one context
/// (Python's queue.Queue, LifoQueue, PriorityQueue and JoinableQueue). Their queue_closed
/// error is declared in ringo/error.hpp, which this header includes.
#include <cstddef>
#include <functional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <ringo/detail/basic_queue.hpp>
#include <ringo/error.hpp>

namespace ringo {

/// A first-in, first-out queue for the tasks of one io_context (no atomics).
///
/// `co_await q.put(x)` waits while the queue is full, `co_await q.get()` while it is empty;
/// both serve their waiters first come, first served. When a get waits, a put moves its item
/// straight into the waiting getter's frame: a hand-off allocates nothing. try_put/try_get
/// never wait (put_nowait/get_nowait). task_done()/join() count items through to the end of
/// their processing (JoinableQueue). close() ends the queue: puts throw queue_closed, gets
/// drain what is left and then throw it. Items held by the store (std::deque) allocate as a
/// deque does. The queue must outlive its waiters.
template <class T>
class queue : public detail::basic_queue<T, detail::fifo_store<T>> {
 public:
  /// A queue holding at most `capacity` items (0: unbounded).
  explicit queue(std::size_t capacity = 0)
      : detail::basic_queue<T, detail::fifo_store<T>>(capacity) {}
};

/// A last-in, first-out queue (a stack; Python's LifoQueue). Same API and rules as
/// ringo::queue; a put that waited for room goes on top once a get makes room.
template <class T>
class lifo_queue : public detail::basic_queue<T, detail::lifo_store<T>> {
 public:
  /// A stack holding at most `capacity` items (0: unbounded).
  explicit lifo_queue(std::size_t capacity = 0)
      : detail::basic_queue<T, detail::lifo_store<T>>(capacity) {}
};

/// A queue that hands out its smallest item first by `Compare` (Python's PriorityQueue, a
/// binary heap). Items that compare equal leave in the order they were put (first in, first
/// out among ties), which Python's heapq does not promise. Same API and rules as
/// ringo::queue. A get that waits is handed the next put item at once (it was the smallest:
/// the queue was empty).
template <class T, class Compare = std::less<T>>
class priority_queue : public detail::basic_queue<T, detail::priority_store<T, Compare>> {
 public:
  /// A priority queue holding at most `capacity` items (0: unbounded), ordered by `cmp`.
  explicit priority_queue(std::size_t capacity = 0, Compare cmp = Compare{})
      : detail::basic_queue<T, detail::priority_store<T, Compare>>(
            capacity, detail::priority_store<T, Compare>(std::move(cmp))) {}
};

}  // namespace ringo

/// Formats any ringo queue as its describe() text: "queue 0x... (2 items of 4, ...)".
template <class T, class Store>
struct fmt::formatter<ringo::detail::basic_queue<T, Store>> : fmt::formatter<fmt::string_view> {
  template <class FormatContext>
  auto format(const ringo::detail::basic_queue<T, Store>& q, FormatContext& ctx) const {
    std::string text;
    q.describe(text);
    return fmt::formatter<fmt::string_view>::format(text, ctx);
  }
};
template <class T>
struct fmt::formatter<ringo::queue<T>>
    : fmt::formatter<ringo::detail::basic_queue<T, ringo::detail::fifo_store<T>>> {};
template <class T>
struct fmt::formatter<ringo::lifo_queue<T>>
    : fmt::formatter<ringo::detail::basic_queue<T, ringo::detail::lifo_store<T>>> {};
template <class T, class C>
struct fmt::formatter<ringo::priority_queue<T, C>>
    : fmt::formatter<ringo::detail::basic_queue<T, ringo::detail::priority_store<T, C>>> {};
