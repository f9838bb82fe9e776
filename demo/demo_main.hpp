#pragma once
// demo/demo_main.hpp: how every demo's main reports a failure. Each main is a function-try-block
// that hands what escaped it to demo::failed:
//
//   int main() try {
//     ringo::run(main_task());
//   } catch (const std::exception& e) {
//     return demo::failed("spawn", e);
//   }
//
// so that what ringo::run throws (the loop cannot be set up, RINGO_BACKEND names no backend,
// a task ended with an exception) prints "spawn: <what>" on stderr and exits 1 instead of
// ending in std::terminate. A function-try-block rather than a lambda passed to a helper: the
// body is still main itself, so ringo's task listings (the deadlock report of demo/locks.cpp)
// keep saying "spawned at ... in int main()".
//
// Included by relative path ("demo_main.hpp", "../demo_main.hpp"): the demo build directory is
// no include directory, since it holds programs named like standard headers (semaphore).
#include <cstdio>
#include <exception>

#include <fmt/format.h>

namespace demo {

/// Prints "<program>: <what>" on stderr, after what the program already wrote to stdout, and
/// returns 1, the exit status of a demo that failed.
inline int failed(const char* program, const std::exception& e) noexcept {
  try {
    std::fflush(stdout);
    fmt::print(stderr, "{}: {}\n", program, e.what());
  } catch (...) {
    // stderr is gone: the exit status still tells.
  }
  return 1;
}

}  // namespace demo
