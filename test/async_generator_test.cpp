#include <ringo/async_generator.hpp>
// (its own header first: proves it stands alone)
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ringo/sync_wait.hpp>
#include <ringo/task.hpp>

#include "catch.hpp"
#include "small_stack.hpp"

namespace {

using ringo::async_generator;
using ringo::task;

task<int> square(int v) {
  co_return v* v;
}

async_generator<int> squares(int n) {
  for (int i = 0; i < n; ++i)
    co_yield co_await square(i);
}

template <class T>
task<std::vector<T>> collect(async_generator<T>& g) {
  std::vector<T> out;
  while (auto v = co_await g.next())
    out.push_back(std::move(*v));
  co_return out;
}

struct destructor_counter {
  int* count;
  explicit destructor_counter(int* c) : count(c) {}
  destructor_counter(const destructor_counter&) = delete;
  destructor_counter& operator=(const destructor_counter&) = delete;
  ~destructor_counter() { ++*count; }
};

// An event that a test sets by hand: whoever awaits it stays suspended until then.
struct manual_event {
  std::coroutine_handle<> waiter;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept { waiter = h; }
  void await_resume() const noexcept {}
  void set() { ringo::detail::resume(std::exchange(waiter, {})); }
};


}  // namespace

TEST_CASE("an async_generator yields the values its body computes by awaiting tasks",
          "[async_generator]") {
  auto g = squares(5);
  CHECK(ringo::sync_wait(collect(g)) == std::vector<int>{0, 1, 4, 9, 16});
}

TEST_CASE("an async_generator is lazy: nothing runs before the first next()", "[async_generator]") {
  bool started = false;
  auto make = [](bool* s) -> async_generator<int> {
    *s = true;
    co_yield 1;
  };
  auto g = make(&started);
  CHECK_FALSE(started);
  auto first = [](async_generator<int>& gen) -> task<std::optional<int>> {
    co_return co_await gen.next();
  };
  CHECK(ringo::sync_wait(first(g)) == 1);
  CHECK(started);
}

TEST_CASE("co_await next() gives nullopt at the end, on every call", "[async_generator]") {
  auto g = squares(1);
  auto body = [](async_generator<int>& gen) -> task<std::vector<bool>> {
    std::vector<bool> got;
    for (int i = 0; i < 4; ++i)
      got.push_back((co_await gen.next()).has_value());
    co_return got;
  };
  CHECK(ringo::sync_wait(body(g)) == std::vector<bool>{true, false, false, false});
}

TEST_CASE("the consumer and the body interleave in order", "[async_generator]") {
  std::vector<std::string> log;
  auto producer = [](std::vector<std::string>* out) -> async_generator<int> {
    for (int i = 0; i < 3; ++i) {
      out->push_back("produce " + std::to_string(i));
      co_yield i;
    }
    out->push_back("producer done");
  };
  auto consumer = [&producer](std::vector<std::string>* out) -> task<void> {
    auto g = producer(out);
    while (auto v = co_await g.next())
      out->push_back("consume " + std::to_string(*v));
    out->push_back("consumer done");
  };
  ringo::sync_wait(consumer(&log));
  CHECK(log == std::vector<std::string>{"produce 0", "consume 0", "produce 1", "consume 1",
                                        "produce 2", "consume 2", "producer done",
                                        "consumer done"});
}

TEST_CASE("an exception from the body propagates out of co_await next()", "[async_generator]") {
  auto failing = []() -> async_generator<int> {
    co_yield 1;
    co_await square(2);
    throw std::runtime_error("producer failed");
  };
  auto body = [&]() -> task<std::string> {
    auto g = failing();
    std::string result;
    try {
      while (auto v = co_await g.next())
        result += std::to_string(*v) + " ";
    } catch (const std::runtime_error& e) {
      result += e.what();
    }
    // Finished afterwards.
    result += (co_await g.next()).has_value() ? " more" : " end";
    co_return result;
  };
  CHECK(ringo::sync_wait(body()) == "1 producer failed end");
}

TEST_CASE("a long stream produced without waiting keeps the stack flat", "[async_generator]") {
  constexpr long n = 1'000'000;
  long total = 0;
  ringo_test::run_on_small_stack([&] {
    auto numbers = [](long count) -> async_generator<long> {
      for (long i = 0; i < count; ++i)
        co_yield i;
    };
    auto sum = [&](long count) -> task<long> {
      auto g = numbers(count);
      long s = 0;
      while (auto v = co_await g.next())
        s += *v;
      co_return s;
    };
    total = ringo::sync_wait(sum(n));
  });
  CHECK(total == n * (n - 1) / 2);
}

TEST_CASE("awaiting next() while another next() is pending throws logic_error",
          "[async_generator]") {
  manual_event event;
  auto slow = [](manual_event* e) -> async_generator<int> {
    co_await *e;
    co_yield 7;
  };
  auto g = slow(&event);
  std::optional<int> first_result;
  auto first = [](async_generator<int>& gen, std::optional<int>* out) -> task<void> {
    *out = co_await gen.next();
  };
  // The first consumer starts the body, which waits for the event: both stay suspended.
  auto first_task = first(g, &first_result);
  auto handle = ringo::detail::task_access::release(first_task);
  ringo::detail::resume(handle);
  REQUIRE(event.waiter);
  CHECK_FALSE(handle.done());

  auto second = [](async_generator<int>& gen) -> task<std::string> {
    try {
      (void)co_await gen.next();
    } catch (const std::logic_error& e) {
      co_return e.what();
    }
    co_return "no error";
  };
  CHECK(ringo::sync_wait(second(g)).find("still pending") != std::string::npos);

  event.set();  // the body yields 7 to the first consumer, which finishes
  CHECK(handle.done());
  CHECK(first_result == 7);
  handle.destroy();
}

TEST_CASE("destroying an async_generator mid-stream destroys its frame", "[async_generator]") {
  int destroyed = 0;
  auto body = [](int* d) -> task<int> {
    auto make = [](int* count) -> async_generator<int> {
      destructor_counter local{count};
      for (int i = 0;; ++i)
        co_yield co_await square(i);
    };
    auto g = make(d);
    (void)co_await g.next();
    auto v = co_await g.next();
    co_return *v;  // g, suspended at its co_yield, is destroyed here
  };
  CHECK(ringo::sync_wait(body(&destroyed)) == 1);
  CHECK(destroyed == 1);
}

TEST_CASE("an async_generator of move-only values hands them over by move", "[async_generator]") {
  auto make = []() -> async_generator<std::unique_ptr<int>> {
    co_yield std::make_unique<int>(1);
    auto p = std::make_unique<int>(2);
    co_yield std::move(p);
  };
  auto body = [&]() -> task<int> {
    auto g = make();
    int sum = 0;
    while (auto p = co_await g.next())
      sum += **p;
    co_return sum;
  };
  CHECK(ringo::sync_wait(body()) == 3);
}

TEST_CASE("an lvalue co_yield in an async_generator yields a copy", "[async_generator]") {
  auto make = [](std::string* kept) -> async_generator<std::string> {
    std::string local = "mine";
    co_yield local;
    *kept = local;
  };
  std::string kept;
  auto g = make(&kept);
  CHECK(ringo::sync_wait(collect(g)) == std::vector<std::string>{"mine"});
  CHECK(kept == "mine");
}

TEST_CASE("an async_generator of references yields the objects themselves", "[async_generator]") {
  std::vector<int> values{1, 2, 3};
  auto make = [](std::vector<int>& v) -> async_generator<int&> {
    for (int& x : v)
      co_yield x;
  };
  auto body = [&]() -> task<void> {
    auto g = make(values);
    while (auto r = co_await g.next())
      r->get() *= 10;
  };
  ringo::sync_wait(body());
  CHECK(values == std::vector<int>{10, 20, 30});
}

TEST_CASE("a moved-from async_generator refuses next() with logic_error", "[async_generator]") {
  auto a = squares(3);
  auto b = std::move(a);
  CHECK_THROWS_AS(a.next(), std::logic_error);  // NOLINT(bugprone-use-after-move)
  CHECK(ringo::sync_wait(collect(b)) == std::vector<int>{0, 1, 4});
  async_generator<int> empty;
  CHECK_THROWS_AS(empty.next(), std::logic_error);
}
