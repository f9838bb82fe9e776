#pragma once
// The base of awaiters that own one one-shot request (connect, send, accept and recv without
// provided buffers, file operations): the io_operation lives in the awaiter, in the awaiting
// coroutine's frame, and the task resumes only after the request's final completion.
#include <cerrno>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>
#include <system_error>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/reactor.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/error.hpp>
#include <ringo/io_context.hpp>

namespace ringo::detail {

/// Throws the exception for a failed operation: operation_cancelled for ECANCELED,
/// ringo::timed_out for ETIMEDOUT, else std::system_error; what() is "`what`: strerror".
/// Defined in lib/.
[[noreturn]] void throw_io_error(int err, std::string_view what);

/// A one-shot request owned by its awaiter. Cancelling the waiting task asks the kernel to
/// cancel the request; the task resumes when the request completes either way.
class io_awaiter : protected suspension, protected io_operation {
 public:
  io_awaiter(const io_awaiter&) = delete;
  io_awaiter& operator=(const io_awaiter&) = delete;

 protected:
  explicit io_awaiter(std::source_location where) noexcept : suspension(where) {
    on_complete = &io_awaiter::complete;
  }
  /// For a derived awaiter that can move before it is awaited: the request as prepared so far
  /// (nothing is submitted before await_suspend, so no backend knows its address yet).
  io_awaiter(io_awaiter&& o) noexcept : suspension(o.where), io_operation(o) {}
  ~io_awaiter() = default;

  /// Submits the prepared request and parks the task; returns false (do not suspend) when a
  /// cancellation was pending, which result() then throws. `limit`: a deadline for this request
  /// (the backend cancels it when the deadline passes), zero for none.
  bool start(std::coroutine_handle<> h, std::chrono::nanoseconds limit) {
    if (!prepare()) return false;
    submit_now(limit);
    park(h);
    return true;
  }

  /// Queues the request again (from a completion handler, to continue a short write).
  void submit_now(std::chrono::nanoseconds limit) {
    cancel = &io_awaiter::on_cancel;
    timeout = limit;
    timed_out = false;
    cancel_requested = false;
    context->io().submit(*this);
    submitted_ = true;  // (a submit that throws queued nothing)
  }

  /// The request's result (>= 0), or throws: operation_cancelled when the task was cancelled
  /// before or during the request, ringo::timed_out when its deadline passed, and otherwise
  /// leaves negative results to the caller (-errno). A request that completed although the
  /// task was cancelled keeps its result; the cancellation is delivered at the next suspension.
  /// `what()` names the operation for an error message; it is called only on an error, so a
  /// request that succeeds formats nothing.
  template <class Describe>
  int result(const Describe& what) {
    if (!submitted_) throw operation_cancelled();
    if (res_ == -ECANCELED) {
      if (timed_out && !cancelled) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
      if (cancelled) throw operation_cancelled(what() + ": operation cancelled");
    }
    if (cancelled) task->cancel_pending = true;
    return res_;
  }

  /// Overridable completion: by default record the result and wake the task.
  static void complete(io_operation& op, int res, std::uint32_t, std::uint32_t) noexcept {
    auto& self = static_cast<io_awaiter&>(op);
    self.res_ = res;
    self.wake();
  }

  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<io_awaiter&>(n);
    self.cancelled = true;
    // The task stays parked: it resumes when the cancelled request completes.
    self.context->io().cancel(self);
  }

  int res_ = 0;
  bool submitted_ = false;
};

/// Converts a caller's deadline argument to the nanoseconds a request carries (zero: none),
/// saturating: a timeout too long for the clock is nanoseconds::max(), which the backends
/// read as none.
template <class Rep, class Period>
constexpr std::chrono::nanoseconds to_timeout(std::chrono::duration<Rep, Period> d) noexcept {
  return saturating_duration(d);
}

}  // namespace ringo::detail
