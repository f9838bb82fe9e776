// Batches on TCP: receive_some takes every received buffer queued on the stream at once, in
// order, up to its capacity, and write_all sends a batch or any list of parts (empty ones, none
// at all, more than one sendmsg takes) in order, so that the two echo a stream unchanged.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

namespace {

// Reads everything up to end of stream with receive_some; records the largest batch.
ringo::task<std::string> drain_in_batches(tcp_stream& s, std::size_t& largest_batch) {
  std::string got;
  for (;;) {
    auto bufs = co_await s.receive_some(5s);
    if (bufs.empty()) break;
    largest_batch = std::max(largest_batch, bufs.size());
    CHECK(bufs.size() <= ringo::net::received_buffers::capacity);
    std::size_t total = 0;
    for (std::size_t i = 0; i < bufs.size(); ++i) {
      CHECK_FALSE(bufs[i].empty());
      got += text_of(bufs[i]);
      total += bufs[i].size();
    }
    CHECK(bufs.total_size() == total);
  }
  co_return got;
}

}  // namespace

TEST_CASE("receive_some takes every queued buffer at once, in order", "[tcp]") {
  ringo::io_context_options small_buffers;
  small_buffers.buffer_size = 1024;  // 5000 bytes land in at least five buffers
  ringo::run(
      []() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto p = co_await connected_pair(l);
        co_await p.client.write_all("x");
        auto first = co_await p.server.receive_some(5s);  // arms the multishot receive
        REQUIRE(first.size() == 1);
        CHECK(text_of(first[0]) == "x");
        first.release();
        CHECK(first.empty());

        const std::string msg = pattern(5000);
        co_await p.client.write_all(msg);
        p.client.shutdown();
        co_await ringo::sleep_for(50ms);  // every completion is queued by now
        std::size_t largest = 0;
        const std::string got = co_await drain_in_batches(p.server, largest);
        CHECK(got == msg);
        if (ringo::io_context::current()->features().provided_buffers) {
          CHECK(largest >= 5);  // all of it in one batch: 5000 bytes need five buffers
        } else {
          CHECK(largest == 1);  // one receive into the stream's own buffer per call
        }
        auto again = co_await p.server.receive_some();  // end of stream stays end of stream
        CHECK(again.empty());
      }(),
      small_buffers);
}

TEST_CASE("receive_some leaves what exceeds its capacity for the next call", "[tcp]") {
  ringo::io_context_options tiny_buffers;
  tiny_buffers.buffer_size = 16;
  ringo::run(
      []() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto p = co_await connected_pair(l);
        co_await p.client.write_all("x");
        (void)co_await p.server.receive_some(5s);
        const std::string msg = pattern(16 * 6, 3);  // six buffers: fewer than pause_at
        co_await p.client.write_all(msg);
        co_await ringo::sleep_for(50ms);
        std::string got;
        std::vector<ringo::net::received_buffers> held;  // batches stay valid side by side
        while (got.size() < msg.size()) {
          auto bufs = co_await p.server.receive_some(5s);
          REQUIRE_FALSE(bufs.empty());
          for (std::size_t i = 0; i < bufs.size(); ++i)
            got += text_of(bufs.at(i));
          CHECK_THROWS_AS(bufs.at(bufs.size()), std::out_of_range);
          held.push_back(std::move(bufs));
        }
        CHECK(got == msg);
        std::string again;
        for (const auto& b : held)
          for (std::size_t i = 0; i < b.size(); ++i)
            again += text_of(b[i]);
        CHECK(again == msg);
      }(),
      tiny_buffers);
}

TEST_CASE("receive_some and a gathered write_all echo a stream unchanged", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    auto echo = ringo::spawn([](tcp_stream s) -> ringo::task<void> {
      for (;;) {
        auto bufs = co_await s.receive_some();
        if (bufs.empty()) break;
        co_await s.write_all(bufs);
      }
      s.shutdown();
    }(std::move(p.server)));
    const std::string big = pattern(3'000'000, 5);  // more than the socket buffers hold
    auto writer = ringo::spawn([](tcp_stream& s, const std::string& data) -> ringo::task<void> {
      for (std::size_t at = 0; at < data.size(); at += 100'000)
        co_await s.write_all(std::string_view{data}.substr(at, 100'000));
      s.shutdown();
    }(p.client, big));
    std::size_t largest = 0;
    const std::string got = co_await drain_in_batches(p.client, largest);
    co_await writer;
    co_await echo;
    CHECK(got.size() == big.size());
    CHECK(got == big);
  }());
}

TEST_CASE("write_all over parts sends them in order, past one sendmsg's worth", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    // 40 parts (more than one sendmsg takes), some empty, some large enough for short writes.
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < 40; ++i)
      texts.push_back(i % 7 == 3 ? std::string{} : pattern(i % 5 == 0 ? 200'000 : i + 1, i));
    std::vector<std::span<const std::byte>> parts;
    std::string all;
    for (const auto& t : texts) {
      parts.push_back(std::as_bytes(std::span{t.data(), t.size()}));
      all += t;
    }
    auto writer = ringo::spawn(
        [](tcp_stream& s, std::span<const std::span<const std::byte>> ps) -> ringo::task<void> {
          co_await s.write_all(ps, 10s);
          s.shutdown();
        }(p.client, parts));
    std::size_t largest = 0;
    const std::string got = co_await drain_in_batches(p.server, largest);
    co_await writer;
    CHECK(got == all);
    co_await p.client.write_all(std::span<const std::span<const std::byte>>{});  // nothing
  }());
}

TEST_CASE("write_all of nothing returns at once and sends nothing", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    co_await p.client.write_all(std::string_view{});
    co_await p.client.write_all(std::span<const std::byte>{});
    co_await p.client.write_all(ringo::net::received_buffers{});
    co_await p.client.write_all("after");
    p.client.shutdown();
    std::array<char, 16> buf{};
    std::string got;
    for (;;) {
      const std::size_t n = co_await p.server.read_some(std::as_writable_bytes(std::span{buf}));
      if (n == 0) break;
      got.append(buf.data(), n);
    }
    CHECK(got == "after");
  }());
}
