// A TLS stream's steady path allocates nothing in ringo: once a connection has made its
// handshake and moved its first records (the buffers grown to their working size), reading and
// writing more records costs no operator new, and OpenSSL allocates only what its record writer
// always does. Counts OpenSSL's allocations through CRYPTO_set_mem_functions (set before
// OpenSSL's first one) and, outside of AddressSanitizer, every operator new of the program.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)
#include <openssl/crypto.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <span>

#include <ringo/detail/config.hpp>
#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "replaced_new.hpp"
#include "tls_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tls_stream;

namespace {

// Counted on the one thread that runs the test's loop (OpenSSL and ringo allocate nowhere else
// here); plain counters, read only between transfers.
std::size_t openssl_allocations = 0;
std::size_t new_calls = 0;

void* counting_malloc(std::size_t n, const char*, int) {
  ++openssl_allocations;
  return std::malloc(n);
}
void* counting_realloc(void* p, std::size_t n, const char*, int) {
  ++openssl_allocations;
  return std::realloc(p, n);
}
void counting_free(void* p, const char*, int) {
  std::free(p);
}

// Before main, so before OpenSSL's first allocation: later it refuses (returns 0).
const bool openssl_counted =
    CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free) == 1;

}  // namespace

#if RINGO_TEST_FAILS_ALLOCATIONS
void* operator new(std::size_t n) {
  ++new_calls;
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

namespace {

// `rounds` messages of `message.size()` bytes from `from` to `to`.
ringo::task<void> send_messages(tls_stream& from, tls_stream& to, std::span<std::byte> message,
                                std::span<std::byte> into, int rounds) {
  auto reader = ringo::spawn([](tls_stream& s, std::span<std::byte> b, int n) -> ringo::task<void> {
    for (int i = 0; i < n; ++i)
      co_await s.read_exact(b, 10s);
  }(to, into, rounds));
  for (int i = 0; i < rounds; ++i)
    co_await from.write_all(message, 10s);
  co_await reader;
}

}  // namespace

TEST_CASE("reading and writing records after the first ones allocates nothing in ringo", "[tls]") {
  REQUIRE(openssl_counted);
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = ringo_test::server_context();
    const auto client_ctx = ringo_test::client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await ringo_test::connected_tls_pair(l, server_ctx, client_ctx);
    // Messages of three records (40 KiB: 16 + 16 + 8) and of part of one (700 B).
    static std::array<std::byte, 40 * 1024> message{}, into{};
    const auto small = std::span{message}.first(700);
    const auto small_into = std::span{into}.first(700);
    // Warm-up: the buffers grow to their working size, the session tickets arrive.
    co_await send_messages(p.client, p.server, message, into, 20);
    co_await send_messages(p.server, p.client, message, into, 20);
    co_await send_messages(p.client, p.server, small, small_into, 20);
    co_await send_messages(p.server, p.client, small, small_into, 20);
    // And a burst that no one reads as it comes, so that each stream's receive queue grows
    // past its inline room once, to the most a burst can queue before the receive pauses.
    // The queue only fills while the stream's multishot receive is armed, which a read arms
    // and which the transfers before may have ended (a dry buffer ring, a ticket the kernel
    // hands over as a record of its own): reads that time out with nothing to read arm it
    // first, whatever came before, so that the steady phase meets no burst larger than this.
    for (tls_stream* to : {&p.server, &p.client}) {
      tls_stream& from = to == &p.server ? p.client : p.server;
      for (int i = 0; i < 2; ++i) {
        bool timed_out = false;
        try {
          (void)co_await to->read_some(small_into, 1ms);
        } catch (const ringo::timed_out&) {
          timed_out = true;
        }
        CHECK(timed_out);
      }
      // Full records: each fills a provided buffer, so each is a completion of its own
      // however late the receive runs (records of a few hundred bytes that wait in the
      // socket come together, in one completion).
      for (int i = 0; i < 6; ++i) {
        co_await from.write_all(message, 10s);
        co_await ringo::sleep_for(1ms);
      }
      for (int i = 0; i < 6; ++i)
        co_await to->read_exact(into, 10s);
    }

    const std::size_t openssl_before = openssl_allocations;
    const std::size_t new_before = new_calls;
    co_await send_messages(p.client, p.server, message, into, 200);      // 600 records
    co_await send_messages(p.server, p.client, small, small_into, 500);  // 500 records
    const std::size_t records_written = 600 + 500;
    const std::size_t openssl_during = openssl_allocations - openssl_before;
    const std::size_t new_during = new_calls - new_before;

    // OpenSSL 3.0's record writer makes a few small allocations of its own per record (the
    // WPACKET bookkeeping of each record it builds, in crypto/packet.c), whatever BIO it
    // writes to; reading records costs it none. So: nothing beyond those.
    INFO("OpenSSL allocations: " << openssl_during << " for " << records_written
                                 << " records written and as many read");
    CHECK(openssl_during <= 4 * records_written);
    if (RINGO_TEST_FAILS_ALLOCATIONS != 0 && RINGO_FRAME_RECYCLING != 0) {
      // ringo's side: no operator new (coroutine frames come back from the recycling
      // allocator, the BIOs and the send buffer are reused).
      CHECK(new_during == 0);
    }
    CHECK(openssl_allocations > 0);  // the counter does count (the handshake allocated)
  }());
}
