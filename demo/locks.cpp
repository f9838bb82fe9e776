// demo/locks.cpp: seed block 2 (Lock, RLock, the GIL, deadlock) with ringo::mutex.
//
// What it shows:
//  1. The GIL does not make code data-safe, and neither does a single thread: a counter that
//     four tasks read, `co_await ringo::yield()` in between, and write back comes out wrong,
//     because the tasks interleave at the co_await. Held across the co_await, a ringo::mutex
//     makes it right.
//  2. A ringo::recursive_mutex (RLock) can be locked again by the task that holds it.
//  3. A plain ringo::mutex cannot be acquired twice: the task waits for itself. Nothing can
//     wake it, so ringo::run throws ringo::deadlock_error, whose message names the mutex, the
//     task that holds it and the line of each co_await. A deadlock is a bug in the logic.
//
// Run: build/demo/locks   (exits 0; the deadlock report goes to stdout)
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include <ringo/mutex.hpp>
#include <ringo/recursive_mutex.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

namespace {

constexpr int tasks = 4;
constexpr int rounds = 1000;

ringo::task<void> add(int& counter, ringo::mutex* m) {
  for (int i = 0; i < rounds; ++i) {
    std::optional<ringo::mutex::guard> guard;
    if (m != nullptr) guard.emplace(co_await m->lock());
    const int seen = counter;  // read
    co_await ringo::yield();   // another task runs here
    counter = seen + 1;        // write back what is now stale
  }
}

ringo::task<int> race(bool with_mutex) {
  int counter = 0;
  ringo::mutex m;
  std::vector<ringo::join_handle<void>> hs;
  for (int i = 0; i < tasks; ++i)
    hs.push_back(ringo::spawn(add(counter, with_mutex ? &m : nullptr)));
  for (auto& h : hs)
    co_await h;
  co_return counter;
}

ringo::task<void> recursive() {
  ringo::recursive_mutex rm;
  auto outer = co_await rm.lock();
  auto inner = co_await rm.lock();  // the holder may lock again
  fmt::print("recursive_mutex locked twice by one task: depth {}\n", rm.depth());
  inner.unlock();
  fmt::print("after one unlock: depth {}, locked: {}\n", rm.depth(), rm.locked());
  outer.unlock();
  fmt::print("after two unlocks: locked: {}\n", rm.locked());
}

ringo::task<void> lock_twice(ringo::mutex& m) {
  auto first = co_await m.lock();
  fmt::print("mutex locked once; locking it again from the same task...\n");
  auto second = co_await m.lock();  // waits for itself: a deadlock
  fmt::print("never printed\n");
}

ringo::task<void> double_lock() {
  ringo::mutex m;
  co_await ringo::spawn(lock_twice(m));
}

}  // namespace

constexpr demo::usage cli{
    "locks",
    "usage: locks\n"
    "Seed block 2 (Lock, RLock, deadlock): a counter raced without a lock and kept\n"
    "with ringo::mutex, then a deadlock reported.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  fmt::print("{} tasks x {} increments, expected {}\n", tasks, rounds, tasks * rounds);
  fmt::print("without a lock: {}\n", ringo::run(race(false)));
  fmt::print("with ringo::mutex: {}\n", ringo::run(race(true)));
  ringo::run(recursive());
  try {
    ringo::run(double_lock());
  } catch (const ringo::deadlock_error& e) {
    fmt::print("ringo::deadlock_error:\n{}", e.what());
  }
  std::fflush(stdout);
  return 0;
} catch (const std::exception& e) {
  return demo::failed("locks", e);
}
