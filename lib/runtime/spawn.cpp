// The end of a spawned task's life: its body finished, or its context gave up on it.
#include <ringo/spawn.hpp>

namespace ringo::detail {

void finish_spawned(task_record& r, const std::exception_ptr& error) noexcept {
  r.finished = true;
  r.state = task_state::finished;
  for (join_waiter* w = std::exchange(r.joiners, nullptr); w != nullptr;) {
    join_waiter* next = w->next;  // read first: scheduling lets the joiner's frame move on
    r.context->schedule(*w->task);
    w = next;
  }
  r.context->retire(r);
  if (--r.refs == 0) {  // detached: no one can see the outcome now
    if (error) report_lost_exception(r, error);
    r.root().destroy();  // the record lives in this frame: nothing touches it after
  }
}

void abandon_spawned(task_record& r) noexcept {
  r.finished = true;
  r.abandoned = true;  // a join reports operation_cancelled("the event loop stopped")
  r.state = task_state::finished;
  if (--r.refs == 0) r.root().destroy();
}

}  // namespace ringo::detail
