// What a TCP connection costs: closing a stream allocates nothing (and formats no message),
// and what an idle connection keeps (its stream's state, the awaiters in its task's frame, a
// batch of received buffers) stays within fixed sizes.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)

#include <cstddef>
#include <cstdlib>
#include <new>

#include <ringo/net.hpp>
#include <ringo/run.hpp>

#include "catch.hpp"
#include "sanitizers.hpp"
#include "tcp_pair.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo_test::connected_pair;

// Counting allocations replaces the global operator new, which AddressSanitizer's own
// replacement does not tolerate (Catch2 frees blocks made before main): off under ASan.
#if RINGO_TEST_UNDER_ASAN
#define RINGO_TEST_COUNTS_ALLOCATIONS 0
#else
#define RINGO_TEST_COUNTS_ALLOCATIONS 1
#endif

namespace {

// Counts allocations made through operator new on this thread while `counting` is set.
thread_local bool counting = false;
thread_local std::size_t allocations = 0;

}  // namespace

#if RINGO_TEST_COUNTS_ALLOCATIONS
void* operator new(std::size_t n) {
  if (counting) ++allocations;
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

TEST_CASE("closing a stream formats no message and allocates nothing", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    counting = true;
    allocations = 0;
    co_await p.server.close();
    co_await p.client.close();
    counting = false;
    if (RINGO_TEST_COUNTS_ALLOCATIONS) CHECK(allocations == 0);
    CHECK_FALSE(p.server.is_open());
  }());
}

TEST_CASE("what an idle connection keeps stays small", "[tcp]") {
  // An idle server connection is its stream's state plus its task's frame, which holds the
  // awaiters: none of them keeps a copy of the peer (it is read from the state on an error).
  // A read awaiter carries no backend request (a one-shot receive goes out in the state's).
  CHECK(sizeof(ringo::detail::stream_state) <= 192);  // no deadline in its request record
  CHECK(sizeof(ringo::detail::receive_some_awaiter) <= 112);
  CHECK(sizeof(ringo::detail::read_some_awaiter) <= 112);
  CHECK(sizeof(ringo::detail::send_all_awaiter) <= 160);
  CHECK(sizeof(ringo::net::received_buffers) <= 96);  // 32-bit buffer handles
  // An accept carries no request (nor a peer address) of its own: every accept goes through the
  // listener's standing one (was 280 B with a one-shot request and a sockaddr_storage).
  CHECK(sizeof(ringo::detail::tcp_accept_awaiter) <= 96);
  CHECK(sizeof(ringo::detail::unix_accept_awaiter) <= 96);
}
