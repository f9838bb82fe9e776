#include <ringo/spawn.hpp>
// (its own header first: proves it stands alone)
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/queue.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

ringo::task<int> value_after(std::chrono::milliseconds d, int v) {
  co_await ringo::sleep_for(d);
  co_return v;
}

}  // namespace

TEST_CASE("run returns main's value", "[spawn]") {
  CHECK(ringo::run(value_after(1ms, 5)) == 5);
}

TEST_CASE("spawned tasks run concurrently and join in any order", "[spawn]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    const auto start = std::chrono::steady_clock::now();
    auto a = ringo::spawn(value_after(60ms, 1));
    auto b = ringo::spawn(value_after(30ms, 2));
    std::vector<int> got;
    got.push_back(co_await b);
    got.push_back(co_await a);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took < 150ms);  // not 90 ms + overhead serially; generous for sanitizers
    co_return got;
  };
  CHECK(ringo::run(main()) == std::vector<int>{2, 1});
}

TEST_CASE("an exception in a spawned task is rethrown by its join", "[spawn]") {
  auto fails = []() -> ringo::task<int> {
    co_await ringo::yield();
    throw std::runtime_error("spawned failure");
  };
  auto main = [&]() -> ringo::task<std::string> {
    auto h = ringo::spawn(fails());
    try {
      co_await h;
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  CHECK(ringo::run(main()) == "spawned failure");
}

TEST_CASE("run waits for non-daemon tasks and cancels daemons", "[spawn]") {
  std::vector<std::string> events;
  auto worker = [&]() -> ringo::task<void> {
    co_await ringo::sleep_for(20ms);
    events.push_back("worker done");
  };
  auto daemon = [&]() -> ringo::task<void> {
    try {
      for (;;) co_await ringo::sleep_for(5ms);
    } catch (const ringo::operation_cancelled&) {
      events.push_back("daemon cancelled");
      throw;
    }
  };
  auto main = [&]() -> ringo::task<void> {
    ringo::spawn(worker());
    ringo::spawn(daemon(), ringo::daemon);
    events.push_back("main done");
    co_return;
  };
  ringo::run(main());
  CHECK(events == std::vector<std::string>{"main done", "worker done", "daemon cancelled"});
}

TEST_CASE("cancel interrupts a sleeping task", "[spawn]") {
  auto main = []() -> ringo::task<bool> {
    auto h = ringo::spawn(value_after(10s, 1));
    co_await ringo::sleep_for(1ms);
    h.cancel();
    try {
      co_await h;
    } catch (const ringo::operation_cancelled&) {
      co_return true;
    }
    co_return false;
  };
  CHECK(ringo::run(main()));
}

TEST_CASE("a deadlock is reported with the waiting tasks", "[spawn]") {
  auto main = []() -> ringo::task<void> {
    auto self_join = ringo::spawn(value_after(0ms, 1));
    struct never : ringo::detail::suspension {
      never() : suspension(std::source_location::current()) {}
      bool await_ready() { return false; }
      bool await_suspend(std::coroutine_handle<> h) {
        if (!prepare()) return false;
        cancel = [](ringo::detail::wait_node& n) noexcept {
          auto& s = static_cast<never&>(n);
          s.cancelled = true;
          s.wake();
        };
        park(h);
        return true;
      }
      void await_resume() { throw_if_cancelled(); }
    };
    co_await never{};
  };
  try {
    ringo::run(main());
    FAIL("no deadlock reported");
  } catch (const ringo::deadlock_error& e) {
    const std::string what = e.what();
    CHECK(what.find("deadlock") != std::string::npos);
    CHECK(what.find("task #1") != std::string::npos);
    CHECK(what.find("spawn_test.cpp") != std::string::npos);
  }
}

TEST_CASE("spawn takes any wait not yet awaited and runs it as a task of its own", "[spawn]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q;
    auto got = ringo::spawn(q.get());  // the task owns the wait
    auto slept = ringo::spawn(ringo::sleep_for(1ms));
    co_await q.put(42);
    const int v = co_await got;
    CHECK(v == 42);
    co_await slept;
    // Cancelled before it took anything: the item stays in the queue.
    auto lost = ringo::spawn(q.get());
    lost.cancel();
    bool cancelled = false;
    try {
      (void)co_await lost;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    co_await q.put(7);
    CHECK(q.size() == 1);
  }());
}
