// demo/condition.cpp: seed block 4 (Condition: acquire, wait, notify, release) with
// ringo::condition_variable.
//
// What it shows: twenty tasks lock a ringo::mutex and wait on a condition variable (the wait
// lets go of the mutex and takes it back before returning). The main task reads numbers from
// standard input without blocking the loop (ringo::stdin_reader, <ringo/stdin_reader.hpp>) and,
// holding the mutex, wakes that many waiters each time: notify(n). At end of input the waiters
// still waiting are daemons, so ringo::run cancels them and returns.
//
// Run: printf '3\n5\n' | build/demo/condition      (or type numbers; Ctrl-D ends)
#include <charconv>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include <ringo/condition_variable.hpp>
#include <ringo/mutex.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/stdin_reader.hpp>

#include "demo_main.hpp"

namespace {

struct shared {
  ringo::mutex m;
  ringo::condition_variable cv;
};

ringo::task<void> waiter(shared& s, int i) {
  auto guard = co_await s.m.lock();  // con.acquire()
  co_await s.cv.wait(guard);         // con.wait()
  fmt::print("threading :  {}\n", i);
}  // con.release()

ringo::task<void> main_task(shared& s) {
  for (int i = 0; i < 20; ++i)
    ringo::spawn(waiter(s, i), ringo::daemon);
  co_await ringo::yield();  // let them all reach their wait
  ringo::stdin_reader in;
  for (;;) {
    fmt::print("num >>>");
    std::fflush(stdout);
    auto line = co_await in.read_line();
    if (!line) break;
    int n = 0;
    const auto [end, ec] = std::from_chars(line->data(), line->data() + line->size(), n);
    if (ec != std::errc{} || n < 0) {
      fmt::print("not a number: {}\n", *line);
      continue;
    }
    auto guard = co_await s.m.lock();  // con.acquire()
    s.cv.notify(static_cast<std::size_t>(n));
    guard.unlock();  // con.release()
    // The woken waiters queued for the mutex before us: taking it again (first come, first
    // served) waits until they have printed, so the next prompt comes after them.
    co_await s.m.lock();
  }
  fmt::print("\nend of input: {} still waiting\n", s.cv.waiting());
}

}  // namespace

constexpr demo::usage cli{
    "condition",
    "usage: condition  (reads numbers from standard input; Ctrl-D ends)\n"
    "Seed block 4 (Condition): twenty tasks wait on a ringo::condition_variable; each number\n"
    "read wakes that many (notify(n)).\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  shared s;  // outlives the daemon waiters, which run cancels after main_task ends
  ringo::run(main_task(s));
} catch (const std::exception& e) {
  return demo::failed("condition", e);
}
