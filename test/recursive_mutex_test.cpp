#include <ringo/recursive_mutex.hpp>
// (its own header first: proves it stands alone)
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

namespace {

ringo::task<void> lock_and_record(ringo::recursive_mutex& m, std::vector<int>& order, int id) {
  auto outer = co_await m.lock();
  auto inner = co_await m.lock();
  order.push_back(id);
  co_await ringo::yield();
}

}  // namespace

TEST_CASE("the holding task locks a recursive_mutex again and frees it after as many unlocks",
          "[recursive_mutex]") {
  auto main = []() -> ringo::task<void> {
    ringo::recursive_mutex m;
    auto g1 = co_await m.lock();
    auto g2 = co_await m.lock();
    CHECK(m.try_lock());
    CHECK(m.depth() == 3);
    m.unlock();
    CHECK(m.depth() == 2);
    g2.unlock();
    CHECK(m.locked());
    CHECK(m.depth() == 1);
    g1.unlock();
    CHECK_FALSE(m.locked());
    CHECK_THROWS_AS(m.unlock(), std::logic_error);
  };
  ringo::run(main());
}

TEST_CASE("other tasks wait for the last unlock, first come, first served", "[recursive_mutex]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::recursive_mutex m;
    std::vector<int> order;
    auto g1 = co_await m.lock();
    auto g2 = co_await m.lock();
    std::vector<ringo::join_handle<void>> hs;
    for (int i = 0; i < 3; ++i)
      hs.push_back(ringo::spawn(lock_and_record(m, order, i)));
    co_await ringo::yield();
    CHECK(m.waiting() == 3);
    g2.unlock();
    co_await ringo::yield();
    CHECK(order.empty());  // one level is still held
    g1.unlock();
    CHECK(m.holder_id() == hs[0].id());
    CHECK_FALSE(m.try_lock());  // handed over: no barging
    for (auto& h : hs)
      co_await h;
    CHECK_FALSE(m.locked());
    co_return order;
  };
  CHECK(ringo::run(main()) == std::vector<int>{0, 1, 2});
}

TEST_CASE("unlocking another task's recursive_mutex throws logic_error", "[recursive_mutex]") {
  auto other = [](ringo::recursive_mutex& m) -> ringo::task<bool> {
    CHECK_FALSE(m.try_lock());
    try {
      m.unlock();
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  };
  auto main = [&]() -> ringo::task<void> {
    ringo::recursive_mutex m;
    auto g = co_await m.lock();
    const bool refused = co_await ringo::spawn(other(m));
    CHECK(refused);
    CHECK(m.depth() == 1);
  };
  ringo::run(main());
}

TEST_CASE("a cancelled recursive_mutex waiter leaves the queue; a handed-over one passes it on",
          "[recursive_mutex]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::recursive_mutex m;
    std::vector<int> order;
    auto g = co_await m.lock();
    auto a = ringo::spawn(lock_and_record(m, order, 1));
    auto b = ringo::spawn(lock_and_record(m, order, 2));
    co_await ringo::yield();
    a.cancel();
    CHECK(m.waiting() == 1);
    try {
      co_await a;
      FAIL_CHECK("co_await a returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    g.unlock();  // to b, which is ready now
    b.cancel();  // b gives the lock back where it resumes, without using it
    try {
      co_await b;
      FAIL_CHECK("co_await b returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    CHECK_FALSE(m.locked());
    co_return order;
  };
  CHECK(ringo::run(main()).empty());
}

TEST_CASE("a recursive_mutex formats with its depth and holder", "[recursive_mutex]") {
  ringo::recursive_mutex m;
  REQUIRE(m.try_lock());
  REQUIRE(m.try_lock());
  CHECK(fmt::format("{}", m).find("held 2 deep by") != std::string::npos);
  m.unlock();
  m.unlock();
  CHECK(fmt::format("{}", m).find("(unlocked)") != std::string::npos);
}
