// Memory running out inside a completion handler: the handler is noexcept, so it may not
// allocate on its error path, and a provided buffer it cannot queue goes back to the ring.
// The stream reports the loss (ENOMEM) where it happened instead of going on without the
// bytes.
//
// The test replaces the global operator new to fail one allocation on demand, which
// AddressSanitizer's own replacement does not tolerate: under ASan it only checks that the
// stream still works.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "backend/reactor.hpp"
#include <ringo/io_context.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "replaced_new.hpp"


using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

// The next operator new on this thread throws std::bad_alloc while this is set (then clears).
thread_local bool fail_next_allocation = false;
// Every operator new on this thread throws std::bad_alloc while this is set.
thread_local bool fail_every_allocation = false;

}  // namespace

#if RINGO_TEST_FAILS_ALLOCATIONS
void* operator new(std::size_t n) {
  if (fail_next_allocation || fail_every_allocation) {
    fail_next_allocation = false;
    throw std::bad_alloc{};
  }
  if (void* p = std::malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc{};
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#endif

TEST_CASE("a receive that finds no memory to queue its bytes fails the stream with ENOMEM",
          "[tcp]") {
  ringo::io_context_options options;
  options.buffer_count = 16;
  ringo::io_context ctx{options};
  ctx.run([&]() -> ringo::task<void> {
    if (!ctx.features().provided_buffers) {
      WARN("no provided buffers: the multishot receive queue is not used");
      co_return;
    }
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto accepting = ringo::spawn(
        [](tcp_listener& l) -> ringo::task<tcp_stream> { co_return co_await l.accept(); }(l));
    // The peer is a plain blocking socket: a one-byte send returns at once.
    const endpoint at = l.local_endpoint();
    const int peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(peer >= 0);
    sockaddr_storage ss{};
    const socklen_t len = at.to_sockaddr(ss);
    REQUIRE(::connect(peer, reinterpret_cast<sockaddr*>(&ss), len) == 0);
    const int one = 1;
    ::setsockopt(peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    tcp_stream s = co_await accepting;
    auto send = [peer](char c) { REQUIRE(::send(peer, &c, 1, 0) == 1); };  // allocates nothing

    // The first read arms the multishot receive; the next bytes queue while no one reads.
    send('1');
    std::byte b[16];
    std::size_t n = co_await s.read_some(b);
    CHECK(n == 1);
    co_await ringo::sleep_for(1ms);  // the timer heap has room from now on
    for (char c : {'2', '3', '4', '5'}) {  // the stream's four inline queue slots
      send(c);
      co_await ringo::sleep_for(5ms);
    }
    // The sixth completion goes to the queue's overflow, which must allocate: fail that.
    fail_next_allocation = RINGO_TEST_FAILS_ALLOCATIONS != 0;
    send('6');
    co_await ringo::sleep_for(20ms);
    const bool failed = RINGO_TEST_FAILS_ALLOCATIONS != 0 && !fail_next_allocation;
    fail_next_allocation = false;
    CHECK(failed == (RINGO_TEST_FAILS_ALLOCATIONS != 0));  // the handler did try to allocate
    send('7');
    co_await ringo::sleep_for(5ms);

    std::string got;
    for (int i = 0; i < 4; ++i) {
      n = co_await s.read_some(b);
      got.append(reinterpret_cast<const char*>(b), n);
    }
    CHECK(got == "2345");
    if (failed) {
      try {
        n = co_await s.read_some(b);
        FAIL("read past lost bytes: got '" << std::string(reinterpret_cast<const char*>(b), n)
                                           << "'");
      } catch (const std::system_error& e) {
        CHECK(e.code().value() == ENOMEM);
      }
    } else {
      n = co_await s.read_some(b);
      CHECK(std::string(reinterpret_cast<const char*>(b), n) == "6");
    }
    ::close(peer);
  }());
}

TEST_CASE("a submit that finds no memory queues nothing and leaves the backend usable",
          "[reactor]") {
  if (RINGO_TEST_FAILS_ALLOCATIONS == 0) {
    WARN("allocations cannot be failed under AddressSanitizer");
    return;
  }
  // Without cancel-any the backend also lists each request: one more list to grow.
  ringo::io_context_options options;
  options.disabled_features = static_cast<unsigned>(ringo::kernel_feature::cancel_any);
  ringo::io_context ctx{options};
  ctx.run([]() -> ringo::task<void> { co_return; }());  // starts the backend
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  struct op : ringo::detail::io_operation {
    char byte = 0;
    int completions = 0;
  } o;
  o.opcode = ringo::detail::io_opcode::read;
  o.fd = fds[0];
  o.buf = &o.byte;
  o.len = 1;
  o.offset = static_cast<std::uint64_t>(-1);
  o.on_complete = [](ringo::detail::io_operation& x, int, std::uint32_t, std::uint32_t) noexcept {
    ++static_cast<op&>(x).completions;
  };
  // Requests that wait for ever (another pipe) until the backend's lists must grow.
  int idle[2];
  REQUIRE(::pipe(idle) == 0);
  std::vector<op> waiting(4096);
  bool threw = false;
  std::size_t submitted = 0;
  for (op& w : waiting) {
    w.opcode = ringo::detail::io_opcode::read;
    w.fd = idle[0];
    w.buf = &w.byte;
    w.len = 1;
    w.offset = static_cast<std::uint64_t>(-1);
    w.on_complete = o.on_complete;
    fail_next_allocation = true;
    try {
      ringo::detail::loop_of(ctx).io().submit(w);
      ++submitted;
      fail_next_allocation = false;  // it needed no memory
    } catch (const std::bad_alloc&) {
      threw = true;
      break;
    }
  }
  fail_next_allocation = false;
  REQUIRE(threw);  // some submit had to grow a list
  ringo::detail::loop_of(ctx).io().wait(std::chrono::nanoseconds{0});
  CHECK(ringo::detail::loop_of(ctx).io().in_flight() == submitted);  // the one that threw is not in flight
  // The one that threw reached nothing: a byte for it is not read by it.
  op& refused = waiting[submitted];
  ::close(idle[1]);  // the waiting reads now end (end of file)
  ringo::detail::loop_of(ctx).io().wait(std::chrono::milliseconds{100});
  CHECK(refused.completions == 0);
  // The backend goes on: a read submitted now completes once.
  ringo::detail::loop_of(ctx).io().submit(o);
  REQUIRE(::write(fds[1], "x", 1) == 1);
  for (int i = 0; i < 20 && o.completions == 0; ++i)
    ringo::detail::loop_of(ctx).io().wait(std::chrono::milliseconds{50});
  CHECK(o.completions == 1);
  CHECK(o.byte == 'x');
  for (int i = 0; i < 20 && ringo::detail::loop_of(ctx).io().in_flight() != 0; ++i)
    ringo::detail::loop_of(ctx).io().wait(std::chrono::milliseconds{50});
  CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
  ::close(idle[0]);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("a cancel needs no memory, even of requests queued behind a full submission queue",
          "[reactor]") {
  // Requests submitted while completions are dispatched wait in the backend's backlog; their
  // cancels join it. Before the submissions set that room aside, the cancel of the request
  // that filled the backlog had to grow it, and threw std::bad_alloc when memory ran out: a
  // deadline could then not end its request.
  if (RINGO_TEST_FAILS_ALLOCATIONS == 0) {
    WARN("allocations cannot be failed under AddressSanitizer");
    return;
  }
  ringo::io_context_options options;
  options.ring_entries = 4;  // the rest wait in the backlog
  ringo::io_context ctx{options};
  ctx.run([]() -> ringo::task<void> { co_return; }());  // starts the backend
  auto& io = ringo::detail::loop_of(ctx).io();
  int idle[2];
  REQUIRE(::pipe(idle) == 0);
  struct op : ringo::detail::io_operation {
    char byte = 0;
    int result = 1;
  };
  static std::vector<op> waiting(64);
  static bool threw = false;
  for (op& w : waiting) {
    w.opcode = ringo::detail::io_opcode::read;
    w.fd = idle[0];
    w.buf = &w.byte;
    w.len = 1;
    w.offset = static_cast<std::uint64_t>(-1);
    w.result = 1;
    w.on_complete = [](ringo::detail::io_operation& x, int res, std::uint32_t,
                       std::uint32_t) noexcept { static_cast<op&>(x).result = res; };
  }
  // A nop whose completion handler submits the reads (into the backlog: nothing is submitted
  // while completions are dispatched), then cancels every one with no memory to be had.
  struct starter : ringo::detail::io_operation {
    ringo::detail::reactor* r = nullptr;
  } start;
  start.r = &io;
  start.opcode = ringo::detail::io_opcode::nop;
  start.on_complete = [](ringo::detail::io_operation& x, int, std::uint32_t,
                         std::uint32_t) noexcept {
    auto& r = *static_cast<starter&>(x).r;
    try {
      for (op& w : waiting) r.submit(w);
    } catch (...) {
      threw = true;  // the submissions may allocate: that is not what is checked
      return;
    }
    fail_every_allocation = true;
    for (op& w : waiting) r.cancel(w);  // noexcept: a throw here would end the program
    r.cancel(waiting.front());          // a second cancel of the same request does nothing
    fail_every_allocation = false;
  };
  io.submit(start);
  for (int i = 0; i < 40 && io.in_flight() != 0; ++i) io.wait(std::chrono::milliseconds{50});
  REQUIRE_FALSE(threw);
  CHECK(io.in_flight() == 0);
  int cancelled = 0;
  for (const op& w : waiting) cancelled += w.result == -ECANCELED ? 1 : 0;
  CHECK(cancelled == static_cast<int>(waiting.size()));
  ::close(idle[0]);
  ::close(idle[1]);
}
