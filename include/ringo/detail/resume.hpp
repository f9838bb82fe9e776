#pragma once
// How one coroutine hands control to another without growing the stack.
//
// Every place that resumes a coroutine calls detail::resume(h); every awaiter that transfers
// control to another coroutine returns detail::transfer_to(next) from await_suspend. With a
// compiler that always tail-calls symmetric transfer (clang) these are plain `h.resume()` and
// `return next`.
//
// g++ 12 tail-calls the transfer only with -foptimize-sibling-calls (-O2, -O3, -Os) and
// without AddressSanitizer; at -O0, -Og and -O1 every transfer nests a call, and no macro
// tells those levels apart from -O2. So transfer_to returns `next` directly (a tail call when
// the compiler gives one, a nested call otherwise) at most `direct_transfers` times in a row,
// then parks `next` in a thread-local slot and suspends back into resume(), whose loop picks
// it up. Without tail calls the stack unwinds to that loop every `direct_transfers` frames,
// however long the chain; with them, a chain pays the loop's round trip once per that many
// transfers instead of once per transfer. Translation units built at different levels mix
// freely: each resume() loop drains the slot and refills the budget.
#include <coroutine>

#include <ringo/detail/config.hpp>

namespace ringo::detail {

#if !RINGO_SYMMETRIC_TRANSFER
/// Nested (non-tail) transfers allowed before the stack unwinds to the resume() loop: bounds
/// the stack a chain can take to this many coroutine frames when the compiler gives no tail
/// call.
inline constexpr unsigned direct_transfers = 16;
/// The coroutine that the running resume() loop must resume next.
RINGO_TLS_INITIAL_EXEC inline thread_local constinit std::coroutine_handle<> parked_handle{};
/// Transfers transfer_to may still make directly before it parks; 0 outside resume().
RINGO_TLS_INITIAL_EXEC inline thread_local constinit unsigned transfer_budget = 0;
#endif

/// What an await_suspend returns to pass control to `next`.
[[nodiscard]] inline std::coroutine_handle<> transfer_to(std::coroutine_handle<> next) noexcept {
#if RINGO_SYMMETRIC_TRANSFER
  return next;
#else
  if (transfer_budget != 0) [[likely]] {
    --transfer_budget;
    return next;
  }
  parked_handle = next;
  return std::noop_coroutine();
#endif
}

/// Resumes `h` and every coroutine that control is transferred to from it, until one
/// suspends without transferring. Nested calls are fine: each loop ends with the slot empty
/// and leaves the budget at 0, so an enclosing chain unwinds to its own loop at its next
/// transfer instead of stacking a fresh budget on top of what it used.
inline void resume_from_loop(std::coroutine_handle<> h);
inline void end_resume_loop() noexcept;

inline void resume(std::coroutine_handle<> h) {
  resume_from_loop(h);
  end_resume_loop();
}

/// resume() for the event loop's own loop, which no chain of transfers encloses: it leaves
/// the budget as it is instead of zeroing it after every task; the loop zeroes it at its end
/// with end_resume_loop().
inline void resume_from_loop(std::coroutine_handle<> h) {
#if RINGO_SYMMETRIC_TRANSFER
  h.resume();
#else
  for (;;) {
    transfer_budget = direct_transfers;
    h.resume();
    h = parked_handle;
    if (!h) break;
    parked_handle = {};
  }
#endif
}

/// Ends a run of resume_from_loop() calls: a chain started later by other means parks at once.
inline void end_resume_loop() noexcept {
#if !RINGO_SYMMETRIC_TRANSFER
  transfer_budget = 0;
#endif
}

}  // namespace ringo::detail
