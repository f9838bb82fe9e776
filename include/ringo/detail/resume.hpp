#pragma once
// How one coroutine hands control to another without growing the stack.
//
// Every place that resumes a coroutine calls detail::resume(h); every awaiter that transfers
// control to another coroutine returns detail::transfer_to(next) from await_suspend. With a
// compiler that tail-calls symmetric transfer these are plain `h.resume()` and `return next`.
// Otherwise transfer_to parks `next` in a thread-local slot and suspends back into resume(),
// whose loop picks it up: the stack stays one frame deep however long the chain.
#include <coroutine>
#include <utility>

#include <ringo/detail/config.hpp>

namespace ringo::detail {

#if !RINGO_SYMMETRIC_TRANSFER
/// The coroutine that the running resume() loop must resume next (trampoline mode only).
inline thread_local constinit std::coroutine_handle<> parked_handle{};
#endif

/// What an await_suspend returns to pass control to `next`.
[[nodiscard]] inline std::coroutine_handle<> transfer_to(std::coroutine_handle<> next) noexcept {
#if RINGO_SYMMETRIC_TRANSFER
  return next;
#else
  parked_handle = next;
  return std::noop_coroutine();
#endif
}

/// Resumes `h` and every coroutine that control is transferred to from it, until one
/// suspends without transferring. Nested calls are fine: each loop ends with the slot empty.
inline void resume(std::coroutine_handle<> h) {
#if RINGO_SYMMETRIC_TRANSFER
  h.resume();
#else
  do {
    h.resume();
    h = std::exchange(parked_handle, {});
  } while (h);
#endif
}

}  // namespace ringo::detail
