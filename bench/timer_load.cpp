// timer_load: keeps timers and a thread pool busy for a while, for bench/soak.sh, which samples
// its resident memory and open descriptors. N tasks on one io_context, each in a loop of
// sleep_for (1 to 20 ms, random); every 4th turn a call_later of 1 to 10 ms, half of them
// cancelled before they fire; every 8th a with_timeout of 1 ms around a 1 s sleep (one that
// takes over 100 ms is counted as late, not failed: a busy machine delays timers); every 16th
// a job on a ringo::thread_pool, awaited as a future; every 32nd a to_thread call. Every
// outcome is checked: a cancelled call never runs, an uncancelled one runs once, the timeout
// fires, every job returns its own answer.
//
// Prints one summary line (or JSON) at the end; exits 0 when every check held, 1 when one
// failed (the first failure is printed), 2 on bad arguments.
//
// Usage: build/release/bench/timer_load [--tasks N] [--seconds S] [--pool-threads T] [--seed X]
//            [--json]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include <ringo/call_later.hpp>
#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>
#include <ringo/thread_pool.hpp>
#include <ringo/to_thread.hpp>
#include <ringo/with_timeout.hpp>

using namespace std::chrono_literals;

namespace {

struct options {
  long tasks = 1000;
  double seconds = 60;
  std::size_t pool_threads = 4;
  std::uint64_t seed = 1;
  bool json = false;
};

struct counters {
  std::uint64_t sleeps = 0;
  std::uint64_t calls_fired = 0;
  std::uint64_t calls_cancelled = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t late_timeouts = 0;  // with_timeout(1 ms) that took over 100 ms
  std::uint64_t pool_jobs = 0;
  std::uint64_t to_thread_calls = 0;
  std::uint64_t failures = 0;
  std::string first_failure;

  void fail(std::string what) {
    if (failures++ == 0) first_failure = std::move(what);
  }
};

// splitmix64: a small seeded generator, so a run can be repeated.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The pool's work: a few microseconds of arithmetic whose answer the task can check.
std::uint64_t pool_work(std::uint64_t x) {
  std::uint64_t s = x;
  for (int i = 0; i < 2000; ++i)
    s = s * 6364136223846793005ull + 1442695040888963407ull;
  return s;
}

ringo::task<void> one_call_later(std::uint64_t& rng, counters& n) {
  // The flag lives in this frame, which outlives the call: the handle is awaited below.
  int runs = 0;
  auto call =
      ringo::call_later(std::chrono::milliseconds{1 + next_random(rng) % 10}, [&runs] { ++runs; });
  const bool cancel = next_random(rng) % 2 == 0;
  if (cancel) {
    co_await ringo::sleep_for(std::chrono::microseconds{next_random(rng) % 500});
    call.cancel();
  }
  bool cancelled = false;
  try {
    co_await call;
  } catch (const ringo::operation_cancelled&) {
    cancelled = true;
  }
  if (cancelled) {
    ++n.calls_cancelled;
    if (runs != 0) n.fail("a call_later cancelled before it fired ran anyway");
  } else {
    ++n.calls_fired;
    if (runs != 1) n.fail(fmt::format("a call_later that was not cancelled ran {} times", runs));
  }
}

ringo::task<void> long_sleep() {
  co_await ringo::sleep_for(1s);
}

ringo::task<void> one_timeout(counters& n) {
  const auto start = std::chrono::steady_clock::now();
  try {
    co_await ringo::with_timeout(1ms, long_sleep());
    n.fail("with_timeout(1 ms) around a 1 s sleep did not time out");
  } catch (const ringo::timed_out&) {
    ++n.timeouts;
  }
  // Late is not wrong (a busy machine delays any timer), but it is counted.
  if (std::chrono::steady_clock::now() - start > 100ms) ++n.late_timeouts;
}

ringo::task<void> worker(std::uint64_t seed, ringo::thread_pool& pool, const bool& stop,
                         counters& n) {
  std::uint64_t rng = seed;
  std::uint64_t turn = 0;
  while (!stop) {  // set by run_all while this task sleeps
    ++turn;
    co_await ringo::sleep_for(std::chrono::milliseconds{1 + next_random(rng) % 20});
    ++n.sleeps;
    if (turn % 4 == 0) co_await one_call_later(rng, n);
    if (turn % 8 == 0) co_await one_timeout(n);
    if (turn % 16 == 0) {
      const std::uint64_t x = next_random(rng);
      const std::uint64_t got = co_await pool.submit(pool_work, x);
      ++n.pool_jobs;
      if (got != pool_work(x)) n.fail("a thread_pool job returned another job's answer");
    }
    if (turn % 32 == 0) {
      const std::uint64_t x = next_random(rng);
      const std::uint64_t got = co_await ringo::to_thread([x] { return x ^ 0x5555; });
      ++n.to_thread_calls;
      if (got != (x ^ 0x5555)) n.fail("a to_thread call returned a wrong answer");
    }
  }
}

ringo::task<void> run_all(const options& o, counters& n) {
  ringo::thread_pool pool{o.pool_threads};
  bool stop = false;
  std::vector<ringo::join_handle<void>> workers;
  workers.reserve(static_cast<std::size_t>(o.tasks));
  std::uint64_t seeds = o.seed;
  for (long i = 0; i < o.tasks; ++i)
    workers.push_back(ringo::spawn(worker(next_random(seeds), pool, stop, n)));
  co_await ringo::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& w : workers)
    co_await w;
}

[[noreturn]] void usage(std::string_view why) {
  fmt::print(stderr,
             "timer_load: {}\nusage: timer_load [--tasks N] [--seconds S] [--pool-threads T] "
             "[--seed X] [--json]\n",
             why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--tasks") {
      o.tasks = std::atol(value());
    } else if (arg == "--seconds") {
      o.seconds = std::atof(value());
    } else if (arg == "--pool-threads") {
      o.pool_threads = static_cast<std::size_t>(std::atol(value()));
    } else if (arg == "--seed") {
      o.seed = std::strtoull(value(), nullptr, 10);
    } else if (arg == "--json") {
      o.json = true;
    } else {
      usage(fmt::format("unknown argument {}", arg));
    }
  }
  if (o.tasks < 1 || o.seconds <= 0 || o.pool_threads < 1) usage("bad value");
  counters n;
  try {
    ringo::run(run_all(o, n));
  } catch (const std::exception& e) {
    n.fail(fmt::format("run ended with an exception: {}", e.what()));
  }
  if (o.json) {
    fmt::print(
        "{{\"tasks\":{},\"seconds\":{},\"sleeps\":{},\"calls_fired\":{},\"calls_cancelled\":{},"
        "\"timeouts\":{},\"late_timeouts\":{},\"pool_jobs\":{},\"to_thread_calls\":{},\"failures\":"
        "{}}}\n",
        o.tasks, o.seconds, n.sleeps, n.calls_fired, n.calls_cancelled, n.timeouts, n.late_timeouts,
        n.pool_jobs, n.to_thread_calls, n.failures);
  } else {
    fmt::print(
        "timer_load: {} tasks for {} s: {} sleeps, {} call_later fired and {} cancelled, {} "
        "timeouts ({} over 100 ms), {} pool jobs, {} to_thread calls, {} failures\n",
        o.tasks, o.seconds, n.sleeps, n.calls_fired, n.calls_cancelled, n.timeouts, n.late_timeouts,
        n.pool_jobs, n.to_thread_calls, n.failures);
  }
  if (n.failures != 0) fmt::print(stderr, "timer_load: first failure: {}\n", n.first_failure);
  std::fflush(stdout);
  return n.failures == 0 ? 0 : 1;
}
