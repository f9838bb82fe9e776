#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <numeric>
#include <string>
#include <system_error>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

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

struct pair_of_streams {
  tcp_stream client;
  tcp_stream server;
};

ringo::task<pair_of_streams> connected_pair(tcp_listener& l) {
  auto accepting = ringo::spawn(
      [](tcp_listener& l) -> ringo::task<tcp_stream> { co_return co_await l.accept(); }(l));
  pair_of_streams p;
  p.client = co_await tcp_stream::connect(l.local_endpoint());
  p.server = co_await accepting;
  co_return p;
}

void set_linger_zero(const tcp_stream& s) {
  linger lg{1, 0};
  REQUIRE(::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
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

TEST_CASE("connecting to a port where no one listens names the endpoint", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    endpoint to;
    {
      auto l = tcp_listener::bind(endpoint::loopback_v4(0));
      to = l.local_endpoint();
    }
    try {
      (void)co_await tcp_stream::connect(to);
      FAIL("connected");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == ECONNREFUSED);
      CHECK(std::string{e.what()} ==
            fmt::format("connect to {}: {}", to, std::strerror(ECONNREFUSED)));
    }
  }());
}

TEST_CASE("a peer reset in the middle of a write is a system_error, never SIGPIPE", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    set_linger_zero(p.server);
    const std::string chunk(1 << 20, 'z');
    auto writer = ringo::spawn([](tcp_stream& s, const std::string& c) -> ringo::task<int> {
      try {
        for (int i = 0; i < 1000; ++i)
          co_await s.write_all(c);
      } catch (const std::system_error& e) {
        CHECK(std::string{e.what()}.starts_with("send on 127.0.0.1:"));
        co_return e.code().value();
      }
      co_return 0;
    }(p.client, chunk));
    co_await ringo::sleep_for(20ms);  // the writer fills the socket buffers and waits
    p.server = tcp_stream{};          // RST
    const int err = co_await writer;
    CHECK((err == ECONNRESET || err == EPIPE));
  }());
}

TEST_CASE("a read from a reset connection names the peer", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    set_linger_zero(p.server);
    const auto server_end = p.server.local_endpoint();
    std::array<std::byte, 16> buf{};
    auto reader =
        ringo::spawn([](tcp_stream& s, std::span<std::byte> b) -> ringo::task<std::string> {
          try {
            (void)co_await s.read_some(b);
          } catch (const std::system_error& e) {
            co_return e.what();
          }
          co_return "no error";
        }(p.client, buf));
    co_await ringo::sleep_for(10ms);
    p.server = tcp_stream{};
    const std::string what = co_await reader;
    CHECK(what == fmt::format("recv on {}: {}", server_end, std::strerror(ECONNRESET)));
  }());
}

TEST_CASE("a read deadline throws timed_out and leaves the stream usable", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    std::array<std::byte, 8> buf{};
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(co_await p.client.read_some(buf, 50ms), ringo::timed_out);
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

TEST_CASE("read_exact throws a clear error when the stream ends early", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    co_await p.client.write_all("abc");
    co_await p.client.close();
    std::array<std::byte, 8> buf{};
    try {
      co_await p.server.read_exact(buf);
      FAIL("no error");
    } catch (const std::system_error& e) {
      CHECK(std::string{e.what()}.find("end of stream after 3 of 8 bytes") != std::string::npos);
    }
  }());
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

TEST_CASE("a reader fails with EBADF when another task closes its stream", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    std::array<std::byte, 8> buf{};
    auto reader = ringo::spawn([](tcp_stream& s, std::span<std::byte> b) -> ringo::task<int> {
      try {
        (void)co_await s.read_some(b);
      } catch (const std::system_error& e) {
        co_return e.code().value();
      }
      co_return 0;
    }(p.server, buf));
    co_await ringo::sleep_for(5ms);
    co_await p.server.close();
    const int err = co_await reader;
    CHECK(err == EBADF);
  }());
}

TEST_CASE("running out of descriptors fails accept and connect clearly, and accept recovers",
          "[tcp]") {
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  ringo::run([&]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    const auto where = l.local_endpoint();
    // Keep descriptors to free later, then lower the limit to just above the highest one.
    std::vector<int> spare;
    for (int i = 0; i < 4; ++i)
      spare.push_back(::dup(0));
    const int highest = *std::max_element(spare.begin(), spare.end());
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(highest + 1);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<int> fill;
    for (int fd; (fd = ::dup(0)) >= 0;)
      fill.push_back(fd);
    CHECK(errno == EMFILE);

    // connect: no descriptor for the socket.
    try {
      (void)co_await tcp_stream::connect(where);
      FAIL("connected");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == EMFILE);
      CHECK(std::string{e.what()}.find(fmt::format("connect to {}", where)) != std::string::npos);
    }

    // One descriptor for a client; the server then has none for the accepted connection.
    ::close(spare.back());
    spare.pop_back();
    auto client = co_await tcp_stream::connect(where);
    try {
      (void)co_await l.accept(2s);
      FAIL("accepted");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == EMFILE);
      CHECK(std::string{e.what()} == fmt::format("accept on {}: {}", where, std::strerror(EMFILE)));
    }
    // Freed descriptors: the same listener takes the waiting connection.
    for (int fd : spare)
      ::close(fd);
    auto server = co_await l.accept(2s);
    co_await client.write_all("ok");
    std::array<std::byte, 2> b{};
    co_await server.read_exact(b);
    CHECK(text_of(b) == "ok");
    for (int fd : fill)
      ::close(fd);
  }());
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
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
