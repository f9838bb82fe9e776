#include <ringo/sync_wait.hpp>
// (its own header first: proves it stands alone)
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ringo/event.hpp>
#include <ringo/generator.hpp>
#include <ringo/io_context.hpp>
#include <ringo/queue.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>
#include <ringo/when_all.hpp>
#include <ringo/when_any.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

ringo::task<int> forty_two() { co_return 42; }

ringo::generator<int> count_to(int n) {
  for (int i = 1; i <= n; ++i) co_yield i;
}

// Pure computation: awaits other tasks that finish at once and drains a generator.
ringo::task<int> pure_sum() {
  int sum = co_await forty_two();
  for (int v : count_to(4)) sum += v;
  co_return sum;
}

struct destroyed_flag {
  bool* destroyed;
  ~destroyed_flag() { *destroyed = true; }
};

// What sync_wait throws for `t`, or "" if it threw nothing.
template <class T>
std::string sync_wait_error(ringo::task<T> t) {
  try {
    ringo::sync_wait(std::move(t));
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "";
}

// The outer task, after a refused sync_wait: it must still be an ordinary running task that
// sleeps for as long as it asks, spawns, joins and finishes, and its context must not think
// it waits anywhere.
ringo::task<void> carry_on(std::vector<std::string>& log) {
  const std::string dump = ringo::io_context::current()->dump_tasks();
  CHECK(dump.find("running") != std::string::npos);
  CHECK(dump.find("waiting") == std::string::npos);
  CHECK(dump.find(" on ") == std::string::npos);
  const auto start = clock_type::now();
  co_await ringo::sleep_for(60ms);  // longer than the refused task's sleep
  CHECK(clock_type::now() - start >= 60ms);
  auto child = ringo::spawn([](std::vector<std::string>& l) -> ringo::task<int> {
    co_await ringo::sleep_for(1ms);
    l.push_back("child ran");
    co_return 7;
  }(log));
  const int got = co_await child;  // (not inside CHECK, whose macro may evaluate it twice)
  CHECK(got == 7);
  log.push_back("outer done");
}

}  // namespace

TEST_CASE("sync_wait runs a task that waits for no event, outside a loop", "[sync_wait]") {
  CHECK(ringo::sync_wait(forty_two()) == 42);
  CHECK(ringo::sync_wait(pure_sum()) == 52);
}

TEST_CASE("sync_wait outside a loop refuses a task that sleeps", "[sync_wait]") {
  bool destroyed = false;
  auto sleeper = [](bool* d) -> ringo::task<void> {
    destroyed_flag guard{d};
    co_await ringo::sleep_for(1ms);
  };
  CHECK_THROWS_AS(ringo::sync_wait(sleeper(&destroyed)), std::logic_error);
  CHECK(destroyed);
}

TEST_CASE("sync_wait inside a running loop returns a pure task's value", "[sync_wait]") {
  auto main = []() -> ringo::task<int> {
    const int a = ringo::sync_wait(forty_two());
    const int b = ringo::sync_wait(pure_sum());
    co_await ringo::sleep_for(1ms);
    co_return a + b;
  };
  CHECK(ringo::run(main()) == 94);
}

TEST_CASE("sync_wait inside a running loop refuses a task that sleeps and arms no timer",
          "[sync_wait]") {
  std::vector<std::string> log;
  bool destroyed = false;
  auto sleeper = [](std::vector<std::string>& l, bool* d) -> ringo::task<int> {
    destroyed_flag guard{d};
    l.push_back("sleeper started");
    co_await ringo::sleep_for(10ms);
    l.push_back("sleeper woke");
    co_return 1;
  };
  auto main = [&]() -> ringo::task<void> {
    const std::string error = sync_wait_error(sleeper(log, &destroyed));
    CHECK(error.find("ringo::sync_wait") != std::string::npos);
    CHECK(error.find("ringo::run") != std::string::npos);
    CHECK(destroyed);
    co_await carry_on(log);
  };
  ringo::run(main());
  CHECK(log == std::vector<std::string>{"sleeper started", "child ran", "outer done"});
}

TEST_CASE("sync_wait inside a running loop refuses a task that joins another", "[sync_wait]") {
  std::vector<std::string> log;
  auto joiner = [](ringo::join_handle<int>& h) -> ringo::task<int> { co_return co_await h; };
  auto main = [&]() -> ringo::task<void> {
    auto h = ringo::spawn([]() -> ringo::task<int> {
      co_await ringo::sleep_for(5ms);
      co_return 5;
    }());
    const std::string error = sync_wait_error(joiner(h));
    CHECK(error.find("ringo::sync_wait") != std::string::npos);
    const int joined = co_await h;  // the handle is still the outer task's to await
    CHECK(joined == 5);
    co_await carry_on(log);
  };
  ringo::run(main());
  CHECK(log == std::vector<std::string>{"child ran", "outer done"});
}

TEST_CASE("sync_wait inside a running loop refuses a task that yields", "[sync_wait]") {
  std::vector<std::string> log;
  auto yielder = [](std::vector<std::string>& l) -> ringo::task<void> {
    co_await ringo::yield();
    l.push_back("yielder went on");
  };
  auto main = [&]() -> ringo::task<void> {
    // With another task ready, and with none.
    ringo::spawn([](std::vector<std::string>& l) -> ringo::task<void> {
      l.push_back("sibling ran");
      co_return;
    }(log));
    CHECK(sync_wait_error(yielder(log)).find("ringo::sync_wait") != std::string::npos);
    co_await ringo::sleep_for(1ms);
    CHECK(sync_wait_error(yielder(log)).find("ringo::sync_wait") != std::string::npos);
    co_await carry_on(log);
  };
  ringo::run(main());
  CHECK(log == std::vector<std::string>{"sibling ran", "child ran", "outer done"});
}

TEST_CASE("sync_wait inside a running loop refuses a task that waits for an event or a queue",
          "[sync_wait]") {
  std::vector<std::string> log;
  ringo::event ev;
  ringo::queue<int> q;
  auto waits_event = [](ringo::event& e) -> ringo::task<void> { co_await e.wait(); };
  auto waits_queue = [](ringo::queue<int>& qu) -> ringo::task<int> { co_return co_await qu.get(); };
  auto main = [&]() -> ringo::task<void> {
    CHECK(sync_wait_error(waits_event(ev)).find("ringo::sync_wait") != std::string::npos);
    CHECK(ev.waiting() == 0);
    CHECK(sync_wait_error(waits_queue(q)).find("ringo::sync_wait") != std::string::npos);
    co_await carry_on(log);
    // Both still work for the outer task, and waits that need no waiting pass.
    ev.set();
    co_await ev.wait();
    ringo::sync_wait(waits_event(ev));
    co_await q.put(3);
    CHECK(ringo::sync_wait(waits_queue(q)) == 3);
    ringo::spawn([](ringo::queue<int>& qu) -> ringo::task<void> { co_await qu.put(4); }(q));
    const int item = co_await q.get();
    CHECK(item == 4);
  };
  ringo::run(main());
  CHECK(log == std::vector<std::string>{"child ran", "outer done"});
}

TEST_CASE("a task run by sync_wait may run a loop of its own", "[sync_wait]") {
  auto inner = []() -> ringo::task<int> {
    co_await ringo::sleep_for(1ms);
    co_await ringo::yield();
    co_return 3;
  };
  auto outer = [&]() -> ringo::task<int> { co_return ringo::run(inner()) + 1; };
  CHECK(ringo::sync_wait(outer()) == 4);
}

TEST_CASE("sync_wait inside a running loop refuses when_all, when_any and with_timeout before "
          "any child starts",
          "[sync_wait]") {
  int children_ran = 0;
  auto child = [](int& ran) -> ringo::task<int> {
    ++ran;
    co_return 1;
  };
  auto main = [&]() -> ringo::task<void> {
    const std::string all =
        sync_wait_error(ringo::when_all(child(children_ran), child(children_ran)));
    CHECK(all.find("ringo::spawn inside ringo::sync_wait") != std::string::npos);
    const std::string any =
        sync_wait_error(ringo::when_any(child(children_ran), child(children_ran)));
    CHECK(any.find("ringo::spawn inside ringo::sync_wait") != std::string::npos);
    std::vector<ringo::task<int>> many;
    many.push_back(child(children_ran));
    const std::string all_of_many = sync_wait_error(ringo::when_all(std::move(many)));
    CHECK(all_of_many.find("ringo::spawn inside ringo::sync_wait") != std::string::npos);
    const std::string timed = sync_wait_error(ringo::with_timeout(1s, child(children_ran)));
    CHECK(timed.find("ringo::spawn inside ringo::sync_wait") != std::string::npos);
    const std::string spawned = sync_wait_error([](int& ran) -> ringo::task<void> {
      ringo::spawn([](int& r) -> ringo::task<void> {
        ++r;
        co_return;
      }(ran));
      co_return;
    }(children_ran));
    CHECK(spawned.find("ringo::spawn inside ringo::sync_wait") != std::string::npos);
    // The loop goes on as if nothing had happened: nothing was left running on it.
    CHECK(ringo::io_context::current()->live_tasks() == 1);
    co_await ringo::sleep_for(10ms);
    // And the same combinators work from the task itself.
    const auto both = co_await ringo::when_all(child(children_ran), child(children_ran));
    CHECK(std::get<0>(both) + std::get<1>(both) == 2);
  };
  ringo::run(main());
  CHECK(children_ran == 2);
}
