// Seed block 9: gevent.spawn + joinall. eat() sleeps 2 s and play() sleeps 1 s; because a
// sleeping task gives the thread to the other, both are done in about 2 s, not 3.
//
//   build/release/demo/spawn
//
// Prints what the Python prints (吃, 玩儿, 玩儿美了, 吃完了), then the elapsed time.
#include <chrono>

#include <fmt/format.h>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;

ringo::task<void> eat() {
  fmt::print("吃\n");
  co_await ringo::sleep_for(2s);  // time.sleep(2) under monkey.patch_all()
  fmt::print("吃完了\n");
}

ringo::task<void> play() {
  fmt::print("玩儿\n");
  co_await ringo::sleep_for(1s);
  fmt::print("玩儿美了\n");
}

ringo::task<void> main_task() {
  const auto start = std::chrono::steady_clock::now();
  auto g1 = ringo::spawn(eat());  // g1 = gevent.spawn(eat)
  auto g2 = ringo::spawn(play());
  co_await g1;  // gevent.joinall([g1, g2])
  co_await g2;
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  fmt::print("both done in {:.1f} s\n", took.count());
}

constexpr demo::usage cli{
    "spawn",
    "usage: spawn\n"
    "Seed block 9 (gevent.spawn, joinall): two sleeping tasks share one thread.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  ringo::run(main_task());
} catch (const std::exception& e) {
  return demo::failed("spawn", e);
}
