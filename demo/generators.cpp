// Seed block 7: generators as the first coroutines.
//
// Shows ringo::generator<Y, S> doing what the Python course does with `yield`:
//   - `func` yields twice; the caller drives it with next() and then send(), and the value
//     sent becomes the value of the co_yield inside (Python's `x = yield 'aaa'`);
//   - `producer` drives a `consumer` with send() after priming it with next() (预激): the
//     first next() runs the consumer to its first co_yield, where it can receive a value.
// It prints what the Python original prints, in the same order: 1, aaa, ****, bbb, then
// 0 to 9.
//
// Run: ninja -C build demo/generators && build/demo/generators
#include <string>

#include <fmt/core.h>

#include <ringo/generator.hpp>

#include "demo_main.hpp"

namespace {

// def func():
//     print(1)
//     x = yield 'aaa'
//     print(x)
//     yield 'bbb'
ringo::generator<std::string, std::string> func() {
  fmt::print("1\n");
  std::string x = co_yield "aaa";
  fmt::print("{}\n", x);
  co_yield "bbb";
}

// def consumer():
//     while True:
//         x = yield
//         print(x)
// A bare `yield` yields None: here nullptr.
ringo::generator<std::nullptr_t, int> consumer() {
  for (;;) {
    int x = co_yield nullptr;
    fmt::print("{}\n", x);
  }
}

// def producer():
//     g = consumer()
//     next(g)  # 预激 (priming)
//     for i in range(10):
//         g.send(i)
void producer() {
  auto g = consumer();
  (void)g.next();  // 预激: send() on a generator that has not reached a co_yield throws
  for (int i = 0; i < 10; ++i)
    (void)g.send(i);
}

}  // namespace

constexpr demo::usage cli{
    "generators",
    "usage: generators\n"
    "Seed block 7 (generators): ringo::generator driven with next() and send().\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  // g = func(); print(next(g)); print(g.send('****'))
  auto g = func();
  fmt::print("{}\n", *g.next());
  fmt::print("{}\n", *g.send("****"));

  producer();
} catch (const std::exception& e) {
  return demo::failed("generators", e);
}
