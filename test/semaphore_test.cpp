#include <ringo/semaphore.hpp>
// (its own header first: proves it stands alone)
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

namespace {

struct occupancy {
  int inside = 0;
  int most = 0;
};

ringo::task<void> visit(ringo::semaphore& s, occupancy& o, int turns) {
  auto permit = co_await s.scoped_acquire();
  o.most = std::max(o.most, ++o.inside);
  for (int i = 0; i < turns; ++i)
    co_await ringo::yield();
  --o.inside;
}

ringo::task<void> acquire_and_record(ringo::semaphore& s, std::vector<int>& order, int id) {
  co_await s.acquire();
  order.push_back(id);
}

}  // namespace

TEST_CASE("a semaphore lets at most n tasks in at once", "[semaphore]") {
  auto main = []() -> ringo::task<occupancy> {
    ringo::semaphore s{4};
    occupancy o;
    std::vector<ringo::join_handle<void>> hs;
    for (int i = 0; i < 20; ++i)
      hs.push_back(ringo::spawn(visit(s, o, 1 + i % 3)));
    for (auto& h : hs)
      co_await h;
    CHECK(s.available() == 4);
    co_return o;
  };
  const occupancy o = ringo::run(main());
  CHECK(o.most == 4);
  CHECK(o.inside == 0);
}

TEST_CASE("release(k) wakes exactly k waiters in FIFO order", "[semaphore]") {
  auto main = []() -> ringo::task<void> {
    ringo::semaphore s{0};
    std::vector<int> order;
    std::vector<ringo::join_handle<void>> hs;
    for (int i = 0; i < 5; ++i)
      hs.push_back(ringo::spawn(acquire_and_record(s, order, i)));
    co_await ringo::yield();
    CHECK(s.waiting() == 5);
    s.release(2);
    CHECK(s.waiting() == 3);
    CHECK(s.available() == 0);  // handed to the waiters, not counted
    CHECK_FALSE(s.try_acquire());
    co_await ringo::yield();
    CHECK(order == std::vector<int>{0, 1});
    s.release(5);  // three to waiters, two to the count
    CHECK(s.available() == 2);
    for (auto& h : hs)
      co_await h;
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
    CHECK_THROWS_AS(s.release(-1), std::invalid_argument);
  };
  ringo::run(main());
}

TEST_CASE("try_acquire and the guard forms count permits", "[semaphore]") {
  CHECK_THROWS_AS(ringo::semaphore{-1}, std::invalid_argument);
  ringo::semaphore s{2};
  CHECK(s.try_acquire());
  {
    auto g = s.try_acquire_guard();
    REQUIRE(g.has_value());
    CHECK(s.available() == 0);
    CHECK_FALSE(s.try_acquire_guard().has_value());
    ringo::semaphore::guard moved = std::move(*g);
    moved.unlock();
    CHECK(s.available() == 1);
    CHECK_THROWS_AS(moved.unlock(), std::logic_error);
  }
  CHECK(s.available() == 1);
  s.release();
  CHECK(s.available() == 2);
  CHECK(fmt::format("{}", s).find("2 permits free, 0 waiting") != std::string::npos);
}

TEST_CASE("a cancelled acquire loses no permit", "[semaphore]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::semaphore s{0};
    std::vector<int> order;
    auto a = ringo::spawn(acquire_and_record(s, order, 1));
    auto b = ringo::spawn(acquire_and_record(s, order, 2));
    co_await ringo::yield();
    a.cancel();
    try {
      co_await a;
      FAIL_CHECK("co_await a returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    s.release();
    co_await b;
    CHECK(s.available() == 0);
    // A permit handed over before the cancel arrives, the waiter not yet resumed: the
    // cancelled acquire gives it on, to the next waiter, else back to the count.
    auto c = ringo::spawn(acquire_and_record(s, order, 3));
    auto d = ringo::spawn(acquire_and_record(s, order, 4));
    co_await ringo::yield();
    s.release();  // to c
    c.cancel();
    try {
      co_await c;
      FAIL_CHECK("co_await c returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    co_await d;  // c's permit went on to d
    CHECK(s.available() == 0);
    auto e = ringo::spawn(acquire_and_record(s, order, 5));
    co_await ringo::yield();
    s.release();  // to e
    e.cancel();
    try {
      co_await e;
      FAIL_CHECK("co_await e returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    CHECK(s.available() == 1);  // no one waits: back to the count
    co_return order;
  };
  CHECK(ringo::run(main()) == std::vector<int>{2, 4});
}

TEST_CASE("a scoped permit handed to a waiter cancelled before it resumed comes back at once",
          "[semaphore]") {
  auto main = []() -> ringo::task<void> {
    ringo::semaphore s{1};
    occupancy o;
    auto first = co_await s.scoped_acquire();
    auto h = ringo::spawn(visit(s, o, 3));
    co_await ringo::yield();
    first.unlock();  // permit to h
    h.cancel();
    try {
      co_await h;
      FAIL_CHECK("co_await h returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    CHECK(o.most == 0);  // h never got in
    CHECK(s.available() == 1);
  };
  ringo::run(main());
}
