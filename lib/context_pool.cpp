#include <ringo/context_pool.hpp>

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <ringo/error.hpp>
#include <ringo/spawn.hpp>

namespace ringo {

struct context_pool::slot {
  std::unique_ptr<io_context> context;
  // The running main task's handle, touched only on the slot's own thread: stop() reaches
  // it through a post.
  join_handle<void>* main = nullptr;
  bool stop_requested = false;
  struct stop_request : detail::remote_node {
    slot* owner = nullptr;
  } stop_node;
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

// SIGINT and SIGTERM blocked in the calling thread (and so in threads it starts) for its
// lifetime; the previous mask is put back at the end.
class blocked_signals {
 public:
  blocked_signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    if (const int rc = pthread_sigmask(SIG_BLOCK, &set_, &old_); rc != 0) {
      throw std::system_error(rc, std::system_category(), "pthread_sigmask");
    }
  }
  ~blocked_signals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  const sigset_t& set() const noexcept { return set_; }

 private:
  sigset_t set_{};
  sigset_t old_{};
};

}  // namespace

context_pool::context_pool(unsigned threads, io_context_options options) {
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
  std::unique_ptr<blocked_signals> blocked;
  if (stop_on_signals) blocked = std::make_unique<blocked_signals>();

  std::atomic<unsigned> running{size()};
  std::vector<std::thread> threads;
  threads.reserve(size());
  for (unsigned i = 0; i < size(); ++i) {
    threads.emplace_back([this, i, &make_main, &running] {
      slot& s = *slots_[i];
      try {
        s.context->run(supervise(make_main(i), s.stop_requested, s.main));
      } catch (...) {
        fail(std::current_exception());
      }
      running.fetch_sub(1, std::memory_order_acq_rel);
    });
  }

  if (stop_on_signals) {
    // Wait for a signal here, with a short timeout so that the pool ending by itself is
    // noticed; the signals are blocked everywhere, so only this wait receives them.
    while (running.load(std::memory_order_acquire) > 0) {
      timespec tick{0, 50'000'000};
      if (sigtimedwait(&blocked->set(), nullptr, &tick) > 0) stop();
    }
  }
  for (auto& t : threads) t.join();
  if (failure_) std::rethrow_exception(failure_);
}

}  // namespace ringo
