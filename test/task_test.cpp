#include <ringo/task.hpp>
// (its own header first: proves it stands alone)
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/sync_wait.hpp>

#include "catch.hpp"

namespace {

ringo::task<int> forty_two() { co_return 42; }

ringo::task<std::string> greet(std::string name) { co_return "hello " + name; }

ringo::task<int> add_awaited(int a) { co_return a + co_await forty_two(); }

ringo::task<void> append(std::vector<int>& out, int v) {
  out.push_back(v);
  co_return;
}

ringo::task<int> thrower() {
  throw std::runtime_error("boom");
  co_return 0;
}

int global_value = 7;
ringo::task<int&> reference() { co_return global_value; }

struct destructor_counter {
  int* count;
  ~destructor_counter() { ++*count; }
};

ringo::task<void> holds_local(int* destroyed, bool* ran) {
  destructor_counter local{destroyed};
  *ran = true;
  co_return;
}

}  // namespace

TEST_CASE("a task returns its value to the awaiting coroutine", "[task]") {
  CHECK(ringo::sync_wait(forty_two()) == 42);
  CHECK(ringo::sync_wait(greet("ringo")) == "hello ringo");
  CHECK(ringo::sync_wait(add_awaited(8)) == 50);
}

TEST_CASE("a task is lazy: nothing runs until it is awaited", "[task]") {
  std::vector<int> out;
  auto t = append(out, 1);
  CHECK(out.empty());
  ringo::sync_wait(std::move(t));
  CHECK(out == std::vector<int>{1});
}

TEST_CASE("awaited tasks run in program order", "[task]") {
  std::vector<int> out;
  auto body = [&]() -> ringo::task<void> {
    co_await append(out, 1);
    auto second = append(out, 2);
    auto third = append(out, 3);
    co_await std::move(third);
    co_await std::move(second);
  };
  ringo::sync_wait(body());
  CHECK(out == std::vector<int>{1, 3, 2});
}

TEST_CASE("task<T&> returns a reference to the same object", "[task]") {
  int& r = ringo::sync_wait(reference());
  CHECK(&r == &global_value);
}

TEST_CASE("an exception thrown in a task is rethrown by co_await", "[task]") {
  auto outer = []() -> ringo::task<std::string> {
    try {
      co_await thrower();
    } catch (const std::runtime_error& e) {
      co_return std::string("caught ") + e.what();
    }
    co_return "not thrown";
  };
  CHECK(ringo::sync_wait(outer()) == "caught boom");
  CHECK_THROWS_AS(ringo::sync_wait(thrower()), std::runtime_error);
}

TEST_CASE("awaiting a task twice throws logic_error", "[task]") {
  auto outer = []() -> ringo::task<int> {
    auto t = forty_two();
    int first = co_await t;
    try {
      co_await t;
    } catch (const std::logic_error& e) {
      CHECK(std::string(e.what()).find("awaited twice") != std::string::npos);
      co_return first;
    }
    co_return -1;
  };
  CHECK(ringo::sync_wait(outer()) == 42);
}

TEST_CASE("awaiting a moved-from task throws logic_error", "[task]") {
  auto outer = []() -> ringo::task<void> {
    auto t = forty_two();
    auto moved = std::move(t);
    CHECK_FALSE(t.valid());
    CHECK(moved.valid());
    co_await t;
  };
  CHECK_THROWS_AS(ringo::sync_wait(outer()), std::logic_error);
}

TEST_CASE("a task destroyed unawaited never runs and frees its frame", "[task]") {
  int destroyed = 0;
  bool ran = false;
  {
    auto t = holds_local(&destroyed, &ran);
  }
  CHECK_FALSE(ran);
  CHECK(destroyed == 0);  // the local was never constructed
  ringo::sync_wait(holds_local(&destroyed, &ran));
  CHECK(ran);
  CHECK(destroyed == 1);
}

TEST_CASE("a task's move-only result is moved out", "[task]") {
  auto make = []() -> ringo::task<std::unique_ptr<int>> { co_return std::make_unique<int>(5); };
  auto p = ringo::sync_wait(make());
  REQUIRE(p);
  CHECK(*p == 5);
}

TEST_CASE("sync_wait refuses a task that waits for an event", "[task]") {
  struct never {
    bool await_ready() noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) noexcept {}
    void await_resume() noexcept {}
  };
  auto waits = []() -> ringo::task<void> { co_await never{}; };
  CHECK_THROWS_AS(ringo::sync_wait(waits()), std::logic_error);
}

TEST_CASE("frames are recycled: a finished task's frame is reused by the next", "[task]") {
#if RINGO_FRAME_RECYCLING
  void* first = nullptr;
  void* second = nullptr;
  auto where = [](void** out) -> ringo::task<void> {
    int local = 0;
    *out = &local;  // an address inside the frame
    co_return;
  };
  ringo::sync_wait(where(&first));
  ringo::sync_wait(where(&second));
  CHECK(first == second);
#else
  SUCCEED("frame recycling is off in this build (sanitizer or -Dframe_recycling=false)");
#endif
}
