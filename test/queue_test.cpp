// ringo::queue, lifo_queue and priority_queue: the order items come out in, waiting getters
// served first come first served and puts that wait while a bounded queue is full, close,
// join and task_done, a get that can never end reported as a deadlock, and waits and
// hand-offs that allocate nothing. Cancelled gets, puts and joins: queue_cancel_test.cpp.
#include <ringo/queue.hpp>
// (its own header first: proves it stands alone)
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/mutex.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "queue_tasks.hpp"

using ringo_test::get_and_record;
using ringo_test::put_all;

// Counts every global allocation, to prove that a wait and a hand-off allocate nothing.
namespace {
std::size_t allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return ::operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return ::operator new(n, t);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

ringo::task<void> yield_n(int n) {
  for (int i = 0; i < n; ++i)
    co_await ringo::yield();
}

/// Orders pairs by their first member only, so that ties are visible.
struct by_first {
  bool operator()(const std::pair<int, int>& a, const std::pair<int, int>& b) const {
    return a.first < b.first;
  }
};

}  // namespace

TEST_CASE("a queue is first in, first out, with try_put and try_get", "[queue]") {
  ringo::queue<int> q{3};
  CHECK(q.empty());
  CHECK(q.capacity() == 3);
  CHECK(q.try_put(1));
  CHECK(q.try_put(2));
  int three = 3;
  CHECK(q.try_put(three));
  CHECK(q.full());
  int four = 4;
  CHECK_FALSE(q.try_put(four));
  CHECK(q.size() == 3);
  CHECK(q.try_get() == 1);
  CHECK(q.try_get() == 2);
  CHECK(q.try_get() == 3);
  CHECK_FALSE(q.try_get().has_value());
  ringo::queue<std::unique_ptr<int>> owners;
  auto p = std::make_unique<int>(5);
  CHECK(owners.try_put(std::move(p)));
  CHECK(*owners.try_get().value() == 5);
}

TEST_CASE("a queue keeps its order while its buffer wraps around and grows", "[queue]") {
  ringo::queue<std::string> q;
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round % 7 + 2; ++i)
      CHECK(q.try_put(std::to_string(next_in++)));
    for (int i = 0; i < round % 5 + 1; ++i) {
      auto v = q.try_get();
      if (!v) break;
      CHECK(*v == std::to_string(next_out++));
    }
  }
  while (auto v = q.try_get())
    CHECK(*v == std::to_string(next_out++));
  CHECK(next_out == next_in);
  CHECK(q.try_put(std::string(100, 'x')));  // left in the queue: its destructor frees it
}

TEST_CASE("a lifo_queue is last in, first out", "[queue]") {
  ringo::lifo_queue<std::string> q{4};
  for (const char* s : {"123", "456", "abc", "abc"})
    CHECK(q.try_put(std::string{s}));
  CHECK(q.full());
  std::vector<std::string> got;
  while (auto v = q.try_get())
    got.push_back(*v);
  CHECK(got == std::vector<std::string>{"abc", "abc", "456", "123"});
}

TEST_CASE("a priority_queue hands out the smallest first, ties in insertion order", "[queue]") {
  ringo::priority_queue<std::pair<int, std::string>> q;
  q.try_put({10, "aaa"});
  q.try_put({5, "bbb"});
  q.try_put({100, "ccc"});
  q.try_put({20, "ddd"});
  std::vector<int> order;
  while (auto v = q.try_get())
    order.push_back(v->first);
  CHECK(order == std::vector<int>{5, 10, 20, 100});

  ringo::priority_queue<std::pair<int, int>, by_first> ties;
  for (int i = 0; i < 40; ++i)
    ties.try_put({i % 3, i});
  std::vector<std::pair<int, int>> got;
  while (auto v = ties.try_get())
    got.push_back(*v);
  for (std::size_t i = 1; i < got.size(); ++i) {
    const bool ordered = got[i - 1].first < got[i].first ||
                         (got[i - 1].first == got[i].first && got[i - 1].second < got[i].second);
    CHECK(ordered);
  }
  ringo::priority_queue<int, std::greater<int>> largest_first;
  for (int v : {3, 9, 1})
    largest_first.try_put(v);
  CHECK(largest_first.try_get() == 9);
}

TEST_CASE("waiting getters are served first come, first served, straight from the put", "[queue]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::queue<int> q;
    std::vector<int> got;
    std::vector<ringo::join_handle<void>> hs;
    for (int i = 0; i < 4; ++i)
      hs.push_back(ringo::spawn(get_and_record(q, got)));
    co_await ringo::yield();
    for (int v : {10, 20, 30, 40})
      co_await q.put(v);
    CHECK(q.size() == 0);  // every item went straight into a waiting getter
    CHECK(q.unfinished() == 4);
    for (auto& h : hs)
      co_await h;
    co_return got;
  };
  CHECK(ringo::run(main()) == std::vector<int>{10, 20, 30, 40});
}

TEST_CASE("put waits while a bounded queue is full and waiting puts go in, in order", "[queue]") {
  auto main = []() -> ringo::task<void> {
    ringo::queue<int> q{2};
    std::vector<int> done_a;
    std::vector<int> done_b;
    auto a = ringo::spawn(put_all(q, {1, 2, 3}, done_a));
    auto b = ringo::spawn(put_all(q, {4, 5}, done_b));
    co_await yield_n(3);
    CHECK(q.size() == 2);
    CHECK(done_a == std::vector<int>{1, 2});
    CHECK(done_b.empty());
    std::vector<int> got;
    for (int i = 0; i < 5; ++i) {
      got.push_back(co_await q.get());
      CHECK(q.size() <= 2);
      co_await ringo::yield();
    }
    co_await a;
    co_await b;
    CHECK(got == std::vector<int>{1, 2, 3, 4, 5});
  };
  ringo::run(main());
}

TEST_CASE("close wakes waiting gets and puts with queue_closed and drains what is left",
          "[queue]") {
  auto main = []() -> ringo::task<void> {
    ringo::queue<int> empty;
    std::vector<int> got;
    auto g = ringo::spawn(get_and_record(empty, got));
    co_await ringo::yield();
    empty.close();
    try {
      co_await g;
      FAIL_CHECK("co_await g returned instead of throwing queue_closed");
    } catch (const ringo::queue_closed&) {
    }
    try {
      co_await empty.get();
      FAIL_CHECK("co_await empty.get() returned instead of throwing queue_closed");
    } catch (const ringo::queue_closed&) {
    }
    CHECK_THROWS_AS(empty.try_get(), ringo::queue_closed);

    ringo::queue<int> full{1};
    co_await full.put(1);
    std::vector<int> done;
    auto p = ringo::spawn(put_all(full, {2}, done));
    co_await ringo::yield();
    full.close();
    full.close();  // idempotent
    try {
      co_await p;
      FAIL_CHECK("co_await p returned instead of throwing queue_closed");
    } catch (const ringo::queue_closed&) {
    }
    try {
      co_await full.put(3);
      FAIL_CHECK("co_await full.put(3) returned instead of throwing queue_closed");
    } catch (const ringo::queue_closed&) {
    }
    CHECK_THROWS_AS(full.try_put(4), ringo::queue_closed);
    const int got1 = co_await full.get();
    CHECK(got1 == 1);  // what was in before close still comes out
    try {
      co_await full.get();
      FAIL_CHECK("co_await full.get() returned instead of throwing queue_closed");
    } catch (const ringo::queue_closed&) {
    }
    CHECK(full.closed());
  };
  ringo::run(main());
}

namespace {
ringo::task<void> worker(ringo::queue<int>& q, std::vector<int>& seen) {
  for (;;) {
    const int v = co_await q.get();
    co_await ringo::yield();
    seen.push_back(v);
    q.task_done();
  }
}
}  // namespace

TEST_CASE("join waits until task_done was called for every item put", "[queue]") {
  auto main = []() -> ringo::task<void> {
    ringo::queue<int> q;
    co_await q.join();  // nothing put: at once
    std::vector<int> seen;
    auto w = ringo::spawn(worker(q, seen), ringo::daemon);
    for (int i = 0; i < 5; ++i)
      co_await q.put(i);
    co_await q.join();
    CHECK(seen == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(q.unfinished() == 0);
    CHECK_THROWS_AS(q.task_done(), std::logic_error);
  };
  ringo::run(main());
}

namespace {
int queue_get_line = 0;
ringo::task<void> get_forever(ringo::queue<int>& q) {
  queue_get_line = __LINE__ + 1;
  co_await q.get();
}
}  // namespace

TEST_CASE("a get that nothing will satisfy is reported as a deadlock naming the queue and line",
          "[queue]") {
  ringo::queue<int> q{4};
  std::string what;
  try {
    ringo::run(get_forever(q));
  } catch (const ringo::deadlock_error& e) {
    what = e.what();
  }
  INFO(what);
  CHECK(what.find(fmt::format("get from queue {} (0 items of 4", fmt::ptr(&q))) !=
        std::string::npos);
  CHECK(what.find(fmt::format("queue_test.cpp:{}", queue_get_line)) != std::string::npos);
  CHECK(fmt::format("{}", q).find("0 waiting to get") != std::string::npos);
}

namespace {
ringo::task<void> echo(ringo::queue<int>& ping, ringo::queue<int>& pong, ringo::mutex& m,
                       int rounds) {
  for (int i = 0; i < rounds; ++i) {
    const int v = co_await ping.get();
    auto g = co_await m.lock();
    co_await pong.put(v + 1);
  }
}
}  // namespace

TEST_CASE("waits and hand-offs allocate nothing", "[queue]") {
  auto main = []() -> ringo::task<std::size_t> {
    ringo::queue<int> ping{1};
    ringo::queue<int> pong{1};
    ringo::mutex m;
    constexpr int rounds = 200;
    auto h = ringo::spawn(echo(ping, pong, m, rounds));
    co_await ringo::yield();  // echo now waits on ping
    std::size_t before = 0;
    for (int i = 0; i < rounds; ++i) {
      if (i == 10) before = allocations;
      auto g = co_await m.lock();  // echo will wait for it: a contended lock too
      co_await ping.put(i);        // handed straight to the waiting echo
      g.unlock();
      const int got5 = co_await pong.get();
      CHECK(got5 == i + 1);
      CHECK(ping.empty());
    }
    const std::size_t during = allocations - before;
    co_await h;
    co_return during;
  };
  CHECK(ringo::run(main()) == 0);
}
