// Awaiting a ringo::future in a task: the task resumes on its own loop with the result or the
// exception, its loop runs on meanwhile, loops on two threads await one pool at once; a
// cancelled awaiting task resumes at once (cancelling the work if it has not started) and
// takes nothing from the future, whether it lost a when_any race or was woken by the result
// before it resumed. From outside a coroutine: future_test.cpp.
#include <ringo/future.hpp>
// (its own header first: proves it stands alone)
#include <atomic>
#include <chrono>
#include <cstddef>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/io_context.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/thread_pool.hpp>
#include <ringo/when_any.hpp>

#include "catch.hpp"
#include "gate.hpp"

using namespace std::chrono_literals;

namespace {

using ringo_test::gate;

// Spawned coroutines take what they use as parameters: a lambda's captures die with the
// temporary closure, before the task runs.
ringo::task<int> await_future(ringo::future<int> f) {
  co_return co_await f;
}

ringo::task<> await_then_note(ringo::thread_pool& pool, gate& g, std::thread::id loop_thread,
                              std::vector<std::string>& order) {
  auto f = pool.submit([&g] {
    g.pass();
    return 1;
  });
  co_await f;
  CHECK(std::this_thread::get_id() == loop_thread);
  order.push_back("future");
}

}  // namespace

TEST_CASE("co_await on a future resumes the task with the result or the exception", "[future]") {
  ringo::thread_pool pool{2};
  auto main = [&]() -> ringo::task<std::string> {
    auto f = pool.submit([] {
      std::this_thread::sleep_for(5ms);
      return 20;
    });
    const int& r = co_await f;  // an lvalue future: a reference to the stored result
    CHECK(&r == &f.get());
    auto u = co_await pool.submit([v = r] { return std::make_unique<int>(v + 1); });  // moved out
    co_await pool.submit([] {});
    // Kept until the handler is done with the exception (see to_thread_test: TSan cannot see
    // libstdc++'s exception reference counts).
    auto failing = pool.submit([]() -> int { throw std::invalid_argument("from the pool"); });
    try {
      co_await std::move(failing);
    } catch (const std::invalid_argument& e) {
      co_return std::to_string(*u) + " " + e.what();
    }
    co_return "no exception";
  };
  CHECK(ringo::run(main()) == "21 from the pool");
}

TEST_CASE("a task awaiting a future does not block its loop, which resumes it itself", "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  auto main = [&]() -> ringo::task<std::vector<std::string>> {
    std::vector<std::string> order;
    const auto loop_thread = std::this_thread::get_id();
    auto waiter = ringo::spawn(await_then_note(pool, g, loop_thread, order));
    for (int i = 0; i < 3; ++i) {
      co_await ringo::sleep_for(2ms);
      order.push_back("tick");
    }
    g.open();
    co_await waiter;
    co_return order;
  };
  CHECK(ringo::run(main()) == std::vector<std::string>{"tick", "tick", "tick", "future"});
}

TEST_CASE("two loops on two threads await futures of one pool at once", "[future]") {
  ringo::thread_pool pool{4};
  auto loop = [&](int base) {
    return ringo::run([](ringo::thread_pool& p, int b) -> ringo::task<int> {
      int sum = 0;
      for (int i = 0; i < 200; ++i)
        sum += co_await p.submit([=] { return b + i; });
      // Several at once from one task, and one shared future awaited by two tasks.
      auto shared = p.submit([=] { return b; });
      auto other = ringo::spawn(await_future(shared));
      sum += co_await shared;
      sum += co_await other;
      co_return sum;
    }(pool, base));
  };
  int a = 0;
  int b = 0;
  std::thread t1{[&] { a = loop(0); }};
  std::thread t2{[&] { b = loop(1000); }};
  t1.join();
  t2.join();
  CHECK(a == 199 * 200 / 2);
  CHECK(b == 199 * 200 / 2 + 200 * 1000 + 2000);
}

TEST_CASE("cancelling a task that awaits unstarted work resumes it at once and cancels the work",
          "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  std::atomic<bool> ran{false};
  auto blocker = pool.submit([&] { g.pass(); });
  auto queued = pool.submit([&] {
    ran = true;
    return 1;
  });
  auto main = [&]() -> ringo::task<std::string> {
    auto h = ringo::spawn(await_future(queued));
    co_await ringo::sleep_for(2ms);
    h.cancel();
    try {
      co_await h;
    } catch (const ringo::operation_cancelled&) {
      co_return "cancelled";
    }
    co_return "not cancelled";
  };
  CHECK(ringo::run(main()) == "cancelled");
  CHECK(queued.cancelled());
  g.open();
  pool.shutdown();
  CHECK_FALSE(ran);
}

TEST_CASE("cancelling a task that awaits running work resumes it at once; the work finishes",
          "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  std::latch started{1};
  auto running = pool.submit([&] {
    started.count_down();
    g.pass();
    return 5;
  });
  started.wait();
  auto main = [&]() -> ringo::task<std::string> {
    auto h = ringo::spawn(await_future(running));
    co_await ringo::sleep_for(2ms);
    h.cancel();
    try {
      co_await h;
    } catch (const ringo::operation_cancelled&) {
      co_return "cancelled";
    }
    co_return "not cancelled";
  };
  CHECK(ringo::run(main()) == "cancelled");  // did not wait for the gate
  CHECK_FALSE(running.cancelled());
  g.open();
  CHECK(running.get() == 5);
}

TEST_CASE("cancelling racing with completion always ends the awaiting task", "[future]") {
  // Whichever wins, the task must end with a result or operation_cancelled, never hang, and
  // the loop must not be left owed a post.
  ringo::thread_pool pool{2};
  int outcomes = 0;
  for (int round = 0; round < 200; ++round) {
    auto main = [&]() -> ringo::task<int> {
      auto f = pool.submit([] { return 1; });
      auto h = ringo::spawn(await_future(f));
      co_await ringo::yield();
      h.cancel();
      try {
        co_return co_await h;
      } catch (const ringo::operation_cancelled&) {
        co_return 0;
      }
    };
    const int r = ringo::run(main());
    CHECK((r == 0 || r == 1));
    ++outcomes;
  }
  CHECK(outcomes == 200);
}

TEST_CASE("an await of a future that loses a when_any race leaves the result in the future",
          "[future]") {
  ringo::thread_pool pool{1};
  auto f = pool.submit([] { return std::make_unique<int>(7); });
  f.wait();
  auto take = [](ringo::future<std::unique_ptr<int>> fut) -> ringo::task<std::unique_ptr<int>> {
    co_return co_await std::move(fut);  // would move the result out of the shared state
  };
  auto now = []() -> ringo::task<int> { co_return 1; };
  ringo::run([&]() -> ringo::task<void> {
    // Cancelled before it ran: the future is done, and the await must take nothing.
    const auto won = co_await ringo::when_any(now(), take(f));
    CHECK(won.index() == 0);
  }());
  REQUIRE(f.get() != nullptr);
  CHECK(*f.get() == 7);
}

namespace {

// The state dump_tasks lists for the task of `h` ("ready", "waiting", ...), empty once gone.
template <class T>
std::string state_of(const ringo::join_handle<T>& h) {
  const std::string dump = ringo::io_context::current()->dump_tasks();
  const std::size_t at = dump.find("task #" + std::to_string(h.id()) + " ");
  if (at == std::string::npos) return {};
  const std::size_t end = dump.find('\n', at);
  const std::size_t colon = dump.rfind(": ", end);
  return dump.substr(colon + 2, end - colon - 2);
}

}  // namespace

TEST_CASE("an await of a future woken by its result and cancelled before it resumed takes nothing",
          "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  auto take = [](ringo::future<std::unique_ptr<int>> fut) -> ringo::task<std::unique_ptr<int>> {
    co_return co_await std::move(fut);
  };
  ringo::run([&]() -> ringo::task<void> {
    // The work waits for the gate, so h is sure to wait on the future before the result comes.
    auto f = pool.submit([&] {
      g.pass();
      return std::make_unique<int>(7);
    });
    auto h = ringo::spawn(take(f));
    co_await ringo::yield();
    REQUIRE(state_of(h) == "waiting");
    g.open();
    // This task stays in the ready queue while it yields, so the loop takes the result's post
    // (which makes h ready) only between two of its turns, with h queued behind it: the first
    // turn that sees h ready runs before h resumes.
    while (state_of(h) == "waiting") co_await ringo::yield();
    REQUIRE(state_of(h) == "ready");
    h.cancel();
    bool cancelled = false;
    try {
      (void)co_await h;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    REQUIRE(f.get() != nullptr);  // done: not moved out by the cancelled await
    CHECK(*f.get() == 7);
  }());
}
