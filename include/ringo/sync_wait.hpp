#pragma once
/// \file
/// ringo::sync_wait: run a task that needs no event loop to completion on this thread.
#include <stdexcept>
#include <utility>

#include <ringo/detail/resume.hpp>
#include <ringo/detail/sync_wait_scope.hpp>
#include <ringo/task.hpp>

namespace ringo {

/// Runs `t` on the calling thread until it finishes and returns its result, rethrowing its
/// exception. The task may await other tasks and generators but nothing that waits for an
/// event (I/O, a timer, another task, a lock, a queue): those need an event loop, so co_await
/// the task from a task instead, or run it with ringo::run. Such a wait throws
/// std::logic_error in the task before anything is armed, and so does starting a task
/// (spawn, and so when_all, when_any, with_timeout and task_group::spawn) before any child
/// exists; unless the task catches it, sync_wait rethrows it. That holds inside a running
/// loop too: there sync_wait runs `t` without the loop, which goes on after it as if nothing
/// had happened. A task that suspends
/// on some other awaiter (not one of ringo's) makes sync_wait destroy it and throw
/// std::logic_error.
template <class T>
T sync_wait(task<T> t) {
  auto h = detail::task_access::release(t);
  struct owner {
    decltype(h) handle;
    ~owner() { handle.destroy(); }
  } own{h};
  h.promise().set_continuation(std::noop_coroutine());
  {
    const detail::sync_wait_scope scope{true};
    detail::resume(h);
  }
  if (!h.done()) {
    throw std::logic_error(
        "ringo::sync_wait: the task suspended waiting for an event (I/O, a timer, another "
        "task); run it with ringo::run, which has an event loop");
  }
  return h.promise().result();
}

}  // namespace ringo
