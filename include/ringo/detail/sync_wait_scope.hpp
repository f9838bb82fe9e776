#pragma once
// Whether ringo::sync_wait is running a task on this thread. Where an awaiter asks the event
// loop for its running task (detail::loop::running_task), the loop reads this, so that a task
// run by sync_wait from inside a running loop never parks the loop's own task in its place: the
// awaiter throws std::logic_error instead, before it has armed anything.
#include <utility>

#include <ringo/detail/config.hpp>

namespace ringo::detail {

/// True while sync_wait runs a task on this thread; io_context::run clears it for the tasks of
/// a loop started from inside such a task. Initial-exec, as the resumption slots are: the
/// awaiters compiled into libringo read it on every wait.
RINGO_TLS_INITIAL_EXEC inline thread_local constinit bool in_sync_wait = false;

/// Sets in_sync_wait to `value` for its lifetime, then puts back what it was.
class sync_wait_scope {
 public:
  explicit sync_wait_scope(bool value) noexcept : saved_(std::exchange(in_sync_wait, value)) {}
  ~sync_wait_scope() { in_sync_wait = saved_; }
  sync_wait_scope(const sync_wait_scope&) = delete;
  sync_wait_scope& operator=(const sync_wait_scope&) = delete;

 private:
  bool saved_;
};

}  // namespace ringo::detail
