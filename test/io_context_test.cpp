#include <ringo/io_context.hpp>
// (its own header first: proves it stands alone)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/sync_wait.hpp>

#include "backend/uring/make_reactor.hpp"
#include "catch.hpp"

using namespace std::chrono_literals;

// What users call on a context is its own public surface; the loop's internals that awaiters
// use (the backend, parking and scheduling tasks, timers) are reached only through
// detail::loop_of, so none of them is a member a user can call by accident.
template <class C>
concept exposes_loop_internals = requires(C& c) {
  c.io();
} || requires(C& c, ringo::detail::task_record& t) {
  c.schedule(t);
} || requires(C& c, ringo::detail::task_record& t) {
  c.adopt(t);
} || requires(C& c, ringo::detail::timer_node& timer) {
  c.add_timer(timer);
} || requires(C& c) {
  c.running_task();
} || requires(C& c) {
  static_cast<ringo::detail::loop&>(c);
};
static_assert(!exposes_loop_internals<ringo::io_context>);
static_assert(requires(ringo::io_context& c) { ringo::detail::loop_of(c).io(); });

namespace {

// A wait that only cancellation ends: what a deadlocked primitive looks like to the runtime.
struct forever : ringo::detail::suspension {
  explicit forever(std::source_location w = std::source_location::current()) : suspension(w) {}
  bool await_ready() { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    cancel = [](ringo::detail::wait_node& n) noexcept {
      auto& s = static_cast<forever&>(n);
      s.cancelled = true;
      s.wake();
    };
    describe = [](const ringo::detail::wait_node&, std::string& out) { out += "something forever"; };
    park(h);
    return true;
  }
  void await_resume() { throw_if_cancelled(); }
};

int forever_line = 0;
ringo::task<void> wait_forever(bool* unwound) {
  struct flag_on_exit {
    bool* f;
    ~flag_on_exit() { *f = true; }
  } guard{unwound};
  forever_line = __LINE__ + 1;
  co_await forever{};
}

// Captures what is written to stderr while alive.
class stderr_capture {
 public:
  stderr_capture() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    saved_ = ::dup(2);
    ::dup2(::fileno(file_), 2);
  }
  std::string finish() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    std::string out;
    std::rewind(file_);
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, file_)) out.append(buf, n);
    std::fclose(file_);
    return out;
  }

 private:
  std::FILE* file_;
  int saved_;
};

}  // namespace

TEST_CASE("a deadlock names every waiting task, its line and what it waits on", "[deadlock]") {
  bool main_unwound = false;
  bool child_unwound = false;
  int spawn_line = 0;
  auto main = [&]() -> ringo::task<void> {
    spawn_line = __LINE__ + 1;
    auto child = ringo::spawn(wait_forever(&child_unwound));
    co_await wait_forever(&main_unwound);
  };
  try {
    ringo::run(main());
    FAIL("no deadlock reported");
  } catch (const ringo::deadlock_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("deadlock") != std::string::npos);
    CHECK(what.find("2 live tasks") != std::string::npos);
    CHECK(what.find("task #1") != std::string::npos);
    CHECK(what.find("task #2") != std::string::npos);
    CHECK(what.find(fmt::format("io_context_test.cpp:{}", spawn_line)) != std::string::npos);
    CHECK(what.find(fmt::format("io_context_test.cpp:{}", forever_line)) != std::string::npos);
    CHECK(what.find("something forever") != std::string::npos);
  }
  // Both tasks were unwound (their destructors ran) before run() threw.
  CHECK(main_unwound);
  CHECK(child_unwound);
}

TEST_CASE("a task waiting for a timer is not a deadlock", "[deadlock]") {
  auto main = []() -> ringo::task<int> {
    co_await ringo::sleep_for(5ms);
    co_return 1;
  };
  CHECK(ringo::run(main()) == 1);
}

TEST_CASE("dump_tasks lists tasks with their state and wait site", "[io_context]") {
  auto main = []() -> ringo::task<std::string> {
    auto sleeper = ringo::spawn([]() -> ringo::task<void> { co_await ringo::sleep_for(10s); }());
    co_await ringo::yield();
    std::string dump = fmt::format("{}", *ringo::io_context::current());
    sleeper.cancel();
    co_return dump;
  };
  const std::string dump = ringo::run(main());
  INFO(dump);
  CHECK(dump.find("2 live tasks") != std::string::npos);
  CHECK(dump.find("running") != std::string::npos);
  CHECK(dump.find(": waiting\n      at ") != std::string::npos);
  CHECK(dump.find("a sleep ending in") != std::string::npos);
  CHECK(dump.find("io_context_test.cpp") != std::string::npos);
}

TEST_CASE("an exception from a detached task is printed with its spawn site", "[io_context]") {
  int line = 0;
  auto main = [&]() -> ringo::task<void> {
    line = __LINE__ + 1;
    ringo::spawn([]() -> ringo::task<void> { throw std::runtime_error("lost in the void"); co_return; }());
    co_return;
  };
  stderr_capture capture;
  ringo::run(main());
  const std::string err = capture.finish();
  INFO(err);
  CHECK(err.find("lost in the void") != std::string::npos);
  CHECK(err.find("std::runtime_error") != std::string::npos);
  CHECK(err.find(fmt::format("io_context_test.cpp:{}", line)) != std::string::npos);
}

TEST_CASE("a joined exception is not printed", "[io_context]") {
  auto main = []() -> ringo::task<void> {
    auto h = ringo::spawn([]() -> ringo::task<void> { throw std::runtime_error("seen"); co_return; }());
    bool threw = false;
    try {
      co_await h;
    } catch (...) {
      threw = true;
    }
    CHECK(threw);
  };
  stderr_capture capture;
  ringo::run(main());
  CHECK(capture.finish().empty());
}

TEST_CASE("run waits for non-daemon tasks even when main throws", "[io_context]") {
  bool worker_done = false;
  // Coroutine lambdas keep their captures in the closure: it must outlive the task.
  auto worker = [&]() -> ringo::task<void> {
    co_await ringo::sleep_for(10ms);
    worker_done = true;
  };
  auto main = [&]() -> ringo::task<void> {
    ringo::spawn(worker());
    throw std::runtime_error("main failed");
    co_return;
  };
  CHECK_THROWS_WITH(ringo::run(main()), "main failed");
  CHECK(worker_done);
}

TEST_CASE("the seed's daemon rule: a daemon outlives main but not the other tasks",
          "[io_context]") {
  std::vector<std::string> log;
  auto daemon = [&]() -> ringo::task<void> {
    try {
      for (;;) {
        log.push_back("daemon tick");
        co_await ringo::sleep_for(4ms);
      }
    } catch (const ringo::operation_cancelled&) {
      log.push_back("daemon cancelled");
      throw;
    }
  };
  auto child = [&]() -> ringo::task<void> {
    co_await ringo::sleep_for(10ms);
    log.push_back("child done");
  };
  auto main = [&]() -> ringo::task<void> {
    ringo::spawn(daemon(), ringo::daemon);
    ringo::spawn(child());
    log.push_back("main done");
    co_return;
  };
  ringo::run(main());
  REQUIRE(log.size() >= 4);
  CHECK(log.front() == "main done");
  // The daemon ticked while the child ran, and was cancelled only once the child was done
  // (a tick due in the same turn as the child's end may still land just before).
  const auto child_done = std::find(log.begin(), log.end(), "child done");
  REQUIRE(child_done != log.end());
  CHECK(std::count(log.begin(), child_done, "daemon tick") >= 2);
  CHECK(log.back() == "daemon cancelled");
  CHECK(std::count(child_done, log.end(), "daemon tick") <= 1);
}

TEST_CASE("misuse of the runtime throws logic_error with advice", "[io_context]") {
  SECTION("spawn outside a loop") {
    CHECK_THROWS_AS(ringo::spawn([]() -> ringo::task<void> { co_return; }()), std::logic_error);
  }
  SECTION("run inside a running loop") {
    auto main = []() -> ringo::task<void> {
      CHECK_THROWS_AS(ringo::run([]() -> ringo::task<void> { co_return; }()), std::logic_error);
      co_return;
    };
    ringo::run(main());
  }
  SECTION("join a handle twice") {
    auto main = []() -> ringo::task<void> {
      auto h = ringo::spawn([]() -> ringo::task<int> { co_return 1; }());
      const int first = co_await h;
      CHECK(first == 1);
      try {
        co_await h;
        FAIL_CHECK("co_await h returned instead of throwing logic_error");
      } catch (const std::logic_error&) {
      }
    };
    ringo::run(main());
  }
  SECTION("sleep outside a loop") {
    auto t = []() -> ringo::task<void> { co_await ringo::sleep_for(1ms); };
    CHECK_THROWS_AS(ringo::sync_wait(t()), std::logic_error);
  }
  SECTION("a context run from a second thread") {
    ringo::io_context ctx;
    ctx.run([]() -> ringo::task<void> { co_return; }());
    std::string message;
    std::thread other{[&] {
      try {
        ctx.run([]() -> ringo::task<void> { co_return; }());
      } catch (const std::logic_error& e) {
        message = e.what();
      }
    }};
    other.join();
    CHECK(message.find("one context per thread") != std::string::npos);
  }
}

TEST_CASE("a context runs several mains one after another", "[io_context]") {
  ringo::io_context ctx;
  CHECK(ctx.run([]() -> ringo::task<int> { co_return 1; }()) == 1);
  CHECK(ctx.run([]() -> ringo::task<int> {
          co_await ringo::sleep_for(1ms);
          co_return 2;
        }()) == 2);
}

TEST_CASE("RINGO_DISABLE_FEATURES turns kernel features off and rejects unknown names",
          "[io_context]") {
  ::setenv("RINGO_DISABLE_FEATURES", "all", 1);
  {
    ringo::io_context ctx;
    CHECK_FALSE(ctx.features().defer_taskrun);
    CHECK_FALSE(ctx.features().single_issuer);
    CHECK_FALSE(ctx.features().coop_taskrun);
    CHECK_FALSE(ctx.features().multishot_accept);
    CHECK_FALSE(ctx.features().provided_buffers);
    CHECK_FALSE(ctx.features().send_zc);
    CHECK_FALSE(ctx.features().incremental_buffers);
    CHECK_FALSE(ctx.features().kernel_tls);
    CHECK(ctx.run([]() -> ringo::task<int> {
            co_await ringo::sleep_for(1ms);
            co_return 3;
          }()) == 3);
  }
  ::setenv("RINGO_DISABLE_FEATURES", "incremental_buffers", 1);
  {
    ringo::io_context ctx;
    CHECK_FALSE(ctx.features().incremental_buffers);
    CHECK(ctx.run([]() -> ringo::task<int> { co_return 4; }()) == 4);
  }
  ::setenv("RINGO_DISABLE_FEATURES", "multishot_accept,bogus", 1);
  CHECK_THROWS_WITH(ringo::io_context{}, Catch::Matchers::Contains("bogus"));
  ::unsetenv("RINGO_DISABLE_FEATURES");
  ringo::io_context_options o;
  o.disabled_features = static_cast<unsigned>(ringo::kernel_feature::defer_taskrun);
  ringo::io_context ctx{o};
  CHECK_FALSE(ctx.features().defer_taskrun);
}

TEST_CASE("io_uring setup failures say why and what to do", "[io_context]") {
  using ringo::detail::describe_setup_failure;
  CHECK(describe_setup_failure(ENOSYS, 8).find("kernel") != std::string::npos);
  CHECK(describe_setup_failure(EPERM, 8).find("io_uring") != std::string::npos);
  CHECK(describe_setup_failure(ENOMEM, 4096).find("ulimit -l") != std::string::npos);
  CHECK(describe_setup_failure(ENOMEM, 4096).find("4096") != std::string::npos);
}

TEST_CASE("post runs a function on the loop's thread and wakes it", "[io_context]") {
  auto main = []() -> ringo::task<int> {
    auto* ctx = ringo::io_context::current();
    int ran = 0;
    const auto loop_thread = std::this_thread::get_id();
    std::thread poster{[&] { ctx->post([&] {
                               CHECK(std::this_thread::get_id() == loop_thread);
                               ++ran;
                             }); }};
    co_await ringo::sleep_for(50ms);
    poster.join();
    co_return ran;
  };
  CHECK(ringo::run(main()) == 1);
}
