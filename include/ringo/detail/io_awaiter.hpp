#pragma once
// The base of awaiters that own one one-shot request (connect, send, accept and recv without
// lent buffers, file operations): the io_operation lives in the awaiter, in the awaiting
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
#include <ringo/detail/io_operation.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/error.hpp>
#include <ringo/io_context.hpp>

namespace ringo::detail {

/// Throws the exception for a failed operation: operation_cancelled for ECANCELED,
/// ringo::timed_out for ETIMEDOUT, else std::system_error; what() is "`what`: strerror".
/// Defined in lib/.
[[noreturn]] void throw_io_error(int err, std::string_view what);

/// A one-shot request owned by its awaiter. Cancelling the waiting task asks the kernel to
/// cancel the request; the task resumes when the request completes either way. A time limit is
/// a timer of the loop's (the one timer system: backends keep no deadlines), kept in the
/// awaiter: when it fires the request is cancelled the same way, and its -ECANCELED reads as
/// a timeout.
class io_awaiter : protected suspension, protected io_operation, protected timer_node {
 public:
  io_awaiter(const io_awaiter&) = delete;
  io_awaiter& operator=(const io_awaiter&) = delete;

 protected:
  explicit io_awaiter(std::source_location where) noexcept : suspension(where) {
    on_complete = &io_awaiter::complete;
  }
  /// For a derived awaiter that can move before it is awaited: the request as prepared so far
  /// and the deadline it will arm (nothing is submitted or armed before await_suspend, so no
  /// backend and no timer heap knows its address yet).
  io_awaiter(io_awaiter&& o) noexcept : suspension(o.where), io_operation(o) {
    deadline = o.deadline;
  }
  ~io_awaiter() = default;

  /// Submits the prepared request and parks the task; returns false (do not suspend) when a
  /// cancellation was pending, which result() then throws. `limit`: a time limit for this
  /// request, zero for none.
  bool start(std::coroutine_handle<> h, std::chrono::nanoseconds limit) {
    if (!prepare()) return false;
    fire = &io_awaiter::on_deadline;
    context->add_timer_after(*this, limit);
    submit_now();
    park(h);
    return true;
  }

  /// Cancels the request at `at` (no_deadline: never) unless it has completed by then; called
  /// before the request is submitted, at most once per await (the request's final completion
  /// takes the timer out).
  void arm_deadline(std::chrono::steady_clock::time_point at) {
    fire = &io_awaiter::on_deadline;
    context->add_timer_at(*this, at);
  }

  /// Queues the request (again, from a completion handler, to continue a short write). A
  /// submission that throws queued nothing, and takes the deadline out.
  void submit_now() {
    cancel = &io_awaiter::on_cancel;
    cancel_requested = false;
    try {
      context->submit(*this);
    } catch (...) {
      context->remove_timer(*this);
      throw;
    }
    submitted_ = true;
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
      if (deadline_passed_ && !cancelled) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
      if (cancelled) throw operation_cancelled(what() + ": operation cancelled");
    }
    if (cancelled) task->cancel_pending = true;
    return res_;
  }

  /// Overridable completion: by default record the result and wake the task. One that
  /// overrides it calls finish_request() at the request's final completion.
  static void complete(io_operation& op, int res, std::uint32_t, std::uint32_t) noexcept {
    auto& self = static_cast<io_awaiter&>(op);
    self.res_ = res;
    self.finish_request();
    self.wake();
  }
  /// The request is over: its deadline goes.
  void finish_request() noexcept { context->remove_timer(*this); }

  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<io_awaiter&>(n);
    self.cancelled = true;
    // The task stays parked: it resumes when the cancelled request completes.
    self.context->cancel_request(self);
  }
  static void on_deadline(timer_node& t) noexcept {
    auto& self = static_cast<io_awaiter&>(t);
    // Being cancelled already (the task, or a close): that completion ends it, as that cancel.
    if (self.cancel_requested) return;
    self.deadline_passed_ = true;
    self.context->cancel_request(self);  // like any other cancel: it completes with -ECANCELED
  }

  int res_ = 0;
  bool submitted_ = false;
  bool deadline_passed_ = false;  // the time limit passed and cancelled the request
};

}  // namespace ringo::detail
