// Seed block 4: threading.Timer. call_later runs a function after a delay, in a task of its
// own; the handle cancels it before it fires.
//
//   build/release/demo/timer
#include <chrono>

#include <fmt/format.h>

#include <ringo/call_later.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;

ringo::task<void> main_task() {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // Timer(1, func).start()
  ringo::call_later(1s, [elapsed] { fmt::print("timer fired after {:.1f} s\n", elapsed()); });
  // A second timer, cancelled before it fires: t.cancel()
  auto doomed = ringo::call_later(2s, [] { fmt::print("this never prints\n"); });
  co_await ringo::sleep_for(500ms);
  doomed.cancel();
  fmt::print("second timer cancelled at {:.1f} s\n", elapsed());
}

constexpr demo::usage cli{"timer",
                          "usage: timer\n"
                          "Seed block 4 (threading.Timer): call_later, and a cancelled timer.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  ringo::run(main_task());
} catch (const std::exception& e) {
  return demo::failed("timer", e);
}
