#include <ringo/mutex.hpp>
// (its own header first: proves it stands alone)
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

namespace {

ringo::task<void> lock_and_record(ringo::mutex& m, std::vector<int>& order, int id) {
  auto guard = co_await m.lock();
  order.push_back(id);
  co_await ringo::yield();  // hold it across a suspension
}

ringo::task<void> racy_increment(ringo::mutex* m, int& counter, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    std::optional<ringo::mutex::guard> g;
    if (m != nullptr) g.emplace(co_await m->lock());
    const int seen = counter;
    co_await ringo::yield();
    counter = seen + 1;
  }
}

ringo::task<int> count_race(bool locked) {
  ringo::mutex m;
  int counter = 0;
  std::vector<ringo::join_handle<void>> hs;
  for (int i = 0; i < 4; ++i)
    hs.push_back(ringo::spawn(racy_increment(locked ? &m : nullptr, counter, 25)));
  for (auto& h : hs)
    co_await h;
  co_return counter;
}

}  // namespace

TEST_CASE("a free mutex is taken without waiting and its guard unlocks it", "[mutex]") {
  auto main = []() -> ringo::task<void> {
    ringo::mutex m;
    CHECK_FALSE(m.locked());
    {
      auto g = co_await m.lock();
      CHECK(m.locked());
      CHECK(g.owns_lock());
      CHECK(g.owner() == &m);
      CHECK_FALSE(m.try_lock());
      CHECK_FALSE(m.try_lock_guard().has_value());
    }
    CHECK_FALSE(m.locked());
    CHECK(m.try_lock());
    CHECK(m.holder_id() != 0);
    m.unlock();
    CHECK_FALSE(m.locked());
  };
  ringo::run(main());
}

TEST_CASE("waiters get the mutex first come, first served, and a newcomer cannot barge in",
          "[mutex]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::mutex m;
    std::vector<int> order;
    auto g = co_await m.lock();
    std::vector<ringo::join_handle<void>> hs;
    for (int i = 0; i < 5; ++i)
      hs.push_back(ringo::spawn(lock_and_record(m, order, i)));
    co_await ringo::yield();
    co_await ringo::yield();
    CHECK(m.waiting() == 5);
    g.unlock();
    // Ownership went straight to task 0, which has not run yet: still locked.
    CHECK(m.locked());
    CHECK(m.holder_id() == hs[0].id());
    CHECK_FALSE(m.try_lock());
    for (auto& h : hs)
      co_await h;
    CHECK_FALSE(m.locked());
    co_return order;
  };
  CHECK(ringo::run(main()) == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("a counter raced across co_await points is wrong without the mutex, right with it",
          "[mutex]") {
  CHECK(ringo::run(count_race(false)) < 100);
  CHECK(ringo::run(count_race(true)) == 100);
}

TEST_CASE("unlocking a mutex that the task does not hold throws logic_error", "[mutex]") {
  auto other_unlocks = [](ringo::mutex& m) -> ringo::task<std::string> {
    try {
      m.unlock();
    } catch (const std::logic_error& e) {
      co_return e.what();
    }
    co_return "no error";
  };
  auto main = [&]() -> ringo::task<void> {
    ringo::mutex m;
    CHECK_THROWS_AS(m.unlock(), std::logic_error);
    auto g = co_await m.lock();
    const std::string what = co_await ringo::spawn(other_unlocks(m));
    CHECK(what.find("held by task #") != std::string::npos);
    CHECK(m.locked());  // still ours
  };
  ringo::run(main());
}

TEST_CASE("a guard moves, unlocks early, and refuses a second unlock", "[mutex]") {
  auto main = []() -> ringo::task<void> {
    ringo::mutex m;
    auto g1 = co_await m.lock();
    ringo::mutex::guard g2 = std::move(g1);
    CHECK_FALSE(g1.owns_lock());
    CHECK(g2.owns_lock());
    CHECK_THROWS_AS(g1.unlock(), std::logic_error);
    g2.unlock();
    CHECK_FALSE(m.locked());
    CHECK_THROWS_AS(g2.unlock(), std::logic_error);
    auto g3 = m.try_lock_guard();
    REQUIRE(g3.has_value());
    CHECK(m.locked());
    g3.reset();
    CHECK_FALSE(m.locked());
    ringo::mutex::guard empty;
    CHECK_FALSE(empty);
  };
  ringo::run(main());
}

TEST_CASE("a cancelled lock waiter leaves the queue and the lock goes to the next", "[mutex]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::mutex m;
    std::vector<int> order;
    auto g = co_await m.lock();
    auto a = ringo::spawn(lock_and_record(m, order, 1));
    auto b = ringo::spawn(lock_and_record(m, order, 2));
    co_await ringo::yield();
    CHECK(m.waiting() == 2);
    a.cancel();
    CHECK(m.waiting() == 1);
    try {
      co_await a;
      FAIL_CHECK("co_await a returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    g.unlock();
    co_await b;
    CHECK_FALSE(m.locked());
    co_return order;
  };
  CHECK(ringo::run(main()) == std::vector<int>{2});
}

TEST_CASE("a waiter handed the lock and cancelled before it resumed passes the lock on unused",
          "[mutex]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::mutex m;
    std::vector<int> order;
    auto g = co_await m.lock();
    auto a = ringo::spawn(lock_and_record(m, order, 1));
    co_await ringo::yield();
    g.unlock();  // hands the lock to `a`, which is now ready, not waiting
    a.cancel();  // delivered where it resumes: it gives the lock back without using it
    try {
      co_await a;
      FAIL_CHECK("co_await a returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    CHECK_FALSE(m.locked());
    auto again = co_await m.lock();
    co_return order;
  };
  CHECK(ringo::run(main()).empty());
}

namespace {
int double_lock_line = 0;
ringo::task<void> lock_twice(ringo::mutex& m) {
  auto first = co_await m.lock();
  double_lock_line = __LINE__ + 1;
  auto second = co_await m.lock();
}
}  // namespace

TEST_CASE("locking a mutex twice in one task is reported as a deadlock naming it and the line",
          "[mutex]") {
  ringo::mutex m;
  auto main = [&]() -> ringo::task<void> {
    auto h = ringo::spawn(lock_twice(m));
    co_await h;
  };
  std::string what;
  try {
    ringo::run(main());
  } catch (const ringo::deadlock_error& e) {
    what = e.what();
  }
  INFO(what);
  CHECK(what.find(fmt::format("mutex {} held by task #2 spawned at", fmt::ptr(&m))) !=
        std::string::npos);
  CHECK(what.find(fmt::format("mutex_test.cpp:{}", double_lock_line)) != std::string::npos);
  CHECK(what.find("cannot be locked twice") != std::string::npos);
  CHECK_FALSE(m.locked());  // the cancelled task's guard unlocked it while unwinding
}

namespace {
int crossed_line_a = 0;
int crossed_line_b = 0;
ringo::task<void> take_both(ringo::mutex& first, ringo::mutex& second, int& line) {
  auto g1 = co_await first.lock();
  co_await ringo::yield();
  line = __LINE__ + 1;
  auto g2 = co_await second.lock();
}
}  // namespace

TEST_CASE("two tasks locking two mutexes in opposite orders are reported, both named", "[mutex]") {
  ringo::mutex x;
  ringo::mutex y;
  auto main = [&]() -> ringo::task<void> {
    auto a = ringo::spawn(take_both(x, y, crossed_line_a));
    auto b = ringo::spawn(take_both(y, x, crossed_line_b));
    co_await a;
    co_await b;
  };
  std::string what;
  try {
    ringo::run(main());
  } catch (const ringo::deadlock_error& e) {
    what = e.what();
  }
  INFO(what);
  CHECK(what.find(fmt::format("mutex {} held by task #2", fmt::ptr(&x))) != std::string::npos);
  CHECK(what.find(fmt::format("mutex {} held by task #3", fmt::ptr(&y))) != std::string::npos);
  CHECK(what.find(fmt::format("mutex_test.cpp:{}", crossed_line_a)) != std::string::npos);
  CHECK(what.find(fmt::format("mutex_test.cpp:{}", crossed_line_b)) != std::string::npos);
  CHECK_FALSE(x.locked());
  CHECK_FALSE(y.locked());
}

TEST_CASE("a mutex formats as its holder", "[mutex]") {
  ringo::mutex m;
  CHECK(fmt::format("{}", m) == fmt::format("mutex {} (unlocked)", fmt::ptr(&m)));
  REQUIRE(m.try_lock());
  CHECK(fmt::format("{}", m).find("held by code outside any task") != std::string::npos);
  m.unlock();
}
