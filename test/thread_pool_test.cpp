#include <ringo/thread_pool.hpp>
// (its own header first: proves it stands alone)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ringo/as_completed.hpp>

#include "catch.hpp"
#include "gate.hpp"

using namespace std::chrono_literals;

namespace {

using ringo_test::gate;

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

TEST_CASE(
    "a pool destroyed by a job on one of its workers runs the queued work and joins the "
    "other workers before its destructor returns",
    "[thread_pool]") {
  auto holder = std::make_unique<ringo::thread_pool>(3);
  gate busy_go;
  std::latch busy_started{2};
  std::atomic<int> busy_done{0};
  std::vector<ringo::future<int>> busy;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(holder->submit([&, i] {
      busy_started.count_down();
      busy_go.pass();
      ++busy_done;
      return i;
    }));
  }
  busy_started.wait();  // two workers are taken: the third starts for the job below
  gate all_queued;
  struct seen {
    int queued;
    int busy;
  };
  std::atomic<int> queued_done{0};
  auto destroyer = holder->submit([&] {
    all_queued.pass();
    holder.reset();  // the pool's last owner: its destructor runs on this worker
    // Read once the destructor has returned: what it waited for.
    return seen{queued_done.load(), busy_done.load()};
  });
  std::vector<ringo::future<int>> queued;
  for (int i = 0; i < 8; ++i) {
    queued.push_back(holder->submit([&, i] {
      ++queued_done;
      return 10 + i;
    }));
  }
  // From here on only the destroyer touches the pool.
  all_queued.open();
  std::this_thread::sleep_for(10ms);  // the destructor is running while the others are busy
  busy_go.open();
  const seen s = destroyer.get();
  CHECK(s.queued == 8);
  CHECK(s.busy == 2);
  CHECK(holder == nullptr);
  for (int i = 0; i < 2; ++i)
    CHECK(busy[static_cast<std::size_t>(i)].get() == i);
  for (int i = 0; i < 8; ++i)
    CHECK(queued[static_cast<std::size_t>(i)].get() == 10 + i);
}

TEST_CASE(
    "a pool whose last reference a job holds is destroyed on its only worker, which "
    "first runs the queued work",
    "[thread_pool]") {
  // The deleter reports on which thread the destructor returned; a shared promise, since the
  // waiting test may destroy its own copy before set_value has returned.
  auto destroyed = std::make_shared<std::promise<std::thread::id>>();
  auto destroyed_on = destroyed->get_future();
  std::shared_ptr<ringo::thread_pool> pool{new ringo::thread_pool{1},
                                           [destroyed](ringo::thread_pool* p) {
                                             delete p;
                                             destroyed->set_value(std::this_thread::get_id());
                                           }};
  gate all_queued;
  auto first = pool->submit([&all_queued, keep = pool] {
    all_queued.pass();
    return std::this_thread::get_id();
  });
  std::vector<ringo::future<std::thread::id>> queued;
  for (int i = 0; i < 5; ++i)
    queued.push_back(pool->submit([] { return std::this_thread::get_id(); }));
  pool.reset();  // the first job's capture is now the last reference
  all_queued.open();
  const std::thread::id worker = first.get();
  // Released when the first job's captures are, on the worker, after the queued work ran.
  CHECK(destroyed_on.get() == worker);
  for (auto& f : queued) {
    REQUIRE(f.done());
    CHECK(f.get() == worker);
  }
}

TEST_CASE("a job that destroyed its pool may build a new one in the same place and wait for it",
          "[thread_pool]") {
  std::optional<ringo::thread_pool> pool{std::in_place, 1};
  auto job = pool->submit([&] {
    pool.reset();
    pool.emplace(2);  // same address: this thread is not one of the new pool's workers
    const int got = pool->submit([] { return 7; }).get();
    pool->shutdown();  // would throw if it took this thread for its own worker
    return got;
  });
  CHECK(job.get() == 7);
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
