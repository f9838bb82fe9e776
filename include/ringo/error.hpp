#pragma once
/// \file
/// The exceptions ringo throws besides std::system_error and std::logic_error.
#include <cerrno>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ringo {

/// Thrown at a task's suspension point when the task was cancelled (join_handle::cancel,
/// task_group, when_any, a daemon at the end of run). A std::system_error with ECANCELED.
class operation_cancelled : public std::system_error {
 public:
  operation_cancelled() : std::system_error(ECANCELED, std::system_category(), "operation cancelled") {}
  explicit operation_cancelled(const std::string& what)
      : std::system_error(ECANCELED, std::system_category(), what) {}
};

/// Thrown when a deadline passes (with_timeout, an I/O operation's deadline).
/// A std::system_error with ETIMEDOUT.
class timed_out : public std::system_error {
 public:
  timed_out() : std::system_error(ETIMEDOUT, std::system_category(), "timed out") {}
  explicit timed_out(const std::string& what)
      : std::system_error(ETIMEDOUT, std::system_category(), what) {}
};

/// Thrown by run() when no task can ever run again while tasks still wait: nothing is ready,
/// no I/O is in flight, no timer is set and no other thread owes the context any work.
/// what() lists every waiting task, what it waits on and the source line where it waits.
class deadlock_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown by a put on a closed queue (ringo::queue, lifo_queue, priority_queue) at once, and
/// by a get on a closed queue once it has drained what was left.
class queue_closed : public std::runtime_error {
 public:
  queue_closed() : std::runtime_error("ringo: the queue is closed") {}
  using std::runtime_error::runtime_error;
};

namespace detail {

/// Whether `e` holds a ringo::operation_cancelled (a cancellation, not a failure).
inline bool is_cancellation(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const operation_cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace detail
}  // namespace ringo
