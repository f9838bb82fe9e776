// The reactor seam on every backend: a full submission queue and an overflowing completion
// queue, a shutdown with requests in flight, and poll requests. The features the backend
// probes are in reactor_features_test.cpp, request deadlines in reactor_deadlines_test.cpp.
#include "backend/reactor.hpp"
// (its own header first: proves it stands alone)
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include <ringo/io_context.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "reactor_requests.hpp"

using namespace std::chrono_literals;
using ringo_test::many_nops;
using ringo_test::outcome;
using ringo_test::pipe_pair;
using ringo_test::read_awaiter;

TEST_CASE(
    "a full submission queue is flushed and an overflowing completion queue loses "
    "nothing",
    "[reactor]") {
  // 8 submission entries and 32 completion entries, 5,000 requests in one loop turn.
  ringo::io_context_options options;
  options.ring_entries = 8;
  for (unsigned disabled : {0u, ~0u}) {
    options.disabled_features = disabled;
    ringo::io_context ctx{options};
    CHECK(ctx.run(many_nops(5000)) == 5000);
    CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
  }
}

TEST_CASE("a context shut down with requests in flight cancels each where cancel-any is missing",
          "[reactor]") {
  for (const bool cancel_any : {true, false}) {
    DYNAMIC_SECTION((cancel_any ? "one cancel for all" : "one cancel per request")) {
      ringo::io_context_options options;
      if (!cancel_any) {
        options.disabled_features = static_cast<unsigned>(ringo::kernel_feature::cancel_any);
      }
      ringo::io_context ctx{options};
      ctx.run([]() -> ringo::task<void> { co_return; }());  // starts the backend
      if (cancel_any && !ctx.features().cancel_any) {
        WARN("the kernel has no IORING_ASYNC_CANCEL_ANY: only the per-request path runs");
        continue;
      }
      CHECK(ctx.features().cancel_any == cancel_any);
      // Reads of pipes that never get a byte: only a cancellation ends them.
      std::array<pipe_pair, 3> pipes;
      struct op : ringo::detail::io_operation {
        char byte = 0;
        int result = 1;
        int completions = 0;
      };
      std::array<op, 3> ops;
      for (std::size_t i = 0; i < ops.size(); ++i) {
        ops[i].opcode = ringo::detail::io_opcode::read;
        ops[i].fd = pipes[i].read_end();
        ops[i].buf = &ops[i].byte;
        ops[i].len = 1;
        ops[i].offset = static_cast<std::uint64_t>(-1);
        ops[i].on_complete = [](ringo::detail::io_operation& o, int res, std::uint32_t,
                                std::uint32_t) noexcept {
          auto& self = static_cast<op&>(o);
          self.result = res;
          ++self.completions;
        };
        ringo::detail::loop_of(ctx).io().submit(ops[i]);
      }
      ringo::detail::loop_of(ctx).io().wait(std::chrono::nanoseconds{0});  // in the kernel now
      REQUIRE(ringo::detail::loop_of(ctx).io().in_flight() == 3);
      const auto t0 = std::chrono::steady_clock::now();
      ringo::detail::loop_of(ctx).io().drain();
      CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
      for (const op& o : ops) {
        CHECK(o.completions == 1);
        CHECK(o.result == -ECANCELED);
      }
      // drain() gives up after a second; cancelled reads come back long before.
      CHECK(std::chrono::steady_clock::now() - t0 < 900ms);
    }
  }
}

TEST_CASE("a poll request completes once its descriptor is readable, and takes nothing",
          "[reactor]") {
  ringo::io_context ctx;
  pipe_pair p;
  bool early = true;
  const outcome o = ctx.run([&]() -> ringo::task<outcome> {
    auto h = ringo::spawn([](int fd) -> ringo::task<outcome> {
      co_return co_await read_awaiter{fd, 0s, ringo::detail::io_opcode::poll};
    }(p.read_end()));
    co_await ringo::sleep_for(10ms);
    early = h.done();
    p.put('x');
    co_return co_await h;
  }());
  CHECK_FALSE(early);
  CHECK(o.result > 0);
  CHECK((o.result & POLLIN) != 0);
  char c = 0;
  CHECK(::read(p.read_end(), &c, 1) == 1);  // the byte is still there
  CHECK(c == 'x');
  CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
}

TEST_CASE("a poll request is cancelled, times out, and fails on a bad descriptor", "[reactor]") {
  ringo::io_context ctx;
  pipe_pair p;
  const std::array<outcome, 3> o = ctx.run([&]() -> ringo::task<std::array<outcome, 3>> {
    auto poll_of = [](int fd, std::chrono::nanoseconds limit) -> ringo::task<outcome> {
      co_return co_await read_awaiter{fd, limit, ringo::detail::io_opcode::poll};
    };
    auto h = ringo::spawn(poll_of(p.read_end(), 0s));
    co_await ringo::sleep_for(10ms);
    h.cancel();
    const outcome cancelled = co_await h;
    const outcome timed_out = co_await poll_of(p.read_end(), 20ms);
    const outcome bad = co_await poll_of(1000, 0s);  // no such descriptor
    co_return std::array<outcome, 3>{cancelled, timed_out, bad};
  }());
  CHECK(o[0].result == -ECANCELED);
  CHECK_FALSE(o[0].timed_out);
  CHECK(o[1].result == -ECANCELED);
  CHECK(o[1].timed_out);
  CHECK(o[2].result == -EBADF);
  CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
}
