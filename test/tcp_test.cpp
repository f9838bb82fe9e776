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
#include <functional>
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

// ---- receive_some and gathered writes ------------------------------------------------------

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

std::string pattern(std::size_t n, std::size_t seed = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
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

// Counting allocations replaces the global operator new, which AddressSanitizer's own
// replacement does not tolerate (Catch2 frees blocks made before main): off under ASan.
#if defined(__SANITIZE_ADDRESS__)
#define RINGO_TEST_COUNTS_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGO_TEST_COUNTS_ALLOCATIONS 0
#endif
#endif
#ifndef RINGO_TEST_COUNTS_ALLOCATIONS
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

// ---- provided buffers shared by small receives ------------------------------------------------

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

TEST_CASE("what an idle connection keeps stays small", "[tcp]") {
  // An idle server connection is its stream's state plus its task's frame, which holds the
  // awaiters: none of them keeps a copy of the peer (it is read from the state on an error).
  // A read awaiter carries no backend request (a one-shot receive goes out in the state's).
  CHECK(sizeof(ringo::detail::stream_state) <= 208);  // 8 of them: the line of writers
  CHECK(sizeof(ringo::detail::receive_some_awaiter) <= 112);
  CHECK(sizeof(ringo::detail::read_some_awaiter) <= 112);
  CHECK(sizeof(ringo::detail::send_all_awaiter) <= 160);
  CHECK(sizeof(ringo::net::received_buffers) <= 96);  // 32-bit buffer handles
}

// ---- connect by name ---------------------------------------------------------------------------

namespace {

// A loopback port that refuses connections: bound, never listened on, so no one else takes it
// while the socket lives.
struct refusing_port {
  refusing_port() : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd >= 0);
    sockaddr_storage ss{};
    const socklen_t len = endpoint::loopback_v4(0).to_sockaddr(ss);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0);
    socklen_t n = sizeof ss;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0);
    at = endpoint::from_sockaddr(ss);
  }
  refusing_port(const refusing_port&) = delete;
  refusing_port& operator=(const refusing_port&) = delete;
  ~refusing_port() { ::close(fd); }
  int fd;
  endpoint at;
};

}  // namespace

TEST_CASE("connect by name resolves localhost and connects to the listener", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    const std::uint16_t port = l.local_endpoint().port();
    auto accepting = ringo::spawn(
        [](tcp_listener& l) -> ringo::task<tcp_stream> { co_return co_await l.accept(); }(l));
    auto s = co_await tcp_stream::connect("localhost", port);
    auto server = co_await accepting;
    CHECK(s.remote_endpoint() == l.local_endpoint());
    co_await s.write_all("by name");
    std::array<std::byte, 16> buf{};
    const std::size_t n = co_await server.read_some(buf);
    CHECK(text_of(std::span{buf}.first(n)) == "by name");
    // A numeric host takes the same path without a lookup.
    auto accepting2 = ringo::spawn(
        [](tcp_listener& l) -> ringo::task<tcp_stream> { co_return co_await l.accept(); }(l));
    auto s2 = co_await tcp_stream::connect("127.0.0.1", port);
    auto server2 = co_await accepting2;
    CHECK(s2.remote_endpoint() == l.local_endpoint());
  }());
}

TEST_CASE("connect by name tries the next address when one refuses", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    refusing_port refusing;
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto accepting = ringo::spawn(
        [](tcp_listener& l) -> ringo::task<tcp_stream> { co_return co_await l.accept(); }(l));
    std::vector<endpoint> candidates;
    candidates.push_back(refusing.at);
    candidates.push_back(l.local_endpoint());
    auto s = co_await ringo::detail::connect_in_turn(std::move(candidates), "two.example", {},
                                                     std::source_location::current());
    auto server = co_await accepting;
    CHECK(s.remote_endpoint() == l.local_endpoint());
    CHECK(server.is_open());
  }());
}

TEST_CASE("connect by name reports the last address's error, naming host and address",
          "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    refusing_port first;
    refusing_port second;
    std::string what;
    std::error_code code;
    try {
      std::vector<endpoint> candidates;
      candidates.push_back(first.at);
      candidates.push_back(second.at);
      (void)co_await ringo::detail::connect_in_turn(std::move(candidates), "two.example", {},
                                                    std::source_location::current());
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::connection_refused);
    CHECK(what == fmt::format("connect to two.example ({}): Connection refused", second.at));

    // Through the resolver: localhost's last address refuses too.
    const auto addresses = co_await ringo::net::resolve("localhost", first.at.port());
    try {
      (void)co_await tcp_stream::connect("localhost", first.at.port());
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::connection_refused);
    CHECK(what.starts_with(fmt::format("connect to localhost ({}): ", addresses.back())));

    // A name that does not resolve fails in the resolver, naming it.
    try {
      (void)co_await tcp_stream::connect("no-such-host.invalid", 80);
    } catch (const std::system_error& e) {
      what = e.what();
    }
    CHECK(what.starts_with("resolve no-such-host.invalid: "));

    bool empty_refused = false;
    try {
      (void)co_await ringo::detail::connect_in_turn(std::vector<endpoint>{}, "none.example", {},
                                                    std::source_location::current());
    } catch (const std::system_error& e) {
      empty_refused = std::string_view{e.what()}.starts_with("connect to none.example: ");
    }
    CHECK(empty_refused);
  }());
}
