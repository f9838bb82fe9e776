// The HTTP demo over TLS (demo/http with a certificate: server_config::tls): serve() in-process
// answering ringo::net::tls_stream clients, keep-alive and pipelined, a client that closes with
// and without close_notify, and a plaintext client refused without harm to the others.
// Run: meson test -C build https
#include "../demo/http/server.hpp"
// (its own header first: proves it stands alone)
#include <array>
#include <chrono>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include "catch.hpp"
#include "tls_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo::net::tls_stream;

namespace {

// Runs serve() over HTTPS on a loopback port, then `body(endpoint)`, then cancels the server.
template <class F>
void with_https_server(F body) {
  ringo::run([](F body) -> ringo::task<void> {
    http::server_config config;
    config.tls = ringo_test::server_context();
    config.tls->set_alpn({"http/1.1"});
    auto listener = tcp_listener::bind(endpoint::loopback_v4(0));
    auto server = ringo::spawn(http::serve(listener, config));
    std::exception_ptr failure;
    try {
      co_await body(listener.local_endpoint());
    } catch (...) {
      failure = std::current_exception();
    }
    server.cancel();
    bool cancelled = false;
    try {
      co_await server;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    if (failure) std::rethrow_exception(failure);
    CHECK(cancelled);
  }(std::move(body)));
}

ringo::task<tls_stream> connect(endpoint at) {
  auto ctx = ringo_test::client_context();
  ctx.set_alpn({"http/1.1"});
  co_return co_await tls_stream::connect("localhost", at.port(), ctx);
}

// Reads until `count` answers (each ending in its 13-byte body, or a 404's empty one) are in.
ringo::task<std::string> read_answers(tls_stream& s, int count) {
  std::string all;
  std::array<std::byte, 4096> buf{};
  while (true) {
    int seen = 0;
    for (std::size_t at = all.find("HTTP/1.1 "); at != std::string::npos;
         at = all.find("HTTP/1.1 ", at + 1))
      ++seen;
    const bool complete =
        seen == count && (all.ends_with("Hello, World!") || all.ends_with("\r\n\r\n"));
    if (complete) co_return all;
    const std::size_t n = co_await s.read_some(buf, 3s);
    if (n == 0) co_return all;
    all.append(reinterpret_cast<const char*>(buf.data()), n);
  }
}

std::size_t count_of(std::string_view all, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = all.find(what); at != std::string_view::npos; at = all.find(what, at + 1))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("over HTTPS, keep-alive and pipelined requests are answered in order", "[https]") {
  with_https_server([](endpoint at) -> ringo::task<void> {
    tls_stream s = co_await connect(at);
    CHECK(s.alpn_protocol() == "http/1.1");
    co_await s.write_all("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    const std::string first = co_await read_answers(s, 1);
    CHECK(first.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(first.ends_with("\r\n\r\nHello, World!"));
    // Three in one write, the middle one a 404: three answers, in order.
    co_await s.write_all(
        "GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /missing HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    const std::string three = co_await read_answers(s, 3);
    CHECK(count_of(three, "HTTP/1.1 200 OK") == 2);
    CHECK(count_of(three, "HTTP/1.1 404") == 1);
    CHECK(three.find("HTTP/1.1 404") > three.find("HTTP/1.1 200"));
    CHECK(three.ends_with("Hello, World!"));
    co_await s.close();
  });
}

TEST_CASE("over HTTPS, Connection: close gets the answer and then a close_notify", "[https]") {
  with_https_server([](endpoint at) -> ringo::task<void> {
    tls_stream s = co_await connect(at);
    co_await s.write_all("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    std::string all;
    std::array<std::byte, 4096> buf{};
    // Read to the end: a clean one (the server's close_notify), or read_some would throw.
    while (const std::size_t n = co_await s.read_some(buf, 3s))
      all.append(reinterpret_cast<const char*>(buf.data()), n);
    CHECK(all.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(all.find("Connection: close") != std::string::npos);
    CHECK(all.ends_with("Hello, World!"));
  });
}

TEST_CASE("an HTTPS server refuses a plaintext client and serves the next one", "[https]") {
  with_https_server([](endpoint at) -> ringo::task<void> {
    tcp_stream plain = co_await tcp_stream::connect(at);
    co_await plain.write_all("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    std::array<std::byte, 4096> buf{};
    std::size_t got = 0;
    bool reset = false;
    try {
      while (const std::size_t n = co_await plain.read_some(buf, 3s))
        got += n;  // at most an alert
    } catch (const std::system_error& e) {
      reset = e.code().value() == ECONNRESET;
    }
    CHECK((got < 100 || reset));
    // A client that drops its connection without a close_notify harms no one either.
    {
      tls_stream rude = co_await connect(at);
      co_await rude.write_all("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
      const std::string answer = co_await read_answers(rude, 1);
      CHECK(answer.ends_with("Hello, World!"));
    }
    tls_stream s = co_await connect(at);
    co_await s.write_all("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    const std::string answer = co_await read_answers(s, 1);
    CHECK(answer.ends_with("Hello, World!"));
    co_await s.close();
  });
}
