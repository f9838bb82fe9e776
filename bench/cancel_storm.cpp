// cancel_storm: the long cancellation storm (test/storm/cancel_storm.hpp): by default 100,000
// random cancellations of tasks waiting in reads, writes, accepts, connects, sleeps, mutex
// locks, semaphore acquires, queue gets and puts and event waits on one io_context over
// loopback pairs, then the checks: no byte, connection or queue item lost or duplicated, no
// lock or permit left held, every task ended, no descriptor left open. Meant to run under
// AddressSanitizer and UndefinedBehaviorSanitizer (bench/cancel_storm.sh builds it so);
// RINGO_BACKEND=epoll runs it on the epoll backend.
//
// Usage: build/asan/bench/cancel_storm [--cancellations N] [--seed S] [--population P]
// Prints the storm's summary; exits 0 when every check held, 1 when one failed, 2 on bad
// arguments.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <fmt/core.h>

#include "../test/storm/cancel_storm.hpp"

int main(int argc, char** argv) {
  ringo_storm::storm_options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) {
      fmt::print(stderr, "usage: cancel_storm [--cancellations N] [--seed S] [--population P]\n");
      return 2;
    }
    const auto v = std::strtoull(argv[++i], nullptr, 10);
    if (arg == "--cancellations") {
      o.cancellations = v;
    } else if (arg == "--seed") {
      o.seed = v;
    } else if (arg == "--population" && v > 0) {
      o.population = v;
    } else {
      fmt::print(stderr, "cancel_storm: unknown or bad argument {}\n", arg);
      return 2;
    }
  }
  fmt::print("cancel storm: {} cancellations, seed {}, {} tasks at a time\n", o.cancellations,
             o.seed, o.population);
  std::fflush(stdout);
  const ringo_storm::storm_report r = ringo_storm::run_cancel_storm(o);
  fmt::print("{}", r.summary());
  return r.ok() ? 0 : 1;
}
