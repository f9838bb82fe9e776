#pragma once
/// \file
/// ringo::sync_wait: run a task that needs no event loop to completion on this thread.
#include <stdexcept>
#include <utility>

#include <ringo/detail/resume.hpp>
#include <ringo/task.hpp>

namespace ringo {

/// Runs `t` on the calling thread until it finishes and returns its result, rethrowing its
/// exception. The task may await other tasks and generators but nothing that waits for an
/// event (I/O, timers, other tasks): those need ringo::run, and sync_wait throws
/// std::logic_error if the task suspends on one.
template <class T>
T sync_wait(task<T> t) {
  auto h = detail::task_access::release(t);
  struct owner {
    decltype(h) handle;
    ~owner() { handle.destroy(); }
  } own{h};
  h.promise().continuation_ = std::noop_coroutine();
  detail::resume(h);
  if (!h.done()) {
    throw std::logic_error(
        "ringo::sync_wait: the task suspended waiting for an event (I/O, a timer, another "
        "task); run it with ringo::run, which has an event loop");
  }
  return h.promise().result();
}

}  // namespace ringo
