// sleepers: what a sleeping task costs in memory. Spawns N ringo tasks (default 1,000,000) that
// each co_await ringo::sleep_for(60 s), lets them all reach their sleep, and reports the growth
// of the process's resident set (VmRSS from /proc/self/status) divided by N: the task's frame,
// its task record, its timer in the context's heap and whatever the allocator adds. The
// join_handles are dropped at spawn (detached daemons), so the harness keeps nothing per task;
// at the end run() cancels the daemons and they unwind.
//
// Usage: build/release/bench/sleepers [--tasks N] [--json]
// Target (bench/suite.sh): at most 256 B of resident memory per sleeping task.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

using namespace std::chrono_literals;

namespace {

// VmRSS of this process, in bytes.
long rss_bytes() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
  }
  return -1;
}

long asleep = 0;

ringo::task<void> sleeper() {
  ++asleep;
  co_await ringo::sleep_for(60s);
}

struct result {
  long before = 0;
  long after = 0;
  double seconds = 0;
};

ringo::task<result> measure(long n) {
  result r;
  // One task spawned and finished first, so the context's one-time allocations are in the
  // baseline.
  ringo::spawn(sleeper(), ringo::daemon);
  co_await ringo::sleep_for(1ms);
  r.before = rss_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 1; i < n; ++i)
    ringo::spawn(sleeper(), ringo::daemon);
  while (asleep < n)
    co_await ringo::sleep_for(1ms);  // every task runs up to its sleep
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.after = rss_bytes();
  co_return r;
}

}  // namespace

int main(int argc, char** argv) {
  long n = 1'000'000;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--tasks" && i + 1 < argc) {
      n = std::atol(argv[++i]);
    } else if (arg == "--json") {
      json = true;
    } else {
      fmt::print(stderr, "usage: sleepers [--tasks N] [--json]\n");
      return 2;
    }
  }
  if (n < 2) n = 2;
  const result r = ringo::run(measure(n));
  const double per_task = static_cast<double>(r.after - r.before) / static_cast<double>(n - 1);
  if (json) {
    fmt::print(
        "{{\"tasks\":{},\"rss_before\":{},\"rss_after\":{},\"bytes_per_task\":{:.1f},"
        "\"spawn_seconds\":{:.3f}}}\n",
        n, r.before, r.after, per_task, r.seconds);
  } else {
    fmt::print("{} tasks asleep in sleep_for: RSS {:.1f} MiB -> {:.1f} MiB, {:.1f} B per task\n", n,
               static_cast<double>(r.before) / 1048576.0, static_cast<double>(r.after) / 1048576.0,
               per_task);
    fmt::print("spawning them and running each to its sleep took {:.3f} s\n", r.seconds);
  }
  std::fflush(stdout);
  std::_Exit(0);  // skip cancelling a million daemons: the figure is printed
}
