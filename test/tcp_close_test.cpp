// What closing or dropping a stream does to the operations in flight on it, and to the
// operations made before it and awaited after: nothing is sent on a reused descriptor, every
// descriptor is closed exactly once, nothing touches freed memory.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "descriptors.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo_test::connected_pair;

namespace {

// Reads until end of stream; returns how many bytes came.
ringo::task<std::size_t> drain(tcp_stream& s) {
  std::vector<std::byte> buf(1 << 16);
  std::size_t total = 0;
  // A bound, so that a write that goes on where it must not fails the test instead of hanging.
  while (const std::size_t n = co_await s.read_some(buf, 5s))
    total += n;
  co_return total;
}

enum class let_go { close, drop };

}  // namespace

TEST_CASE("a write cut off by close sends nothing more, not even on a reused descriptor",
          "[tcp]") {
  for (const let_go how : {let_go::close, let_go::drop}) {
    DYNAMIC_SECTION((how == let_go::close ? "closed" : "dropped")) {
      ringo::run([how]() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto a = co_await connected_pair(l);
        const endpoint a_peer = a.client.remote_endpoint();
        // Far more than the socket buffers hold: the write waits for a peer that does not read.
        const std::vector<std::byte> big(32 << 20, std::byte{'A'});
        auto writer = ringo::spawn([](tcp_stream& s, const std::vector<std::byte>& data)
                                       -> ringo::task<std::string> {
          try {
            co_await s.write_all(data);
          } catch (const std::system_error& e) {
            CHECK(e.code().value() == EBADF);
            co_return e.what();
          }
          co_return "the write succeeded";
        }(a.client, big));
        co_await ringo::sleep_for(20ms);
        const int old_fd = a.client.native_handle();
        if (how == let_go::close) {
          co_await a.client.close();
        } else {
          a.client = tcp_stream{};
        }
        // A new connection: its client gets the lowest free descriptor, the one just freed.
        auto b = co_await connected_pair(l);
        INFO("old descriptor " << old_fd << ", new " << b.client.native_handle());
        // The old peer reads what was sent before the close, then end of stream.
        const std::size_t got = co_await drain(a.server);
        CHECK(got < big.size());
        const std::string what = co_await writer;
        CHECK(what.starts_with(fmt::format(
            "send on {}: the stream was closed while this task wrote to it", a_peer)));
        // B's peer receives B's bytes and nothing of A's.
        co_await b.client.write_all(std::string_view{"hello"});
        std::array<std::byte, 5> first{};
        co_await b.server.read_exact(first);
        CHECK(std::string_view{reinterpret_cast<const char*>(first.data()), first.size()} ==
              "hello");
        co_await b.client.close();
        const std::size_t rest = co_await drain(b.server);  // (g++ 12 awaits twice in CHECK)
        CHECK(rest == 0);
      }());
    }
  }
}

TEST_CASE("a close whose awaiter is dropped still closes the descriptor, once", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    {
      auto warm = co_await connected_pair(l);  // the context's own descriptors are made by now
    }
    co_await ringo::sleep_for(1ms);  // a dropped stream is closed at the loop's next turn
    const int before = ringo_test::open_descriptors();
    for (int i = 0; i < 20; ++i) {
      auto p = co_await connected_pair(l);
      (void)p.client.close();
      (void)p.server.close();
      CHECK_FALSE(p.client.is_open());
    }
    CHECK(ringo_test::open_descriptors() == before);
    // Closing what was already closed is nothing: no descriptor is closed twice.
    auto p = co_await connected_pair(l);
    (void)p.client.close();
    co_await p.client.close();
    co_await p.server.close();
    CHECK(ringo_test::open_descriptors() == before);
  }());
}

TEST_CASE("read_exact and a gathered write made before the stream went throw EBADF", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const endpoint client_peer = p.client.remote_endpoint();
    std::optional<tcp_stream> reader{std::move(p.server)};
    std::array<std::byte, 4> buf{};
    auto read = reader->read_exact(buf);
    reader.reset();  // the stream object and its state are gone before the task first runs
    try {
      co_await read;
      FAIL("read_exact on a destroyed stream returned");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == EBADF);
    }

    const std::string_view text = "abc";
    const std::array<std::span<const std::byte>, 2> parts{std::as_bytes(std::span{text}),
                                                          std::as_bytes(std::span{text})};
    auto write = p.client.write_all(parts);
    co_await p.client.close();
    try {
      co_await write;
      FAIL("a gathered write on a closed stream returned");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == EBADF);
      CHECK(std::string_view{e.what()}.starts_with(fmt::format("send on {}", client_peer)));
    }
  }());
}

TEST_CASE("a second write while the first waits for the peer follows it whole", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const std::vector<std::byte> big(32 << 20, std::byte{'x'});
    auto first = ringo::spawn(
        [](tcp_stream& s, const std::vector<std::byte>& d) -> ringo::task<void> {
          co_await s.write_all(d);
        }(p.client, big));
    auto second = ringo::spawn([](tcp_stream& s) -> ringo::task<void> {
      co_await s.write_all(std::string_view{"second"});
    }(p.client));
    // The peer reads every byte of the first write, then the second's, and nothing else.
    std::size_t got = 0;
    std::size_t foreign = 0;  // bytes of the first write's part that are not the first write's
    std::string tail;
    std::vector<std::byte> buf(1 << 16);
    while (got < big.size() + 6) {
      const std::size_t n = co_await p.server.read_some(buf);
      if (n == 0) break;
      for (std::size_t i = 0; i < n; ++i, ++got) {
        if (got < big.size()) {
          foreign += buf[i] != std::byte{'x'} ? 1 : 0;
        } else {
          tail += static_cast<char>(buf[i]);
        }
      }
    }
    co_await first;
    co_await second;
    CHECK(got == big.size() + 6);
    CHECK(foreign == 0);
    CHECK(tail == "second");
  }());
}
