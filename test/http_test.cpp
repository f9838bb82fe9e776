// The HTTP demo's serve() (demo/http/server.hpp, from the http_demo library) in-process over
// loopback, answering real ringo::net::tcp_stream clients: requests and their answers on a
// connection kept alive (GET and HEAD, keep-alive, pipelining, request bodies, 100 Continue).
// Files under the server's root: test/http_files_test.cpp; how and when the server ends a
// connection: test/http_close_test.cpp; its parser on its own: test/http_parser_test.cpp.
// Run: meson test -C build http http_files http_close http_parser
#include "../demo/http/server.hpp"
// (its own header first: proves it stands alone)

#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/net.hpp>
#include <ringo/task.hpp>

#include "catch.hpp"
#include "http_loopback.hpp"
#include "temp_dir.hpp"

using ringo::net::endpoint;
using ringo_test::client;
using ringo_test::get;
using ringo_test::response;
using ringo_test::temp_dir;
using ringo_test::with_server;

TEST_CASE("GET / answers Hello, World! with its headers, HEAD the same without the body",
          "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    co_await c.send(get("/"));
    const response r = co_await c.next();
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, World!");
    CHECK(r.header("Content-Type") == "text/plain");
    CHECK(r.header("Content-Length") == "13");
    CHECK(r.header("Date").size() == 29);
    CHECK(r.header("Date").ends_with(" GMT"));
    CHECK(r.header("Connection").empty());  // HTTP/1.1: keep-alive is the default

    co_await c.send("HEAD /?q=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    const response h = co_await c.next(true);
    CHECK(h.status == 200);
    CHECK(h.header("Content-Length") == "13");
    CHECK(h.body.empty());
    // Nothing follows the HEAD answer: the next answer starts right after it.
    co_await c.send(get("/"));
    const response again = co_await c.next();
    CHECK(again.body == "Hello, World!");
  });
}

TEST_CASE("three requests on one keep-alive connection are answered on it", "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    for (int i = 0; i < 3; ++i) {
      co_await c.send(get("/"));
      const response r = co_await c.next();
      CHECK(r.status == 200);
      CHECK(r.body == "Hello, World!");
    }
    // HTTP/1.0 with keep-alive stays open too, and says so.
    co_await c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const response r = co_await c.next();
    CHECK(r.header("Connection") == "keep-alive");
    co_await c.send(get("/"));
    const response last = co_await c.next();
    CHECK(last.status == 200);
  });
}

TEST_CASE("five pipelined requests in one write get five answers in order", "[http]") {
  temp_dir dir;
  for (int i = 1; i <= 3; ++i)
    dir.write(fmt::format("{}.txt", i), fmt::format("file {}", i));
  http::server_config config;
  config.root = dir.path().string();
  with_server(config, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    co_await c.send(get("/1.txt") + get("/") + get("/2.txt") + get("/missing") + get("/3.txt"));
    std::vector<std::string> got;
    for (int i = 0; i < 5; ++i) {
      const response r = co_await c.next();
      got.push_back(fmt::format("{} {}", r.status, r.body));
    }
    CHECK(got == std::vector<std::string>{"200 file 1", "200 Hello, World!", "200 file 2",
                                          "404 404 Not Found\n", "200 file 3"});
    // And many GET / at once, as wrk's pipelining script sends them.
    std::string sixteen;
    for (int i = 0; i < 16; ++i)
      sixteen += get("/");
    co_await c.send(sixteen);
    for (int i = 0; i < 16; ++i) {
      const response r = co_await c.next();
      CHECK(r.body == "Hello, World!");
    }
  });
}

TEST_CASE("a request body the server does not need is skipped, keeping the connection in step",
          "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    const std::string body(10000, 'b');  // spans several receive buffers
    co_await c.send(fmt::format("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{}",
                                body.size(), body) +
                    get("/"));
    const response refused = co_await c.next();
    CHECK(refused.status == 405);
    CHECK(refused.header("Allow") == "GET, HEAD");
    const response r = co_await c.next();
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, World!");
  });
}

TEST_CASE("a GET whose body waits for 100 Continue keeps the connection, or the answer says close",
          "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    co_await c.send(
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
        "Expect: 100-continue\r\n\r\n");
    // RFC 9110 10.1.1: the server may ask for the body (100 Continue) or answer at once; if it
    // will close after its answer, that answer must say so.
    response r = co_await c.next();
    bool body_sent = false;
    if (r.status == 100) {
      co_await c.send("hello");
      body_sent = true;
      r = co_await c.next();
    }
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, World!");
    if (r.header("Connection") == "close") {
      const bool closed = co_await c.closed_by_server();
      CHECK(closed);
      co_return;
    }
    // No close announced: the connection must carry the next request.
    if (!body_sent) co_await c.send("hello");
    co_await c.send(get("/"));
    const response again = co_await c.next();
    CHECK(again.status == 200);
    CHECK(again.body == "Hello, World!");
  });
}

TEST_CASE("100 Continue is sent only for a body not yet on its way, and never to HTTP/1.0",
          "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    // A body held back: asked for, then skipped, whatever the method's answer.
    co_await c.send(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
        "Expect: 100-continue\r\n\r\n");
    const response go_on = co_await c.next();
    CHECK(go_on.status == 100);
    CHECK(go_on.head == "HTTP/1.1 100 Continue\r\n");
    co_await c.send("abc");
    const response refused = co_await c.next();
    CHECK(refused.status == 405);
    CHECK(refused.header("Connection").empty());
    // A body sent with its head: nothing to ask for.
    co_await c.send(
        "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
        "Expect: 100-continue\r\n\r\nabc" +
        get("/"));
    for (int i = 0; i < 2; ++i) {
      const response r = co_await c.next();
      CHECK(r.status == 200);
    }
    // HTTP/1.0 knows no 1xx: its expectation is ignored (RFC 9110 10.1.1).
    co_await c.send(
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n"
        "Expect: 100-continue\r\n\r\n");
    const response old = co_await c.next();
    CHECK(old.status == 200);
    CHECK(old.header("Connection") == "keep-alive");
    co_await c.send("abc" + get("/"));
    const response last = co_await c.next();
    CHECK(last.status == 200);
    CHECK(c.buffered().empty());
  });
}
