#include <ringo/thread_pool.hpp>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include <ringo/to_thread.hpp>

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
// Which pool the calling thread works for, so that shutdown(wait) can refuse to join itself.
thread_local const thread_pool* worker_of = nullptr;
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
  if (on_worker_thread()) {
    // Joining would wait for this very thread (documented misuse): rather than abort, let the
    // workers go.
    shutdown(false);
    for (auto& t : threads_)
      t.detach();
    return;
  }
  shutdown(true);
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
      threads_.emplace_back([this] { worker_main(); });
    }
    wake = idle_ != 0;
  }
  if (wake) work_ready_.notify_one();
}

void thread_pool::worker_main() {
  worker_of = this;
  std::unique_lock lock{mutex_};
  for (;;) {
    if (head_ == nullptr) {
      if (shutting_down_) break;
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
    j->execute(*j);
    keep.reset();  // may free the job, and with it the callable's captures, here
    lock.lock();
  }
  worker_of = nullptr;
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
