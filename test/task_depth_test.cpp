#include <ringo/task.hpp>
// Built twice, at -O0 and -O2: symmetric transfer keeps the stack flat in both (g++ gives no
// tail call at -O0, so ringo's resumption loop must).
#include <cstdint>

#include <ringo/sync_wait.hpp>

#include "catch.hpp"

namespace {

std::uintptr_t deepest_frame = 0;

[[gnu::noinline]] std::uintptr_t frame_address() {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

ringo::task<long> chain(long n) {
  if (n == 0) {
    deepest_frame = frame_address();
    co_return 0;
  }
  co_return 1 + co_await chain(n - 1);
}

ringo::task<void> nothing() { co_return; }

}  // namespace

TEST_CASE("a million nested co_awaits run without growing the stack", "[task]") {
  const std::uintptr_t top = frame_address();
  constexpr long depth = 1'000'000;
  CHECK(ringo::sync_wait(chain(depth)) == depth);
  // A stack that grew per level would be tens of megabytes deep here (and would have
  // overflowed); a flat one is within a few frames of the top.
  const std::uintptr_t used = top > deepest_frame ? top - deepest_frame : deepest_frame - top;
  CHECK(used < 64 * 1024);
}

TEST_CASE("a million sequential co_awaits in one task stay flat", "[task]") {
  auto loop = []() -> ringo::task<long> {
    long n = 0;
    for (; n < 1'000'000; ++n) co_await nothing();
    co_return n;
  };
  CHECK(ringo::sync_wait(loop()) == 1'000'000);
}
