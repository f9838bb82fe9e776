#pragma once
/// \file
/// ringo::as_completed: Python's concurrent.futures.as_completed, which yields futures in the
/// order they finish, and asyncio's, which does the same for tasks.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include <ringo/async_generator.hpp>
#include <ringo/detail/awaitable_task.hpp>
#include <ringo/event.hpp>
#include <ringo/future.hpp>
#include <ringo/generator.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

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
requires(!detail::is_task_v<std::remove_cvref_t<std::ranges::range_reference_t<Range>>>) &&
    requires { typename std::remove_cvref_t<std::ranges::range_reference_t<Range>>::value_type; }
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

namespace detail {

/// What the tasks of one as_completed(tasks) share with its generator: the order in which they
/// finished. Each task keeps it alive until it ends, so a task that outlives the generator
/// touches nothing of the generator's.
struct finish_order {
  explicit finish_order(std::size_t count) { order.reserve(count); }
  std::vector<std::size_t> order;  // indices of the tasks that finished, in finishing order
  std::size_t yielded = 0;         // how many of them the generator has handed out
  event finished;                  // set when one finishes; the generator waits on it
  /// Records that task `index` finished (its room was reserved: nothing here can throw).
  void done(std::size_t index) noexcept {
    order.push_back(index);
    finished.set();
  }
};

template <class T>
task<T> run_and_report(task<T> t, std::shared_ptr<finish_order> board, std::size_t index) {
  std::exception_ptr error;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      board->done(index);
      co_return;
    } else {
      auto&& value = co_await std::move(t);
      board->done(index);
      co_return static_cast<T&&>(value);
    }
  } catch (...) {
    error = std::current_exception();
  }
  board->done(index);
  std::rethrow_exception(error);
}

// The handles of one as_completed(tasks), owned by its generator alone (a task holding them
// would keep its own frame alive): shared only so that as_completed can still cancel the tasks
// if making the generator fails. When the generator's frame goes, the tasks whose handles it
// has not handed out are cancelled.
template <class T>
struct unyielded_handles {
  std::vector<join_handle<T>> handles;
  unyielded_handles() = default;
  unyielded_handles(const unyielded_handles&) = delete;
  unyielded_handles& operator=(const unyielded_handles&) = delete;
  ~unyielded_handles() { cancel(); }
  void cancel() noexcept {
    for (auto& h : handles) {
      if (h.valid() && !h.done()) h.cancel();
    }
  }
};

template <class T>
async_generator<join_handle<T>> yield_finished(std::shared_ptr<unyielded_handles<T>> tasks,
                                               std::shared_ptr<finish_order> board) {
  // A local, not the parameter: the body's end (an exception included: the iterating task
  // cancelled while it waited) lets go of the tasks, not only the frame's destruction.
  const std::shared_ptr<unyielded_handles<T>> owned = std::move(tasks);
  std::vector<join_handle<T>>& handles = owned->handles;
  while (board->yielded < handles.size()) {
    while (board->yielded == board->order.size()) {
      board->finished.clear();
      co_await board->finished.wait();
    }
    co_yield std::move(handles[board->order[board->yielded++]]);
  }
}

}  // namespace detail

/// asyncio's as_completed for tasks: starts every task at once, each spawned on the current
/// context (so they run even before the first next()), and yields each one's join_handle as it
/// finishes, in the order they finish. `co_await h` gives that task's result or rethrows its
/// exception; a task that failed does not stop the iteration. An empty vector yields nothing.
/// Call it, and iterate the generator, from a task running on one context (outside a loop it
/// throws std::logic_error, starting nothing).
///
/// Destroying the generator before it has yielded every handle (leaving the loop early), or
/// cancelling the task iterating it while it waits for the next one, cancels the tasks still
/// running: each gets operation_cancelled at its current or next suspension point. Being a
/// destructor, that cannot wait for them: they end in later turns of the loop, as detached
/// tasks do, and ringo::run waits for them. They share only a reference-counted record of the
/// finishing order, so they never touch the generator's memory. Handles already yielded are the
/// caller's, and their tasks are left alone.
template <class T>
async_generator<join_handle<T>> as_completed(std::vector<task<T>> tasks) {
  auto board = std::make_shared<detail::finish_order>(tasks.size());
  auto started = std::make_shared<detail::unyielded_handles<T>>();
  started->handles.reserve(tasks.size());
  try {
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      started->handles.push_back(spawn(detail::run_and_report(std::move(tasks[i]), board, i)));
    }
    return detail::yield_finished<T>(started, std::move(board));
  } catch (...) {
    started->cancel();  // a spawn, or making the generator, failed: none of them is wanted
    throw;
  }
}

}  // namespace ringo
