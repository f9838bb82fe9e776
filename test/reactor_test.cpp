#include <ringo/detail/reactor.hpp>
// (its own header first: proves it stands alone)
#include <sys/utsname.h>

#include <coroutine>
#include <cstdio>
#include <vector>

#include <ringo/detail/suspension.hpp>
#include <ringo/io_context.hpp>
#include <ringo/run.hpp>

#include "catch.hpp"

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
                        std::uint16_t) noexcept {
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

ringo::task<int> one_nop() { co_return co_await nop_awaiter{}; }

ringo::task<int> many_nops(int count) {
  std::vector<ringo::join_handle<int>> handles;
  handles.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) handles.push_back(ringo::spawn(one_nop()));
  int completed = 0;
  for (auto& h : handles) completed += (co_await h) == 0 ? 1 : 0;
  co_return completed;
}

}  // namespace

TEST_CASE("a full submission queue is flushed and an overflowing completion queue loses "
          "nothing",
          "[reactor]") {
  // 8 submission entries and 32 completion entries, 5,000 requests in one loop turn.
  ringo::io_context_options options;
  options.ring_entries = 8;
  for (unsigned disabled : {0u, ~0u}) {
    options.disabled_features = disabled;
    ringo::io_context ctx{options};
    CHECK(ctx.run(many_nops(5000)) == 5000);
    CHECK(ctx.io().in_flight() == 0);
  }
}

TEST_CASE("the best kernel features are probed and used", "[reactor]") {
  ringo::io_context ctx;
  const auto& f = ctx.features();
  utsname u{};
  ::uname(&u);
  int major = 0;
  int minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  INFO("kernel " << u.release << ": single_issuer=" << f.single_issuer
                 << " defer_taskrun=" << f.defer_taskrun << " multishot_accept="
                 << f.multishot_accept << " provided_buffers=" << f.provided_buffers
                 << " send_zc=" << f.send_zc);
  if (major > 6 || (major == 6 && minor >= 1)) {
    // Every feature ringo uses is in Linux 6.1.
    CHECK(f.single_issuer);
    CHECK(f.defer_taskrun);
    CHECK(f.multishot_accept);
    CHECK(f.provided_buffers);
    CHECK(f.send_zc);
    CHECK(f.ext_arg);
  } else {
    SUCCEED("older kernel: the suite runs through the fallbacks listed above");
  }
}
