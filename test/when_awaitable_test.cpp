#include <ringo/with_timeout.hpp>
// (its own header first: proves it stands alone)
#include <ringo/when_all.hpp>
#include <ringo/when_any.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <type_traits>
#include <variant>

#include <ringo/error.hpp>
#include <ringo/event.hpp>
#include <ringo/future.hpp>
#include <ringo/mutex.hpp>
#include <ringo/net.hpp>
#include <ringo/queue.hpp>
#include <ringo/run.hpp>
#include <ringo/semaphore.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/thread_pool.hpp>

#include "catch.hpp"
#include "gate.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;

// The waits a race or a deadline takes by value move into the task that awaits them.
static_assert(std::is_move_constructible_v<
              ringo::detail::queue_get_awaiter<int, ringo::detail::fifo_store<int>>>);
static_assert(std::is_move_constructible_v<
              ringo::detail::queue_put_awaiter<int, ringo::detail::fifo_store<int>>>);
static_assert(std::is_move_constructible_v<ringo::detail::semaphore_awaiter<true>>);
static_assert(std::is_move_constructible_v<ringo::detail::mutex_lock_awaiter>);
static_assert(std::is_move_constructible_v<ringo::detail::event_awaiter>);
static_assert(std::is_move_constructible_v<ringo::detail::read_some_awaiter>);
static_assert(std::is_move_constructible_v<ringo::detail::send_all_awaiter>);
static_assert(std::is_move_constructible_v<ringo::future<int>>);

namespace {

ringo::task<void> set_later(ringo::event& e) {
  co_await ringo::yield();
  e.set();
}

ringo::task<int> value_when_set(ringo::event& e, int v) {
  co_await e.wait();
  co_return v;
}

using ringo_test::gate;

}  // namespace

TEST_CASE("with_timeout on a queue get times out and takes no item", "[with_timeout]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q;
    bool timed_out = false;
    try {
      (void)co_await ringo::with_timeout(20ms, q.get());
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await q.put(7);  // no getter is left waiting to take it
    CHECK(q.size() == 1);
    CHECK(q.try_get() == 7);
    q.try_put(8);
    const int got = co_await ringo::with_timeout(10s, q.get());
    CHECK(got == 8);
  }());
}

TEST_CASE("with_timeout on an event wait times out, or returns once it is set", "[with_timeout]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::event e;
    bool timed_out = false;
    try {
      co_await ringo::with_timeout(20ms, e.wait());
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    auto setter = ringo::spawn(set_later(e));
    co_await ringo::with_timeout(10s, e.wait());
    CHECK(e.is_set());
    co_await setter;
  }());
}

TEST_CASE("with_timeout on a mutex lock returns the guard, or times out holding nothing",
          "[with_timeout]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::mutex m;
    {
      auto guard = co_await ringo::with_timeout(10s, m.lock());
      static_assert(std::is_same_v<decltype(guard), ringo::mutex::guard>);
      CHECK(m.locked());
      bool timed_out = false;
      try {
        auto second = co_await ringo::with_timeout(20ms, m.lock());
      } catch (const ringo::timed_out&) {
        timed_out = true;
      }
      CHECK(timed_out);
    }
    CHECK_FALSE(m.locked());  // the timed-out lock was not handed the mutex on release
    CHECK(m.try_lock());
    m.unlock();
  }());
}

TEST_CASE("when_any of two queue gets with items in both takes exactly one", "[when_any]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q1;
    ringo::queue<std::string> q2;
    q1.try_put(1);
    q2.try_put("two");
    auto winner = co_await ringo::when_any(q1.get(), q2.get());
    static_assert(std::is_same_v<decltype(winner), std::variant<int, std::string>>);
    CHECK(q1.size() + q2.size() == 1);
    if (winner.index() == 0) {
      CHECK(std::get<0>(winner) == 1);
      CHECK(q2.size() == 1);
    } else {
      CHECK(std::get<1>(winner) == "two");
      CHECK(q1.size() == 1);
    }
  }());
}

TEST_CASE("when_any of an event wait and a long sleep ends when the event is set", "[when_any]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::event e;
    auto setter = ringo::spawn(set_later(e));
    auto winner = co_await ringo::when_any(e.wait(), ringo::sleep_for(1h));
    static_assert(std::is_same_v<decltype(winner), std::variant<std::monostate, std::monostate>>);
    CHECK(winner.index() == 0);
    co_await setter;
  }());
}

TEST_CASE("when_any mixes tasks and waits; a losing get leaves its item", "[when_any]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::event e;
    ringo::queue<int> q;
    auto setter = ringo::spawn(set_later(e));
    auto winner = co_await ringo::when_any(value_when_set(e, 5), q.get());
    REQUIRE(winner.index() == 0);
    CHECK(std::get<0>(winner) == 5);
    q.try_put(6);  // the losing get was cancelled and unlinked: the item stays queued
    CHECK(q.size() == 1);
    co_await setter;
  }());
}

TEST_CASE("when_all collects a queue get, an event wait and a join_handle", "[when_all]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::queue<int> q;
    ringo::event e;
    ringo::semaphore s{1};
    q.try_put(3);
    auto h = ringo::spawn(value_when_set(e, 9));
    auto setter = ringo::spawn(set_later(e));
    auto [item, nothing, joined, permit] =
        co_await ringo::when_all(q.get(), e.wait(), h, s.scoped_acquire());
    CHECK(item == 3);
    CHECK(nothing == std::monostate{});
    CHECK(joined == 9);
    CHECK(s.available() == 0);  // the permit's guard came back with the results
    co_await setter;
  }());
}

TEST_CASE("with_timeout on a tcp read_some times out, then reads what comes", "[with_timeout]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    auto p = co_await ringo_test::connected_pair(l);
    std::array<std::byte, 16> buf{};
    bool timed_out = false;
    try {
      (void)co_await ringo::with_timeout(20ms, p.server.read_some(buf));
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await ringo::with_timeout(10s, p.client.write_all("hi"));
    std::size_t got = 0;
    while (got < 2) {
      const std::size_t n =
          co_await ringo::with_timeout(10s, p.server.read_some(std::span{buf}.subspan(got)));
      REQUIRE(n > 0);
      got += n;
    }
    CHECK(static_cast<char>(buf[0]) == 'h');
    CHECK(static_cast<char>(buf[1]) == 'i');
  }());
}

TEST_CASE("a join_handle under with_timeout and when_any keeps its result for a later join",
          "[with_timeout]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::event go;
    ringo::event never;
    auto h = ringo::spawn(value_when_set(go, 4));
    bool timed_out = false;
    try {
      (void)co_await ringo::with_timeout(20ms, h);
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    auto lost = co_await ringo::when_any(h, ringo::sleep_for(1ms));
    CHECK(lost.index() == 1);
    go.set();
    auto won = co_await ringo::when_any(h, never.wait());
    REQUIRE(won.index() == 0);
    CHECK(std::get<0>(won) == 4);
  }());
}

TEST_CASE("a thread_pool future under with_timeout and when_any", "[with_timeout]") {
  ringo::thread_pool pool{1};
  gate g;
  ringo::run([&]() -> ringo::task<void> {
    auto f = pool.submit([&] {
      g.pass();
      return 21;
    });
    bool timed_out = false;
    try {
      (void)co_await ringo::with_timeout(20ms, f);
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    g.open();
    ringo::event never;
    auto won = co_await ringo::when_any(f, never.wait());
    REQUIRE(won.index() == 0);
    CHECK(std::get<0>(won) == 21);
    const int again = co_await ringo::with_timeout(10s, pool.submit([] { return 2; }));
    CHECK(again == 2);
  }());
}
