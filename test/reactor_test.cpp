#include <ringo/detail/reactor.hpp>
// (its own header first: proves it stands alone)
#include <poll.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <ringo/detail/suspension.hpp>
#include <ringo/io_context.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

// One no-op request through the reactor seam, awaited by a task.
struct nop_awaiter : ringo::detail::suspension {
  struct operation : ringo::detail::io_operation {
    nop_awaiter* owner = nullptr;
  } op;
  int result = -1;

  nop_awaiter() : suspension(std::source_location::current()) {}
  bool await_ready() { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    op.owner = this;
    op.opcode = ringo::detail::io_opcode::nop;
    op.on_complete = [](ringo::detail::io_operation& o, int res, std::uint32_t,
                        std::uint32_t) noexcept {
      nop_awaiter& self = *static_cast<operation&>(o).owner;
      self.result = res;
      self.wake();
    };
    context->io().submit(op);
    park(h);
    return true;
  }
  int await_resume() { return result; }
};

ringo::task<int> one_nop() {
  co_return co_await nop_awaiter{};
}

// A read of a pipe through the seam, with a deadline for the request.
struct outcome {
  int result = 0;
  bool timed_out = false;
};

struct read_awaiter : ringo::detail::suspension {
  struct operation : ringo::detail::io_operation {
    read_awaiter* owner = nullptr;
  } op;
  char byte = 0;
  outcome out;

  read_awaiter(int fd, std::chrono::nanoseconds timeout,
               ringo::detail::io_opcode opcode = ringo::detail::io_opcode::read)
      : suspension(std::source_location::current()) {
    op.owner = this;
    op.opcode = opcode;
    op.fd = fd;
    op.buf = &byte;
    op.len = 1;
    op.offset = static_cast<std::uint64_t>(-1);
    op.timeout = timeout;
  }
  bool await_ready() { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    op.on_complete = [](ringo::detail::io_operation& o, int res, std::uint32_t,
                        std::uint32_t) noexcept {
      read_awaiter& self = *static_cast<operation&>(o).owner;
      self.out = {res, o.timed_out};
      self.wake();
    };
    cancel = [](ringo::detail::wait_node& n) noexcept {
      auto& self = static_cast<read_awaiter&>(n);
      self.context->io().cancel(self.op);  // on_complete wakes the task
    };
    context->io().submit(op);
    park(h);
    return true;
  }
  outcome await_resume() { return out; }
};

struct pipe_pair {
  int fds[2] = {-1, -1};
  pipe_pair() { REQUIRE(::pipe(fds) == 0); }
  ~pipe_pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  int read_end() const { return fds[0]; }
  void put(char c) const { REQUIRE(::write(fds[1], &c, 1) == 1); }
};

ringo::task<int> many_nops(int count) {
  std::vector<ringo::join_handle<int>> handles;
  handles.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i)
    handles.push_back(ringo::spawn(one_nop()));
  int completed = 0;
  for (auto& h : handles)
    completed += (co_await h) == 0 ? 1 : 0;
  co_return completed;
}

}  // namespace

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

TEST_CASE("the best kernel features are probed and used", "[reactor]") {
  if (std::getenv("RINGO_DISABLE_FEATURES") != nullptr) {
    WARN("RINGO_DISABLE_FEATURES is set: the features are off on purpose");
    return;
  }
  ringo::io_context ctx;
  const auto& f = ctx.features();
  if (ctx.backend() == ringo::io_backend::epoll) {
    // epoll has none of them: the paths for kernels without them serve it.
    CHECK_FALSE(f.multishot_accept);
    CHECK_FALSE(f.provided_buffers);
    CHECK_FALSE(f.cancel_any);
    return;
  }
  utsname u{};
  ::uname(&u);
  int major = 0;
  int minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  INFO("kernel " << u.release << ": single_issuer=" << f.single_issuer << " defer_taskrun="
                 << f.defer_taskrun << " multishot_accept=" << f.multishot_accept
                 << " provided_buffers=" << f.provided_buffers << " send_zc=" << f.send_zc);
  if (major > 6 || (major == 6 && minor >= 12)) {
    // Incremental consumption wins over bundles: the two are not used together.
    CHECK(f.incremental_buffers);
    CHECK_FALSE(f.recv_bundle);
  } else if (major == 6 && minor >= 10) {
    CHECK(f.recv_bundle);
    CHECK_FALSE(f.incremental_buffers);
  }
  if (major > 6 || (major == 6 && minor >= 1)) {
    // Every feature ringo uses, but receive bundles, is in Linux 6.1.
    CHECK(f.single_issuer);
    CHECK(f.defer_taskrun);
    CHECK(f.multishot_accept);
    CHECK(f.provided_buffers);
    CHECK(f.send_zc);
    CHECK(f.ext_arg);
    CHECK(f.cancel_any);
  } else {
    SUCCEED("older kernel: the suite runs through the fallbacks listed above");
  }
}

TEST_CASE("the ring's descriptor is registered when the loop starts, unless switched off",
          "[reactor]") {
  if (std::getenv("RINGO_DISABLE_FEATURES") != nullptr) {
    WARN("RINGO_DISABLE_FEATURES is set: the features are off on purpose");
    return;
  }
  for (const bool allowed : {true, false}) {
    ringo::io_context_options options;
    if (!allowed)
      options.disabled_features = static_cast<unsigned>(ringo::kernel_feature::registered_ring);
    ringo::io_context ctx{options};
    if (ctx.backend() == ringo::io_backend::epoll) {
      CHECK_FALSE(ctx.features().registered_ring);
      return;
    }
    CHECK_FALSE(ctx.features().registered_ring);  // registered by the thread that runs it
    // Requests and waits work through the registered index (or the descriptor).
    CHECK(ctx.run(many_nops(100)) == 100);
    CHECK(ctx.features().registered_ring == allowed);
    ringo::io_context_options bundles;
    bundles.disabled_features =
        allowed ? 0 : static_cast<unsigned>(ringo::kernel_feature::recv_bundle);
    ringo::io_context other{bundles};
    if (!allowed) CHECK_FALSE(other.features().recv_bundle);
  }
}

TEST_CASE("incremental buffers are used unless switched off or the buffers are too large",
          "[reactor]") {
  if (std::getenv("RINGO_DISABLE_FEATURES") != nullptr) {
    WARN("RINGO_DISABLE_FEATURES is set: the features are off on purpose");
    return;
  }
  const ringo::io_context probe;
  if (!probe.features().incremental_buffers) {
    // epoll, or a kernel before 6.12: the probe fell back to buffers consumed whole.
    CHECK_FALSE(probe.features().incremental_buffers);
    return;
  }
  CHECK_FALSE(probe.features().recv_bundle);  // one or the other
  const bool kernel_bundles = [] {
    ringo::io_context_options o;
    o.disabled_features = static_cast<unsigned>(ringo::kernel_feature::incremental_buffers);
    const ringo::io_context off{o};
    CHECK(off.features().provided_buffers);
    CHECK_FALSE(off.features().incremental_buffers);
    return off.features().recv_bundle;  // bundles come back where the kernel has them
  }();
  CHECK(kernel_bundles);  // (Linux 6.10 has them, and 6.12 has incremental buffers)
  ringo::io_context_options largest;
  largest.buffer_size = 65536;  // a part's offset still fits the handle
  const ringo::io_context at_limit{largest};
  CHECK(at_limit.features().incremental_buffers);
  ringo::io_context_options too_large;
  too_large.buffer_size = 65536 * 2;
  too_large.buffer_count = 4;
  const ringo::io_context whole{too_large};
  CHECK(whole.features().provided_buffers);
  CHECK_FALSE(whole.features().incremental_buffers);
  CHECK(whole.features().recv_bundle);
}

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
