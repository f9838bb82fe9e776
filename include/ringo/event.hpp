#pragma once
/// \file
/// ringo::event: a flag that tasks wait for (Python's threading.Event).
#include <coroutine>
#include <cstddef>
#include <iterator>
#include <source_location>
#include <string>

#include <fmt/format.h>

#include <ringo/detail/suspension.hpp>
#include <ringo/detail/waiter_list.hpp>

namespace ringo {

class event;

namespace detail {
class event_awaiter;
}  // namespace detail

/// A flag for the tasks of one io_context (no atomics). wait() returns at once while the flag
/// is set and otherwise waits until set() is called; set() wakes every waiter. A woken waiter
/// returns even if the flag was cleared again before it ran. The event must outlive its
/// waiters.
class event {
 public:
  /// An event whose flag starts as `initially_set`.
  explicit event(bool initially_set = false) noexcept : set_(initially_set) {}
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Sets the flag and makes every waiting task runnable (they resume in a later turn of the
  /// loop, in the order they began to wait).
  void set() noexcept {
    set_ = true;
    while (!waiters_.empty())
      waiters_.pop_front().wake();
  }
  /// Clears the flag: later wait()s wait again.
  void clear() noexcept { set_ = false; }
  /// Whether the flag is set.
  [[nodiscard]] bool is_set() const noexcept { return set_; }
  /// How many tasks wait.
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

  /// Awaitable: returns at once if the flag is set, else waits for set(); the task resumes on
  /// its own context. Throws operation_cancelled if cancelled while waiting, or before it
  /// began (also when the event is set).
  [[nodiscard]] inline detail::event_awaiter wait(
      std::source_location where = std::source_location::current()) noexcept;

  /// Appends "event 0x... (not set, 2 waiting)" to `out`.
  void describe(std::string& out) const {
    fmt::format_to(std::back_inserter(out), "event {} ({}, {} waiting)", fmt::ptr(this),
                   set_ ? "set" : "not set", waiters_.size());
  }

 private:
  friend class detail::event_awaiter;
  detail::waiter_list waiters_;
  bool set_;
};

namespace detail {

/// What event::wait() returns.
class event_awaiter : list_waiter {
 public:
  event_awaiter(event& e, std::source_location where) noexcept : list_waiter(where), event_(e) {}

  bool await_ready() const noexcept { return event_.set_ && !cancellation_due(); }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    cancel = &on_cancel;
    describe = &describe_wait;
    event_.waiters_.push_back(*this);
    park(h);
    return true;
  }
  void await_resume() const { throw_if_cancelled(); }

 private:
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<event_awaiter&>(n);
    if (self.linked()) self.event_.waiters_.erase(self);
    self.cancelled = true;
    self.wake();
  }
  static void describe_wait(const wait_node& n, std::string& out) {
    static_cast<const event_awaiter&>(n).event_.describe(out);
  }
  event& event_;
};

}  // namespace detail

inline detail::event_awaiter event::wait(std::source_location where) noexcept {
  return detail::event_awaiter{*this, where};
}

}  // namespace ringo

/// Formats an event as its describe() text.
template <>
struct fmt::formatter<ringo::event> : fmt::formatter<fmt::string_view> {
  template <class FormatContext>
  auto format(const ringo::event& e, FormatContext& ctx) const {
    std::string text;
    e.describe(text);
    return fmt::formatter<fmt::string_view>::format(text, ctx);
  }
};
