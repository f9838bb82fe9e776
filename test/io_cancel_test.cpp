#include <ringo/net.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "ended_cancelled.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;
using ringo_test::ended_cancelled;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo_test::accept_one;
using ringo_test::connected_pair;

namespace {

ringo::task<std::size_t> read_into(tcp_stream& s, std::span<std::byte> b) {
  co_return co_await s.read_some(b);
}

ringo::task<void> write_forever(tcp_stream& s, const std::string& chunk) {
  for (;;)
    co_await s.write_all(chunk);
}

}  // namespace

TEST_CASE("a cancelled accept ends with operation_cancelled and the listener accepts again",
          "[io_cancel]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto h = ringo::spawn(accept_one(l));
    co_await ringo::sleep_for(5ms);
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
    auto p = co_await connected_pair(l);
    CHECK(p.server.is_open());
  }());
}

TEST_CASE("a cancelled read loses no bytes: the next read gets them", "[io_cancel]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    std::array<std::byte, 16> buf{};
    auto h = ringo::spawn(read_into(p.server, buf));
    co_await ringo::sleep_for(5ms);
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
    co_await p.client.write_all("after");
    const auto n = co_await p.server.read_some(buf);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), n) == "after");
  }());
}

TEST_CASE("a cancelled connect ends with operation_cancelled", "[io_cancel]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0), 0);
    std::vector<tcp_stream> queued;
    // Fill the accept queue; the next connect hangs in the handshake until cancelled.
    for (int i = 0; i < 8; ++i) {
      auto h = ringo::spawn(tcp_stream::connect(l.local_endpoint()));
      co_await ringo::sleep_for(20ms);
      if (!h.done()) {
        h.cancel();
        const bool cancelled = co_await ended_cancelled(h);
        CHECK(cancelled);
        co_return;
      }
      queued.push_back(co_await h);
    }
    FAIL("every connect finished at once");
  }());
}

TEST_CASE("a write blocked by a peer that does not read is cancelled", "[io_cancel]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const std::string chunk(1 << 20, 'w');
    auto h = ringo::spawn(write_forever(p.client, chunk));
    co_await ringo::sleep_for(30ms);
    CHECK_FALSE(h.done());
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
  }());
}

TEST_CASE("a cancelled sleep ends with operation_cancelled", "[io_cancel]") {
  ringo::run([]() -> ringo::task<void> {
    auto h = ringo::spawn([]() -> ringo::task<void> { co_await ringo::sleep_for(10s); }());
    co_await ringo::yield();
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
  }());
}

TEST_CASE(
    "tasks cancelled in the middle of reads, writes, accepts and sleeps two thousand "
    "times leave nothing behind",
    "[io_cancel]") {
  constexpr int iterations = 2000;
  int done = 0;
  ringo::run([&]() -> ringo::task<void> {
    std::mt19937 rng{12345};
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    const std::string chunk(256 * 1024, 'c');
    std::array<std::byte, 64> buf{};
    for (int i = 0; i < iterations; ++i) {
      auto p = co_await connected_pair(l);
      std::vector<ringo::join_handle<void>> hs;
      hs.push_back(ringo::spawn([](tcp_stream& s, std::span<std::byte> b) -> ringo::task<void> {
        for (;;) {
          if (co_await s.read_some(b) == 0) co_return;
        }
      }(p.server, buf)));
      hs.push_back(ringo::spawn([](tcp_stream& s, const std::string& c) -> ringo::task<void> {
        for (;;)
          co_await s.write_all(c);
      }(p.client, chunk)));
      hs.push_back(ringo::spawn(
          [](tcp_listener& l) -> ringo::task<void> { auto extra = co_await l.accept(); }(l)));
      hs.push_back(ringo::spawn([]() -> ringo::task<void> { co_await ringo::sleep_for(1s); }()));
      hs.push_back(ringo::spawn([](tcp_stream& s) -> ringo::task<void> {
        for (;;) {
          auto b = co_await s.receive();
          if (b.empty()) co_return;
        }
      }(p.client)));
      const int turns = static_cast<int>(rng() % 4);
      for (int t = 0; t < turns; ++t)
        co_await ringo::yield();
      for (auto& h : hs)
        h.cancel();
      for (auto& h : hs) {
        try {
          co_await h;
        } catch (const ringo::operation_cancelled&) {
        } catch (const std::system_error&) {
          // a write may meet the peer's reset first
        }
      }
      if (i % 2 == 0) {
        co_await p.client.close();  // through the ring; the server end is just dropped
      }
      ++done;
    }
  }());
  CHECK(done == iterations);
}

TEST_CASE("a read or an accept whose timeout is too long for the clock waits for its data",
          "[io_cancel]") {
  ringo::run([]() -> ringo::task<void> {
    constexpr auto never = std::chrono::nanoseconds::max();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto accepting = ringo::spawn([](tcp_listener& on) -> ringo::task<tcp_stream> {
      co_return co_await on.accept(std::chrono::nanoseconds::max());
    }(l));
    co_await ringo::sleep_for(20ms);
    CHECK_FALSE(accepting.done());
    auto client = co_await tcp_stream::connect(l.local_endpoint());
    auto server = co_await accepting;
    std::array<std::byte, 16> buf{};
    auto reading = ringo::spawn([](tcp_stream& s, std::span<std::byte> b) -> ringo::task<std::size_t> {
      co_return co_await s.read_some(b, std::chrono::nanoseconds::max());
    }(server, buf));
    auto receiving = ringo::spawn([](tcp_stream& s) -> ringo::task<std::size_t> {
      co_return (co_await s.receive(std::chrono::nanoseconds::max())).size();
    }(client));
    co_await ringo::sleep_for(20ms);  // a timer that fires: the loop is not frozen
    CHECK_FALSE(reading.done());
    CHECK_FALSE(receiving.done());
    co_await client.write_all(std::string_view{"ping"}, never);
    co_await server.write_all(std::string_view{"pong!"}, never);
    const std::size_t read = co_await reading;
    const std::size_t received = co_await receiving;
    CHECK(read == 4);
    CHECK(received == 5);
  }());
}
