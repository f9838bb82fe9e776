#pragma once
/// \file
/// ringo::thread_pool: Python's concurrent.futures.ThreadPoolExecutor. Work submitted to it
/// runs on its worker threads; each submit returns a ringo::future.
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <ranges>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <ringo/detail/pool_job.hpp>
#include <ringo/future.hpp>
#include <ringo/generator.hpp>

namespace ringo {

/// A pool of worker threads running submitted callables (ThreadPoolExecutor). Threads start
/// on demand, up to the pool's size, and are reused. C++ threads run in parallel, so this is
/// also ringo's answer to ProcessPoolExecutor for CPU-bound work.
///
/// submit, map and shutdown may be called from any thread. Destroying the pool shuts it down
/// and waits for the queued work, as leaving Python's `with` block does. One of the pool's own
/// jobs may destroy it (say by dropping the last std::shared_ptr to it); see ~thread_pool.
class thread_pool {
 public:
  /// Python's default size: min(32, cores + 4).
  static std::size_t default_size() noexcept;

  /// A pool of at most `threads` workers. Throws std::invalid_argument if `threads` is 0.
  explicit thread_pool(std::size_t threads = default_size());
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  /// shutdown(true): runs the queued work and joins every worker. A job may destroy its own
  /// pool (drop the last reference to it): then the destructor, on that job's worker, runs
  /// queued work alongside the other workers until the queue is empty, joins the others (so
  /// none of them may be waiting for the destroying job) and returns to the job, with every
  /// other job done. When the job returns, its worker's thread ends without touching the pool.
  ~thread_pool();

  /// The most workers the pool runs at once.
  [[nodiscard]] std::size_t size() const noexcept { return max_threads_; }

  /// Queues `f(args...)` (both decay-copied) to run on a worker and returns the future of its
  /// result; an exception it throws is stored in the future. Throws std::logic_error after
  /// shutdown.
  template <class F, class... A>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>
  auto submit(F&& f, A&&... args)
      -> future<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>> {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
    auto job = std::make_shared<detail::typed_job<R, std::decay_t<F>, std::decay_t<A>...>>(
        std::forward<F>(f), std::forward<A>(args)...);
    std::shared_ptr<detail::future_state<R>> state = job;
    enqueue(std::move(job));
    return detail::future_access::make<R>(std::move(state));
  }

  /// Python's map: applies `f` to each element of `range` on the pool and yields the results
  /// in input order. The first `lookahead` calls (default: twice the pool's size) are
  /// submitted at once; each result taken submits the next element, so an endless range
  /// works. Taking a result blocks the calling thread until it is ready (do not iterate on a
  /// thread that runs an io_context); an exception from `f` is rethrown by the generator at
  /// that element's position, and ends it. Destroying the generator early cancels the calls
  /// that have not started. An lvalue range is iterated in place and must outlive the
  /// generator; an rvalue range is moved into it.
  template <class F, std::ranges::input_range Range>
  requires std::is_invocable_v<F&, std::ranges::range_reference_t<Range>>
  auto map(F f, Range&& range, std::size_t lookahead = 0)
      -> generator<std::invoke_result_t<F&, std::ranges::range_reference_t<Range>>>;

  /// Stops accepting work (submit then throws std::logic_error). With `cancel_futures`, the
  /// queued work that has not started is cancelled (its futures throw operation_cancelled).
  /// With `wait`, blocks until every remaining job has run and the workers have exited;
  /// without, returns at once and the workers exit when the queue is empty. May be called
  /// more than once; a call with `wait` from one of the pool's own workers throws
  /// std::logic_error (it would wait for itself).
  void shutdown(bool wait = true, bool cancel_futures = false);

 private:
  template <class R, class V, class F>
  struct map_state;
  template <class R, class V, class F>
  static generator<R> map_results(std::unique_ptr<map_state<R, V, F>> state);

  void enqueue(std::shared_ptr<detail::pool_job> job);
  void worker_main();
  // Runs queued jobs on the calling thread until the queue is empty after shutdown. Returns
  // false when one of the jobs destroyed the pool.
  bool run_jobs();
  bool on_worker_thread() const;

  const std::size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  detail::pool_job* head_ = nullptr;
  detail::pool_job* tail_ = nullptr;
  std::size_t queued_ = 0;
  std::size_t idle_ = 0;
  bool shutting_down_ = false;
  std::vector<std::thread> threads_;
  std::mutex join_mutex_;  // one shutdown(wait) joins at a time
};

/// map's state: the range, where it is, and the futures submitted ahead.
template <class R, class V, class F>
struct thread_pool::map_state {
  thread_pool* pool;
  // Shared with the jobs: a running call outlives a generator destroyed early.
  std::shared_ptr<F> fn;
  V view;
  std::ranges::iterator_t<V> it;
  std::size_t lookahead;
  std::deque<future<R>> pending;

  map_state(thread_pool* p, F f, V v, std::size_t ahead)
      : pool(p),
        fn(std::make_shared<F>(std::move(f))),
        view(std::move(v)),
        it(std::ranges::begin(view)),
        lookahead(ahead) {}
  map_state(const map_state&) = delete;
  map_state& operator=(const map_state&) = delete;
  ~map_state() {
    // The consumer stopped early (or an element failed): the calls not started never run.
    for (auto& f : pending)
      f.cancel();
  }

  void top_up() {
    while (pending.size() < lookahead && it != std::ranges::end(view)) {
      // The element is copied into the job: the worker must not read the range.
      pending.push_back(
          pool->submit([fn = fn](auto&& element) -> R { return std::invoke(*fn, element); },
                       std::ranges::range_value_t<V>(*it)));
      ++it;
    }
  }
};

template <class R, class V, class F>
generator<R> thread_pool::map_results(std::unique_ptr<map_state<R, V, F>> state) {
  while (!state->pending.empty()) {
    future<R> next = std::move(state->pending.front());
    state->pending.pop_front();
    state->top_up();
    co_yield std::move(next).get();
  }
}

template <class F, std::ranges::input_range Range>
requires std::is_invocable_v<F&, std::ranges::range_reference_t<Range>>
auto thread_pool::map(F f, Range&& range, std::size_t lookahead)
    -> generator<std::invoke_result_t<F&, std::ranges::range_reference_t<Range>>> {
  using R = std::invoke_result_t<F&, std::ranges::range_reference_t<Range>>;
  static_assert(!std::is_void_v<R> && !std::is_reference_v<R>,
                "thread_pool::map needs a function that returns a value; use submit for "
                "functions returning void or a reference");
  using V = std::views::all_t<Range>;
  if (lookahead == 0) lookahead = 2 * max_threads_;
  auto state = std::make_unique<map_state<R, V, F>>(
      this, std::move(f), std::views::all(std::forward<Range>(range)), lookahead);
  state->top_up();  // like Python, the work starts now, not at the first next()
  return map_results(std::move(state));
}

}  // namespace ringo
