// TLS streams cut short: cancellation in the handshake and in reads (nothing lost, nothing
// twice), the handshake's deadline against a client that stalls, read timeouts, writes cut off,
// streams dropped under an operation, misuse; and the kernel TLS probe.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <system_error>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/io_context.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "ended_cancelled.hpp"
#include "tls_pair.hpp"

using namespace std::chrono_literals;
using ringo_test::ended_cancelled;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo::net::tls_context;
using ringo::net::tls_error;
using ringo::net::tls_stream;
using ringo_test::accept_tls;
using ringo_test::client_context;
using ringo_test::connected_tls_pair;
using ringo_test::server_context;

namespace {

ringo::task<std::size_t> read_into(tls_stream& s, std::span<std::byte> b) {
  co_return co_await s.read_some(b);
}

ringo::task<tls_stream> connect_to(endpoint at, const tls_context& ctx) {
  co_return co_await tls_stream::connect("127.0.0.1", at.port(), ctx);
}

ringo::task<std::string> accept_expecting_timeout(tcp_listener& l, const tls_context& ctx) {
  try {
    auto s = co_await accept_tls(l, ctx);
  } catch (const ringo::timed_out& e) {
    co_return e.what();
  }
  co_return "the handshake did not time out";
}

std::string as_text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

TEST_CASE("a server's handshake cancelled mid-way ends with operation_cancelled and closes",
          "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto h = ringo::spawn(accept_tls(l, server_ctx));
    // A client that starts a record header and says no more: the server waits mid-handshake.
    tcp_stream raw = co_await tcp_stream::connect(l.local_endpoint());
    co_await raw.write_all(std::string_view{"\x16\x03\x01\x02\x00", 5});
    co_await ringo::sleep_for(20ms);
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
    std::array<std::byte, 64> buf{};
    const std::size_t got = co_await raw.read_some(buf, 5s);
    CHECK(got == 0);  // the server's socket was closed
  }());
}

TEST_CASE("a client's handshake cancelled mid-way ends with operation_cancelled", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto h = ringo::spawn(connect_to(l.local_endpoint(), client_ctx));
    tcp_stream silent = co_await l.accept();  // reads the hello, never answers
    co_await ringo::sleep_for(20ms);
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
    std::vector<std::byte> buf(4096);
    std::size_t hello = 0;
    while (const std::size_t n = co_await silent.read_some(buf, 5s))
      hello += n;
    CHECK(hello > 0);  // the hello came, then end of stream: the client closed
  }());
}

TEST_CASE("a client that stalls the handshake is cut off by the handshake deadline", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    auto server_ctx = server_context();
    server_ctx.set_handshake_timeout(200ms);
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    for (const std::string_view stall :
         {std::string_view{}, std::string_view{"\x16\x03\x01\x02\x00", 5}}) {
      auto h = ringo::spawn(accept_expecting_timeout(l, server_ctx));
      const auto start = std::chrono::steady_clock::now();
      tcp_stream raw = co_await tcp_stream::connect(l.local_endpoint());
      if (!stall.empty()) co_await raw.write_all(stall);
      const std::string what = co_await h;
      const auto took = std::chrono::steady_clock::now() - start;
      CHECK(what == fmt::format("TLS handshake with {}: no handshake within 200 ms: {}",
                                raw.local_endpoint(), std::strerror(ETIMEDOUT)));
      CHECK(took >= 190ms);
      CHECK(took < 5s);
    }
  }());
}

TEST_CASE("a cancelled read loses no bytes: the next read gets them", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    std::array<std::byte, 64> buf{};
    auto h = ringo::spawn(read_into(p.client, buf));
    co_await ringo::sleep_for(10ms);
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
    co_await p.server.write_all("after the cancel, and more after that");
    // A small buffer: the rest of the record stays decrypted in the stream for the next read.
    std::array<std::byte, 10> small{};
    const std::size_t first = co_await p.client.read_some(small, 5s);
    CHECK(as_text(std::span{small.data(), first}) == "after the ");
    const std::size_t rest = co_await p.client.read_some(buf, 5s);
    CHECK(as_text(std::span{buf.data(), rest}) == "cancel, and more after that");
  }());
}

TEST_CASE("reads cancelled at every point of a transfer lose nothing and repeat nothing", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    std::string sent;
    for (int i = 0; sent.size() < (512 << 10); ++i)
      sent += fmt::format("line {} of the transfer\n", i);
    auto writer = ringo::spawn([](tls_stream& s, const std::string& all) -> ringo::task<void> {
      // Small writes with turns between them: records arrive while reads are being cancelled.
      for (std::size_t at = 0; at < all.size(); at += 3000) {
        co_await s.write_all(std::string_view{all}.substr(at, 3000));
        co_await ringo::yield();
      }
      co_await s.close();
    }(p.server, sent));
    std::string received;
    std::vector<std::byte> buf(7000);
    int cancelled = 0;
    for (int round = 0;; ++round) {
      auto h = ringo::spawn(read_into(p.client, buf));
      for (int i = 0; i < round % 3; ++i)
        co_await ringo::yield();
      h.cancel();
      std::size_t n = 0;
      try {
        n = co_await h;
      } catch (const ringo::operation_cancelled&) {
        ++cancelled;
        continue;
      }
      if (n == 0) break;
      received += as_text(std::span{buf.data(), n});
    }
    co_await writer;
    CHECK(received.size() == sent.size());
    CHECK(received == sent);
    CHECK(cancelled > 0);
  }());
}

TEST_CASE("a read that times out loses nothing; a write's timeout cuts the stream", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    std::array<std::byte, 64> buf{};
    bool timed_out = false;
    try {
      (void)co_await p.client.read_some(buf, 30ms);
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await p.server.write_all("late");
    const std::size_t n = co_await p.client.read_some(buf, 5s);
    CHECK(as_text(std::span{buf.data(), n}) == "late");

    // Far more than the socket buffers hold, to a peer that does not read.
    const std::vector<std::byte> big(32 << 20, std::byte{'x'});
    bool write_timed_out = false;
    try {
      co_await p.client.write_all(big, 100ms);
    } catch (const ringo::timed_out&) {
      write_timed_out = true;
    }
    CHECK(write_timed_out);
    std::error_code code;
    try {
      co_await p.client.write_all("more");
    } catch (const tls_error& e) {
      code = e.code();
    }
    CHECK(code == ringo::net::tls_errc::write_cut);
    co_await p.client.close();  // no close_notify after a cut record, but the socket closes
    CHECK_FALSE(p.client.is_open());
  }());
}

TEST_CASE("a stream dropped under a read in another task fails that read with EBADF", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    std::array<std::byte, 64> buf{};
    auto h = ringo::spawn([](tls_stream& s, std::span<std::byte> b) -> ringo::task<int> {
      try {
        (void)co_await s.read_some(b);
      } catch (const std::system_error& e) {
        co_return e.code().value();
      }
      co_return 0;
    }(p.client, buf));
    co_await ringo::sleep_for(10ms);
    { tls_stream dropped = std::move(p.client); }
    const int err = co_await h;
    CHECK(err == EBADF);
  }());
}

TEST_CASE("two reads at once, an empty stream and the wrong context are misuse", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    std::array<std::byte, 64> a{}, b{};
    auto first = ringo::spawn(read_into(p.client, a));
    co_await ringo::sleep_for(5ms);
    std::string what;
    try {
      (void)co_await p.client.read_some(b);
    } catch (const std::logic_error& e) {
      what = e.what();
    }
    CHECK(what.find("one reader at a time") != std::string::npos);
    co_await p.server.write_all("x");
    const std::size_t n = co_await first;
    CHECK(n == 1);

    tls_stream empty;
    CHECK_FALSE(empty.is_open());
    CHECK_THROWS_AS(empty.read_some(a), std::logic_error);
    CHECK_THROWS_AS(empty.alpn_protocol(), std::logic_error);
    bool refused = false;
    try {
      auto s = co_await tls_stream::connect("127.0.0.1", l.local_endpoint().port(), server_ctx);
    } catch (const std::logic_error&) {
      refused = true;
    }
    CHECK(refused);
    refused = false;
    try {
      auto s = co_await tls_stream::accept(tcp_stream{}, server_ctx);
    } catch (const std::logic_error&) {
      refused = true;
    }
    CHECK(refused);

    // close() from a thread that does not run the stream's context is refused before the
    // stream is touched (OpenSSL's session belongs to one thread); the stream stays open.
    std::string from_thread;
    std::thread other([&] {
      try {
        auto closing = p.client.close();
      } catch (const std::logic_error& e) {
        from_thread = e.what();
      }
    });
    other.join();
    CHECK(from_thread.find("tls_stream::close") != std::string::npos);
    CHECK(p.client.is_open());
  }());
}

TEST_CASE("the kernel TLS probe agrees with the kernel, and so do the streams", "[tls]") {
  std::ifstream ulps("/proc/sys/net/ipv4/tcp_available_ulp");
  const std::string listed{std::istreambuf_iterator<char>(ulps), {}};
  const bool available = tls_context::kernel_tls_available();
  INFO("tcp_available_ulp: " << listed << "probe: " << available);
  // The probe may load the module, so an unlisted ULP may become available; a listed one is.
  if (listed.find("tls") != std::string::npos) CHECK(available);
  CHECK(tls_context::kernel_tls_available() == available);  // probed once, the same answer
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    // The context's feature is the probe's answer, unless RINGO_DISABLE_FEATURES took it away.
    const bool kernel = ringo::io_context::current()->features().kernel_tls;
    if (!tls_context::kernel_tls_available()) CHECK_FALSE(kernel);
    CHECK(p.client.kernel_tls() == kernel);
    CHECK(p.server.kernel_tls() == kernel);
  }());
}
