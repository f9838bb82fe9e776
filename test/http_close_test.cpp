// How and when the HTTP demo's server (demo/http/server.hpp) ends a connection, over loopback:
// at the header deadline for a client that trickles its head or withholds a body, after the
// idle timeout, after answering a request the parser refuses, after answering Connection: close
// or HTTP/1.0 without keep-alive (at once, without lingering), and for every open connection
// when serve() is cancelled.
#include "../demo/http/server.hpp"
// (its own header first: proves it stands alone)

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include "catch.hpp"
#include "http_loopback.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_stream;
using ringo_test::client;
using ringo_test::get;
using ringo_test::response;
using ringo_test::with_server;

TEST_CASE("a client trickling its head byte by byte is cut off at the header deadline", "[http]") {
  http::server_config config;
  config.header_timeout = 300ms;
  with_server(config, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    const auto start = std::chrono::steady_clock::now();
    // Slowloris: one byte every 50 ms, forever (well, for 6 s at most), in its own task.
    auto trickle = ringo::spawn([](tcp_stream& s) -> ringo::task<void> {
      const std::string head = "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + std::string(200, 'z');
      try {
        for (char ch : head) {
          co_await s.write_all(std::string_view{&ch, 1}, 1s);
          co_await ringo::sleep_for(50ms);
        }
      } catch (const std::system_error&) {
        // the server hung up on us: expected
      }
    }(c.stream()));
    const bool closed = co_await c.closed_by_server(6000ms);
    const auto took = std::chrono::steady_clock::now() - start;
    trickle.cancel();
    try {
      co_await trickle;
    } catch (const ringo::operation_cancelled&) {
    }
    // It got a 408 and then the end of the stream, after the deadline and well before the
    // trickle would have ended (head_size * 50 ms = 11 s).
    CHECK(c.buffered().rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
    c.buffered().clear();
    CHECK(closed);
    CHECK(took >= 250ms);
    CHECK(took < 3s);
  });
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout", "[http]") {
  http::server_config config;
  config.idle_timeout = 300ms;
  config.header_timeout = 400ms;
  with_server(config, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    co_await c.send(get("/"));
    const response r = co_await c.next();
    CHECK(r.status == 200);
    const auto start = std::chrono::steady_clock::now();
    const bool closed = co_await c.closed_by_server(5000ms);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(closed);
    CHECK(c.buffered().empty());  // silently: nothing was sent before the end
    CHECK(took >= 200ms);
    CHECK(took < 3s);

    // A body that never comes is given up on at the header deadline, after the answer.
    auto withholding = co_await client::connect(at);
    co_await withholding.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc");
    const response refused = co_await withholding.next();
    CHECK(refused.status == 405);
    const bool withholding_closed = co_await withholding.closed_by_server(5000ms);
    CHECK(withholding_closed);

    // A connection that never sends anything goes at the header deadline.
    auto silent = co_await client::connect(at);
    const bool silent_closed = co_await silent.closed_by_server(5000ms);
    CHECK(silent_closed);
    CHECK(silent.buffered().empty());
  });
}

TEST_CASE("a request the parser refuses is answered with its status, then the connection closes",
          "[http]") {
  struct row {
    std::string request;
    int status;
  };
  const std::vector<row> rows{
      {"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost t\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'x') + "\r\n\r\n", 431},
      {"POST / HTTP/1.1\r\nHost: t\r\n\r\n", 411},
      {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 413},
      {"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
      {"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400},
  };
  with_server({}, [&rows](endpoint at) -> ringo::task<void> {
    for (const auto& [request, status] : rows) {
      INFO(request.substr(0, 40));
      auto c = co_await client::connect(at);
      // A valid request first: it is answered before the bad one.
      co_await c.send(get("/") + request + get("/"));
      const response ok = co_await c.next();
      CHECK(ok.status == 200);
      const response r = co_await c.next();
      CHECK(r.status == status);
      CHECK(r.header("Connection") == "close");
      const bool closed = co_await c.closed_by_server();
      CHECK(closed);
      CHECK(c.buffered().empty());  // the request after the bad one got no answer
    }
  });
}

TEST_CASE("Connection: close and HTTP/1.0 without keep-alive close after the answer", "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    for (const std::string& request :
         {get("/", "Connection: close\r\n"), std::string{"GET / HTTP/1.0\r\n\r\n"},
          std::string{"HEAD / HTTP/1.0\r\n\r\n"}}) {
      INFO(request);
      auto c = co_await client::connect(at);
      co_await c.send(request + get("/"));  // the second one must go unanswered
      const response r = co_await c.next(request.starts_with("HEAD"));
      CHECK(r.status == 200);
      CHECK(r.header("Connection") == "close");
      const bool closed = co_await c.closed_by_server();
      CHECK(closed);
      CHECK(c.buffered().empty());
    }
  });
}

TEST_CASE("a client that asks to close and sends nothing more is closed at once, answer intact",
          "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    co_await c.send(get("/", "Connection: close\r\n"));
    const response r = co_await c.next();
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, World!");
    const bool closed = co_await c.closed_by_server();
    CHECK(closed);
    // No lingering read on the server's side: its socket is gone, so bytes sent now draw a
    // reset (a lingering server would read them and keep its socket a while). The stream has
    // seen its end, so ask the socket itself.
    const int fd = c.stream().native_handle();
    const std::string more = get("/");
    CHECK(::send(fd, more.data(), more.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(more.size()));
    bool reset = false;
    for (int i = 0; i < 200 && !reset; ++i) {
      co_await ringo::sleep_for(10ms);
      int err = 0;
      socklen_t len = sizeof err;
      REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
      reset = err == ECONNRESET || err == EPIPE;  // EPIPE: the reset met our half-closed socket
    }
    CHECK(reset);
  });
}

TEST_CASE("serve() cancelled with connections open ends them all", "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    std::vector<client> clients;
    for (int i = 0; i < 10; ++i) {
      clients.push_back(co_await client::connect(at));
      co_await clients.back().send(get("/"));
      const response r = co_await clients.back().next();
      CHECK(r.status == 200);
    }
    // with_server cancels the server while these ten connections are idle: it must return.
  });
}
