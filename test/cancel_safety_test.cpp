// A wait cancelled after what it waited for was handed to it, but before its task resumed,
// takes nothing: a queue item goes back to the front of its queue (in each of the three
// orders), a semaphore permit to the next waiter. That is what lets a get or an acquire race
// in when_any, or run under with_timeout, without losing what the other side handed over in
// the same turn of the loop as the race was decided. The same for accepts, signals and stream
// reads: cancel_safety_io_test.cpp.
#include <chrono>
#include <string>
#include <utility>
#include <variant>

#include <ringo/error.hpp>
#include <ringo/event.hpp>
#include <ringo/queue.hpp>
#include <ringo/run.hpp>
#include <ringo/semaphore.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>
#include <ringo/when_any.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"
#include "ended_cancelled.hpp"

using namespace std::chrono_literals;

namespace {

template <class Q>
ringo::task<void> get_one(Q& q) {
  (void)co_await q.get();
}

ringo::task<int> get_value(ringo::queue<int>& q) {
  co_return co_await q.get();
}

ringo::task<int> after(ringo::event& e, int value) {
  co_await e.wait();
  co_return value;
}

// Cancels `h` (ready: what it waited for was handed over) and checks that it ends cancelled.
template <class T>
ringo::task<bool> cancelled_before_resuming(ringo::join_handle<T>& h) {
  h.cancel();
  co_return co_await ringo_test::ended_cancelled(h);
}

struct by_rank {
  bool operator()(const std::pair<int, char>& a, const std::pair<int, char>& b) const {
    return a.first < b.first;
  }
};

}  // namespace

TEST_CASE("a lifo_queue's cancelled get puts its item back on top", "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::lifo_queue<int> q;
    auto a = ringo::spawn(get_one(q));
    co_await ringo::yield();
    co_await q.put(1);  // to a
    co_await q.put(2);  // into the queue
    const bool cancelled = co_await cancelled_before_resuming(a);
    CHECK(cancelled);
    CHECK(q.try_get() == 1);
    CHECK(q.try_get() == 2);
    CHECK(q.empty());
  }());
}

TEST_CASE("a priority_queue's cancelled get puts its item back first among its equals",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::priority_queue<std::pair<int, char>, by_rank> q;
    auto a = ringo::spawn(get_one(q));
    co_await ringo::yield();
    co_await q.put({1, 'a'});  // to a
    co_await q.put({1, 'b'});
    co_await q.put({0, 'z'});
    co_await q.put({1, 'c'});
    const bool cancelled = co_await cancelled_before_resuming(a);
    CHECK(cancelled);
    std::string order;
    while (auto item = q.try_get())
      order += item->second;
    CHECK(order == "zabc");
  }());
}

TEST_CASE("a bounded queue takes back a cancelled get's item over its capacity",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q{1};
    auto a = ringo::spawn(get_one(q));
    co_await ringo::yield();
    co_await q.put(1);  // to a
    co_await q.put(2);  // the queue is full
    const bool cancelled = co_await cancelled_before_resuming(a);
    CHECK(cancelled);
    CHECK(q.size() == 2);
    CHECK(q.full());
    CHECK_FALSE(q.try_put(3));
    CHECK(q.try_get() == 1);
    CHECK(q.try_get() == 2);
  }());
}

TEST_CASE("a get that loses a when_any race in the turn it was handed an item loses no item",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q;
    ringo::event go;
    auto race = ringo::spawn(ringo::when_any(after(go, -1), get_value(q)));
    for (int i = 0; i < 4; ++i)
      co_await ringo::yield();  // both racers wait
    go.set();           // the first racer is ready: it resumes first and wins
    co_await q.put(5);  // handed to the waiting get, which then resumes cancelled
    const auto winner = co_await race;
    CHECK(winner.index() == 0);
    CHECK(std::get<0>(winner) == -1);
    CHECK(q.size() == 1);
    CHECK(q.try_get() == 5);
  }());
}

TEST_CASE("a get under with_timeout handed its item as the timeout fires loses no item",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q;
    // The timer fires first in its turn of the loop; a producer that slept as long runs in
    // the same turn, after it, and hands the item over before the get resumes. Whichever way
    // the race goes, the item is either returned or still in the queue.
    int returned = 0;
    int timed_out = 0;
    for (int round = 0; round < 20; ++round) {
      auto producer = ringo::spawn([](ringo::queue<int>& q, int v) -> ringo::task<void> {
        co_await ringo::sleep_for(2ms);
        co_await q.put(v);
      }(q, round));
      bool expired = false;
      try {
        const int got = co_await ringo::with_timeout(2ms, get_value(q));
        CHECK(got == round);
        ++returned;
      } catch (const ringo::timed_out&) {
        expired = true;
        ++timed_out;
      }
      co_await producer;
      if (expired) {
        const auto left = q.try_get();
        CHECK(left == round);
      }
      CHECK(q.empty());
    }
    CHECK(returned + timed_out == 20);
  }());
}

TEST_CASE("an acquire that loses a when_any race in the turn it was handed a permit keeps none",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::semaphore s{0};
    ringo::event go;
    auto acquire = [](ringo::semaphore& s) -> ringo::task<int> {
      co_await s.acquire();
      co_return 1;
    };
    auto race = ringo::spawn(ringo::when_any(after(go, -1), acquire(s)));
    for (int i = 0; i < 4; ++i)
      co_await ringo::yield();
    go.set();
    s.release();  // to the waiting acquire, which then resumes cancelled
    const auto winner = co_await race;
    CHECK(winner.index() == 0);
    CHECK(s.available() == 1);
    CHECK(s.waiting() == 0);
  }());
}
