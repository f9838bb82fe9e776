#pragma once
// The state that a thread_pool job and every copy of its ringo::future share: the status, the
// result or exception, the threads blocked in get(), and the callbacks to run on completion.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include <ringo/error.hpp>

namespace ringo::detail {

enum class future_status : std::uint8_t { pending, running, finished, cancelled };

class future_state_base;

/// A callback waiting in a future's list; lives wherever its owner keeps it (a heap node for
/// add_done_callback, the awaiter in a task's frame for co_await). Doubly linked so that an
/// awaiter whose task is cancelled can take itself out in O(1).
struct future_callback {
  future_callback* prev = nullptr;
  future_callback* next = nullptr;
  /// Called once, on the thread that completed the future (or cancelled it), with no lock
  /// held. After it returns the completing thread does not touch the node again.
  void (*invoke)(future_callback&, future_state_base&) noexcept = nullptr;
};

/// Reports an exception thrown by a done-callback (Python logs it and goes on). Defined in lib/.
void report_callback_exception(const std::exception_ptr& e) noexcept;

class future_state_base : public std::enable_shared_from_this<future_state_base> {
 public:
  future_state_base() = default;
  future_state_base(const future_state_base&) = delete;
  future_state_base& operator=(const future_state_base&) = delete;
  virtual ~future_state_base() = default;

  future_status status() const noexcept { return status_.load(std::memory_order_acquire); }
  bool done() const noexcept {
    const auto s = status();
    return s == future_status::finished || s == future_status::cancelled;
  }

  /// Worker side: moves pending -> running. False if the future was cancelled first, in which
  /// case the work must not run.
  bool start() noexcept {
    std::lock_guard lock{mutex_};
    if (status_.load(std::memory_order_relaxed) != future_status::pending) return false;
    status_.store(future_status::running, std::memory_order_release);
    return true;
  }

  /// Python's Future.cancel(): succeeds only while the work has not started. True also if the
  /// future was already cancelled.
  bool cancel() noexcept {
    completion c;
    {
      std::lock_guard lock{mutex_};
      const auto s = status_.load(std::memory_order_relaxed);
      if (s == future_status::cancelled) return true;
      if (s != future_status::pending) return false;
      c = finish_locked(future_status::cancelled);
    }
    after_finish(c);
    return true;
  }

  /// Blocks until done.
  void wait() const {
    if (done()) return;
    std::unique_lock lock{mutex_};
    ++blocked_;
    changed_.wait(lock, [&] { return done(); });
    --blocked_;
  }
  template <class Clock, class Duration>
  bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) const {
    if (done()) return true;
    std::unique_lock lock{mutex_};
    ++blocked_;
    const bool ok = changed_.wait_until(lock, deadline, [&] { return done(); });
    --blocked_;
    return ok;
  }

  /// Appends `cb` to the list; false (and `cb` not added) if the future is already done, in
  /// which case the caller runs it itself.
  bool add_callback(future_callback& cb) noexcept {
    std::lock_guard lock{mutex_};
    if (done()) return false;
    cb.next = nullptr;
    cb.prev = callbacks_tail_;
    if (callbacks_tail_ != nullptr) {
      callbacks_tail_->next = &cb;
    } else {
      callbacks_head_ = &cb;
    }
    callbacks_tail_ = &cb;
    return true;
  }

  /// Takes `cb` out of the list. False if it is no longer there: the future completed and its
  /// completing thread will call (or is calling) cb.invoke.
  bool remove_callback(future_callback& cb) noexcept {
    std::lock_guard lock{mutex_};
    if (done()) return false;
    (cb.prev != nullptr ? cb.prev->next : callbacks_head_) = cb.next;
    (cb.next != nullptr ? cb.next->prev : callbacks_tail_) = cb.prev;
    cb.prev = cb.next = nullptr;
    return true;
  }

  /// Rethrows the stored exception (operation_cancelled for a cancelled future). Only once
  /// done.
  void rethrow_if_failed() const {
    if (status() == future_status::cancelled) {
      throw operation_cancelled("ringo::future cancelled before its work started");
    }
    if (error_) std::rethrow_exception(error_);
  }

  std::exception_ptr error() const noexcept { return error_; }

 protected:
  /// Worker side: records the exception of the work and completes the future.
  void fail(std::exception_ptr e) noexcept {
    completion c;
    {
      std::lock_guard lock{mutex_};
      error_ = std::move(e);
      c = finish_locked(future_status::finished);
    }
    after_finish(c);
  }
  /// Worker side: completes the future whose result was just stored.
  void succeed() noexcept {
    completion c;
    {
      std::lock_guard lock{mutex_};
      c = finish_locked(future_status::finished);
    }
    after_finish(c);
  }

 private:
  struct completion {
    future_callback* callbacks = nullptr;
    bool notify = false;
  };

  completion finish_locked(future_status s) noexcept {
    status_.store(s, std::memory_order_release);
    callbacks_tail_ = nullptr;
    // Threads in wait() count themselves under the mutex before sleeping, so reading the count
    // here and notifying after the unlock loses no wake-up.
    return {std::exchange(callbacks_head_, nullptr), blocked_ != 0};
  }

  void after_finish(completion c) noexcept {
    if (c.notify) changed_.notify_all();
    future_callback* cb = c.callbacks;
    if (cb == nullptr) return;
    // Keep this state alive while its callbacks run, even if one of them drops the last
    // future that refers to it.
    const std::shared_ptr<future_state_base> keep = shared_from_this();
    while (cb != nullptr) {
      future_callback* next = cb->next;  // read first: after invoke the node may be gone
      cb->invoke(*cb, *this);
      cb = next;
    }
  }

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable unsigned blocked_ = 0;
  std::atomic<future_status> status_{future_status::pending};
  std::exception_ptr error_;
  future_callback* callbacks_head_ = nullptr;
  future_callback* callbacks_tail_ = nullptr;
};

/// The state of a future<R>: the base plus the result.
template <class R>
class future_state : public future_state_base {
 public:
  using stored = std::conditional_t<
      std::is_void_v<R>, bool,
      std::conditional_t<std::is_reference_v<R>, std::remove_reference_t<R>*, R>>;

  /// Runs `f` (on a worker) unless the future was cancelled, and completes the future with its
  /// result or exception.
  template <class F>
  void run(F&& f) noexcept {
    if (!start()) return;
    try {
      if constexpr (std::is_void_v<R>) {
        std::forward<F>(f)();
        value_.emplace(true);
      } else if constexpr (std::is_reference_v<R>) {
        value_.emplace(std::addressof(std::forward<F>(f)()));
      } else {
        value_.emplace(std::forward<F>(f)());
      }
    } catch (...) {
      fail(std::current_exception());
      return;
    }
    succeed();
  }

  /// The stored result; the future must be done and have succeeded (rethrows otherwise).
  std::add_lvalue_reference_t<R> value() {
    rethrow_if_failed();
    if constexpr (std::is_void_v<R>) {
      return;
    } else if constexpr (std::is_reference_v<R>) {
      return **value_;
    } else {
      return *value_;
    }
  }

 private:
  std::optional<stored> value_;
};

}  // namespace ringo::detail
