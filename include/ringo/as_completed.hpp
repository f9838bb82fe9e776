#pragma once
/// \file
/// ringo::as_completed: Python's concurrent.futures.as_completed. Yields futures in the order
/// they finish.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <ranges>
#include <type_traits>
#include <vector>

#include <ringo/future.hpp>
#include <ringo/generator.hpp>

namespace ringo {

namespace detail {

/// Where done-callbacks drop the futures that completed; shared by the generator and the
/// callbacks not yet called, so an abandoned generator leaves nothing dangling.
template <class R>
struct completion_queue {
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<future<R>> done;
};

template <class R>
generator<future<R>> yield_completed(std::shared_ptr<completion_queue<R>> q, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    future<R> f;
    {
      std::unique_lock lock{q->mutex};
      q->ready.wait(lock, [&] { return !q->done.empty(); });
      f = std::move(q->done.front());
      q->done.pop_front();
    }
    co_yield std::move(f);
  }
}

}  // namespace detail

/// Yields each future of `futures` as it completes (finished or cancelled): those already done
/// first, in input order, then the rest in completion order. The callbacks are registered at
/// the call. Between items the generator blocks the calling thread (as Python's does), so do
/// not iterate it on a thread that runs an io_context: from a task, co_await the futures (or
/// use to_thread). Every future must be valid; a future listed twice is yielded twice.
template <std::ranges::input_range Range>
requires requires {
  typename std::remove_cvref_t<std::ranges::range_reference_t<Range>>::value_type;
}
auto as_completed(Range&& futures) -> generator<
    future<typename std::remove_cvref_t<std::ranges::range_reference_t<Range>>::value_type>> {
  using R = typename std::remove_cvref_t<std::ranges::range_reference_t<Range>>::value_type;
  static_assert(
      std::is_same_v<std::remove_cvref_t<std::ranges::range_reference_t<Range>>, future<R>>,
      "ringo::as_completed takes a range of ringo::future");
  auto q = std::make_shared<detail::completion_queue<R>>();
  std::size_t count = 0;
  for (const future<R>& f : futures) {
    f.add_done_callback([q](future<R> done) {
      {
        std::lock_guard lock{q->mutex};
        q->done.push_back(std::move(done));
      }
      q->ready.notify_one();
    });
    ++count;
  }
  return detail::yield_completed<R>(std::move(q), count);
}

}  // namespace ringo
