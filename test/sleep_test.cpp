#include <ringo/sleep.hpp>
// (its own header first: proves it stands alone)
#include <ringo/call_later.hpp>
#include <ringo/with_timeout.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/run.hpp>

#include "catch.hpp"
#include "ended_cancelled.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ringo_test::ended_cancelled;

namespace {

ringo::task<int> value_after(std::chrono::milliseconds d, int v) {
  co_await ringo::sleep_for(d);
  co_return v;
}

}  // namespace

TEST_CASE("sleep_for suspends for at least the duration", "[sleep]") {
  auto main = []() -> ringo::task<clock_type::duration> {
    const auto start = clock_type::now();
    co_await ringo::sleep_for(20ms);
    co_return clock_type::now() - start;
  };
  const auto took = ringo::run(main());
  CHECK(took >= 20ms);
  CHECK(took < 2s);
}

TEST_CASE("sleep_until a past time resumes at once", "[sleep]") {
  // A deadline already past still suspends, as yield() does: a task that is ready runs first.
  // Then the timer is due at the loop's next look at timers, so the sleeper resumes before any
  // timer set for later, without waiting; sleep_for a negative duration likewise.
  std::vector<std::string> log;
  clock_type::duration took{};
  auto ready = [&]() -> ringo::task<void> {
    log.push_back("ready task");
    co_return;
  };
  auto later = [&]() -> ringo::task<void> {
    co_await ringo::sleep_for(100ms);
    log.push_back("100 ms sleeper");
  };
  auto main = [&]() -> ringo::task<void> {
    ringo::spawn(later());
    ringo::spawn(ready());
    const auto start = clock_type::now();
    co_await ringo::sleep_until(start - 1s);
    log.push_back("past deadline");
    co_await ringo::sleep_for(-5ms);
    log.push_back("negative duration");
    took = clock_type::now() - start;
  };
  ringo::run(main());
  CHECK(log == std::vector<std::string>{"ready task", "past deadline", "negative duration",
                                        "100 ms sleeper"});
  CHECK(took < 500ms);  // generous: both resumptions take a few loop turns, not a timer's wait
}

TEST_CASE("sleepers wake in deadline order", "[sleep]") {
  std::vector<int> order;
  auto sleeper = [&](int ms) -> ringo::task<void> {
    co_await ringo::sleep_for(std::chrono::milliseconds(ms));
    order.push_back(ms);
  };
  auto main = [&]() -> ringo::task<void> {
    for (int ms : {30, 10, 50, 20, 40, 0}) ringo::spawn(sleeper(ms));
    co_return;
  };
  ringo::run(main());
  CHECK(order == std::vector<int>{0, 10, 20, 30, 40, 50});
}

TEST_CASE("yield lets every other ready task run once", "[sleep]") {
  std::vector<std::string> log;
  auto worker = [&](std::string name) -> ringo::task<void> {
    for (int i = 0; i < 3; ++i) {
      log.push_back(name + std::to_string(i));
      co_await ringo::yield();
    }
  };
  auto main = [&]() -> ringo::task<void> {
    ringo::spawn(worker("a"));
    ringo::spawn(worker("b"));
    co_return;
  };
  ringo::run(main());
  CHECK(log == std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "b2"});
}

TEST_CASE("a million concurrent sleepers on one context", "[sleep]") {
  constexpr int count = 1'000'000;
  int woke = 0;
  auto sleeper = [&](int i) -> ringo::task<void> {
    co_await ringo::sleep_for(std::chrono::milliseconds(1 + i % 50));
    ++woke;
  };
  auto main = [&]() -> ringo::task<void> {
    for (int i = 0; i < count; ++i) ringo::spawn(sleeper(i));
    co_return;
  };
  ringo::run(main());
  CHECK(woke == count);
}

TEST_CASE("cancelling sleepers removes their timers", "[sleep]") {
  auto main = []() -> ringo::task<int> {
    std::vector<ringo::join_handle<int>> handles;
    for (int i = 0; i < 1000; ++i) handles.push_back(ringo::spawn(value_after(10s, i)));
    co_await ringo::sleep_for(1ms);
    for (auto& h : handles) h.cancel();
    int cancelled = 0;
    for (auto& h : handles) {
      try {
        co_await h;
      } catch (const ringo::operation_cancelled&) {
        ++cancelled;
      }
    }
    co_return cancelled;
  };
  const auto start = clock_type::now();
  CHECK(ringo::run(main()) == 1000);
  CHECK(clock_type::now() - start < 5s);  // no timer kept the loop alive
}

TEST_CASE("call_later runs the function after the delay", "[call_later]") {
  std::vector<std::string> log;
  auto main = [&]() -> ringo::task<void> {
    const auto start = clock_type::now();
    auto h = ringo::call_later(20ms, [&] {
      log.push_back("fired");
      CHECK(clock_type::now() - start >= 20ms);
    });
    log.push_back("scheduled");
    co_await h;
    log.push_back("joined");
  };
  ringo::run(main());
  CHECK(log == std::vector<std::string>{"scheduled", "fired", "joined"});
}

TEST_CASE("call_later cancelled before it fires never calls", "[call_later]") {
  bool fired = false;
  auto main = [&]() -> ringo::task<void> {
    auto h = ringo::call_later(50ms, [&] { fired = true; });
    co_await ringo::sleep_for(1ms);
    h.cancel();
    co_return;
  };
  ringo::run(main());
  CHECK_FALSE(fired);
}

TEST_CASE("call_later runs a task-returning function to its end", "[call_later]") {
  std::vector<int> out;
  auto main = [&]() -> ringo::task<void> {
    ringo::call_later(1ms, [&]() -> ringo::task<void> {
      co_await ringo::sleep_for(1ms);
      out.push_back(1);
    });
    co_return;
  };
  ringo::run(main());  // run waits for the timer's task, like a non-daemon Timer thread
  CHECK(out == std::vector<int>{1});
}

TEST_CASE("with_timeout returns the result when the task is in time", "[with_timeout]") {
  auto main = []() -> ringo::task<int> { co_return co_await ringo::with_timeout(1s, value_after(1ms, 7)); };
  CHECK(ringo::run(main()) == 7);
}

TEST_CASE("with_timeout cancels a late task and throws timed_out", "[with_timeout]") {
  bool unwound = false;
  auto slow = [&]() -> ringo::task<int> {
    try {
      co_await ringo::sleep_for(10s);
    } catch (const ringo::operation_cancelled&) {
      unwound = true;
      throw;
    }
    co_return 1;
  };
  auto main = [&]() -> ringo::task<void> {
    try {
      co_await ringo::with_timeout(10ms, slow());
      FAIL("no timeout");
    } catch (const ringo::timed_out& e) {
      CHECK(e.code() == std::errc::timed_out);
      CHECK(unwound);  // the task had ended before timed_out was thrown
    }
  };
  ringo::run(main());
}

TEST_CASE("with_timeout passes the task's exception through", "[with_timeout]") {
  auto failing = []() -> ringo::task<void> {
    co_await ringo::sleep_for(1ms);
    throw std::runtime_error("inner");
  };
  auto main = [&]() -> ringo::task<void> {
    try {
      co_await ringo::with_timeout(1s, failing());
      FAIL_CHECK("co_await ringo::with_timeout(1s, failing()) returned instead of throwing");
    } catch (const std::exception& e) {
      CHECK(std::string(e.what()) == "inner");
    }
  };
  ringo::run(main());
}

TEST_CASE("what a sleeping task keeps in its frame stays small", "[sleep]") {
  // A sleeping task is its frame: the promise (the record included, which shares its bytes
  // with an awaited task's continuation) and the sleep's wait and timer, nothing else.
  CHECK(sizeof(ringo::detail::task_record) <= 64);
  CHECK(sizeof(ringo::detail::task_promise<void>) <= 72);
  CHECK(sizeof(ringo::detail::sleep_awaiter) <= 56);
}

TEST_CASE("a sleep too long for the clock never ends and holds up no other timer", "[sleep]") {
  // nanoseconds::max() from now is past what steady_clock can hold; seconds::max() is past
  // even what its duration can: both mean "never".
  auto forever = [](int which) -> ringo::task<void> {
    if (which == 0) co_await ringo::sleep_for(std::chrono::nanoseconds::max());
    if (which == 1) co_await ringo::sleep_for(std::chrono::seconds::max());
    if (which == 2) co_await ringo::sleep_for(std::chrono::hours::max());
  };
  auto main = [&]() -> ringo::task<void> {
    std::vector<ringo::join_handle<void>> sleepers;
    for (int which = 0; which < 3; ++which)
      sleepers.push_back(ringo::spawn(forever(which)));
    const auto start = clock_type::now();
    co_await ringo::sleep_for(5ms);
    CHECK(clock_type::now() - start >= 5ms);
    for (auto& h : sleepers) {
      CHECK_FALSE(h.done());
      h.cancel();
      const bool cancelled = co_await ended_cancelled(h);
      CHECK(cancelled);
    }
  };
  ringo::run(main());
}

TEST_CASE("a sleep for the most negative duration is already due", "[sleep]") {
  auto main = []() -> ringo::task<int> {
    co_await ringo::sleep_for(std::chrono::nanoseconds::min());
    co_await ringo::sleep_for(std::chrono::seconds::min());
    co_await ringo::sleep_for(-1ms);
    co_return 3;
  };
  CHECK(ringo::run(main()) == 3);
}

TEST_CASE("call_later with a delay too long for the clock never calls and freezes nothing",
          "[call_later]") {
  bool called = false;
  auto main = [&]() -> ringo::task<void> {
    auto never = ringo::call_later(std::chrono::nanoseconds::max(), [&] { called = true; });
    auto later = ringo::call_later(std::chrono::seconds::max(), [&] { called = true; });
    co_await ringo::sleep_for(5ms);
    CHECK_FALSE(never.done());
    CHECK_FALSE(later.done());
    never.cancel();
    later.cancel();
    const bool never_cancelled = co_await ended_cancelled(never);
    const bool later_cancelled = co_await ended_cancelled(later);
    CHECK(never_cancelled);
    CHECK(later_cancelled);
  };
  ringo::run(main());
  CHECK_FALSE(called);
}

TEST_CASE("with_timeout of a duration too long for the clock never times out", "[with_timeout]") {
  auto main = []() -> ringo::task<int> {
    const int a = co_await ringo::with_timeout(std::chrono::nanoseconds::max(), value_after(5ms, 1));
    const int b = co_await ringo::with_timeout(std::chrono::seconds::max(), value_after(5ms, 2));
    const int c = co_await ringo::with_timeout(std::chrono::hours::max(), value_after(5ms, 3));
    co_return a + b + c;
  };
  CHECK(ringo::run(main()) == 6);
}

TEST_CASE("with_timeout of a negative duration times out at once and says 0 ms",
          "[with_timeout]") {
  auto main = []() -> ringo::task<std::string> {
    try {
      co_await ringo::with_timeout(std::chrono::seconds::min(), value_after(10s, 1));
    } catch (const ringo::timed_out& e) {
      co_return e.what();
    }
    co_return "";
  };
  const std::string what = ringo::run(main());
  INFO(what);
  CHECK(what.starts_with("timed out after 0 ms"));
}
