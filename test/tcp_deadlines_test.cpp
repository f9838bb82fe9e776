// Deadlines and cancellation on TCP: a read, an accept, a connect, a write and a gathered write
// that time out throw timed_out naming the peer or the listener; a cancelled gathered write or
// receive_some throws operation_cancelled; and the stream or the listener works on after
// either, keeping no deadline of the operation that ended.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "byte_text.hpp"
#include "catch.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo_test::connected_pair;
using ringo_test::pattern;
using ringo_test::text_of;

TEST_CASE("a read deadline throws timed_out and leaves the stream usable", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    std::array<std::byte, 8> buf{};
    const auto start = std::chrono::steady_clock::now();
    try {
      co_await p.client.read_some(buf, 50ms);
      FAIL_CHECK("co_await p.client.read_some(buf, 50ms) returned instead of throwing timed_out");
    } catch (const ringo::timed_out&) {
    }
    CHECK(std::chrono::steady_clock::now() - start >= 45ms);
    try {
      (void)co_await p.client.receive(10ms);
      FAIL("no timeout");
    } catch (const ringo::timed_out& e) {
      CHECK(e.code().value() == ETIMEDOUT);
      CHECK(std::string{e.what()}.starts_with(fmt::format("recv on {}", l.local_endpoint())));
    }
    co_await p.server.write_all("late");
    const auto n = co_await p.client.read_some(buf, 5s);
    CHECK(text_of(std::span{buf}.first(n)) == "late");
  }());
}

// Without provided buffers (the _fallback run) every read is a one-shot receive in the stream's
// own request record, which the next read, or the multishot receive, takes over: a deadline or
// a cancellation of one read must not follow the record into the next.
TEST_CASE("reads after a timed-out and a cancelled read get every byte and keep no deadline",
          "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    std::array<std::byte, 8> buf{};
    try {
      co_await p.client.read_some(buf, 20ms);
      FAIL_CHECK("co_await p.client.read_some(buf, 20ms) returned instead of throwing timed_out");
    } catch (const ringo::timed_out&) {
    }
    auto cancelled = ringo::spawn([](tcp_stream& s) -> ringo::task<std::size_t> {
      std::array<std::byte, 8> b{};
      co_return co_await s.read_some(b);
    }(p.client));
    co_await ringo::sleep_for(10ms);
    cancelled.cancel();
    try {
      co_await cancelled;
      FAIL_CHECK("co_await cancelled returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    // Outlives the first read's 20 ms: a deadline left in the record would cut it short.
    auto receiving = ringo::spawn([](tcp_stream& s) -> ringo::task<std::string> {
      auto b = co_await s.receive();
      co_return text_of(b.bytes());
    }(p.client));
    co_await ringo::sleep_for(60ms);
    co_await p.server.write_all("abc");
    const std::string got = co_await receiving;
    CHECK(got == "abc");
    co_await p.server.write_all("de");
    const std::size_t n = co_await p.client.read_some(buf, 5s);
    CHECK(text_of(std::span{buf}.first(n)) == "de");
  }());
}

TEST_CASE("an accept deadline throws timed_out naming the listener, which accepts again", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    const auto start = std::chrono::steady_clock::now();
    try {
      (void)co_await l.accept(20ms);
      FAIL_CHECK("co_await l.accept(20ms) returned instead of throwing timed_out");
    } catch (const ringo::timed_out& e) {
      CHECK(e.code().value() == ETIMEDOUT);
      CHECK(std::string{e.what()}.starts_with(fmt::format("accept on {}", l.local_endpoint())));
    }
    CHECK(std::chrono::steady_clock::now() - start >= 15ms);
    auto p = co_await connected_pair(l);
    co_await p.client.write_all("after");
    std::array<std::byte, 5> b{};
    co_await p.server.read_exact(b);
    CHECK(text_of(b) == "after");
  }());
}

TEST_CASE("a connection that comes after an accept timed out is the next accept's, peer and all",
          "[tcp]") {
  // The listener's own accept request stays armed when the task that armed it leaves, on
  // every backend: what it accepts meanwhile waits in the listener, named by its peer.
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    bool timed_out = false;
    try {
      (void)co_await l.accept(10ms);
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    auto c = co_await tcp_stream::connect(l.local_endpoint(), 2s);
    co_await c.write_all("early");
    co_await ringo::sleep_for(20ms);  // no task accepts meanwhile
    auto s = co_await l.accept(2s);
    CHECK(s.remote_endpoint() == c.local_endpoint());
    std::array<std::byte, 5> b{};
    co_await s.read_exact(b);
    CHECK(text_of(b) == "early");
  }());
}

TEST_CASE("a connect deadline throws timed_out when the listener's backlog is full", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0), 0);
    // Never accepted: the accept queue fills, and the kernel drops the next handshakes.
    std::vector<tcp_stream> queued;
    for (int i = 0; i < 8; ++i) {
      try {
        queued.push_back(co_await tcp_stream::connect(l.local_endpoint(), 200ms));
      } catch (const ringo::timed_out& e) {
        CHECK(std::string{e.what()}.starts_with(fmt::format("connect to {}", l.local_endpoint())));
        co_return;
      }
    }
    FAIL("eight connections to a listener with backlog 0 all connected");
  }());
}

TEST_CASE("a write whose deadline passed before it began sends nothing and times out", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const auto server_end = p.server.local_endpoint();
    const std::string expected = fmt::format("send on {}: deadline passed: {}", server_end,
                                             std::strerror(ETIMEDOUT));
    // 1 ns is gone by the time the write starts: it must not reach the kernel at all.
    try {
      co_await p.client.write_all("lost", 1ns);
      FAIL("a write past its deadline went out");
    } catch (const ringo::timed_out& e) {
      CHECK(std::string{e.what()} == expected);
    }
    const std::string part = "lost too";
    const std::array<std::span<const std::byte>, 1> parts{
        std::as_bytes(std::span{part.data(), part.size()})};
    try {
      co_await p.client.write_all(parts, 1ns);
      FAIL("a gathered write past its deadline went out");
    } catch (const ringo::timed_out& e) {
      CHECK(std::string{e.what()} == expected);
    }
    co_await p.client.write_all("after");
    p.client.shutdown();
    std::array<char, 32> buf{};
    std::string got;
    for (;;) {
      const std::size_t n = co_await p.server.read_some(std::as_writable_bytes(std::span{buf}));
      if (n == 0) break;
      got.append(buf.data(), n);
    }
    CHECK(got == "after");
  }());
}

TEST_CASE("a gathered write past its deadline throws timed_out naming the peer", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const std::string chunk(1 << 20, 'q');
    std::vector<std::span<const std::byte>> parts(
        32, std::as_bytes(std::span{chunk.data(), chunk.size()}));  // 32 MiB: never all taken
    const auto start = std::chrono::steady_clock::now();
    try {
      co_await p.client.write_all(parts, 100ms);
      FAIL("the write finished although no one read");
    } catch (const ringo::timed_out& e) {
      CHECK(std::string{e.what()}.starts_with(fmt::format("send on {}", l.local_endpoint())));
    }
    CHECK(std::chrono::steady_clock::now() - start >= 90ms);
  }());
}

TEST_CASE("cancelling a gathered write and a receive_some throws operation_cancelled", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const std::string chunk(1 << 20, 'c');
    auto writer = ringo::spawn([](tcp_stream& s, const std::string& c) -> ringo::task<int> {
      const std::array<std::span<const std::byte>, 3> parts{
          std::as_bytes(std::span{c.data(), c.size()}), std::as_bytes(std::span{c.data(), 10}),
          std::as_bytes(std::span{c.data(), c.size()})};
      int writes = 0;
      for (;;) {
        co_await s.write_all(parts);  // blocks once the socket buffers are full
        ++writes;
      }
      co_return writes;
    }(p.client, chunk));
    auto reader = ringo::spawn([](tcp_stream& s) -> ringo::task<std::size_t> {
      auto bufs = co_await s.receive_some();  // the client sends nothing
      co_return bufs.size();
    }(p.client));
    co_await ringo::sleep_for(20ms);
    writer.cancel();
    reader.cancel();
    try {
      co_await writer;
      FAIL_CHECK("co_await writer returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    try {
      co_await reader;
      FAIL_CHECK("co_await reader returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
    // The stream still reads: the server's bytes arrive after the cancelled receive_some.
    co_await p.server.write_all("after");
    auto bufs = co_await p.client.receive_some(5s);
    REQUIRE_FALSE(bufs.empty());
    CHECK(text_of(bufs[0]).starts_with("a"));
  }());
}

TEST_CASE("writing a batch to a peer that does not read times out, then cancels", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    auto q = co_await connected_pair(l);  // q.server never reads
    const std::string msg = pattern(100'000, 9);
    co_await p.client.write_all(msg);
    co_await ringo::sleep_for(20ms);
    auto bufs = co_await p.server.receive_some(5s);
    REQUIRE_FALSE(bufs.empty());
    int writes = 0;
    try {
      for (; writes < 100'000; ++writes)
        co_await q.client.write_all(bufs, 200ms);
      FAIL("the socket buffers never filled");
    } catch (const ringo::timed_out& e) {
      CHECK(std::string{e.what()}.starts_with(fmt::format("send on {}", l.local_endpoint())));
    }
    CHECK(writes > 0);
    auto writer =
        ringo::spawn([](tcp_stream& s, const ringo::net::received_buffers& b) -> ringo::task<void> {
          for (;;)
            co_await s.write_all(b);
        }(q.client, bufs));
    co_await ringo::sleep_for(20ms);
    writer.cancel();
    try {
      co_await writer;
      FAIL_CHECK("co_await writer returned instead of throwing operation_cancelled");
    } catch (const ringo::operation_cancelled&) {
    }
  }());
}
