#include <ringo/thread_pool.hpp>
// (its own header first: proves it stands alone)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ringo/as_completed.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

class gate {
 public:
  void open() {
    {
      std::lock_guard lock{m_};
      open_ = true;
    }
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock lock{m_};
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace

TEST_CASE("a pool's size is Python's default or what was asked, never zero", "[thread_pool]") {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  CHECK(ringo::thread_pool::default_size() == std::min<std::size_t>(32, cores + 4));
  CHECK(ringo::thread_pool{}.size() == ringo::thread_pool::default_size());
  CHECK(ringo::thread_pool{3}.size() == 3);
  CHECK_THROWS_AS(ringo::thread_pool{0}, std::invalid_argument);
}

TEST_CASE("submitted work runs on at most size() worker threads, none of them the caller",
          "[thread_pool]") {
  ringo::thread_pool pool{3};
  std::mutex m;
  std::set<std::thread::id> ids;
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  std::vector<ringo::future<void>> fs;
  for (int i = 0; i < 30; ++i) {
    fs.push_back(pool.submit([&] {
      const int n = ++now;
      int p = peak.load();
      while (n > p && !peak.compare_exchange_weak(p, n)) {
      }
      std::this_thread::sleep_for(1ms);
      --now;
      std::lock_guard lock{m};
      ids.insert(std::this_thread::get_id());
    }));
  }
  for (auto& f : fs)
    f.get();
  CHECK(ids.size() <= 3);
  CHECK(ids.count(std::this_thread::get_id()) == 0);
  CHECK(peak <= 3);
}

TEST_CASE("map yields results in input order whatever order they finish in", "[thread_pool]") {
  ringo::thread_pool pool{4};
  std::vector<int> in{5, 1, 4, 0, 3, 2, 6, 1};
  std::vector<int> out;
  for (int v : pool.map(
           [](int x) {
             std::this_thread::sleep_for(std::chrono::milliseconds(x));
             return x * x;
           },
           in)) {
    out.push_back(v);
  }
  CHECK(out == std::vector<int>{25, 1, 16, 0, 9, 4, 36, 1});
}

TEST_CASE("map rethrows an exception at its element's position", "[thread_pool]") {
  ringo::thread_pool pool{2};
  auto g = pool.map(
      [](int x) {
        if (x == 3) throw std::runtime_error("three");
        return x;
      },
      std::views::iota(0, 6));
  std::vector<int> got;
  try {
    while (auto v = g.next())
      got.push_back(*v);
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "three");
  }
  CHECK(got == std::vector<int>{0, 1, 2});
  CHECK_FALSE(g.next().has_value());  // the generator ended with the exception
}

TEST_CASE("map submits a bounded number ahead, so an endless range works", "[thread_pool]") {
  ringo::thread_pool pool{2};
  std::atomic<int> calls{0};
  {
    auto g = pool.map(
        [&](int x) {
          ++calls;
          return x * 2;
        },
        std::views::iota(0), 3);
    // Like Python, the first calls are submitted by map itself.
    std::vector<int> got;
    for (int i = 0; i < 10; ++i)
      got.push_back(*g.next());
    CHECK(got == std::vector<int>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18});
  }
  pool.shutdown();
  CHECK(calls >= 10);
  CHECK(calls <= 13);  // ten taken and at most three ahead
}

TEST_CASE("a map abandoned early cancels the calls that have not started", "[thread_pool]") {
  ringo::thread_pool pool{1};
  gate g;
  std::atomic<int> calls{0};
  {
    auto results = pool.map(
        [&](int x) {
          ++calls;
          g.pass();
          return x;
        },
        std::vector<int>{1, 2, 3, 4, 5, 6});
  }
  g.open();
  pool.shutdown();
  CHECK(calls <= 1);
}

TEST_CASE("as_completed yields futures in completion order", "[thread_pool]") {
  ringo::thread_pool pool{3};
  gate first;
  gate second;
  std::vector<ringo::future<int>> fs;
  fs.push_back(pool.submit([&] {
    second.pass();
    return 0;
  }));
  fs.push_back(pool.submit([&] {
    first.pass();
    return 1;
  }));
  fs.push_back(pool.submit([] { return 2; }));
  fs[2].wait();  // already done when as_completed is called: yielded first
  std::vector<int> order;
  auto g = ringo::as_completed(fs);
  order.push_back(g.next()->get());
  first.open();
  order.push_back(g.next()->get());
  second.open();
  order.push_back(g.next()->get());
  CHECK_FALSE(g.next().has_value());
  CHECK(order == std::vector<int>{2, 1, 0});
}

TEST_CASE("as_completed yields cancelled futures and may be abandoned early", "[thread_pool]") {
  ringo::thread_pool pool{1};
  gate g;
  std::vector<ringo::future<int>> fs;
  fs.push_back(pool.submit([&] {
    g.pass();
    return 0;
  }));
  fs.push_back(pool.submit([] { return 1; }));
  {
    auto it = ringo::as_completed(fs);
    fs[1].cancel();
    auto first = it.next();
    REQUIRE(first.has_value());
    CHECK(first->cancelled());
  }  // abandoned while fs[0] still runs
  g.open();
  CHECK(fs[0].get() == 0);
}

TEST_CASE("shutdown waits for the queued work", "[thread_pool]") {
  ringo::thread_pool pool{2};
  std::atomic<int> done{0};
  std::vector<ringo::future<void>> fs;
  for (int i = 0; i < 20; ++i) {
    fs.push_back(pool.submit([&] {
      std::this_thread::sleep_for(1ms);
      ++done;
    }));
  }
  pool.shutdown();
  CHECK(done == 20);
  for (auto& f : fs)
    CHECK(f.done());
  pool.shutdown();  // again: nothing to do
}

TEST_CASE("shutdown with cancel_futures cancels the work that has not started", "[thread_pool]") {
  ringo::thread_pool pool{1};
  gate g;
  std::latch started{1};
  auto running = pool.submit([&] {
    started.count_down();
    g.pass();
    return 1;
  });
  std::vector<ringo::future<int>> queued;
  for (int i = 0; i < 5; ++i)
    queued.push_back(pool.submit([] { return 2; }));
  started.wait();
  std::thread opener{[&] {
    std::this_thread::sleep_for(10ms);
    g.open();
  }};
  pool.shutdown(true, true);
  opener.join();
  CHECK(running.get() == 1);  // it had started: it ran to the end
  for (auto& f : queued) {
    CHECK(f.cancelled());
    CHECK_THROWS_AS(f.get(), ringo::operation_cancelled);
  }
}

TEST_CASE("shutdown without waiting returns at once and the work still runs", "[thread_pool]") {
  ringo::thread_pool pool{1};
  gate g;
  auto f = pool.submit([&] {
    g.pass();
    return 3;
  });
  auto later = pool.submit([] { return 4; });
  pool.shutdown(false);
  CHECK_FALSE(f.done());
  g.open();
  CHECK(f.get() == 3);
  CHECK(later.get() == 4);
}

TEST_CASE("submit after shutdown throws std::logic_error", "[thread_pool]") {
  ringo::thread_pool pool{1};
  pool.shutdown();
  CHECK_THROWS_WITH(pool.submit([] {}), "cannot schedule new work after shutdown");
  CHECK_THROWS_AS(pool.map([](int x) { return x; }, std::vector<int>{1}), std::logic_error);
}

TEST_CASE("shutdown(wait) from a worker throws instead of waiting for itself", "[thread_pool]") {
  ringo::thread_pool pool{1};
  auto f = pool.submit([&] { pool.shutdown(); });
  CHECK_THROWS_AS(f.get(), std::logic_error);
  auto g = pool.submit([&] { pool.shutdown(false); });
  g.get();
  CHECK_THROWS_AS(pool.submit([] {}), std::logic_error);
}

TEST_CASE("the destructor waits for the work, like leaving Python's with block", "[thread_pool]") {
  std::atomic<int> done{0};
  {
    ringo::thread_pool pool{4};
    for (int i = 0; i < 40; ++i) {
      pool.submit([&] {
        std::this_thread::sleep_for(100us);
        ++done;
      });
    }
  }
  CHECK(done == 40);
}

TEST_CASE("shutdown racing with completing work and concurrent submitters loses nothing",
          "[thread_pool]") {
  for (int round = 0; round < 20; ++round) {
    ringo::thread_pool pool{4};
    std::atomic<int> accepted{0};
    std::atomic<int> ran{0};
    std::vector<std::thread> submitters;
    for (int t = 0; t < 3; ++t) {
      submitters.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
          try {
            pool.submit([&] { ++ran; });
            ++accepted;
          } catch (const std::logic_error&) {
            return;
          }
        }
      });
    }
    std::this_thread::sleep_for(100us);
    pool.shutdown();
    for (auto& t : submitters)
      t.join();
    CHECK(ran == accepted);
  }
}
