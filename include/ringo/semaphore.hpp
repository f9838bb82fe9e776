#pragma once
/// \file
/// ringo::semaphore: a counter of permits that tasks wait on (Python's threading.Semaphore).
#include <coroutine>
#include <cstddef>
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

class semaphore;

namespace detail {
template <bool Scoped>
class semaphore_awaiter;
}  // namespace detail

/// A counting semaphore for the tasks of one io_context (no atomics). acquire() takes a
/// permit, waiting first come, first served while there is none; release() hands permits
/// straight to waiters, so a newcomer cannot take one that a waiter was due. The semaphore
/// must outlive its waiters and guards.
class semaphore {
 public:
  /// Owns one permit; releases it when destroyed or on unlock(). Move-only.
  using guard = detail::scoped_release<semaphore>;
  /// The name used in guard misuse errors.
  static constexpr const char* guard_name = "ringo::semaphore::guard";

  /// A semaphore with `permits` permits. Throws std::invalid_argument if it is negative.
  explicit semaphore(std::ptrdiff_t permits) : count_(permits) {
    if (permits < 0) {
      throw std::invalid_argument(
          fmt::format("ringo::semaphore({}): the number of permits cannot be negative", permits));
    }
  }
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Awaitable: takes a permit, waiting in FIFO order while none is left. Does not suspend
  /// when a permit is free. A waiter resumes on its own context, in a later turn of the loop,
  /// owning its permit; the caller must release() it. Throws operation_cancelled if cancelled
  /// while waiting, also when the cancellation comes after a permit was handed to it but
  /// before it resumed: it then owns nothing (the permit goes to the next waiter), so an
  /// acquire racing in when_any or with_timeout loses no permit.
  [[nodiscard]] inline detail::semaphore_awaiter<false> acquire(
      std::source_location where = std::source_location::current()) noexcept;

  /// acquire() that yields a guard which releases the permit (Python's `with sem:`).
  [[nodiscard]] inline detail::semaphore_awaiter<true> scoped_acquire(
      std::source_location where = std::source_location::current()) noexcept;

  /// Takes a permit if one is free; never waits.
  [[nodiscard]] bool try_acquire() noexcept {
    if (count_ <= 0) return false;
    --count_;
    return true;
  }

  /// try_acquire() that returns a guard owning the permit, or nullopt.
  [[nodiscard]] std::optional<guard> try_acquire_guard() noexcept {
    if (!try_acquire()) return std::nullopt;
    return std::optional<guard>{std::in_place, *this};
  }

  /// Gives back `k` permits: each goes to the first waiter if any (up to k waiters wake, in
  /// FIFO order), the rest to the count. Throws std::invalid_argument if k is negative.
  void release(std::ptrdiff_t k = 1) {
    if (k < 0) {
      throw std::invalid_argument(
          fmt::format("ringo::semaphore::release({}): cannot release a negative number", k));
    }
    for (; k > 0 && !waiters_.empty(); --k)
      grant_first();
    count_ += k;
  }

  /// Permits free now.
  [[nodiscard]] std::ptrdiff_t available() const noexcept { return count_; }
  /// How many tasks wait for a permit.
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

  /// Appends "semaphore 0x... (0 permits free, 3 waiting)" to `out`.
  void describe(std::string& out) const {
    fmt::format_to(std::back_inserter(out), "semaphore {} ({} permit{} free, {} waiting)",
                   fmt::ptr(this), count_, count_ == 1 ? "" : "s", waiters_.size());
  }

 private:
  friend guard;
  template <bool>
  friend class detail::semaphore_awaiter;

  struct waiter : detail::list_waiter {
    using list_waiter::list_waiter;
    bool granted_ = false;
  };

  void release_from_guard() noexcept {
    if (waiters_.empty()) {
      ++count_;
    } else {
      grant_first();
    }
  }

  void grant_first() noexcept {
    auto& w = static_cast<waiter&>(waiters_.pop_front());
    w.granted_ = true;
    w.wake();
  }

  detail::waiter_list waiters_;
  std::ptrdiff_t count_;
};

namespace detail {

/// What semaphore::acquire() (Scoped = false) and scoped_acquire() (true) return.
template <bool Scoped>
class semaphore_awaiter : semaphore::waiter {
 public:
  semaphore_awaiter(semaphore& s, std::source_location where) noexcept : waiter(where), sem_(s) {}

  bool await_ready() noexcept { return !cancellation_due() && sem_.try_acquire(); }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    cancel = &on_cancel;
    describe = &describe_acquire;
    sem_.waiters_.push_back(*this);
    park(h);
    return true;
  }
  auto await_resume() {
    // Cancelled after release() handed it a permit but before it resumed (racing in a
    // when_any whose other task won, or timed out): the permit goes on to the next waiter or
    // back to the count, so a cancelled acquire owns nothing.
    if (granted_ && cancelled_since_wake()) [[unlikely]] {
      sem_.release_from_guard();
      throw operation_cancelled();
    }
    throw_if_cancelled();
    if constexpr (Scoped) return semaphore::guard{sem_};
  }

 private:
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<semaphore_awaiter&>(n);
    if (self.linked()) self.sem_.waiters_.erase(self);
    self.cancelled = true;
    self.wake();
  }
  static void describe_acquire(const wait_node& n, std::string& out) {
    static_cast<const semaphore_awaiter&>(n).sem_.describe(out);
  }
  semaphore& sem_;
};

}  // namespace detail

inline detail::semaphore_awaiter<false> semaphore::acquire(std::source_location where) noexcept {
  return detail::semaphore_awaiter<false>{*this, where};
}

inline detail::semaphore_awaiter<true> semaphore::scoped_acquire(
    std::source_location where) noexcept {
  return detail::semaphore_awaiter<true>{*this, where};
}

}  // namespace ringo

/// Formats a semaphore as its describe() text.
template <>
struct fmt::formatter<ringo::semaphore> : fmt::formatter<fmt::string_view> {
  template <class FormatContext>
  auto format(const ringo::semaphore& s, FormatContext& ctx) const {
    std::string text;
    s.describe(text);
    return fmt::formatter<fmt::string_view>::format(text, ctx);
  }
};
