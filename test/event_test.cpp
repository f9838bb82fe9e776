#include <ringo/event.hpp>
// (its own header first: proves it stands alone)
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

namespace {

ringo::task<void> wait_and_record(ringo::event& e, std::vector<int>& order, int id) {
  co_await e.wait();
  order.push_back(id);
}

}  // namespace

TEST_CASE("set wakes every waiter, in the order they began to wait", "[event]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::event e;
    std::vector<int> order;
    std::vector<ringo::join_handle<void>> hs;
    for (int i = 0; i < 6; ++i)
      hs.push_back(ringo::spawn(wait_and_record(e, order, i)));
    co_await ringo::yield();
    CHECK(e.waiting() == 6);
    CHECK(order.empty());
    e.set();
    CHECK(e.waiting() == 0);
    e.clear();  // woken waiters return even though the flag is down again
    for (auto& h : hs)
      co_await h;
    co_return order;
  };
  CHECK(ringo::run(main()) == std::vector<int>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("wait returns at once while set and waits again after clear", "[event]") {
  auto main = []() -> ringo::task<void> {
    ringo::event e{true};
    CHECK(e.is_set());
    co_await e.wait();
    e.clear();
    CHECK_FALSE(e.is_set());
    std::vector<int> order;
    auto h = ringo::spawn(wait_and_record(e, order, 7));
    co_await ringo::yield();
    co_await ringo::yield();
    CHECK(order.empty());
    e.set();
    co_await h;
    CHECK(order == std::vector<int>{7});
  };
  ringo::run(main());
}

TEST_CASE("a cancelled event waiter leaves the list and the others still wake", "[event]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::event e;
    std::vector<int> order;
    auto a = ringo::spawn(wait_and_record(e, order, 1));
    auto b = ringo::spawn(wait_and_record(e, order, 2));
    co_await ringo::yield();
    a.cancel();
    CHECK(e.waiting() == 1);
    try {
      co_await a;
      FAIL_CHECK("co_await a returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    e.set();
    co_await b;
    co_return order;
  };
  CHECK(ringo::run(main()) == std::vector<int>{2});
}

namespace {
int event_wait_line = 0;
ringo::task<void> wait_forever(ringo::event& e) {
  event_wait_line = __LINE__ + 1;
  co_await e.wait();
}
}  // namespace

TEST_CASE("an event no one sets is reported as a deadlock naming the wait", "[event]") {
  ringo::event e;
  std::string what;
  try {
    ringo::run(wait_forever(e));
  } catch (const ringo::deadlock_error& ex) {
    what = ex.what();
  }
  INFO(what);
  CHECK(what.find(fmt::format("event_test.cpp:{}", event_wait_line)) != std::string::npos);
  CHECK(what.find(fmt::format("event {} (not set, 1 waiting)", fmt::ptr(&e))) != std::string::npos);
}
