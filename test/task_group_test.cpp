#include <ringo/task_group.hpp>
// (its own header first: proves it stands alone)
#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

ringo::task<void> record_after(std::vector<int>& out, std::chrono::milliseconds d, int v) {
  co_await ringo::sleep_for(d);
  out.push_back(v);
}

ringo::task<void> fail_after(std::chrono::milliseconds d, const char* what) {
  co_await ringo::sleep_for(d);
  throw std::runtime_error(what);
}

ringo::task<void> note_cancel(std::vector<std::string>& log, std::string name) {
  try {
    co_await ringo::sleep_for(10s);
    log.push_back(name + " finished");
  } catch (const ringo::operation_cancelled&) {
    log.push_back(name + " cancelled");
    throw;
  }
}

}  // namespace

TEST_CASE("join waits for every child of a group", "[task_group]") {
  std::vector<int> out;
  auto main = [&]() -> ringo::task<void> {
    ringo::task_group g;
    g.spawn(record_after(out, 30ms, 3));
    g.spawn(record_after(out, 10ms, 1));
    g.spawn(record_after(out, 20ms, 2));
    CHECK(g.size() == 3);
    co_await g.join();
    CHECK(g.size() == 0);
  };
  ringo::run(main());
  CHECK(out == std::vector<int>{1, 2, 3});
}

TEST_CASE("the first exception cancels the other children and is rethrown by join",
          "[task_group]") {
  std::vector<std::string> log;
  auto main = [&]() -> ringo::task<std::string> {
    ringo::task_group g;
    g.spawn(note_cancel(log, "a"));
    g.spawn(fail_after(5ms, "first"));
    g.spawn(note_cancel(log, "b"));
    g.spawn(fail_after(500ms, "second"));
    try {
      co_await g.join();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no error";
  };
  const auto start = std::chrono::steady_clock::now();
  CHECK(ringo::run(main()) == "first");
  CHECK(std::chrono::steady_clock::now() - start < 400ms);  // "second" was cancelled
  std::sort(log.begin(), log.end());
  CHECK(log == std::vector<std::string>{"a cancelled", "b cancelled"});
}

TEST_CASE("cancelling the task that joins a group cancels the children and waits for them",
          "[task_group]") {
  std::vector<std::string> log;
  auto parent = [&]() -> ringo::task<void> {
    ringo::task_group g;
    g.spawn(note_cancel(log, "child"));
    try {
      co_await g.join();
    } catch (const ringo::operation_cancelled&) {
      log.push_back("parent cancelled");
      throw;
    }
  };
  auto main = [&]() -> ringo::task<void> {
    auto h = ringo::spawn(parent());
    co_await ringo::sleep_for(5ms);
    h.cancel();
    try {
      co_await h;
      FAIL_CHECK("co_await h returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
  };
  ringo::run(main());
  CHECK(log == std::vector<std::string>{"child cancelled", "parent cancelled"});
}

TEST_CASE("cancel() stops every child and join returns normally", "[task_group]") {
  std::vector<std::string> log;
  auto main = [&]() -> ringo::task<void> {
    ringo::task_group g;
    g.spawn(note_cancel(log, "x"));
    g.spawn(note_cancel(log, "y"));
    co_await ringo::sleep_for(1ms);
    g.cancel();
    co_await g.join();  // children ended by our own cancel: not an error
  };
  ringo::run(main());
  CHECK(log.size() == 2);
}

TEST_CASE("a group can be reused after join", "[task_group]") {
  std::vector<int> out;
  auto main = [&]() -> ringo::task<void> {
    ringo::task_group g;
    g.spawn(record_after(out, 1ms, 1));
    co_await g.join();
    g.spawn(record_after(out, 1ms, 2));
    co_await g.join();
  };
  ringo::run(main());
  CHECK(out == std::vector<int>{1, 2});
}

TEST_CASE("a long-lived group holds no bookkeeping for finished children", "[task_group]") {
  auto main = []() -> ringo::task<void> {
    ringo::task_group g;
    std::vector<int> sink;
    for (int i = 0; i < 1000; ++i) {
      g.spawn(record_after(sink, 0ms, i));
      if (i % 100 == 99) {
        co_await ringo::sleep_for(1ms);
        CHECK(g.size() == 0);  // all finished ones were released
      }
    }
    co_await g.join();
    CHECK(sink.size() == 1000);
  };
  ringo::run(main());
}
