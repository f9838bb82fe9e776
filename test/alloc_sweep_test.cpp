// Memory running out anywhere: the Nth allocation of a scenario that spawns tasks, connects,
// writes and reads a loopback pair and hands items through a queue fails, for every N until
// the scenario needs no more. Each time std::bad_alloc (or, where a completion handler could
// not queue bytes, ENOMEM on that stream) reaches the caller, no allocation and no descriptor
// is left behind once the context is gone, and the same context then runs the scenario to
// its end.
//
// The test replaces the global operator new, which AddressSanitizer's own replacement does
// not tolerate: under ASan it only runs the scenario once.
#include <array>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include <ringo/detail/frame_allocator.hpp>
#include <ringo/io_context.hpp>
#include <ringo/net.hpp>
#include <ringo/queue.hpp>
#include <ringo/spawn.hpp>
#include <ringo/when_all.hpp>

#include "catch.hpp"
#include "descriptors.hpp"
#include "replaced_new.hpp"


using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

// Counted on the test's thread only: the backend's own threads (none on io_uring) and the
// runtime's start-up are not part of the sweep.
thread_local long fail_countdown = 0;  // > 0: the allocation that brings it to 0 throws
thread_local long live_allocations = 0;

}  // namespace

#if RINGO_TEST_FAILS_ALLOCATIONS
void* operator new(std::size_t n) {
  if (fail_countdown > 0 && --fail_countdown == 0) throw std::bad_alloc{};
  void* p = std::malloc(n != 0 ? n : 1);
  if (p == nullptr) throw std::bad_alloc{};
  ++live_allocations;
  return p;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  --live_allocations;
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  operator delete(p);
}
#endif

namespace {

// Closes the queue however it ends, so that the getter is not left waiting on a producer
// whose put failed.
ringo::task<void> produce(ringo::queue<int>& q, int count) {
  struct closer {
    ringo::queue<int>& q;
    ~closer() { q.close(); }
  } at_end{q};
  for (int i = 0; i < count; ++i)
    co_await q.put(i);
}

// Serves one connection, then closes the listener, also when it fails: a server that could
// not accept (its request found no memory) refuses the connection waiting in its backlog, so
// that the client is not left waiting for an answer nobody will send.
ringo::task<std::string> echo_once(tcp_listener& l) {
  struct closer {
    tcp_listener& l;
    ~closer() { l.close(); }
  } at_end{l};
  tcp_stream s = co_await l.accept();
  std::array<std::byte, 64> buf{};
  std::string got;
  while (got.size() < 300) {
    const std::size_t n = co_await s.read_some(buf);
    if (n == 0) break;
    got.append(reinterpret_cast<const char*>(buf.data()), n);
  }
  co_await s.write_all(got);
  co_await s.close();
  co_return got;
}

// Spawned tasks, a connect, an accept, reads, writes, a queue: what a small server does.
ringo::task<bool> scenario() {
  auto l = tcp_listener::bind(endpoint::loopback_v4(0));
  auto server = ringo::spawn(echo_once(l));
  tcp_stream c = co_await tcp_stream::connect(l.local_endpoint());
  const std::string sent(300, 'r');
  co_await c.write_all(sent);
  std::string back(300, '\0');
  co_await c.read_exact(std::as_writable_bytes(std::span{back.data(), back.size()}));
  ringo::queue<int> q{2};
  auto producer = ringo::spawn(produce(q, 20));
  int sum = 0;
  for (;;) {
    try {
      sum += co_await q.get();
    } catch (const ringo::queue_closed&) {
      break;
    }
  }
  co_await producer;
  const std::string echoed = co_await server;
  co_await c.close();
  l.close();
  co_return echoed == sent&& back == sent&& sum == 190;
}

}  // namespace

TEST_CASE("the Nth allocation failing, for every N, reaches the caller and leaks nothing",
          "[alloc]") {
  {
    ringo::io_context warm;  // one-time allocations (once_flags, the backend's probe) first
    REQUIRE(warm.run(scenario()));
  }
  if (RINGO_TEST_FAILS_ALLOCATIONS == 0) {
    WARN("allocations cannot be failed under AddressSanitizer: the scenario ran once");
    return;
  }
  // Frames go to operator new and back, so that a frame left behind shows as a leak.
  ringo::detail::this_thread_frames.release_all();
  long failures = 0;
  // One pass of the sweep: true when the scenario ran to its end with allocation n (0: none)
  // failing, or needed fewer than n.
  auto pass = [&](long n) {
    bool finished = false;
    ringo::io_context ctx;
    fail_countdown = n;
    std::string outcome = "completed";
    try {
      finished = ctx.run(scenario());
    } catch (const std::bad_alloc&) {
      outcome = "bad_alloc";
    } catch (const std::system_error& e) {
      const int v = e.code().value();
      outcome = v == ENOMEM                                     ? "bad_alloc"
                : v == ECONNRESET || v == EPIPE || v == ENODATA ? "peer gone"
                                                                : e.what();
    }
    const bool hit = n > 0 && fail_countdown == 0;
    fail_countdown = 0;
    if (!hit) return finished;
    ++failures;
    // The failure reached the caller: as std::bad_alloc, or as what it did to the other end
    // of the connection (a task that failed closes its stream: the peer's read ends or is
    // reset), or not at all (a path that can go on without the memory may absorb it).
    INFO("outcome: " << outcome);
    CHECK((outcome == "bad_alloc" || outcome == "completed" || outcome == "peer gone"));
    // The context is still usable: the whole scenario runs on it.
    bool again = false;
    try {
      again = ctx.run(scenario());
    } catch (const std::exception& e) {
      FAIL_CHECK("the second run threw: " << e.what());
    }
    CHECK(again);
    return false;
  };
  // Twice without a failure first, so that what the test framework keeps is in the baseline.
  REQUIRE(pass(0));
  REQUIRE(pass(0));
  for (long n = 1; n < 5000; ++n) {
    INFO("allocation " << n << " fails");
    // Counted around the pass alone: the test framework keeps what it reports.
    const int fds_before = ringo_test::open_descriptors();
    const long live_before = live_allocations;
    const bool finished = pass(n);
    const long leaked = live_allocations - live_before;
    CHECK(ringo_test::open_descriptors() == fds_before);
    CHECK(leaked == 0);
    if (finished) break;  // the scenario needs fewer than n allocations: every one was failed
  }
  CHECK(failures >= 15);  // the sweep went through the scenario's allocations (20 on io_uring)
}
