#include <ringo/thread_pool.hpp>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include <ringo/to_thread.hpp>

#include "process/thread_signals.hpp"

namespace ringo {
namespace detail {

void report_callback_exception(const std::exception_ptr& e) noexcept {
  // Python's Future logs "exception calling callback for <Future>" and goes on: a callback's
  // failure must not stop the other callbacks or the worker.
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    try {
      fmt::print(stderr, "ringo: a future's done-callback threw: {}\n", ex.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      fmt::print(stderr, "ringo: a future's done-callback threw a non-standard exception\n");
    } catch (...) {
    }
  }
}

thread_pool& default_thread_pool() {
  // Made on first use; destroyed at exit after the work queued by then has run, as Python
  // joins the executor's threads at interpreter exit.
  static thread_pool pool;
  return pool;
}

}  // namespace detail

namespace {
// Which pool the calling thread works for, so that shutdown(wait) can refuse to join itself
// and the destructor can tell that a job of the pool's own is destroying it.
thread_local const thread_pool* worker_of = nullptr;
// Set by the destructor when it ran on one of the pool's workers: back from the job that
// destroyed the pool, that worker's loop must leave without touching the pool again. A thread
// local, because the pool that could have held the flag is gone.
thread_local bool pool_destroyed_by_job = false;
}  // namespace

std::size_t thread_pool::default_size() noexcept {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::min<std::size_t>(32, cores + 4);
}

thread_pool::thread_pool(std::size_t threads) : max_threads_(threads) {
  if (threads == 0) {
    throw std::invalid_argument("ringo::thread_pool needs at least one thread");
  }
}

thread_pool::~thread_pool() {
  if (!on_worker_thread()) {
    shutdown(true);
    return;
  }
  // A job on one of our workers destroys the pool (it dropped the last reference). Joining
  // that worker would wait for itself, and detaching the others would leave them locking a
  // destroyed mutex. So this worker runs the queued work with the others (a pool of one has
  // no one else to run it), joins the others, and lets go of its own thread only.
  shutdown(false);
  run_jobs();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock{mutex_};
    threads.swap(threads_);
  }
  const std::thread::id self = std::this_thread::get_id();
  for (auto& t : threads) {
    if (t.get_id() == self) {
      t.detach();  // it ends once the job returns, see run_jobs
    } else if (t.joinable()) {
      t.join();
    }
  }
  // A pool made later at this address must not take this thread for one of its workers.
  worker_of = nullptr;
  pool_destroyed_by_job = true;
}

bool thread_pool::on_worker_thread() const {
  return worker_of == this;
}

void thread_pool::enqueue(std::shared_ptr<detail::pool_job> job) {
  bool wake = false;
  {
    std::lock_guard lock{mutex_};
    if (shutting_down_) throw std::logic_error("cannot schedule new work after shutdown");
    detail::pool_job* j = job.get();
    j->self_ = std::move(job);
    j->next = nullptr;
    (tail_ != nullptr ? tail_->next : head_) = j;
    tail_ = j;
    ++queued_;
    // Start a thread when the idle ones cannot take every queued job (Python starts one per
    // submit that finds no idle worker), up to the pool's size.
    if (queued_ > idle_ && threads_.size() < max_threads_) {
      const detail::new_threads_block_signals blocked;  // signals are for the loops' signal_sets
      threads_.emplace_back([this] { worker_main(); });
    }
    wake = idle_ != 0;
  }
  if (wake) work_ready_.notify_one();
}

void thread_pool::worker_main() {
  worker_of = this;
  if (!run_jobs()) return;  // the pool is gone: `this` must not be read again
  worker_of = nullptr;
}

bool thread_pool::run_jobs() {
  std::unique_lock lock{mutex_};
  for (;;) {
    if (head_ == nullptr) {
      if (shutting_down_) return true;
      ++idle_;
      work_ready_.wait(lock, [&] { return head_ != nullptr || shutting_down_; });
      --idle_;
      continue;
    }
    detail::pool_job* j = head_;
    head_ = j->next;
    if (head_ == nullptr) tail_ = nullptr;
    --queued_;
    std::shared_ptr<detail::pool_job> keep = std::move(j->self_);
    lock.unlock();
    // The job may destroy the pool: in the callable, when its captures are released (here or
    // in keep.reset()), or in a done-callback. Then the destructor has set the flag, and
    // nothing of the pool (its mutex above all) may be touched; `lock` no longer owns the
    // mutex, so leaving does not touch it either.
    j->execute(*j);
    keep.reset();  // may free the job, and with it the callable's captures, here
    if (pool_destroyed_by_job) return false;
    lock.lock();
  }
}

void thread_pool::shutdown(bool wait, bool cancel_futures) {
  if (wait && on_worker_thread()) {
    throw std::logic_error(
        "ringo::thread_pool::shutdown(wait=true) called from one of the pool's own workers, "
        "which would wait for itself: call shutdown(false) there");
  }
  detail::pool_job* cancelled = nullptr;
  {
    std::lock_guard lock{mutex_};
    shutting_down_ = true;
    if (cancel_futures) {
      cancelled = std::exchange(head_, nullptr);
      tail_ = nullptr;
      queued_ = 0;
    }
  }
  work_ready_.notify_all();
  // Cancel outside the lock: cancelling runs the futures' done-callbacks.
  while (cancelled != nullptr) {
    detail::pool_job* next = cancelled->next;
    std::shared_ptr<detail::pool_job> keep = std::move(cancelled->self_);
    cancelled->drop(*cancelled);
    cancelled = next;
  }
  if (!wait) return;
  std::lock_guard join_lock{join_mutex_};
  // No thread starts after shutting_down_ is set, so the list is final; join outside mutex_
  // since the workers need it to drain the queue.
  std::vector<std::thread> threads;
  {
    std::lock_guard lock{mutex_};
    threads.swap(threads_);
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace ringo
