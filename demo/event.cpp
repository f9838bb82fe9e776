// demo/event.cpp: seed block 4 (Event: wait, set, clear, is_set) with ringo::event.
//
// What it shows: tasks that co_await an event's wait() stand still until another task calls
// set(), which wakes every one of them; while the flag is set, wait() returns at once;
// clear() lowers it again. Here three cars wait at a red light that a controller turns green
// after a while, then red again.
//
// Run: build/demo/event
#include <chrono>
#include <vector>

#include <fmt/format.h>

#include <ringo/event.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;

namespace {

/// Python spells its booleans True and False.
const char* py(bool b) {
  return b ? "True" : "False";
}

ringo::task<void> car(ringo::event& green, int i) {
  if (!green.is_set()) fmt::print("car {} waits at the red light\n", i);
  co_await green.wait();
  fmt::print("car {} drives on\n", i);
}

ringo::task<void> main_task() {
  ringo::event green;
  fmt::print("is_set: {}\n", py(green.is_set()));
  std::vector<ringo::join_handle<void>> cars;
  for (int i = 0; i < 3; ++i)
    cars.push_back(ringo::spawn(car(green, i)));
  co_await ringo::sleep_for(100ms);
  fmt::print("the light turns green (set)\n");
  green.set();
  for (auto& c : cars)
    co_await c;
  fmt::print("is_set: {}\n", py(green.is_set()));
  co_await ringo::spawn(car(green, 3));  // the flag is up: no wait
  green.clear();
  fmt::print("the light turns red (clear); is_set: {}\n", py(green.is_set()));
}

}  // namespace

constexpr demo::usage cli{
    "event",
    "usage: event\n"
    "Seed block 4 (Event): tasks wait on a ringo::event until another task sets it.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  ringo::run(main_task());
} catch (const std::exception& e) {
  return demo::failed("event", e);
}
