#include <ringo/to_thread.hpp>
// (its own header first: proves it stands alone)
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

// Spawned coroutines take what they use as parameters: a lambda's captures die with the
// temporary closure, before the task runs.
ringo::task<> block_until_released(std::mutex& m, std::condition_variable& cv, bool& release,
                                   std::vector<std::string>& events) {
  co_await ringo::to_thread([&] {
    std::unique_lock lock{m};
    cv.wait(lock, [&] { return release; });  // blocks until the ticks are done
  });
  events.push_back("blocking call returned");
}

ringo::task<> sleep_on_worker(std::atomic<bool>& started, std::atomic<bool>& finished) {
  co_await ringo::to_thread([&started, &finished] {
    started = true;
    std::this_thread::sleep_for(50ms);
    finished = true;
  });
}

}  // namespace

TEST_CASE("to_thread returns the result of the call, run on another thread", "[to_thread]") {
  auto main = []() -> ringo::task<std::string> {
    const auto loop = std::this_thread::get_id();
    const auto worker = co_await ringo::to_thread([] { return std::this_thread::get_id(); });
    CHECK(worker != loop);
    CHECK(std::this_thread::get_id() == loop);  // resumed on its own context
    auto p = co_await ringo::to_thread([](int n) { return std::make_unique<int>(n); }, 9);
    co_await ringo::to_thread([] {});
    co_return std::to_string(*p) +
        co_await ringo::to_thread([](std::string a, std::string b) { return a + b; }, "a",
                                  std::string("b"));
  };
  CHECK(ringo::run(main()) == "9ab");
}

TEST_CASE("to_thread rethrows the call's exception in the task", "[to_thread]") {
  auto main = []() -> ringo::task<std::string> {
    // The future is kept until the handler is done with the exception. (Without that,
    // ThreadSanitizer may flag the exception's destruction on the worker: libstdc++'s
    // exception_ptr and string reference counts are not instrumented, so it cannot see them
    // order the handler's reads before the worker's release.)
    auto f = ringo::to_thread([]() -> int { throw std::out_of_range("off the end"); });
    try {
      co_await f;
    } catch (const std::out_of_range& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  CHECK(ringo::run(main()) == "off the end");
}

TEST_CASE("the loop keeps running timers while a call blocks on another thread", "[to_thread]") {
  auto main = []() -> ringo::task<std::vector<std::string>> {
    std::vector<std::string> events;
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    auto blocking = ringo::spawn(block_until_released(m, cv, release, events));
    for (int i = 0; i < 3; ++i) {
      co_await ringo::sleep_for(3ms);
      events.push_back("tick");
    }
    {
      std::lock_guard lock{m};
      release = true;
    }
    cv.notify_all();
    co_await blocking;
    co_return events;
  };
  CHECK(ringo::run(main()) ==
        std::vector<std::string>{"tick", "tick", "tick", "blocking call returned"});
}

TEST_CASE("a task waiting only for to_thread is not reported as a deadlock", "[to_thread]") {
  // Nothing is ready, no I/O, no timer: only the worker owes the loop its wake-up.
  auto main = []() -> ringo::task<int> {
    co_return co_await ringo::to_thread([] {
      std::this_thread::sleep_for(30ms);
      return 3;
    });
  };
  CHECK(ringo::run(main()) == 3);
}

TEST_CASE("many tasks await to_thread at once", "[to_thread]") {
  auto main = []() -> ringo::task<long> {
    std::vector<ringo::join_handle<long>> hs;
    for (long i = 0; i < 100; ++i) {
      hs.push_back(ringo::spawn([](long n) -> ringo::task<long> {
        co_return co_await ringo::to_thread([n] { return n * n; });
      }(i)));
    }
    long sum = 0;
    for (auto& h : hs)
      sum += co_await h;
    co_return sum;
  };
  CHECK(ringo::run(main()) == 328350);
}

TEST_CASE("cancelling a task in to_thread resumes it with operation_cancelled", "[to_thread]") {
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  auto main = [&]() -> ringo::task<std::string> {
    auto h = ringo::spawn(sleep_on_worker(started, finished));
    // Cancelled once the call runs: on a loaded machine a worker may pick it up only after a
    // fixed wait, and a call cancelled before it starts never runs (future_test checks that).
    for (int i = 0; i < 10000 && !started; ++i)
      co_await ringo::sleep_for(1ms);
    h.cancel();
    try {
      co_await h;
    } catch (const ringo::operation_cancelled&) {
      co_return "cancelled";
    }
    co_return "not cancelled";
  };
  CHECK(ringo::run(main()) == "cancelled");
  // The call had started: it runs to its end on the worker (a thread cannot be interrupted).
  CHECK(started);
  for (int i = 0; i < 5000 && !finished; ++i)
    std::this_thread::sleep_for(2ms);
  CHECK(finished);
}
