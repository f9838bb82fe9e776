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
// The command line: every demo has a demo::usage, whose answer_help() is the first thing its
// main does, so that --help (or -h) prints the usage on stdout and exits 0 before the demo's own
// option parsing (which would take --help for an option without its value) runs; what the
// demo's parsing refuses goes to usage::fail(), which exits 2. A demo without options calls
// no_arguments() instead.
//
// Included by relative path ("demo_main.hpp", "../demo_main.hpp"): the demo build directory is
// no include directory, since it holds programs named like standard headers (semaphore).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

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

/// What a demo says about its command line: on --help (stdout, exit status 0) and after one it
/// cannot use (stderr, exit status 2).
struct usage {
  const char* program;    ///< "echo_server"
  std::string_view text;  ///< "usage: echo_server --port P ...\n", and what follows it

  /// If an argument is --help or -h: prints the text on stdout and exits 0. Call it before
  /// reading the other arguments (so neither word can be an option's value).
  void answer_help(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        fmt::print("{}", text);
        std::exit(std::fflush(stdout) == 0 ? 0 : 1);
      }
    }
  }

  /// Prints "<program>: <why>" and the text on stderr, and exits 2.
  [[noreturn]] void fail(std::string_view why) const {
    fmt::print(stderr, "{}: {}\n{}", program, why, text);
    std::exit(2);
  }

  /// For a demo that takes no arguments: answers --help, and fails on anything else.
  void no_arguments(int argc, char** argv) const {
    answer_help(argc, argv);
    if (argc > 1) fail(fmt::format("unexpected argument {}", argv[1]));
  }
};

}  // namespace demo
