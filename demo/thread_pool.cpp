// Seed block 6: concurrent.futures in ringo. A thread_pool is Python's ThreadPoolExecutor:
// `map`, `submit` + `result` (get), `shutdown` and `add_done_callback`, then a task that
// awaits pool futures while its loop keeps serving a timer.
//
// ProcessPoolExecutor: C++ threads run in parallel (there is no GIL), so the thread pool is the
// answer for CPU-bound work too.
//
// Run: build/demo/thread_pool   (about 8 seconds: each call sleeps 1 s, as in the Python)
#include <chrono>
#include <functional>
#include <ranges>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/thread_pool.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;

namespace {

// Python's currentThread() prints the thread's name; ours is its id.
std::string current_thread() {
  std::ostringstream out;
  out << std::this_thread::get_id();
  return "<Thread " + out.str() + ">";
}

// def func(i): time.sleep(1); print('in %s %s' % (i, currentThread())); return i**2
int func(int i) {
  std::this_thread::sleep_for(1s);
  fmt::print("in {} {}\n", i, current_thread());
  return i * i;
}

// def back(fn): print(fn.result(), currentThread())
void back(ringo::future<int> fn) {
  fmt::print("{} {}\n", fn.get(), current_thread());
}

ringo::task<> awaits_the_pool(ringo::thread_pool& pool) {
  // A ticker beside the awaiting task: the loop serves it while the pool works.
  auto ticker = ringo::spawn([]() -> ringo::task<> {
    for (int i = 1; i <= 5; ++i) {
      co_await ringo::sleep_for(250ms);
      fmt::print("tick {}\n", i);
    }
  }());
  std::vector<ringo::future<int>> fs;
  for (int i = 0; i < 3; ++i)
    fs.push_back(pool.submit(func, i));
  int sum = 0;
  for (auto& f : fs)
    sum += co_await f;  // suspends the task, not the loop
  fmt::print("awaited sum of squares: {}\n", sum);
  co_await ticker;
}

}  // namespace

constexpr demo::usage cli{
    "thread_pool",
    "usage: thread_pool\n"
    "Seed block 6 (concurrent.futures): map, submit, result and callbacks on a\n"
    "ringo::thread_pool.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  // t = ThreadPoolExecutor(5); for r in t.map(func, range(20)): print(r)
  {
    fmt::print("--- map ---\n");
    ringo::thread_pool t{5};
    for (int r : t.map(func, std::views::iota(0, 10)))
      fmt::print("{}\n", r);
  }

  // t = ThreadPoolExecutor(5); for i in range(20): t.submit(func, i); t.shutdown()
  {
    fmt::print("--- submit, shutdown ---\n");
    ringo::thread_pool t{5};
    for (int i = 0; i < 10; ++i)
      t.submit(func, i);
    t.shutdown();
    fmt::print("main : {}\n", current_thread());
  }

  // ret_l = [t.submit(func, i) for i in range(20)]; t.shutdown(); print(ret.result()) ...
  {
    fmt::print("--- results ---\n");
    ringo::thread_pool t{20};
    std::vector<ringo::future<int>> ret_l;
    for (int i = 0; i < 20; ++i)
      ret_l.push_back(t.submit(func, i));
    t.shutdown();
    for (auto& ret : ret_l)
      fmt::print("{}\n", ret.get());
    fmt::print("main : {}\n", current_thread());
  }

  // for i in range(100): t.submit(func, i).add_done_callback(back)
  {
    fmt::print("--- add_done_callback ---\n");
    fmt::print("main : {}\n", current_thread());
    ringo::thread_pool t{20};
    for (int i = 0; i < 20; ++i)
      t.submit(func, i).add_done_callback(back);
  }  // leaving the block waits for the pool, like Python's `with`

  // The ringo part: a task awaits pool futures while its loop keeps serving a timer.
  {
    fmt::print("--- co_await on pool futures ---\n");
    ringo::thread_pool t{3};
    ringo::run(awaits_the_pool(t));
  }
} catch (const std::exception& e) {
  return demo::failed("thread_pool", e);
}
