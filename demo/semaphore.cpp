// demo/semaphore.cpp: seed block 3 (Semaphore) with ringo::semaphore.
//
// What it shows: a semaphore starts one task per job and lets n of them run the guarded part
// at once (unlike a pool, which has n workers for any number of jobs). Twenty tasks share a
// ringo::semaphore of 4: each prints when it enters and leaves, and the demo checks that no
// more than four were ever inside together.
//
// Run: build/release/demo/semaphore   (about half a second; exits 1 if the limit was broken)
#include <algorithm>
#include <chrono>
#include <vector>

#include <fmt/format.h>

#include <ringo/run.hpp>
#include <ringo/semaphore.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;

namespace {

struct room {
  ringo::semaphore sem{4};
  int inside = 0;
  int most = 0;
};

ringo::task<void> job(room& r, int i) {
  auto permit = co_await r.sem.scoped_acquire();  // released when `permit` goes
  r.most = std::max(r.most, ++r.inside);
  fmt::print("{} enter ({} inside)\n", i, r.inside);
  co_await ringo::sleep_for(std::chrono::milliseconds(50 + 20 * (i % 3)));
  --r.inside;
  fmt::print("{} leave\n", i);
}

ringo::task<int> main_task() {
  room r;
  std::vector<ringo::join_handle<void>> hs;
  for (int i = 0; i < 20; ++i)
    hs.push_back(ringo::spawn(job(r, i)));
  for (auto& h : hs)
    co_await h;
  co_return r.most;
}

}  // namespace

constexpr demo::usage cli{"semaphore",
                          "usage: semaphore\n"
                          "Seed block 3 (Semaphore): twenty tasks, at most four inside at once.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  const int most = ringo::run(main_task());
  fmt::print("at most {} tasks were inside at once (limit 4)\n", most);
  return most <= 4 ? 0 : 1;
} catch (const std::exception& e) {
  return demo::failed("semaphore", e);
}
