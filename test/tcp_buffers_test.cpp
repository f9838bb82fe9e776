// Provided buffers shared by small receives: messages packed into one buffer arrive
// byte-exact and in order; a received buffer that is held keeps its bytes while the ring goes
// on without its buffer; a ring run dry by held buffers reads on into buffers of the stream's
// own, and serves again once they are released. (Without provided buffers, in the _fallback
// runs, the same reads go through the stream's own buffer; on epoll its own pool lends them.)
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ringo/net.hpp>
#include <ringo/run.hpp>

#include "catch.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo_test::connected_pair;

namespace {

// Receives one message of `size` bytes (in one part or more: a message may straddle two
// buffers) with receive(), appending its bytes to `got` and its parts to `parts`.
ringo::task<void> receive_message(tcp_stream& s, std::size_t size, std::string& got,
                                  std::vector<ringo::net::received_buffer>& parts) {
  std::size_t n = 0;
  while (n < size) {
    auto b = co_await s.receive(5s);
    REQUIRE_FALSE(b.empty());
    n += b.size();
    got += b.text();
    parts.push_back(std::move(b));
  }
}

// Whether `b`'s bytes lie in [from, from + size).
bool lies_in(const ringo::net::received_buffer& b, const std::byte* from, std::size_t size) {
  const std::less_equal<const std::byte*> le;
  return le(from, b.bytes().data()) && le(b.bytes().data() + b.size(), from + size);
}

}  // namespace

TEST_CASE("small messages share a provided buffer and arrive byte-exact and in order", "[tcp]") {
  ringo::io_context_options options;
  options.buffer_count = 4;
  options.buffer_size = 256;  // about fifty messages a buffer, a lap of the ring every 1 KiB
  ringo::run(
      []() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto p = co_await connected_pair(l);
        std::string got;
        std::string want;
        int follows_last = 0;  // parts that begin where the one before ended
        const std::byte* end_of_last = nullptr;
        for (int i = 0; i < 500; ++i) {
          const std::string msg = fmt::format("<{}>", i);
          want += msg;
          co_await p.client.write_all(msg);
          std::vector<ringo::net::received_buffer> parts;
          co_await receive_message(p.server, msg.size(), got, parts);
          for (const auto& b : parts) {
            if (b.bytes().data() == end_of_last) ++follows_last;
            end_of_last = b.bytes().data() + b.size();
          }
        }
        CHECK(got == want);
        if (ringo::io_context::current()->features().incremental_buffers) {
          CHECK(follows_last > 400);  // all but the first of each buffer
        } else {
          CHECK(follows_last == 0);  // a buffer (or the stream's own) each, from its start
        }
      }(),
      options);
}

TEST_CASE("a held received buffer keeps its bytes while its buffer's rest fills and the ring "
          "laps",
          "[tcp]") {
  ringo::io_context_options options;
  options.buffer_count = 2;
  options.buffer_size = 64;
  ringo::run(
      []() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto p = co_await connected_pair(l);
        const std::string first = "held: these bytes stay";
        co_await p.client.write_all(first);
        auto held = co_await p.server.receive(5s);
        REQUIRE(held.text() == first);
        const std::byte* held_buffer = held.bytes().data();  // the start of its buffer
        std::string got;
        std::string want;
        for (int i = 0; i < 300; ++i) {  // 1500 bytes: the other buffer laps twenty times
          const std::string msg = fmt::format("[{:03}]", i);
          want += msg;
          co_await p.client.write_all(msg);
          std::vector<ringo::net::received_buffer> parts;  // released before the next message
          co_await receive_message(p.server, msg.size(), got, parts);
        }
        CHECK(got == want);
        CHECK(held.text() == first);  // its buffer was not given to the kernel again
        held.release();
        // Now its buffer goes back: the ring serves both buffers again.
        int in_held_buffer = 0;
        for (int i = 0; i < 100; ++i) {
          const std::string msg = fmt::format("({:03})", i);
          want += msg;
          co_await p.client.write_all(msg);
          std::vector<ringo::net::received_buffer> parts;
          co_await receive_message(p.server, msg.size(), got, parts);
          for (const auto& b : parts)
            in_held_buffer += lies_in(b, held_buffer, 64) ? 1 : 0;
        }
        CHECK(got == want);
        if (ringo::io_context::current()->features().provided_buffers) CHECK(in_held_buffer > 0);
      }(),
      options);
}

TEST_CASE("a ring run dry by held buffers reads on, and serves again once they are released",
          "[tcp]") {
  ringo::io_context_options options;
  options.buffer_count = 2;
  options.buffer_size = 64;
  ringo::run(
      []() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto p = co_await connected_pair(l);
        std::string got;
        std::string want;
        std::vector<ringo::net::received_buffer> held;
        for (int i = 0; i < 80; ++i) {  // 320 bytes held: more than the ring's 128
          const std::string msg = fmt::format("({:02})", i);
          want += msg;
          co_await p.client.write_all(msg);
          co_await receive_message(p.server, msg.size(), got, held);
        }
        CHECK(got == want);
        const std::byte* ring = held.front().bytes().data();  // the first buffer's start
        std::string again;  // every held part still holds its bytes
        int outside_ring = 0;
        for (const auto& b : held) {
          again += b.text();
          outside_ring += lies_in(b, ring, 128) ? 0 : 1;
        }
        CHECK(again == want);
        const bool ring_buffers = ringo::io_context::current()->features().provided_buffers;
        // The ring ran dry (ENOBUFS): the stream received into buffers of its own.
        if (ring_buffers) CHECK(outside_ring > 0);
        held.clear();
        int in_ring = 0;
        std::string later;
        for (int i = 0; i < 80; ++i) {
          const std::string msg = fmt::format("[{:02}]", i);
          co_await p.client.write_all(msg);
          std::vector<ringo::net::received_buffer> parts;
          co_await receive_message(p.server, msg.size(), later, parts);
          for (const auto& b : parts)
            in_ring += lies_in(b, ring, 128) ? 1 : 0;
          if (msg != later.substr(later.size() - msg.size())) break;
        }
        CHECK(later.size() == 80 * 4);
        if (ring_buffers) CHECK(in_ring > 40);  // the released buffers are back in the ring
      }(),
      options);
}

TEST_CASE("a peer that sends far more than one turn receives arrives whole and in order",
          "[tcp]") {
  // 1 KiB buffers: a turn takes a few dozen of them at most (the epoll backend stops a
  // standing receive after a burst and comes back to it at the next turn; io_uring's kernel
  // fills what the ring holds), so 1 MiB crosses many turns, a pause or two and dry rings.
  ringo::io_context_options options;
  options.buffer_count = 64;
  options.buffer_size = 1024;
  ringo::run(
      []() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto p = co_await connected_pair(l);
        constexpr std::size_t total = 1 << 20;
        std::string sent(total, '\0');
        for (std::size_t i = 0; i < total; ++i) sent[i] = static_cast<char>('a' + (i * 7) % 26);
        auto writer = ringo::spawn(p.client.write_all(sent));
        std::string got;
        got.reserve(total);
        while (got.size() < total) {
          auto b = co_await p.server.receive(5s);
          REQUIRE_FALSE(b.empty());
          got += b.text();
        }
        co_await writer;
        CHECK(got.size() == total);
        CHECK(got == sent);
      }(),
      options);
}
