// The select rule of when_any (Go's select): of racers that each take something, exactly one
// takes. Here every racer but the winner is cancelled before it first runs, or after it was
// handed what it waited for but before it resumed; in each case it must take nothing: no
// queue item, queue place, permit, lock, notification or task result is lost or taken twice.
// (test/cancel_safety_test.cpp covers the same for accepts, signals and stream reads.)
#include <ringo/when_any.hpp>

#include <cstddef>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include <ringo/condition_variable.hpp>
#include <ringo/event.hpp>
#include <ringo/mutex.hpp>
#include <ringo/queue.hpp>
#include <ringo/recursive_mutex.hpp>
#include <ringo/run.hpp>
#include <ringo/semaphore.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"
#include "ended_cancelled.hpp"

using namespace std::chrono_literals;

namespace {

template <class Q>
ringo::task<int> get(Q& q) {
  co_return co_await q.get();
}

ringo::task<void> put(ringo::queue<int>& q, int v) { co_await q.put(v); }

ringo::task<int> now(int v) { co_return v; }

ringo::task<void> acquire(ringo::semaphore& s) { co_await s.acquire(); }

ringo::task<ringo::semaphore::guard> scoped(ringo::semaphore& s) {
  co_return co_await s.scoped_acquire();
}

ringo::task<ringo::mutex::guard> lock(ringo::mutex& m) { co_return co_await m.lock(); }

ringo::task<ringo::recursive_mutex::guard> lock_recursive(ringo::recursive_mutex& m) {
  co_return co_await m.lock();
}

}  // namespace

TEST_CASE("when_any of gets from two non-empty queues takes exactly one item", "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> a;
    ringo::queue<int> b;
    a.try_put(1);
    b.try_put(2);
    const auto won = co_await ringo::when_any(get(a), get(b));
    REQUIRE(won.index() == 0);
    CHECK(std::get<0>(won) == 1);
    CHECK(a.empty());
    REQUIRE(b.size() == 1);
    CHECK(b.try_get() == 2);
  }());
}

TEST_CASE("a get that loses to a racer ending at once leaves its item, in every queue order",
          "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> fifo;
    ringo::lifo_queue<int> lifo;
    ringo::priority_queue<int> prio;
    fifo.try_put(1);
    lifo.try_put(2);
    prio.try_put(3);
    const auto w1 = co_await ringo::when_any(now(7), get(fifo));
    const auto w2 = co_await ringo::when_any(now(7), get(lifo));
    const auto w3 = co_await ringo::when_any(now(7), get(prio));
    CHECK((w1.index() == 0 && w2.index() == 0 && w3.index() == 0));
    CHECK(fifo.try_get() == 1);
    CHECK(lifo.try_get() == 2);
    CHECK(prio.try_get() == 3);
  }());
}

TEST_CASE("when_any of puts to two queues with room puts the item once", "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> a{1};
    ringo::queue<int> b{1};
    const auto won = co_await ringo::when_any(put(a, 7), put(b, 7));
    CHECK(won.index() == 0);
    CHECK(a.size() == 1);
    CHECK(b.empty());
  }());
}

TEST_CASE("a put granted a place and cancelled before it resumed hands the place on",
          "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q{1};
    q.try_put(1);
    auto first = ringo::spawn(put(q, 2));
    auto second = ringo::spawn(put(q, 3));
    co_await ringo::yield();  // both wait for room
    REQUIRE(q.full());
    CHECK(q.try_get() == 1);  // grants the place to `first`
    CHECK(q.full());          // ... which holds it: no other put may take it
    CHECK_FALSE(q.try_put(9));
    first.cancel();
    const bool first_cancelled = co_await ringo_test::ended_cancelled(first);
    CHECK(first_cancelled);
    co_await second;  // the place went on to it
    REQUIRE(q.size() == 1);
    CHECK(q.try_get() == 3);
    CHECK(q.empty());
    CHECK(q.unfinished() == 2);  // 1 and 3 were put; 2 never was
  }());
}

TEST_CASE("puts racing in when_any across full queues put exactly one item", "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> a{1};
    ringo::queue<int> b{1};
    a.try_put(0);
    b.try_put(0);
    auto racing = ringo::spawn(ringo::when_any(put(a, 7), put(b, 7)));
    co_await ringo::yield();  // both puts wait for room
    // Room in both in one turn: each put is granted a place, and only one may fill it.
    CHECK(a.try_get() == 0);
    CHECK(b.try_get() == 0);
    (void)co_await racing;
    CHECK(a.size() + b.size() == 1);
    CHECK(a.unfinished() + b.unfinished() == 3);  // the two 0s and one 7
    // The loser's place is free again.
    CHECK((a.try_put(8) || b.try_put(8)));
  }());
}

TEST_CASE("a put granted a place on a queue closed before it resumed is not put", "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q{1};
    q.try_put(1);
    auto p = ringo::spawn(put(q, 2));
    co_await ringo::yield();
    CHECK(q.try_get() == 1);
    q.close();
    bool closed = false;
    try {
      co_await p;
    } catch (const ringo::queue_closed&) {
      closed = true;
    }
    CHECK(closed);
    CHECK(q.empty());
  }());
}

TEST_CASE("gets racing each other and timeouts lose and duplicate no item", "[select]") {
  // Items arrive in the same turns as the deadlines pass, and two gets of one queue race each
  // other: every item taken is counted once, and what the losers left is still in the queue.
  static constexpr int items = 4000;
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q;
    std::vector<int> seen(items, 0);
    auto producer = ringo::spawn([](ringo::queue<int>& q) -> ringo::task<void> {
      for (int i = 0; i < items; ++i) {
        co_await q.put(i);
        if (i % 3 == 0) co_await ringo::sleep_for(1us);
      }
    }(q));
    int received = 0;
    for (int round = 0; received < items && !(producer.done() && q.empty()); ++round) {
      int v = -1;
      try {
        if (round % 2 == 0) {
          v = co_await ringo::with_timeout(1us, get(q));
        } else {
          const auto won = co_await ringo::when_any(get(q), get(q));
          v = won.index() == 0 ? std::get<0>(won) : std::get<1>(won);
        }
      } catch (const ringo::timed_out&) {
        continue;
      }
      ++seen.at(static_cast<std::size_t>(v));
      ++received;
    }
    co_await producer;
    CHECK(received == items);
    CHECK(q.empty());
    std::size_t not_once = 0;
    for (int n : seen) not_once += n != 1 ? 1 : 0;
    CHECK(not_once == 0);
  }());
}

TEST_CASE("when_any of acquires on two semaphores of one permit takes one permit", "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::semaphore s1{1};
    ringo::semaphore s2{1};
    const auto won = co_await ringo::when_any(acquire(s1), acquire(s2));
    CHECK(won.index() == 0);
    CHECK(s1.available() == 0);
    CHECK(s2.available() == 1);
    {
      const auto guarded = co_await ringo::when_any(now(1), scoped(s2));
      CHECK(guarded.index() == 0);
      CHECK(s2.available() == 1);
    }
  }());
}

TEST_CASE("when_any of locks on two free mutexes takes one lock", "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::mutex m1;
    ringo::mutex m2;
    auto won = co_await ringo::when_any(lock(m1), lock(m2));
    CHECK(won.index() == 0);
    CHECK(m1.locked());
    CHECK_FALSE(m2.locked());
    ringo::recursive_mutex r;
    const auto rwon = co_await ringo::when_any(now(1), lock_recursive(r));
    CHECK(rwon.index() == 0);
    CHECK_FALSE(r.locked());
  }());
}

TEST_CASE("a lock handed over and cancelled before it resumed goes to the next waiter",
          "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::mutex m;
    auto held = co_await m.lock();
    auto first = ringo::spawn(lock(m));
    auto second = ringo::spawn(lock(m));
    co_await ringo::yield();
    held.unlock();  // hands the lock to `first`
    first.cancel();
    const bool first_cancelled = co_await ringo_test::ended_cancelled(first);
    CHECK(first_cancelled);
    auto g = co_await second;
    CHECK(m.holder_id() == second.id());
    g.unlock();
    CHECK_FALSE(m.locked());

    ringo::recursive_mutex r;
    auto rheld = co_await r.lock();
    auto rfirst = ringo::spawn(lock_recursive(r));
    co_await ringo::yield();
    rheld.unlock();  // hands it to `rfirst`
    rfirst.cancel();
    const bool rfirst_cancelled = co_await ringo_test::ended_cancelled(rfirst);
    CHECK(rfirst_cancelled);
    CHECK_FALSE(r.locked());
  }());
}

TEST_CASE("a condition wait notified and cancelled before it resumed passes the notification on",
          "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::mutex m;
    ringo::condition_variable cv;
    int woken = 0;
    auto waiter = [](ringo::mutex& m, ringo::condition_variable& cv,
                     int& woken) -> ringo::task<void> {
      auto g = co_await m.lock();
      co_await cv.wait(g);
      ++woken;
    };
    auto first = ringo::spawn(waiter(m, cv, woken));
    auto second = ringo::spawn(waiter(m, cv, woken));
    co_await ringo::yield();
    REQUIRE(cv.waiting() == 2);
    cv.notify_one();  // `first` is handed the lock at once: it is free
    first.cancel();
    const bool first_cancelled = co_await ringo_test::ended_cancelled(first);
    CHECK(first_cancelled);
    co_await second;  // the notification went on to it
    CHECK(woken == 1);

    // Notified while another task holds the lock, cancelled while queued for it.
    auto third = ringo::spawn(waiter(m, cv, woken));
    auto fourth = ringo::spawn(waiter(m, cv, woken));
    co_await ringo::yield();
    {
      auto g = co_await m.lock();
      cv.notify_one();  // `third` queues for the lock
      third.cancel();
    }
    const bool third_cancelled = co_await ringo_test::ended_cancelled(third);
    CHECK(third_cancelled);
    co_await fourth;
    CHECK(woken == 2);
  }());
}

TEST_CASE("an event wait cancelled before it ran ends cancelled even when the event is set",
          "[select]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::event e;
    e.set();
    bool went_on = false;
    const auto won = co_await ringo::when_any(
        now(1), [](ringo::event& e, bool& went_on) -> ringo::task<int> {
          co_await e.wait();
          went_on = true;
          co_return 2;
        }(e, went_on));
    CHECK(won.index() == 0);
    CHECK_FALSE(went_on);
  }());
}

TEST_CASE("a join that loses a race leaves the task's result for a later join", "[select]") {
  ringo::run([]() -> ringo::task<void> {
    auto h = ringo::spawn(now(5));
    co_await ringo::yield();
    REQUIRE(h.done());
    // Cancelled before it ran: the join finds the task finished and must take nothing.
    const auto won = co_await ringo::when_any(
        now(1), [](ringo::join_handle<int>& h) -> ringo::task<int> { co_return co_await h; }(h));
    CHECK(won.index() == 0);
    const int result = co_await h;
    CHECK(result == 5);

    // Woken by the task's end, cancelled before it resumed.
    ringo::event go;
    auto later = ringo::spawn([](ringo::event& go) -> ringo::task<int> {
      co_await go.wait();
      co_return 6;
    }(go));
    auto joiner = ringo::spawn(
        [](ringo::join_handle<int>& h) -> ringo::task<int> { co_return co_await h; }(later));
    co_await ringo::yield();
    go.set();
    while (!later.done())
      co_await ringo::yield();
    joiner.cancel();
    const bool joiner_cancelled = co_await ringo_test::ended_cancelled(joiner);
    CHECK(joiner_cancelled);
    const int later_result = co_await later;
    CHECK(later_result == 6);
  }());
}
