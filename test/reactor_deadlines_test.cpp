// Request deadlines, which are timers of the loop's (io_awaiter), not the backends': a passed
// deadline cancels the request and marks it timed out, a request done in time is left alone,
// deadlines expire in order, and a cancel before the deadline stays a cancel.
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <vector>

#include <ringo/io_context.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "reactor_requests.hpp"

using namespace std::chrono_literals;
using ringo_test::outcome;
using ringo_test::pipe_pair;
using ringo_test::read_awaiter;

TEST_CASE("a request deadline cancels the request and marks it timed out", "[reactor]") {
  for (unsigned disabled : {0u, ~0u}) {
    ringo::io_context_options options;
    options.disabled_features = disabled;
    ringo::io_context ctx{options};
    pipe_pair p;
    const auto t0 = std::chrono::steady_clock::now();
    const outcome o = ctx.run([&]() -> ringo::task<outcome> {
      co_return co_await read_awaiter{p.read_end(), 30ms};
    }());
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(o.result == -ECANCELED);
    CHECK(o.timed_out);
    CHECK(took >= 30ms);
    CHECK(took < 5s);
    CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
  }
}

TEST_CASE("a request that completes before its deadline is not timed out later", "[reactor]") {
  ringo::io_context ctx;
  pipe_pair p;
  const auto outcomes = ctx.run([&]() -> ringo::task<std::array<outcome, 2>> {
    p.put('a');
    std::array<outcome, 2> r;
    r[0] = co_await read_awaiter{p.read_end(), 20ms};
    // Well past the first deadline: nothing of the first request may fire now.
    co_await ringo::sleep_for(60ms);
    p.put('b');
    read_awaiter second{p.read_end(), 20ms};
    r[1] = co_await second;
    CHECK(second.byte == 'b');
    co_return r;
  }());
  CHECK(outcomes[0].result == 1);
  CHECK_FALSE(outcomes[0].timed_out);
  CHECK(outcomes[1].result == 1);
  CHECK_FALSE(outcomes[1].timed_out);
  CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
}

TEST_CASE("request deadlines expire in deadline order, whatever the order of submission",
          "[reactor]") {
  ringo::io_context ctx;
  std::array<pipe_pair, 5> pipes;
  const std::array<int, 5> ms{50, 10, 40, 20, 30};
  const auto order = ctx.run([&]() -> ringo::task<std::vector<int>> {
    std::vector<int> finished;
    std::vector<ringo::join_handle<void>> hs;
    for (std::size_t i = 0; i < ms.size(); ++i) {
      hs.push_back(ringo::spawn([](int fd, int ms, std::vector<int>& out) -> ringo::task<void> {
        const outcome o = co_await read_awaiter{fd, std::chrono::milliseconds{ms}};
        CHECK(o.timed_out);
        out.push_back(ms);
      }(pipes[i].read_end(), ms[i], finished)));
    }
    for (auto& h : hs)
      co_await h;
    co_return finished;
  }());
  CHECK(order == std::vector<int>{10, 20, 30, 40, 50});
}

TEST_CASE("a request cancelled before its deadline reports the cancellation, not a timeout",
          "[reactor]") {
  ringo::io_context ctx;
  pipe_pair p;
  const auto t0 = std::chrono::steady_clock::now();
  const outcome o = ctx.run([&]() -> ringo::task<outcome> {
    auto h = ringo::spawn([](int fd) -> ringo::task<outcome> {
      co_return co_await read_awaiter{fd, 10s};
    }(p.read_end()));
    co_await ringo::sleep_for(10ms);
    h.cancel();
    co_return co_await h;
  }());
  CHECK(o.result == -ECANCELED);
  CHECK_FALSE(o.timed_out);
  // The finished request's deadline left with it: nothing holds the loop for 10 s.
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
}
