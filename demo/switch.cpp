// Seed block 8: greenlet's explicit switch() between two coroutines.
//
// Shows two ringo::generator coroutines, `eat` and `play`, handing control to each other
// explicitly, as the Python course does with greenlet: each co_yield names the coroutine to
// switch to (greenlet's `g2.switch()`), and a small loop, standing in for greenlet's hub,
// resumes it. When a coroutine finishes, control returns to its parent, main, so `eat` is
// left suspended after its second switch, exactly as in Python. It prints what the Python
// original prints, in the same order: 吃, 玩儿, 吃完了, 玩儿美了.
//
// The one-second sleeps are kept: they block the thread, so the program takes 4 seconds.
// That is the lesson of the block (switching alone saves no waiting time); demo/spawn.cpp
// shows the fix, switching on I/O.
//
// Run: ninja -C build demo/switch && build/demo/switch
#include <chrono>
#include <thread>

#include <fmt/core.h>

#include <ringo/generator.hpp>

#include "demo_main.hpp"

namespace {

// A greenlet: a coroutine that yields the greenlet it switches to.
struct greenlet {
  ringo::generator<greenlet*> run;
};

// Resumes `target`, and every greenlet it switches to, until one finishes (greenlet's
// `g1.switch()` from main: control comes back to main when a child ends).
void switch_to(greenlet& target) {
  greenlet* next = &target;
  while (next != nullptr) {
    auto to = next->run.next();
    next = to ? *to : nullptr;
  }
}

void sleep_one_second() {
  std::this_thread::sleep_for(std::chrono::seconds(1));
}

// def eat():
//     print('吃'); time.sleep(1); g2.switch()
//     print('吃完了'); time.sleep(1); g2.switch()
ringo::generator<greenlet*> eat(greenlet* g2) {
  fmt::print("吃\n");
  sleep_one_second();
  co_yield g2;  // g2.switch()
  fmt::print("吃完了\n");
  sleep_one_second();
  co_yield g2;
}

// def play():
//     print('玩儿'); time.sleep(1); g1.switch()
//     print('玩儿美了'); time.sleep(1)
ringo::generator<greenlet*> play(greenlet* g1) {
  fmt::print("玩儿\n");
  sleep_one_second();
  co_yield g1;  // g1.switch()
  fmt::print("玩儿美了\n");
  sleep_one_second();
}

}  // namespace

constexpr demo::usage cli{
    "switch",
    "usage: switch\n"
    "Seed block 8 (greenlet's switch): two generators hand control to each other.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  // g1 = greenlet(eat); g2 = greenlet(play); g1.switch()
  greenlet g1;
  greenlet g2;
  g1.run = eat(&g2);
  g2.run = play(&g1);
  switch_to(g1);
} catch (const std::exception& e) {
  return demo::failed("switch", e);
}
