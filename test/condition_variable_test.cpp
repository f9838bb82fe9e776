#include <ringo/condition_variable.hpp>
// (its own header first: proves it stands alone)
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/mutex.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

namespace {

struct shared_state {
  ringo::mutex m;
  ringo::condition_variable cv;
  std::vector<int> woken;
  int tickets = 0;
};

ringo::task<void> wait_once(shared_state& s, int id) {
  auto g = co_await s.m.lock();
  co_await s.cv.wait(g);
  CHECK(g.owns_lock());
  CHECK(s.m.holder_id() != 0);
  s.woken.push_back(id);
}

ringo::task<void> wait_for_ticket(shared_state& s, int id) {
  auto g = co_await s.m.lock();
  co_await s.cv.wait(g, [&] { return s.tickets > 0; });
  --s.tickets;
  s.woken.push_back(id);
}

ringo::task<void> yield_n(int n) {
  for (int i = 0; i < n; ++i)
    co_await ringo::yield();
}

}  // namespace

TEST_CASE("notify(n) wakes exactly n waiters, first come first woken", "[condition_variable]") {
  auto main = []() -> ringo::task<void> {
    shared_state s;
    std::vector<ringo::join_handle<void>> hs;
    for (int i = 0; i < 6; ++i)
      hs.push_back(ringo::spawn(wait_once(s, i)));
    co_await yield_n(3);
    CHECK(s.cv.waiting() == 6);
    CHECK_FALSE(s.m.locked());  // every waiter let go of it
    {
      auto g = co_await s.m.lock();
      s.cv.notify(2);
      CHECK(s.cv.waiting() == 4);
      co_await yield_n(3);
      CHECK(s.woken.empty());  // they queue for the mutex, which we hold
      CHECK(s.m.waiting() == 2);
    }
    co_await yield_n(3);
    CHECK(s.woken == std::vector<int>{0, 1});
    s.cv.notify_one();
    co_await yield_n(3);
    CHECK(s.woken == std::vector<int>{0, 1, 2});
    s.cv.notify_all();
    for (auto& h : hs)
      co_await h;
    CHECK(s.woken == std::vector<int>{0, 1, 2, 3, 4, 5});
    CHECK_FALSE(s.m.locked());
  };
  ringo::run(main());
}

TEST_CASE("wait with a predicate returns only when it holds", "[condition_variable]") {
  auto main = []() -> ringo::task<void> {
    shared_state s;
    std::vector<ringo::join_handle<void>> hs;
    for (int i = 0; i < 3; ++i)
      hs.push_back(ringo::spawn(wait_for_ticket(s, i)));
    co_await yield_n(2);
    s.cv.notify_all();  // no tickets: all go back to waiting
    co_await yield_n(3);
    CHECK(s.woken.empty());
    CHECK(s.cv.waiting() == 3);
    {
      auto g = co_await s.m.lock();
      s.tickets = 2;
      s.cv.notify_all();
    }
    co_await yield_n(4);
    CHECK(s.woken == std::vector<int>{0, 1});
    CHECK(s.cv.waiting() == 1);
    s.tickets = 1;
    s.cv.notify_one();
    for (auto& h : hs)
      co_await h;
    CHECK(s.woken == std::vector<int>{0, 1, 2});
    auto g = co_await s.m.lock();
    co_await s.cv.wait(g, [] { return true; });  // already true: no wait
    CHECK(g.owns_lock());
  };
  ringo::run(main());
}

namespace {
ringo::task<std::string> wait_expecting_cancel(shared_state& s) {
  auto g = co_await s.m.lock();
  try {
    co_await s.cv.wait(g);
  } catch (const ringo::operation_cancelled&) {
    // The lock is ours again when the cancellation arrives, as with std::condition_variable.
    CHECK(g.owns_lock());
    CHECK(s.m.locked());
    s.woken.push_back(-1);
    co_return "cancelled holding the lock";
  }
  co_return "not cancelled";
}
}  // namespace

TEST_CASE("a waiter cancelled while waiting takes the mutex back before it throws",
          "[condition_variable]") {
  auto main = []() -> ringo::task<void> {
    shared_state s;
    auto h = ringo::spawn(wait_expecting_cancel(s));
    co_await yield_n(2);
    {
      auto g = co_await s.m.lock();
      h.cancel();  // it must queue for the mutex we hold, not throw without it
      co_await yield_n(3);
      CHECK(s.woken.empty());
      CHECK(s.cv.waiting() == 0);
      CHECK(s.m.waiting() == 1);
    }
    const std::string got_h = co_await h;
    CHECK(got_h == "cancelled holding the lock");
    CHECK(s.woken == std::vector<int>{-1});
    CHECK_FALSE(s.m.locked());
  };
  ringo::run(main());
}

TEST_CASE("a waiter cancelled while free takes the mutex at once; a notified one keeps its place",
          "[condition_variable]") {
  auto main = []() -> ringo::task<void> {
    shared_state s;
    auto a = ringo::spawn(wait_expecting_cancel(s));
    co_await yield_n(2);
    a.cancel();  // mutex free: a gets it straight away
    CHECK(s.m.locked());
    const std::string got_a = co_await a;
    CHECK(got_a == "cancelled holding the lock");
    CHECK_FALSE(s.m.locked());

    auto b = ringo::spawn(wait_expecting_cancel(s));
    co_await yield_n(2);
    auto g = co_await s.m.lock();
    s.cv.notify_one();  // b now queues for the mutex
    b.cancel();         // ... and stays queued
    co_await yield_n(2);
    CHECK(s.m.waiting() == 1);
    g.unlock();
    const std::string got_b = co_await b;
    CHECK(got_b == "cancelled holding the lock");
    CHECK_FALSE(s.m.locked());
  };
  ringo::run(main());
}

TEST_CASE("waiting with a guard that owns nothing or another task's lock throws logic_error",
          "[condition_variable]") {
  auto main = []() -> ringo::task<void> {
    shared_state s;
    ringo::mutex::guard empty;
    try {
      co_await s.cv.wait(empty);
      FAIL_CHECK("co_await s.cv.wait(empty) returned instead of throwing logic_error");
    } catch (const std::logic_error&) {
    }
    auto g = co_await s.m.lock();
    g.unlock();
    try {
      co_await s.cv.wait(g);
      FAIL_CHECK("co_await s.cv.wait(g) returned instead of throwing logic_error");
    } catch (const std::logic_error&) {
    }
  };
  ringo::run(main());
}

namespace {
int cv_wait_line = 0;
ringo::task<void> wait_unnotified(shared_state& s) {
  auto g = co_await s.m.lock();
  cv_wait_line = __LINE__ + 1;
  co_await s.cv.wait(g);
}
}  // namespace

TEST_CASE("a wait no one notifies is reported as a deadlock naming the condition and line",
          "[condition_variable]") {
  shared_state s;
  std::string what;
  try {
    ringo::run(wait_unnotified(s));
  } catch (const ringo::deadlock_error& e) {
    what = e.what();
  }
  INFO(what);
  CHECK(what.find(fmt::format("condition_variable {} (with mutex", fmt::ptr(&s.cv))) !=
        std::string::npos);
  CHECK(what.find(fmt::format("condition_variable_test.cpp:{}", cv_wait_line)) !=
        std::string::npos);
  CHECK_FALSE(s.m.locked());  // the cancelled wait took it back, then the guard released it
}
