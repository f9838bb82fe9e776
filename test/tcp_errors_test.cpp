// How a TCP stream's failures reach its caller: a refused connect, a peer's reset under a
// write, a gathered write or a read, a stream closed under its reader, a stream that ends
// early, and no descriptors left. Each error names the operation and the peer; none is a
// SIGPIPE.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
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

// Makes the stream's close send a reset (RST) instead of ending the stream (FIN).
void set_linger_zero(const tcp_stream& s) {
  linger lg{1, 0};
  REQUIRE(::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
}

}  // namespace

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

TEST_CASE("a gathered write to a reset peer names it and never raises SIGPIPE", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    set_linger_zero(p.server);
    const auto server_end = p.server.local_endpoint();
    const std::string chunk(1 << 20, 'z');
    auto writer = ringo::spawn([](tcp_stream& s, const std::string& c) -> ringo::task<std::string> {
      const std::array<std::span<const std::byte>, 2> parts{
          std::as_bytes(std::span{c.data(), c.size()}),
          std::as_bytes(std::span{c.data(), c.size() / 2})};
      try {
        for (int i = 0; i < 1000; ++i)
          co_await s.write_all(parts);
      } catch (const std::system_error& e) {
        CHECK((e.code().value() == ECONNRESET || e.code().value() == EPIPE));
        co_return e.what();
      }
      co_return "no error";
    }(p.client, chunk));
    co_await ringo::sleep_for(20ms);  // the writer fills the socket buffers and waits
    p.server = tcp_stream{};          // RST
    const std::string what = co_await writer;
    CHECK(what.starts_with(fmt::format("send on {}: ", server_end)));
  }());
}

TEST_CASE("receive_some hands over the bytes before an error and throws it next", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const auto server_end = p.server.local_endpoint();
    set_linger_zero(p.server);
    co_await p.server.write_all("a");
    auto first = co_await p.client.receive_some(5s);  // arms the multishot receive
    REQUIRE(first.size() == 1);
    CHECK(text_of(first[0]) == "a");
    co_await p.server.write_all("data");
    co_await ringo::sleep_for(20ms);  // delivered before the reset
    p.server = tcp_stream{};          // RST
    co_await ringo::sleep_for(20ms);
    auto bufs = co_await p.client.receive_some(5s);
    REQUIRE(bufs.size() == 1);
    CHECK(text_of(bufs[0]) == "data");
    try {
      (void)co_await p.client.receive_some(5s);
      FAIL("no error after the reset");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == ECONNRESET);
      CHECK(std::string{e.what()} ==
            fmt::format("recv on {}: {}", server_end, std::strerror(ECONNRESET)));
    }
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

TEST_CASE("a reader cut off by close names the peer although the stream is gone", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const auto client_end = p.client.local_endpoint();
    auto reader = ringo::spawn([](tcp_stream& s) -> ringo::task<std::string> {
      try {
        (void)co_await s.receive_some();
      } catch (const std::system_error& e) {
        CHECK(e.code().value() == EBADF);
        co_return e.what();
      }
      co_return "no error";
    }(p.server));
    co_await ringo::sleep_for(5ms);
    // Frees the stream's state unless the reader holds it: at once on the one-shot path
    // (tcp_fallback; ASan sees a use after free if the reader kept no hold).
    co_await p.server.close();
    const std::string what = co_await reader;
    CHECK(what.starts_with(
        fmt::format("recv on {}: the stream was closed while this task read from it", client_end)));
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
