#pragma once
// Starting a task as a root task of a context, and the share of its frame that its owner keeps
// until it takes the result: what join_handle (spawn.hpp) and io_context::run (for main) have
// in common, below both.
#include <coroutine>
#include <exception>
#include <source_location>
#include <stdexcept>
#include <utility>

#include <ringo/detail/loop.hpp>
#include <ringo/detail/task_record.hpp>
#include <ringo/error.hpp>
#include <ringo/task.hpp>

namespace ringo::detail {

/// Prints an exception that no one will ever see otherwise (its task was detached), with the
/// task's spawn site, as gevent prints a dead greenlet's traceback. Defined in lib/.
void report_lost_exception(const task_record& t, const std::exception_ptr& e) noexcept;
/// Ends a task that its context tears down while it is suspended: marks it finished (a join
/// throws operation_cancelled) and frees the frame if no handle holds it. Defined in lib/.
void abandon_spawned(task_record& r) noexcept;

/// The owner's share of a spawned task's frame (the running body holds the other): the frame
/// goes when both have let go. Move-only; empty when default-made or moved from.
template <class T>
class spawned_task {
 public:
  using promise = task_promise<T>;
  using frame = std::coroutine_handle<promise>;

  spawned_task() noexcept = default;
  explicit spawned_task(frame h) noexcept : h_(h) {}
  spawned_task(spawned_task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  spawned_task& operator=(spawned_task&& o) noexcept {
    if (this != &o) {
      release();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  spawned_task(const spawned_task&) = delete;
  spawned_task& operator=(const spawned_task&) = delete;
  ~spawned_task() { release(); }

  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }
  /// The task's promise; the share must not be empty.
  [[nodiscard]] promise& state() const noexcept { return h_.promise(); }

  /// Lets go of the frame: the task runs on without an owner, and an exception it ended with
  /// that no one took is printed to stderr.
  void release() noexcept {
    if (h_) {
      promise& p = std::exchange(h_, {}).promise();
      task_record& r = p.record();
      if (r.finished && p.error() && !r.consumed) report_lost_exception(r, p.error());
      if (--r.refs == 0) r.root().destroy();
    }
  }

 private:
  frame h_;
};

/// Makes `t` a root task of `ctx` and queues it to run (it first runs in a later turn of the
/// loop). Throws std::logic_error for an empty task.
template <class T>
spawned_task<T> start_spawned(loop& ctx, task<T> t, bool daemon, std::source_location where) {
  if (!t.valid()) {
    throw std::logic_error("ringo::spawn of an empty task (moved from or already awaited)");
  }
  static_assert(alignof(task_promise<T>) <= 256,
                "ringo::spawn: a task's result type may be aligned to at most 256 bytes");
  auto h = task_access::release(t);
  task_record& r = h.promise().make_record();
  if (!r.set_root(h)) [[unlikely]] {
    h.destroy();
    throw std::logic_error("ringo::spawn: the task's frame keeps its record too far in");
  }
  r.spawned_at = where;
  r.daemon = daemon;
  r.resume_point = h;
  ctx.adopt(r);
  return spawned_task<T>{h};
}

/// The finished task's result (or its exception), taken once.
template <class T>
T take_result(task_promise<T>& p) {
  task_record& r = p.record();
  if (r.consumed) {
    throw std::logic_error(
        "ringo::join_handle awaited twice: a task's result can be taken once; keep it");
  }
  r.consumed = true;
  if (r.abandoned && !p.error()) throw operation_cancelled("the event loop stopped");
  return p.result();
}

}  // namespace ringo::detail
