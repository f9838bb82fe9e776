// Lines and delimiters on TLS streams (read_line, read_until) over records that split them,
// mixed with the other reads, and a peer that ends without close_notify under either setting
// of tls_context::set_suppress_ragged_eofs.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/event.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/when_any.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"
#include "tls_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tls_error;
using ringo::net::tls_stream;
using ringo_test::client_context;
using ringo_test::connected_tls_pair;
using ringo_test::server_context;

namespace {

ringo::task<int> when_set(ringo::event& e) {
  co_await e.wait();
  co_return 2;
}

}  // namespace

TEST_CASE("TLS read_line and read_until cut lines across records, mixed with other reads",
          "[tls][lines]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    // Each write_all is a record of its own: the delimiter is split between two records.
    co_await p.server.write_all("GET / HTTP/1.1\r");
    co_await p.server.write_all("\nHost: a\r\n\r\n");
    co_await p.server.write_all(std::string("one\ntwo\nthree\n"));
    const std::string first = co_await p.client.read_until("\r\n", 65536, 5s);
    CHECK(first == "GET / HTTP/1.1\r\n");
    const std::string host = co_await p.client.read_until("\r\n", 65536, 5s);
    CHECK(host == "Host: a\r\n");
    std::array<char, 2> blank{};
    co_await p.client.read_exact(blank, 5s);  // from what the line read left
    CHECK(std::string_view(blank.data(), 2) == "\r\n");
    const std::string one = co_await p.client.read_line(65536, 5s);
    CHECK(one == "one\n");
    std::string two(4, '\0');
    const std::size_t n = co_await p.client.read_some(two, 5s);
    CHECK(two.substr(0, n) == std::string("two\n").substr(0, n));
    if (n < 4) co_await p.client.read_exact(std::span<char>(two).subspan(n), 5s);
    CHECK(two == "two\n");
    // A line longer than the limit: length_error, and the bytes stay.
    std::string what;
    try {
      (void)co_await p.client.read_line(3, 5s);
    } catch (const std::length_error& e) {
      what = e.what();
    }
    CHECK(what == fmt::format("TLS read from {}: no delimiter in the first 3 bytes (the limit); "
                              "they stay in the stream for the next read",
                              p.client.remote_endpoint()));
    const std::string three = co_await p.client.read_line(6, 5s);
    CHECK(three == "three\n");
    co_await p.server.close();
    const std::string end = co_await p.client.read_line(65536, 5s);
    CHECK(end.empty());
  }());
}

TEST_CASE("a TLS read_line that times out or is cancelled keeps what it gathered", "[tls][lines]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    co_await p.server.write_all("par");
    bool timed_out = false;
    try {
      (void)co_await p.client.read_line(65536, 20ms);
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await p.server.write_all("ti");
    ringo::event go;
    auto race = ringo::spawn(ringo::when_any(when_set(go), p.client.read_line(65536, 5s)));
    for (int i = 0; i < 10; ++i)
      co_await ringo::yield();
    go.set();
    const auto r = co_await race;
    CHECK(r.index() == 0);
    timed_out = false;
    try {
      (void)co_await ringo::with_timeout(10ms, p.client.read_line());
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await p.server.write_all("al\n");
    const std::string line = co_await p.client.read_line(65536, 5s);
    CHECK(line == "partial\n");
  }());
}

TEST_CASE("an end without close_notify is truncation by default, even to read_line",
          "[tls][lines]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    CHECK_FALSE(client_ctx.suppress_ragged_eofs());
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    co_await p.server.write_all("line\ntail");
    { tls_stream dropped = std::move(p.server); }  // closes the socket, sends no close_notify
    const std::string line = co_await p.client.read_line(65536, 5s);
    CHECK(line == "line\n");
    std::error_code code;
    try {
      (void)co_await p.client.read_line(65536, 5s);
    } catch (const tls_error& e) {
      code = e.code();
    }
    CHECK(code == ringo::net::tls_errc::truncated);
    // The bytes before the cut are still there, for a caller who decides to use them.
    std::array<char, 16> buf{};
    const std::size_t n = co_await p.client.read_some(buf, 5s);
    CHECK(std::string_view(buf.data(), n) == "tail");
  }());
}

TEST_CASE("with set_suppress_ragged_eofs an end without close_notify is an end of stream",
          "[tls][lines]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    auto client_ctx = client_context();
    client_ctx.set_suppress_ragged_eofs(true);
    CHECK(client_ctx.suppress_ragged_eofs());
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    co_await p.server.write_all("line\ntail");
    { tls_stream dropped = std::move(p.server); }  // closes the socket, sends no close_notify
    std::vector<std::string> lines;
    for (int i = 0; i < 3; ++i)
      lines.push_back(co_await p.client.read_line(65536, 5s));
    CHECK(lines == std::vector<std::string>{"line\n", "tail", ""});
    std::array<std::byte, 16> buf{};
    const std::size_t n = co_await p.client.read_some(buf, 5s);
    CHECK(n == 0);
  }());
}
