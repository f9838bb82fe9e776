// A client and a server over loopback: connect and accept, bytes both ways, end of stream on
// either side, many clients at once, IPv6, a port in use, and what dump_tasks shows of a
// waiting read. The stream's errors, deadlines, batches, provided buffers, costs and connecting
// by name: tcp_errors_test.cpp, tcp_deadlines_test.cpp, tcp_batches_test.cpp,
// tcp_buffers_test.cpp, tcp_costs_test.cpp, tcp_connect_by_name_test.cpp.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)

#include <fcntl.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <span>
#include <string>
#include <system_error>
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
using ringo_test::text_of;

namespace {

// Echoes with receive() + write_all until the peer ends the stream.
ringo::task<void> echo(tcp_stream s) {
  for (;;) {
    auto buf = co_await s.receive();
    if (buf.empty()) break;
    co_await s.write_all(buf.bytes());
  }
}

ringo::task<void> serve(tcp_listener& l, int connections) {
  for (int i = 0; i < connections; ++i)
    ringo::spawn(echo(co_await l.accept()));
}

}  // namespace

TEST_CASE("a client and a server exchange bytes and read_some returns 0 at end of stream",
          "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    CHECK(l.local_endpoint().port() != 0);
    auto p = co_await connected_pair(l);
    CHECK(p.client.remote_endpoint() == l.local_endpoint());
    CHECK(p.server.local_endpoint() == l.local_endpoint());
    CHECK(p.server.remote_endpoint() == p.client.local_endpoint());
    p.client.set_nodelay(true);

    co_await p.client.write_all("hello, server");
    std::array<std::byte, 64> buf{};
    std::string got;
    while (got.size() < 13) {
      const auto n = co_await p.server.read_some(buf);
      REQUIRE(n > 0);
      got += text_of(std::span{buf}.first(n));
    }
    CHECK(got == "hello, server");

    p.client.shutdown();  // write side only: the server sees end of stream, and can still talk
    const auto end1 = co_await p.server.read_some(buf);
    const auto end2 = co_await p.server.read_some(buf);  // and again
    CHECK(end1 == 0);
    CHECK(end2 == 0);
    co_await p.server.write_all("bye");
    std::array<std::byte, 3> three{};
    co_await p.client.read_exact(three);
    CHECK(text_of(three) == "bye");
    co_await p.server.close();
    CHECK_FALSE(p.server.is_open());
    const auto end3 = co_await p.client.read_some(buf);
    CHECK(end3 == 0);
    co_await p.client.close();
    co_await p.client.close();  // closing an empty stream does nothing
  }());
}

TEST_CASE("read_some copies a queued buffer out in parts", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const std::string msg = "0123456789abcdefghij";
    co_await p.client.write_all(msg);
    p.client.shutdown();
    std::string got;
    std::array<std::byte, 3> small{};
    for (;;) {
      const auto n = co_await p.server.read_some(small);
      if (n == 0) break;
      CHECK(n <= 3);
      got += text_of(std::span{small}.first(n));
    }
    CHECK(got == msg);
  }());
}

TEST_CASE("receive hands over received buffers and is empty at end of stream", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    std::string big(100'000, 'x');
    for (std::size_t i = 0; i < big.size(); ++i)
      big[i] = static_cast<char>('a' + i % 26);
    auto writer = ringo::spawn([](tcp_stream& s, const std::string& data) -> ringo::task<void> {
      co_await s.write_all(data);
      s.shutdown();
    }(p.client, big));
    std::string got;
    std::vector<ringo::net::received_buffer> held;  // several alive at once is fine
    for (;;) {
      auto b = co_await p.server.receive();
      if (b.empty()) break;
      got += b.text();
      if (held.size() < 4) held.push_back(std::move(b));
    }
    held.clear();
    co_await writer;
    CHECK(got == big);
  }());
}

TEST_CASE("two hundred clients echo through one server concurrently", "[tcp]") {
  constexpr int clients = 200;
  constexpr int rounds = 20;
  int finished = 0;
  ringo::run([&]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto server = ringo::spawn(serve(l, clients));
    std::vector<ringo::join_handle<void>> hs;
    for (int c = 0; c < clients; ++c) {
      hs.push_back(ringo::spawn([](endpoint to, int id, int& done) -> ringo::task<void> {
        auto s = co_await tcp_stream::connect(to);
        for (int r = 0; r < rounds; ++r) {
          const std::string msg = "client " + std::to_string(id) + " round " + std::to_string(r);
          co_await s.write_all(msg);
          std::string back(msg.size(), '\0');
          co_await s.read_exact(std::as_writable_bytes(std::span{back.data(), back.size()}));
          CHECK(back == msg);
        }
        co_await s.close();
        ++done;
      }(l.local_endpoint(), c, finished)));
    }
    for (auto& h : hs)
      co_await h;
    co_await server;
  }());
  CHECK(finished == clients);
}

TEST_CASE("a listener and a stream work over IPv6 loopback", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    tcp_listener l;
    try {
      l = tcp_listener::bind(endpoint::loopback_v6(0));
    } catch (const std::system_error&) {
      co_return;  // no IPv6 on this machine's loopback
    }
    CHECK(l.local_endpoint().is_v6());
    auto p = co_await connected_pair(l);
    CHECK(fmt::format("{}", p.client.remote_endpoint()).starts_with("[::1]:"));
    co_await p.client.write_all("six");
    std::array<std::byte, 3> b{};
    co_await p.server.read_exact(b);
    CHECK(text_of(b) == "six");
  }());
}

TEST_CASE("binding a port in use names the endpoint", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto a = tcp_listener::bind(endpoint::loopback_v4(0));
    try {
      auto b = tcp_listener::bind(a.local_endpoint());
      FAIL("bound twice");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == EADDRINUSE);
      CHECK(std::string{e.what()}.starts_with(fmt::format("bind to {}", a.local_endpoint())));
    }
    // SO_REUSEPORT lets two listeners share a port.
    auto c = tcp_listener::bind(endpoint::loopback_v4(0), 16, {.reuse_port = true});
    auto d = tcp_listener::bind(c.local_endpoint(), 16, {.reuse_port = true});
    CHECK(d.local_endpoint() == c.local_endpoint());
    co_return;
  }());
}

TEST_CASE("dump_tasks names a task waiting in recv and its line", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    std::array<std::byte, 8> buf{};
    int line = 0;
    auto reader =
        ringo::spawn([](tcp_stream& s, std::span<std::byte> b, int& line) -> ringo::task<void> {
          line = __LINE__ + 1;
          (void)co_await s.read_some(b);
        }(p.server, buf, line));
    co_await ringo::sleep_for(5ms);
    const std::string dump = ringo::io_context::current()->dump_tasks();
    INFO(dump);
    CHECK(dump.find(fmt::format("tcp_test.cpp:{}", line)) != std::string::npos);
    CHECK(dump.find(fmt::format("on recv on {}", p.client.local_endpoint())) != std::string::npos);
    co_await p.client.write_all("x");
    co_await reader;
  }());
}

TEST_CASE("spawn takes an accept and a close as tasks of their own", "[tcp]") {
  // Each moves into its task before it starts: the accept keeps the listener's state held, the
  // close takes the descriptor along (the one the call returned closes nothing).
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto accepted = ringo::spawn(l.accept(2s));
    auto c = co_await tcp_stream::connect(l.local_endpoint(), 2s);
    auto s = co_await accepted;
    CHECK(s.remote_endpoint() == c.local_endpoint());
    const int fd = s.native_handle();
    co_await ringo::spawn(s.close());
    CHECK_FALSE(s.is_open());
    CHECK(::fcntl(fd, F_GETFD) == -1);  // closed once, by the spawned close
    std::array<std::byte, 1> b{};
    const std::size_t end = co_await c.read_some(b, 2s);
    CHECK(end == 0);  // the peer sees the end of the stream
    // A spawned accept cancelled before a connection came takes none: the next accept gets it.
    auto lost = ringo::spawn(l.accept());
    co_await ringo::yield();
    lost.cancel();
    bool cancelled = false;
    try {
      (void)co_await lost;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    auto c2 = co_await tcp_stream::connect(l.local_endpoint(), 2s);
    auto s2 = co_await l.accept(2s);
    CHECK(s2.remote_endpoint() == c2.local_endpoint());
  }());
}
