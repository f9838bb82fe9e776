// TLS across threads: one context (and its copies) makes streams on several threads at once,
// each stream on its own thread's loop; a stream used from a thread that does not run its
// context is refused before OpenSSL is touched. Also run under ThreadSanitizer.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tls_pair.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tls_context;
using ringo::net::tls_stream;
using ringo_test::connected_tls_pair;

namespace {

// `rounds` connections, each a handshake both ways and a message there and back.
ringo::task<int> handshakes(const tls_context& server_ctx, const tls_context& client_ctx,
                            int rounds) {
  auto l = tcp_listener::bind(endpoint::loopback_v4(0));
  int echoed = 0;
  for (int i = 0; i < rounds; ++i) {
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    const std::string message = fmt::format("message {}", i);
    co_await p.client.write_all(message);
    std::string got(message.size(), '\0');
    co_await p.server.read_exact(std::as_writable_bytes(std::span{got}));
    co_await p.server.write_all(got);
    co_await p.client.read_exact(std::as_writable_bytes(std::span{got}));
    if (got == message) ++echoed;
    co_await p.client.close();
    co_await p.server.close();
  }
  co_return echoed;
}

}  // namespace

TEST_CASE("one TLS context serves handshakes on several threads at once", "[tls]") {
  const tls_context server_ctx = ringo_test::server_context();
  const tls_context client_ctx = ringo_test::client_context();
  constexpr int threads = 3;
  constexpr int rounds = 10;
  std::array<int, threads> echoed{};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      // A copy per thread as well as the shared one: both are the same context.
      const tls_context mine = client_ctx;
      echoed[t] = ringo::run(handshakes(server_ctx, t % 2 == 0 ? mine : client_ctx, rounds));
    });
  }
  for (auto& th : pool)
    th.join();
  for (int t = 0; t < threads; ++t)
    CHECK(echoed[t] == rounds);
}

TEST_CASE("a TLS stream used from a thread that does not run its context is a logic_error",
          "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = ringo_test::server_context();
    const auto client_ctx = ringo_test::client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    std::array<std::byte, 8> buf{};
    std::string what;
    std::thread([&] {
      try {
        (void)p.server.read_some(buf);
      } catch (const std::logic_error& e) {
        what = e.what();
      }
    }).join();
    CHECK(
        what.starts_with(fmt::format("tls_stream::read_some on the stream connected to {} from "
                                     "a thread that does not run its io_context",
                                     p.server.remote_endpoint())));
    // Nothing was touched: the stream works on its own thread.
    co_await p.client.write_all("still fine");
    std::string got(10, '\0');
    co_await p.server.read_exact(std::as_writable_bytes(std::span{got}));
    CHECK(got == "still fine");
  }());
}
