#pragma once
/// \file
/// ringo::recursive_mutex: a lock that its holding task may take again (Python's RLock).
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <ringo/detail/scoped_release.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/waiter_list.hpp>

namespace ringo {

class recursive_mutex;

namespace detail {
class recursive_lock_awaiter;
}  // namespace detail

/// A lock for the tasks of one io_context that the holding task may lock again: it is free
/// again after as many unlocks as locks. Other tasks wait first come, first served, and the
/// last unlock hands the lock straight to the first of them. No atomics: one context only.
/// The mutex must outlive its waiters and guards.
class recursive_mutex {
 public:
  /// Owns one level of the lock; unlocks it when destroyed or on unlock(). Move-only.
  using guard = detail::scoped_release<recursive_mutex>;
  /// The name used in guard misuse errors.
  static constexpr const char* guard_name = "ringo::recursive_mutex::guard";

  recursive_mutex() noexcept = default;
  recursive_mutex(const recursive_mutex&) = delete;
  recursive_mutex& operator=(const recursive_mutex&) = delete;

  /// Awaitable: takes one level of the lock and yields a guard. Does not suspend if the lock
  /// is free or held by the calling task; otherwise waits in FIFO order and resumes on its own
  /// context holding the lock. Throws operation_cancelled if cancelled before it holds the
  /// lock (also after the lock was handed to it but before it resumed: it goes on unused).
  [[nodiscard]] inline detail::recursive_lock_awaiter lock(
      std::source_location where = std::source_location::current()) noexcept;

  /// Takes one level if the lock is free or already held by the calling task; never waits.
  [[nodiscard]] bool try_lock() noexcept {
    detail::task_record* me = detail::current_task();
    if (count_ == 0) {
      holder_ = me;
      count_ = 1;
      return true;
    }
    if (holder_ != me) return false;
    ++count_;
    return true;
  }

  /// try_lock() that returns a guard owning the level, or nullopt.
  [[nodiscard]] std::optional<guard> try_lock_guard() noexcept {
    if (!try_lock()) return std::nullopt;
    return std::optional<guard>{std::in_place, *this};
  }

  /// Releases one level; the last one hands the lock to the first waiter. Throws
  /// std::logic_error if the lock is free or held by another task.
  void unlock() {
    if (count_ == 0) {
      throw std::logic_error(
          "ringo::recursive_mutex::unlock on a lock that is not held: unlock as many times as "
          "you locked, no more (a guard does it for you)");
    }
    detail::task_record* me = detail::current_task();
    if (holder_ != me) {
      std::string who;
      detail::append_task(me, who, "code outside any task");
      std::string holder;
      detail::append_task(holder_, holder, "code outside any task");
      throw std::logic_error(fmt::format(
          "ringo::recursive_mutex::unlock by {} but the lock is held by {}: only the holder "
          "may unlock it",
          who, holder));
    }
    release_level();
  }

  /// Whether some task holds the lock.
  [[nodiscard]] bool locked() const noexcept { return count_ != 0; }
  /// How many times the holder has locked it without unlocking (0: free).
  [[nodiscard]] std::size_t depth() const noexcept { return count_; }
  /// The id of the holding task, or 0 when free or taken outside any task.
  [[nodiscard]] std::uint64_t holder_id() const noexcept {
    return holder_ != nullptr ? holder_->id : 0;
  }
  /// How many tasks wait for the lock.
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

  /// Appends "recursive_mutex 0x... held 2 deep by task #3 spawned at f.cpp:41" to `out`.
  void describe(std::string& out) const {
    fmt::format_to(std::back_inserter(out), "recursive_mutex {}", fmt::ptr(this));
    if (count_ == 0) {
      out += " (unlocked)";
      return;
    }
    fmt::format_to(std::back_inserter(out), " held {} deep by ", count_);
    detail::append_task(holder_, out, "code outside any task");
  }

 private:
  friend guard;
  friend class detail::recursive_lock_awaiter;

  struct waiter : detail::list_waiter {
    using list_waiter::list_waiter;
    bool granted_ = false;
  };

  void release_from_guard() noexcept { release_level(); }

  void release_level() noexcept {
    if (--count_ != 0) return;
    if (waiters_.empty()) {
      holder_ = nullptr;
      return;
    }
    auto& w = static_cast<waiter&>(waiters_.pop_front());
    holder_ = w.task;
    count_ = 1;
    w.granted_ = true;
    w.wake();
  }

  detail::waiter_list waiters_;
  detail::task_record* holder_ = nullptr;
  std::size_t count_ = 0;
};

namespace detail {

/// What recursive_mutex::lock() returns.
class recursive_lock_awaiter : recursive_mutex::waiter {
 public:
  recursive_lock_awaiter(recursive_mutex& m, std::source_location where) noexcept
      : waiter(where), mutex_(m) {}

  bool await_ready() noexcept { return !cancellation_due() && mutex_.try_lock(); }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    cancel = &on_cancel;
    describe = &describe_lock;
    mutex_.waiters_.push_back(*this);
    park(h);
    return true;
  }
  recursive_mutex::guard await_resume() {
    throw_if_cancelled();
    // Cancelled after it was handed the lock but before it resumed: the lock goes on to the
    // next waiter, so a cancelled lock() holds nothing.
    if (granted_ && cancelled_since_wake()) [[unlikely]] {
      mutex_.release_level();
      throw operation_cancelled();
    }
    return recursive_mutex::guard{mutex_};
  }

 private:
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<recursive_lock_awaiter&>(n);
    if (self.linked()) self.mutex_.waiters_.erase(self);
    self.cancelled = true;
    self.wake();
  }
  static void describe_lock(const wait_node& n, std::string& out) {
    static_cast<const recursive_lock_awaiter&>(n).mutex_.describe(out);
  }
  recursive_mutex& mutex_;
};

}  // namespace detail

inline detail::recursive_lock_awaiter recursive_mutex::lock(std::source_location where) noexcept {
  return detail::recursive_lock_awaiter{*this, where};
}

}  // namespace ringo

/// Formats a recursive_mutex as its describe() text.
template <>
struct fmt::formatter<ringo::recursive_mutex> : fmt::formatter<fmt::string_view> {
  template <class FormatContext>
  auto format(const ringo::recursive_mutex& m, FormatContext& ctx) const {
    std::string text;
    m.describe(text);
    return fmt::formatter<fmt::string_view>::format(text, ctx);
  }
};
