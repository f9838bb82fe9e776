#include <ringo/as_completed.hpp>
// (its own header first: proves it stands alone)

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/event.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

namespace {

// Each task waits for its own event; the test sets them in the order it wants them to finish,
// so a loaded machine cannot reorder them.
ringo::task<int> value_when_set(ringo::event& e, int v) {
  co_await e.wait();
  co_return v;
}

ringo::task<int> fail_when_set(ringo::event& e) {
  co_await e.wait();
  throw std::runtime_error("task 1 failed");
}

struct outcome {
  int cancelled = 0;
  int finished = 0;
};

ringo::task<void> note_end(ringo::event& e, std::shared_ptr<outcome> seen) {
  try {
    co_await e.wait();
    ++seen->finished;
  } catch (const ringo::operation_cancelled&) {
    ++seen->cancelled;
    throw;
  }
}

}  // namespace

TEST_CASE("as_completed yields the tasks' handles in the order they finish", "[as_completed]") {
  ringo::run([]() -> ringo::task<void> {
    std::vector<ringo::event> events(3);
    std::vector<ringo::task<int>> tasks;
    for (int i = 0; i < 3; ++i)
      tasks.push_back(value_when_set(events[i], i));
    auto finished = ringo::as_completed(std::move(tasks));
    std::vector<int> order;
    for (int i : {2, 0, 1}) {
      events[i].set();
      auto h = co_await finished.next();
      REQUIRE(h.has_value());
      order.push_back(co_await *h);
    }
    auto end = co_await finished.next();
    CHECK_FALSE(end.has_value());
    CHECK(order == std::vector<int>{2, 0, 1});
  }());
}

TEST_CASE("as_completed starts every task at once, before the first next", "[as_completed]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::event go;
    go.set();
    std::vector<ringo::task<int>> tasks;
    tasks.push_back(value_when_set(go, 1));
    tasks.push_back(value_when_set(go, 2));
    auto finished = ringo::as_completed(std::move(tasks));
    co_await ringo::yield();
    co_await ringo::yield();
    int sum = 0;
    while (auto h = co_await finished.next()) {
      CHECK(h->done());  // both ran while this task yielded
      sum += co_await *h;
    }
    CHECK(sum == 3);
  }());
}

TEST_CASE("as_completed goes on after a task fails, whose handle rethrows", "[as_completed]") {
  ringo::run([]() -> ringo::task<void> {
    std::vector<ringo::event> events(3);
    std::vector<ringo::task<int>> tasks;
    tasks.push_back(value_when_set(events[0], 0));
    tasks.push_back(fail_when_set(events[1]));
    tasks.push_back(value_when_set(events[2], 2));
    auto finished = ringo::as_completed(std::move(tasks));
    std::vector<std::string> seen;
    for (int i : {1, 2, 0}) {
      events[i].set();
      auto h = co_await finished.next();
      REQUIRE(h.has_value());
      try {
        seen.push_back(std::to_string(co_await *h));
      } catch (const std::runtime_error& e) {
        seen.push_back(e.what());
      }
    }
    auto end = co_await finished.next();
    CHECK_FALSE(end.has_value());
    CHECK(seen == std::vector<std::string>{"task 1 failed", "2", "0"});
  }());
}

TEST_CASE("as_completed of no tasks yields nothing", "[as_completed]") {
  ringo::run([]() -> ringo::task<void> {
    auto finished = ringo::as_completed(std::vector<ringo::task<int>>{});
    auto first = co_await finished.next();
    CHECK_FALSE(first.has_value());
  }());
}

TEST_CASE("destroying as_completed early cancels the tasks still running", "[as_completed]") {
  auto seen = std::make_shared<outcome>();
  ringo::run([seen]() -> ringo::task<void> {
    std::vector<ringo::event> events(3);
    {
      std::vector<ringo::task<void>> tasks;
      for (auto& e : events)
        tasks.push_back(note_end(e, seen));
      auto finished = ringo::as_completed(std::move(tasks));
      events[1].set();
      auto h = co_await finished.next();
      REQUIRE(h.has_value());
      co_await *h;
      CHECK(seen->finished == 1);
    }  // the generator goes with two tasks still waiting
    co_await ringo::yield();
    co_await ringo::yield();
    for (auto& e : events)
      e.set();  // too late: they were cancelled at their wait
  }());         // run() waits for the cancelled tasks to end
  CHECK(seen->finished == 1);
  CHECK(seen->cancelled == 2);
}

TEST_CASE("cancelling the task iterating as_completed cancels the tasks not yet yielded",
          "[as_completed]") {
  auto seen = std::make_shared<outcome>();
  ringo::run([seen]() -> ringo::task<void> {
    std::vector<ringo::event> events(2);
    auto iterate = [](std::vector<ringo::event>& ev,
                      std::shared_ptr<outcome> s) -> ringo::task<void> {
      std::vector<ringo::task<void>> tasks;
      for (auto& e : ev)
        tasks.push_back(note_end(e, s));
      auto finished = ringo::as_completed(std::move(tasks));
      while (auto h = co_await finished.next())
        co_await *h;
    };
    auto h = ringo::spawn(iterate(events, seen));
    co_await ringo::yield();
    h.cancel();
    bool cancelled = false;
    try {
      co_await h;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    for (auto& e : events)
      e.set();
  }());
  CHECK(seen->finished == 0);
  CHECK(seen->cancelled == 2);
}
