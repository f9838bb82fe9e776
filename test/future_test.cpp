// ringo::future from outside a coroutine: get, wait_for and wait_until, results of every kind
// (void, references, move-only), copies that share one state, cancel before the work starts,
// and done-callbacks (where they run, and one that throws). Awaiting a future in a task:
// future_await_test.cpp.
#include <ringo/future.hpp>
// (its own header first: proves it stands alone)
#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/thread_pool.hpp>

#include "catch.hpp"
#include "gate.hpp"

using namespace std::chrono_literals;
using ringo_test::gate;

TEST_CASE("get returns the result and rethrows the exception of the work", "[future]") {
  ringo::thread_pool pool{2};
  auto ok = pool.submit([](int a, int b) { return a + b; }, 2, 3);
  auto bad = pool.submit([]() -> int { throw std::runtime_error("work failed"); });
  CHECK(ok.get() == 5);
  CHECK(ok.get() == 5);  // a future can be read again
  CHECK_THROWS_WITH(bad.get(), "work failed");
  CHECK_THROWS_WITH(bad.get(), "work failed");
  CHECK(ok.done());
  CHECK(bad.done());
  CHECK(bad.exception() != nullptr);
  CHECK(ok.exception() == nullptr);
}

TEST_CASE("futures of void, references and move-only results", "[future]") {
  ringo::thread_pool pool{2};
  int target = 1;
  auto v = pool.submit([&] { target = 2; });
  v.get();
  CHECK(target == 2);
  auto r = pool.submit([&]() -> int& { return target; });
  CHECK(&r.get() == &target);
  auto u = pool.submit([] { return std::make_unique<int>(42); });
  u.wait();
  CHECK(*u.get() == 42);  // an lvalue future gives a reference to the stored result
  std::unique_ptr<int> taken = std::move(u).get();
  CHECK(*taken == 42);
}

TEST_CASE("copies of a future share one state", "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  auto a = pool.submit([&] {
    g.pass();
    return std::string("shared");
  });
  auto b = a;
  CHECK(a == b);
  CHECK_FALSE(b.done());
  g.open();
  CHECK(a.get() == "shared");
  CHECK(b.done());
  CHECK(&a.get() == &b.get());
  ringo::future<int> empty;
  CHECK_FALSE(empty.valid());
  CHECK_THROWS_AS(empty.get(), std::logic_error);
}

TEST_CASE("wait_for returns whether the future finished in time", "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  auto f = pool.submit([&] { g.pass(); });
  CHECK_FALSE(f.wait_for(20ms));
  g.open();
  CHECK(f.wait_for(10s));
  CHECK(f.wait_until(std::chrono::steady_clock::now()));
}

TEST_CASE("wait_for with a duration too long for the clock waits without limit", "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  auto f = pool.submit([&] { g.pass(); });
  std::thread opener{[&] {
    std::this_thread::sleep_for(20ms);
    g.open();
  }};
  CHECK(f.wait_for(std::chrono::nanoseconds::max()));
  CHECK(f.wait_for(std::chrono::hours::max()));
  opener.join();
}

TEST_CASE("cancel succeeds only before the work starts", "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  std::latch started{1};
  auto running = pool.submit([&] {
    started.count_down();
    g.pass();
    return 1;
  });
  std::atomic<bool> queued_ran{false};
  auto queued = pool.submit([&] {
    queued_ran = true;
    return 2;
  });
  started.wait();
  CHECK(running.running());
  CHECK_FALSE(running.cancel());  // running: too late
  CHECK(queued.cancel());
  CHECK(queued.cancel());  // already cancelled: true again
  CHECK(queued.cancelled());
  CHECK(queued.done());
  CHECK_THROWS_AS(queued.get(), ringo::operation_cancelled);
  g.open();
  CHECK(running.get() == 1);
  CHECK_FALSE(running.cancel());  // finished: too late
  CHECK_FALSE(running.cancelled());
  pool.shutdown();
  CHECK_FALSE(queued_ran);
}

TEST_CASE("a done-callback runs on the completing worker, or at once if already done", "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  auto worker_id = pool.submit([] { return std::this_thread::get_id(); }).get();
  auto f = pool.submit([&] {
    g.pass();
    return 7;
  });
  std::mutex m;
  std::vector<std::pair<int, std::thread::id>> calls;
  for (int i = 0; i < 2; ++i) {
    f.add_done_callback([&, i](ringo::future<int> done) {
      std::lock_guard lock{m};
      calls.emplace_back(done.get() * 10 + i, std::this_thread::get_id());
    });
  }
  g.open();
  f.wait();
  pool.shutdown();  // the callbacks ran before the worker exited
  {
    std::lock_guard lock{m};
    REQUIRE(calls.size() == 2);
    CHECK(calls[0] == std::pair{70, worker_id});
    CHECK(calls[1] == std::pair{71, worker_id});
  }
  // Already done: called at once, on this thread.
  std::thread::id where{};
  int got = 0;
  f.add_done_callback([&](ringo::future<int> done) {
    got = done.get();
    where = std::this_thread::get_id();
  });
  CHECK(got == 7);
  CHECK(where == std::this_thread::get_id());
}

TEST_CASE("a done-callback sees the exception, and one that throws does not stop the others",
          "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  auto f = pool.submit([&]() -> int {
    g.pass();
    throw std::runtime_error("bad");
  });
  std::atomic<int> seen{0};
  f.add_done_callback([](const ringo::future<int>&) { throw std::runtime_error("callback bug"); });
  f.add_done_callback([&](ringo::future<int> done) {
    try {
      done.get();
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "bad") seen = 1;
    }
  });
  g.open();
  pool.shutdown();
  CHECK(seen == 1);
}

TEST_CASE("cancel runs the done-callbacks on the cancelling thread", "[future]") {
  ringo::thread_pool pool{1};
  gate g;
  auto blocker = pool.submit([&] { g.pass(); });
  auto f = pool.submit([] { return 1; });
  std::thread::id where{};
  bool was_cancelled = false;
  f.add_done_callback([&](ringo::future<int> done) {
    where = std::this_thread::get_id();
    was_cancelled = done.cancelled();
  });
  CHECK(f.cancel());
  CHECK(where == std::this_thread::get_id());
  CHECK(was_cancelled);
  g.open();
}
