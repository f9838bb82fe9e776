// generator's delegation: co_yield ringo::elements_of(range or sub-generator), Python's
// `yield from`: values in place, a started sub-generator continued, send and raise passed to
// the innermost, exceptions, closing a chain, and a flat stack at any depth.
#include <ringo/elements_of.hpp>
#include <ringo/generator.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "catch.hpp"
#include "generator_testing.hpp"

using namespace generator_testing;

namespace {

generator<int> nest(int depth) {
  co_yield depth;
  if (depth > 0) co_yield elements_of(nest(depth - 1));
  co_yield -depth;
}

std::vector<int> nest_expected(int depth) {
  std::vector<int> out;
  for (int d = depth; d >= 0; --d)
    out.push_back(d);
  for (int d = 0; d <= depth; ++d)
    out.push_back(-d);
  return out;
}

}  // namespace

TEST_CASE("elements_of yields every value of the sub-generator in place", "[generator]") {
  auto nested = nest(3);
  CHECK(drain(nested) == nest_expected(3));

  auto g = []() -> generator<int> {
    co_yield 100;
    auto sub = count_to(3);
    co_yield elements_of(sub);  // an lvalue: it stays with its owner, finished
    co_yield elements_of(count_to(2));
    co_yield 200;
  }();
  CHECK(drain(g) == std::vector<int>{100, 0, 1, 2, 0, 1, 200});
}

TEST_CASE("elements_of accepts any input range of convertible values", "[generator]") {
  auto g = []() -> generator<long> {
    std::vector<int> v{1, 2, 3};
    co_yield elements_of(v);
    co_yield elements_of(std::vector<short>(2, 4));  // a temporary lives through it
    co_yield elements_of(count_to(2));               // a generator of another type is a range too
    co_yield elements_of(std::views::iota(7, 9));
  }();
  CHECK(drain(g) == std::vector<long>{1, 2, 3, 4, 4, 0, 1, 7, 8});
}

TEST_CASE("elements_of a started generator continues it, as yield from does", "[generator]") {
  auto g = []() -> generator<int> {
    auto sub = count_to(5);
    (void)sub.next();  // 0 is consumed here
    co_yield elements_of(sub);
    CHECK_FALSE(sub.next());  // finished by the delegation
  }();
  CHECK(drain(g) == std::vector<int>{1, 2, 3, 4});

  // A started generator that is itself delegating brings its whole chain along.
  int destroyed = 0;
  auto joined = [](int* d) -> generator<int> {
    auto sub = counted_chain(2, d);
    (void)sub.next();  // 2
    (void)sub.next();  // 1: sub now delegates to counted_chain(1)
    co_yield elements_of(sub);
  }(&destroyed);
  CHECK(joined.next() == 0);
  CHECK(joined.next() == 0);
  CHECK(destroyed == 0);
  CHECK(joined.next() == -1);
  CHECK(destroyed == 1);
  CHECK(joined.next() == -2);
  CHECK_FALSE(joined.next());
  CHECK(destroyed == 3);
}

TEST_CASE("elements_of 10,000 levels deep keeps the stack flat", "[generator]") {
  constexpr int depth = 10'000;
  std::vector<int> seen;
  int destroyed_after_close = 0;
  run_on_small_stack([&] {
    auto g = nest(depth);
    for (int v : g)
      seen.push_back(v);

    // Closing and destroying a deep chain mid-way is not recursive either.
    auto half = counted_chain(depth, &destroyed_after_close);
    for (int i = 0; i <= depth; ++i)
      (void)half.next();  // down to the innermost
    half.close();
    auto dropped = nest(depth);
    for (int i = 0; i < depth; ++i)
      (void)dropped.next();
  });
  CHECK(seen == nest_expected(depth));
  CHECK(destroyed_after_close == depth + 1);
}

TEST_CASE("closing or destroying a delegating generator closes the whole chain", "[generator]") {
  int destroyed = 0;
  auto g = counted_chain(3, &destroyed);
  CHECK(g.next() == 3);
  CHECK(g.next() == 2);
  CHECK(g.next() == 1);  // three generators live: 3 delegates to 2, 2 to 1
  CHECK(destroyed == 0);
  g.close();
  CHECK(destroyed == 3);
  CHECK_FALSE(g.next());

  destroyed = 0;
  {
    auto h = counted_chain(5, &destroyed);
    for (int i = 0; i < 6; ++i)
      (void)h.next();
  }
  CHECK(destroyed == 6);
}

TEST_CASE("send and raise pass through elements_of to the innermost generator", "[generator]") {
  auto echo = [](std::string tag) -> generator<std::string, std::string> {
    std::string got = co_yield tag + " ready";
    std::string reply = tag + " got " + got;
    while (got != "quit") {
      try {
        got = co_yield reply;
        reply = tag + " got " + got;
      } catch (const std::runtime_error& e) {
        reply = tag + " caught " + e.what();
      }
    }
  };
  auto outer = [&]() -> generator<std::string, std::string> {
    std::string first = co_yield "outer ready";
    co_yield elements_of(echo("inner"));
    co_yield "outer again after " + first;
  };
  auto g = outer();
  CHECK(g.next() == "outer ready");
  CHECK(g.send("a") == "inner ready");
  CHECK(g.send("b") == "inner got b");
  CHECK(g.raise(std::make_exception_ptr(std::runtime_error("boom"))) == "inner caught boom");
  CHECK(g.send("c") == "inner got c");
  CHECK(g.send("quit") == "outer again after a");
  CHECK_FALSE(g.next());
}

TEST_CASE("an exception escaping a sub-generator continues in the delegating body", "[generator]") {
  auto failing = []() -> generator<int> {
    co_yield 1;
    throw std::runtime_error("inner failure");
  };
  auto outer = [&]() -> generator<int> {
    bool failed = false;
    try {
      co_yield elements_of(failing());
    } catch (const std::runtime_error&) {
      failed = true;
    }
    if (failed) co_yield -1;
    co_yield elements_of(failing());
  };
  auto g = outer();
  CHECK(g.next() == 1);
  CHECK(g.next() == -1);
  CHECK(g.next() == 1);
  CHECK_THROWS_WITH(g.next(), "inner failure");
  CHECK_FALSE(g.next());
}
