#pragma once
// Awaiting a task that is expected to end in operation_cancelled.
#include <ringo/error.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

namespace ringo_test {

/// Awaits `h`, expecting operation_cancelled; returns whether it was.
template <class T>
ringo::task<bool> ended_cancelled(ringo::join_handle<T>& h) {
  try {
    co_await h;
  } catch (const ringo::operation_cancelled&) {
    co_return true;
  }
  co_return false;
}

}  // namespace ringo_test
