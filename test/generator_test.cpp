#include <ringo/generator.hpp>
// (its own header first: proves it stands alone)
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "generator_testing.hpp"

using namespace generator_testing;

namespace {

template <class P>
concept can_co_await_in = requires(P& p) {
  p.await_transform(std::suspend_always{});
};

}  // namespace

// A generator body cannot co_await: its promise deletes await_transform, so `co_await x`
// inside one does not compile.
static_assert(!can_co_await_in<generator<int>::promise_type>);
static_assert(!can_co_await_in<generator<int, int>::promise_type>);

static_assert(std::ranges::input_range<generator<int>>);
// Not a view (a view named in a pipe is copied), but viewable both named and temporary.
static_assert(std::ranges::viewable_range<generator<int>&>);
static_assert(std::ranges::viewable_range<generator<int>>);
static_assert(std::ranges::viewable_range<generator<std::unique_ptr<int>>>);
static_assert(std::ranges::input_range<generator<const std::string&>>);
static_assert(std::same_as<std::ranges::range_reference_t<generator<int>>, int&>);
static_assert(std::same_as<std::ranges::range_reference_t<generator<const int&>>, const int&>);
static_assert(!std::copy_constructible<generator<int>>);
static_assert(std::move_constructible<generator<int>>);

TEST_CASE("a generator yields its values in order", "[generator]") {
  std::vector<int> seen;
  for (int v : count_to(5))
    seen.push_back(v);
  CHECK(seen == std::vector<int>{0, 1, 2, 3, 4});

  auto g = count_to(3);
  CHECK(g.next() == 0);
  CHECK(g.next() == 1);
  CHECK(g.next() == 2);
  CHECK(g.next() == std::nullopt);
}

TEST_CASE("a generator is lazy: its body does not start before begin() or next()", "[generator]") {
  bool started = false;
  auto make = [](bool* s) -> generator<int> {
    *s = true;
    co_yield 1;
  };
  {
    auto g = make(&started);
    CHECK_FALSE(started);
  }
  CHECK_FALSE(started);  // destroyed unstarted: the body never ran
  auto g = make(&started);
  CHECK_FALSE(started);
  auto it = g.begin();
  CHECK(started);
  CHECK(*it == 1);
  started = false;
  auto h = make(&started);
  CHECK_FALSE(started);
  CHECK(h.next() == 1);
  CHECK(started);
}

TEST_CASE("a generator works with range-for and std::views", "[generator]") {
  std::vector<long> taken;
  for (long v : naturals() | std::views::take(5))
    taken.push_back(v);
  CHECK(taken == std::vector<long>{0, 1, 2, 3, 4});

  auto g = naturals();
  auto odd_squares = g | std::views::filter([](long v) { return v % 2 == 1; }) |
                     std::views::transform([](long v) { return v * v; }) | std::views::take(4);
  std::vector<long> squares;
  for (long v : odd_squares)
    squares.push_back(v);
  CHECK(squares == std::vector<long>{1, 9, 25, 49});
}

TEST_CASE("iterating a generator again goes on where the last loop stopped", "[generator]") {
  auto g = count_to(6);
  std::vector<int> first;
  for (int v : g) {
    first.push_back(v);
    if (v == 2) break;
  }
  std::vector<int> rest;
  for (int v : g)
    rest.push_back(v);
  CHECK(first == std::vector<int>{0, 1, 2});
  CHECK(rest == std::vector<int>{3, 4, 5});
  CHECK(g.begin() == g.end());
}

TEST_CASE("next() returns nullopt after the end, on every call", "[generator]") {
  auto g = count_to(1);
  CHECK(g.next() == 0);
  CHECK_FALSE(g.next());
  CHECK_FALSE(g.next());
  CHECK_FALSE(g.next());
  auto empty = count_to(0);
  CHECK_FALSE(empty.next());
  CHECK_FALSE(empty.next());
}

TEST_CASE("send passes a value into the generator as the value of its co_yield", "[generator]") {
  // The seed's two-way generator: def func(): print(1); x = yield 'aaa'; print(x); yield 'bbb'
  std::vector<std::string> printed;
  auto func = [](std::vector<std::string>* out) -> generator<std::string, std::string> {
    out->push_back("1");
    std::string x = co_yield "aaa";
    out->push_back(x);
    co_yield "bbb";
  };
  auto g = func(&printed);
  printed.push_back(*g.next());
  printed.push_back(*g.send("****"));
  CHECK(printed == std::vector<std::string>{"1", "aaa", "****", "bbb"});
  CHECK_FALSE(g.send("after"));  // the body finishes: StopIteration
  CHECK_FALSE(g.next());

  // A running average: each send returns the average so far.
  auto averager = []() -> generator<double, double> {
    double total = 0;
    int n = 0;
    double average = 0;
    for (;;) {
      total += co_yield average;
      average = total / ++n;
    }
  };
  auto avg = averager();
  CHECK(avg.next() == 0.0);  // priming
  CHECK(avg.send(10) == 10.0);
  CHECK(avg.send(20) == 15.0);
  CHECK(avg.send(60) == 30.0);
  CHECK(avg.next() == 22.5);  // next() sends S{}: 0
}

TEST_CASE("send before the first next() throws logic_error that says to call next()",
          "[generator]") {
  bool started = false;
  auto consumer = [](bool* s) -> generator<int, int> {
    *s = true;
    for (;;)
      co_yield co_yield 0;
  };
  auto g = consumer(&started);
  CHECK_THROWS_AS(g.send(1), std::logic_error);
  CHECK(what_of([&] { (void)g.send(1); }).find("next()") != std::string::npos);
  CHECK_FALSE(started);
  CHECK(g.next() == 0);  // priming, as Python's next(g)
  CHECK(g.send(5) == 5);
}

TEST_CASE("raise throws inside the generator, which may catch it and yield again", "[generator]") {
  auto g = []() -> generator<std::string> {
    for (;;) {
      std::string caught;  // C++ allows no co_yield inside a handler: yield after it
      try {
        co_yield "waiting";
      } catch (const std::runtime_error& e) {
        caught = e.what();
      }
      if (!caught.empty()) co_yield "caught " + caught;
    }
  }();
  CHECK(g.next() == "waiting");
  CHECK(g.raise(std::make_exception_ptr(std::runtime_error("boom"))) == "caught boom");
  CHECK(g.next() == "waiting");
  CHECK(g.next() == "waiting");
}

TEST_CASE("raise propagates out when the body does not catch it, and finishes the generator",
          "[generator]") {
  int destroyed = 0;
  auto g = [](int* d) -> generator<int> {
    destructor_counter local{d};
    co_yield 1;
    co_yield 2;
  }(&destroyed);
  CHECK(g.next() == 1);
  CHECK_THROWS_AS(g.raise(std::make_exception_ptr(std::out_of_range("x"))), std::out_of_range);
  CHECK(destroyed == 1);  // the exception unwound the body
  CHECK_FALSE(g.next());

  // The body may also finish instead of yielding: raise returns nullopt.
  auto quits = []() -> generator<int> {
    try {
      co_yield 1;
    } catch (const std::exception&) {
    }
  }();
  CHECK(quits.next() == 1);
  CHECK_FALSE(quits.raise(std::make_exception_ptr(std::runtime_error("stop"))));
}

TEST_CASE("raise on a just-started generator throws at once and the body never runs",
          "[generator]") {
  bool started = false;
  auto g = [](bool* s) -> generator<int> {
    *s = true;
    co_yield 1;
  }(&started);
  CHECK_THROWS_AS(g.raise(std::make_exception_ptr(std::runtime_error("early"))),
                  std::runtime_error);
  CHECK_FALSE(started);
  CHECK_FALSE(g.next());
}

TEST_CASE("raise on a finished generator rethrows the exception", "[generator]") {
  auto g = count_to(1);
  CHECK(g.next() == 0);
  CHECK_FALSE(g.next());
  CHECK_THROWS_AS(g.raise(std::make_exception_ptr(std::domain_error("late"))), std::domain_error);
  g.close();
  CHECK_THROWS_AS(g.raise(std::make_exception_ptr(std::domain_error("late"))), std::domain_error);
  CHECK_THROWS_AS(g.raise(nullptr), std::logic_error);
}

TEST_CASE("close runs the destructors of the body's locals; next returns nullopt after",
          "[generator]") {
  int destroyed = 0;
  bool resumed = false;
  auto g = [](int* d, bool* r) -> generator<int> {
    destructor_counter a{d};
    co_yield 1;
    destructor_counter b{d};
    co_yield 2;
    *r = true;
  }(&destroyed, &resumed);
  CHECK(g.next() == 1);
  CHECK(g.next() == 2);
  CHECK(destroyed == 0);
  g.close();
  CHECK(destroyed == 2);
  CHECK_FALSE(resumed);  // closing does not resume the body
  CHECK_FALSE(g.next());
  CHECK(g.begin() == g.end());
  g.close();  // closing again does nothing
  CHECK(destroyed == 2);

  auto fresh = count_to(3);
  fresh.close();
  CHECK_FALSE(fresh.next());
}

TEST_CASE("an exception from the body propagates out of next() and the iterator", "[generator]") {
  auto failing = [](int good) -> generator<int> {
    for (int i = 0; i < good; ++i)
      co_yield i;
    throw std::runtime_error("body failed");
  };
  auto g = failing(1);
  CHECK(g.next() == 0);
  CHECK_THROWS_WITH(g.next(), "body failed");
  CHECK_FALSE(g.next());  // finished

  std::vector<int> seen;
  CHECK_THROWS_WITH(
      [&] {
        for (int v : failing(3))
          seen.push_back(v);
      }(),
      "body failed");
  CHECK(seen == std::vector<int>{0, 1, 2});

  auto at_start = failing(0);
  CHECK_THROWS_AS(at_start.begin(), std::runtime_error);
  CHECK(at_start.begin() == at_start.end());
}

TEST_CASE("a generator of move-only values hands them over by move", "[generator]") {
  auto g = []() -> generator<std::unique_ptr<int>> {
    co_yield std::make_unique<int>(1);
    auto p = std::make_unique<int>(2);
    co_yield std::move(p);
    co_yield std::make_unique<int>(3);
  }();
  auto first = g.next();
  REQUIRE(first);
  CHECK(**first == 1);
  std::vector<std::unique_ptr<int>> rest;
  for (auto& p : g)
    rest.push_back(std::move(p));
  REQUIRE(rest.size() == 2);
  CHECK(*rest[0] == 2);
  CHECK(*rest[1] == 3);
}

TEST_CASE("a generator of references yields the objects themselves", "[generator]") {
  std::vector<std::string> words{"alpha", "beta"};
  auto refs = [](std::vector<std::string>& w) -> generator<std::string&> {
    for (auto& s : w)
      co_yield s;
  };
  for (std::string& s : refs(words))
    s += "!";
  CHECK(words == std::vector<std::string>{"alpha!", "beta!"});
  auto g = refs(words);
  auto first = g.next();
  REQUIRE(first);
  CHECK(&first->get() == &words[0]);

  auto temporaries = []() -> generator<const std::string&> {
    co_yield std::string("made here");  // lives until the caller resumes the body
    std::string local = "local";
    co_yield local;
  };
  std::vector<std::string> copies;
  for (const std::string& s : temporaries())
    copies.push_back(s);
  CHECK(copies == std::vector<std::string>{"made here", "local"});
}

TEST_CASE("an lvalue co_yield copies, so the caller cannot move from the body's local",
          "[generator]") {
  std::string kept;
  auto g = [](std::string* out) -> generator<std::string> {
    std::string local = "mine";
    co_yield local;
    *out = local;
  }(&kept);
  CHECK(g.next() == "mine");  // next() moves out the copy
  CHECK_FALSE(g.next());
  CHECK(kept == "mine");
}

TEST_CASE("moving a generator moves its coroutine; the moved-from one refuses use", "[generator]") {
  auto a = count_to(3);
  CHECK(a.next() == 0);
  generator<int> b = std::move(a);
  CHECK(b.next() == 1);
  CHECK_THROWS_AS(a.next(), std::logic_error);  // NOLINT(bugprone-use-after-move)
  CHECK_THROWS_AS(a.begin(), std::logic_error);

  int destroyed = 0;
  auto c = counted_chain(0, &destroyed);
  CHECK(c.next() == 0);
  c = std::move(b);  // c's old frame is destroyed
  CHECK(destroyed == 1);
  CHECK(c.next() == 2);
  CHECK_FALSE(c.next());

  generator<int> empty;
  CHECK_THROWS_AS(empty.next(), std::logic_error);
}

TEST_CASE("advancing a generator from inside its own body throws logic_error", "[generator]") {
  generator<int> g;
  std::string error;
  auto body = [](generator<int>* self, std::string* err) -> generator<int> {
    try {
      (void)self->next();
    } catch (const std::logic_error& e) {
      *err = e.what();
    }
    co_yield 1;
  };
  g = body(&g, &error);
  CHECK(g.next() == 1);
  CHECK(error.find("inside its own body") != std::string::npos);

  // Delegating to itself is refused the same way.
  generator<int> self_delegating;
  self_delegating = [](generator<int>* self) -> generator<int> {
    co_yield elements_of(*self);
  }(&self_delegating);
  CHECK_THROWS_AS(self_delegating.next(), std::logic_error);
}
