// Cancelled waits on a ringo::queue: a cancelled get leaves the queue, and one cancelled after
// an item was handed to it gives the item back (to the queue, or to the next getter); a
// cancelled put puts nothing, also once granted a place; a cancelled join leaves the queue.
#include <ringo/queue.hpp>
// (its own header first: proves it stands alone)
#include <vector>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "queue_tasks.hpp"

using ringo_test::get_and_record;
using ringo_test::put_all;

TEST_CASE("a cancelled get leaves the queue and the item goes to the next getter", "[queue]") {
  auto main = []() -> ringo::task<std::vector<int>> {
    ringo::queue<int> q;
    std::vector<int> got;
    auto a = ringo::spawn(get_and_record(q, got));
    auto b = ringo::spawn(get_and_record(q, got));
    co_await ringo::yield();
    a.cancel();
    try {
      co_await a;
      FAIL_CHECK("co_await a returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    co_await q.put(7);
    co_await b;
    CHECK(q.empty());
    co_return got;
  };
  CHECK(ringo::run(main()) == std::vector<int>{7});
}

namespace {
ringo::task<void> get_then_suspend(ringo::queue<int>& q, std::vector<int>& got) {
  got.push_back(co_await q.get());
  co_await ringo::yield();  // the cancellation lands here
  got.push_back(-1);
}
}  // namespace

TEST_CASE("a getter cancelled after the item was handed to it, before it resumed, gives it back",
          "[queue]") {
  auto main = []() -> ringo::task<void> {
    ringo::queue<int> q;
    std::vector<int> got;
    auto a = ringo::spawn(get_then_suspend(q, got));
    co_await ringo::yield();
    co_await q.put(8);  // into a's frame; a is ready, no longer waiting
    a.cancel();
    try {
      co_await a;
      FAIL_CHECK("co_await a returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    CHECK(got.empty());
    CHECK(q.size() == 1);  // back in the queue, still to be marked done
    CHECK(q.unfinished() == 1);
    // Or straight to the next getter, when one waits.
    auto b = ringo::spawn(get_then_suspend(q, got));
    auto c = ringo::spawn(get_then_suspend(q, got));
    auto d = ringo::spawn(get_then_suspend(q, got));
    co_await ringo::yield();
    CHECK(q.empty());   // b took 8; c and d wait, in that order
    co_await q.put(9);  // handed to c
    c.cancel();
    co_await ringo::yield();  // c gives 9 to d
    CHECK(q.empty());
    co_await b;
    try {
      co_await c;
      FAIL_CHECK("co_await c returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    co_await d;
    CHECK(got == std::vector<int>{8, -1, 9, -1});
  };
  ringo::run(main());
}

TEST_CASE("a cancelled put puts nothing, also after it was granted a place", "[queue]") {
  auto main = []() -> ringo::task<void> {
    ringo::queue<int> q{1};
    co_await q.put(1);
    std::vector<int> done_a;
    std::vector<int> done_b;
    auto a = ringo::spawn(put_all(q, {2}, done_a));
    auto b = ringo::spawn(put_all(q, {3}, done_b));
    co_await ringo::yield();
    a.cancel();
    try {
      co_await a;
      FAIL_CHECK("co_await a returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    const int got2 = co_await q.get();
    CHECK(got2 == 1);  // grants b the place
    b.cancel();        // before b resumed: it hands the place back, 3 not put
    try {
      co_await b;
      FAIL_CHECK("co_await b returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    CHECK(done_b.empty());
    CHECK(q.empty());
    CHECK_FALSE(q.full());
    CHECK(q.unfinished() == 1);
  };
  ringo::run(main());
}

TEST_CASE("a cancelled join leaves the queue", "[queue]") {
  auto main = []() -> ringo::task<void> {
    ringo::queue<int> q;
    co_await q.put(1);
    auto joiner = [](ringo::queue<int>& q) -> ringo::task<void> { co_await q.join(); };
    auto j = ringo::spawn(joiner(q));
    co_await ringo::yield();
    j.cancel();
    try {
      co_await j;
      FAIL_CHECK("co_await j returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    const int got4 = co_await q.get();
    CHECK(got4 == 1);
    q.task_done();
  };
  ringo::run(main());
}
