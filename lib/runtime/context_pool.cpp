#include <ringo/context_pool.hpp>

#include <signal.h>

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <thread>

#include <ringo/error.hpp>
#include <ringo/event.hpp>
#include <ringo/signal_set.hpp>
#include <ringo/spawn.hpp>

#include "process/thread_signals.hpp"

namespace ringo {

struct context_pool::slot {
  // What stop() posts. Declared before the context, so that it outlives it: a stop() after
  // the context's run() returned leaves it queued there until the context is destroyed.
  struct stop_request : detail::remote_node {
    slot* owner = nullptr;
  } stop_node;
  std::unique_ptr<io_context> context;
  // The running main task's handle, touched only on the slot's own thread: stop() reaches
  // it through a post.
  join_handle<void>* main = nullptr;
  bool stop_requested = false;
};

namespace {

task<void> supervise(task<void> body, bool& stop_requested, join_handle<void>*& main_slot) {
  auto handle = spawn(std::move(body));
  main_slot = &handle;
  struct forget {
    join_handle<void>*& slot;
    ~forget() { slot = nullptr; }
  } forget_on_exit{main_slot};
  if (stop_requested) handle.cancel();  // stop() came before the task started
  try {
    co_await handle;
  } catch (const operation_cancelled&) {
    // A stop: the main task unwound as asked.
  }
}

// Stops the pool at each SIGINT or SIGTERM; cancelled (a daemon) once the pool has ended.
task<void> stop_at_each_signal(signal_set& signals, context_pool& pool) {
  for (;;) {
    (void)co_await signals.wait();
    pool.stop();
  }
}

// The calling thread's loop while the pool runs: it watches the signals until the last of the
// pool's threads says that it is done.
task<void> watch_signals(signal_set& signals, context_pool& pool, event& finished) {
  spawn(stop_at_each_signal(signals, pool), daemon);
  co_await finished.wait();
}

}  // namespace

context_pool::context_pool(unsigned threads, io_context_options options) : options_(options) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  slots_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    auto s = std::make_unique<slot>();
    s->context = std::make_unique<io_context>(options);
    slots_.push_back(std::move(s));
  }
}

context_pool::~context_pool() = default;

io_context& context_pool::context(unsigned index) noexcept { return *slots_[index]->context; }

void context_pool::stop() noexcept {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  for (auto& s : slots_) {
    slot* target = s.get();
    target->stop_node.owner = target;
    target->stop_node.run = [](detail::remote_node& n) noexcept {
      // Runs on the slot's thread: the only place its handle may be touched.
      slot* self = static_cast<slot::stop_request&>(n).owner;
      self->stop_requested = true;
      if (self->main != nullptr) self->main->cancel();
    };
    target->context->post(target->stop_node);
  }
}

void context_pool::fail(std::exception_ptr e) noexcept {
  {
    std::lock_guard lock{mutex_};
    if (!failure_) failure_ = std::move(e);
  }
  stop();
}

void context_pool::run(std::function<task<void>(unsigned index)> make_main, bool stop_on_signals) {
  // Made first, so that the signals are blocked on this thread before any pool thread exists
  // (the pool's threads block every asynchronous signal in any case).
  std::optional<signal_set> signals;
  event finished;
  // Declared before the watcher, which it outlives: if the watcher's run() ends first (it
  // failed), the node stays queued there until the watcher is destroyed.
  struct finished_request : detail::remote_node {
    event* done = nullptr;
  } finished_node;
  std::optional<io_context> watcher;
  if (stop_on_signals) {
    signals.emplace(std::initializer_list<int>{SIGINT, SIGTERM});
    watcher.emplace(options_);
    finished_node.done = &finished;
    finished_node.run = [](detail::remote_node& n) noexcept {
      static_cast<finished_request&>(n).done->set();  // on the watcher's thread, this one
    };
  }

  std::atomic<unsigned> running{size()};
  std::vector<std::thread> threads;
  threads.reserve(size());
  {
    const detail::new_threads_block_signals blocked;
    for (unsigned i = 0; i < size(); ++i) {
      threads.emplace_back([this, i, &make_main, &running, &watcher, &finished_node] {
        slot& s = *slots_[i];
        try {
          s.context->run(supervise(make_main(i), s.stop_requested, s.main));
        } catch (...) {
          fail(std::current_exception());
        }
        if (running.fetch_sub(1, std::memory_order_acq_rel) == 1 && watcher) {
          watcher->post(finished_node);
        }
      });
    }
  }

  if (watcher) {
    try {
      watcher->run(watch_signals(*signals, *this, finished));
    } catch (...) {
      fail(std::current_exception());  // the pool stops; its failure, if any, came first
    }
  }
  for (auto& t : threads) t.join();
  if (failure_) std::rethrow_exception(failure_);
}

}  // namespace ringo
