// The kernel features the backend probes and uses, and the options and environment that
// switch them off.
#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>

#include <ringo/io_context.hpp>

#include "catch.hpp"
#include "reactor_requests.hpp"

using ringo_test::many_nops;

TEST_CASE("the best kernel features are probed and used", "[reactor]") {
  if (std::getenv("RINGO_DISABLE_FEATURES") != nullptr) {
    WARN("RINGO_DISABLE_FEATURES is set: the features are off on purpose");
    return;
  }
  ringo::io_context ctx;
  const auto& f = ctx.features();
  if (ctx.backend() == ringo::io_backend::epoll) {
    // epoll has none of io_uring's: the paths for kernels without them serve it. It lends
    // receive buffers of its own, which is what provided_buffers says.
    CHECK_FALSE(f.multishot_accept);
    CHECK(f.provided_buffers);
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
