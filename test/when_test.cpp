#include <ringo/when_all.hpp>
// (its own header first: proves it stands alone)
#include <ringo/when_any.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

ringo::task<int> number_after(std::chrono::milliseconds d, int v) {
  co_await ringo::sleep_for(d);
  co_return v;
}

ringo::task<std::string> text_after(std::chrono::milliseconds d, std::string s) {
  co_await ringo::sleep_for(d);
  co_return s;
}

ringo::task<void> nothing_after(std::chrono::milliseconds d) { co_await ringo::sleep_for(d); }

ringo::task<int> fail_after(std::chrono::milliseconds d) {
  co_await ringo::sleep_for(d);
  throw std::runtime_error("racer failed");
}

int shared_value = 11;
ringo::task<int&> reference_after(std::chrono::milliseconds d) {
  co_await ringo::sleep_for(d);
  co_return shared_value;
}

}  // namespace

TEST_CASE("when_all returns every result in argument order", "[when_all]") {
  auto main = []() -> ringo::task<void> {
    const auto start = std::chrono::steady_clock::now();
    auto [a, b, c, r] = co_await ringo::when_all(number_after(30ms, 1), text_after(10ms, "two"),
                                                 nothing_after(20ms), reference_after(1ms));
    CHECK(std::chrono::steady_clock::now() - start < 55ms + 100ms);  // concurrent, not summed
    CHECK(a == 1);
    CHECK(b == "two");
    CHECK(c == std::monostate{});
    CHECK(&r.get() == &shared_value);
  };
  ringo::run(main());
}

TEST_CASE("when_all of a vector keeps input order", "[when_all]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    std::vector<ringo::task<int>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(number_after(std::chrono::milliseconds(25 - 5 * i), i));
    co_return co_await ringo::when_all(std::move(tasks));
  };
  CHECK(ringo::run(main()) == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("when_all rethrows the first failure after cancelling the rest", "[when_all]") {
  auto main = []() -> ringo::task<void> {
    const auto start = std::chrono::steady_clock::now();
    try {
      co_await ringo::when_all(number_after(10s, 1), fail_after(5ms));
      FAIL_CHECK("co_await ringo::when_all(...) returned instead of throwing");
    } catch (const std::exception& e) {
      CHECK(std::string(e.what()) == "racer failed");
    }
    CHECK(std::chrono::steady_clock::now() - start < 5s);
  };
  ringo::run(main());
}

TEST_CASE("when_any returns the first to finish and cancels the others", "[when_any]") {
  int cancelled = 0;
  auto slow = [&](int v) -> ringo::task<int> {
    try {
      co_await ringo::sleep_for(10s);
    } catch (const ringo::operation_cancelled&) {
      ++cancelled;
      throw;
    }
    co_return v;
  };
  auto main = [&]() -> ringo::task<void> {
    auto winner = co_await ringo::when_any(slow(1), text_after(5ms, "fast"), slow(3));
    CHECK(winner.index() == 1);
    CHECK(std::get<1>(winner) == "fast");
    CHECK(cancelled == 2);  // both losers have ended before when_any returned
  };
  ringo::run(main());
}

TEST_CASE("when_any of a vector gives the index and value", "[when_any]") {
  auto main = []() -> ringo::task<void> {
    std::vector<ringo::task<int>> tasks;
    tasks.push_back(number_after(50ms, 10));
    tasks.push_back(number_after(5ms, 20));
    tasks.push_back(number_after(30ms, 30));
    auto [index, value] = co_await ringo::when_any(std::move(tasks));
    CHECK(index == 1);
    CHECK(value == 20);
  };
  ringo::run(main());
}

TEST_CASE("when_any propagates the exception of the first to finish", "[when_any]") {
  auto main = []() -> ringo::task<void> {
    try {
      co_await ringo::when_any(number_after(10s, 1), fail_after(1ms));
      FAIL_CHECK("co_await ringo::when_any(...) returned instead of throwing");
    } catch (const std::exception& e) {
      CHECK(std::string(e.what()) == "racer failed");
    }
  };
  ringo::run(main());
}

TEST_CASE("when_any of no tasks is refused", "[when_any]") {
  auto main = []() -> ringo::task<void> {
    try {
      co_await ringo::when_any(std::vector<ringo::task<int>>{});
      FAIL_CHECK("co_await ringo::when_any({}) returned instead of throwing invalid_argument");
    } catch (const std::invalid_argument&) {
    }
  };
  ringo::run(main());
}

TEST_CASE("when_any of a task returning a reference gives a reference_wrapper", "[when_any]") {
  auto main = []() -> ringo::task<void> {
    auto winner = co_await ringo::when_any(reference_after(1ms), nothing_after(1h));
    REQUIRE(winner.index() == 0);
    CHECK(&std::get<0>(winner).get() == &shared_value);
    std::vector<ringo::task<int&>> tasks;
    tasks.push_back(reference_after(1ms));
    auto [index, ref] = co_await ringo::when_any(std::move(tasks));
    CHECK(index == 0);
    CHECK(&ref.get() == &shared_value);
  };
  ringo::run(main());
}
