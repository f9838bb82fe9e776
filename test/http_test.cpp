// The HTTP demo's serve() (demo/http/server.hpp, from the http_demo library) in-process over
// loopback, answering real ringo::net::tcp_stream clients. Its parser on its own:
// test/http_parser_test.cpp. Run: meson test -C build http http_parser
#include "../demo/http/server.hpp"
// (its own header first: proves it stands alone)

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

// ---- loopback helpers ----------------------------------------------------------------------

struct response {
  int status = 0;
  std::string head;
  std::string body;
  [[nodiscard]] std::string header(std::string_view name) const {
    std::string_view rest = head;
    while (!rest.empty()) {
      const std::size_t eol = rest.find("\r\n");
      const std::string_view line = rest.substr(0, eol);
      const std::size_t colon = line.find(':');
      if (colon != std::string_view::npos && http::iequals(line.substr(0, colon), name)) {
        return std::string{http::detail::trim_ows(line.substr(colon + 1))};
      }
      rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    }
    return {};
  }
};

// A client connection that reads whole responses (Content-Length framed) off its stream, each
// read bounded so that a server that never answers fails the test instead of hanging it.
class client {
 public:
  static ringo::task<client> connect(endpoint to) {
    client c;
    c.s_ = co_await tcp_stream::connect(to, 3s);
    c.s_.set_nodelay(true);
    co_return c;
  }

  ringo::task<void> send(std::string_view text) { co_await s_.write_all(text, 3s); }

  /// The next response, interim (1xx) ones included; `head_request`: it has no body whatever
  /// Content-Length says (nor has a 1xx response).
  ringo::task<response> next(bool head_request = false) {
    for (;;) {
      const std::size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        response r;
        r.head = buffer_.substr(0, end + 2);
        REQUIRE(r.head.rfind("HTTP/1.1 ", 0) == 0);
        r.status = std::stoi(r.head.substr(9, 3));
        const std::size_t length =
            head_request || r.status / 100 == 1 ? 0 : std::stoul(r.header("Content-Length"));
        if (buffer_.size() >= end + 4 + length) {
          r.body = buffer_.substr(end + 4, length);
          buffer_.erase(0, end + 4 + length);
          co_return r;
        }
      }
      const bool more = co_await fill();
      REQUIRE(more);  // the server closed in the middle of a response
    }
  }

  /// True if the server ends the stream (end of stream or reset) within `limit`; what came
  /// before the end is left in buffered().
  ringo::task<bool> closed_by_server(std::chrono::milliseconds limit = 3000ms) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= 0ns) co_return false;
      std::array<std::byte, 4096> buf{};
      std::size_t n = 0;
      bool timed_out = false;
      try {
        n = co_await s_.read_some(buf, left);
      } catch (const ringo::timed_out&) {
        timed_out = true;
      } catch (const std::system_error& e) {
        if (e.code().value() == ECONNRESET) co_return true;  // it closed with our bytes unread
        throw;
      }
      if (timed_out) co_return false;
      if (n == 0) co_return true;
      buffer_.append(reinterpret_cast<const char*>(buf.data()), n);
    }
  }

  tcp_stream& stream() { return s_; }
  std::string& buffered() { return buffer_; }

 private:
  ringo::task<bool> fill() {
    std::array<std::byte, 16384> buf{};
    const std::size_t n = co_await s_.read_some(buf, 3s);
    buffer_.append(reinterpret_cast<const char*>(buf.data()), n);
    co_return n > 0;
  }

  tcp_stream s_;
  std::string buffer_;
};

// Runs serve() on a loopback port, then `body(endpoint)`, then cancels the server and waits
// for it to unwind. A failure in `body` is rethrown after the server is down.
template <class F>
void with_server(http::server_config config, F body) {
  ringo::run([](http::server_config config, F body) -> ringo::task<void> {
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
  }(std::move(config), std::move(body)));
}

// A temporary directory, removed with everything in it at the end of the test.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ringo-http-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  void write(const std::string& name, const std::string& content) const {
    std::filesystem::create_directories((path_ / name).parent_path());
    std::ofstream{path_ / name, std::ios::binary} << content;
  }

 private:
  std::filesystem::path path_;
};

std::string get(std::string_view path, std::string_view extra = {}) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: test\r\n{}\r\n", path, extra);
}

}  // namespace

// ---- the server over loopback --------------------------------------------------------------

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

TEST_CASE("files under the root are served, missing ones are 404, escapes are refused", "[http]") {
  temp_dir dir;
  temp_dir outside;
  std::string big(200'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>('a' + i % 26);
  dir.write("www/index.html", "<p>home</p>");
  dir.write("www/a b.txt", "spaced");
  dir.write("www/big.bin", big);
  dir.write("www/sub/x.css", "p{}");
  outside.write("secret.txt", "secret");
  dir.write("secret2.txt", "secret2");
  std::filesystem::create_symlink(outside.path() / "secret.txt", dir.path() / "www/link-out");
  std::filesystem::create_symlink(dir.path() / "www/sub/x.css", dir.path() / "www/link-in");
  http::server_config config;
  config.root = (dir.path() / "www").string();
  with_server(config, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    struct expectation {
      std::string path;
      int status;
      std::string body;
      std::string type;
    };
    const std::vector<expectation> cases{
        {"/index.html", 200, "<p>home</p>", "text/html; charset=utf-8"},
        {"/a%20b.txt", 200, "spaced", "text/plain; charset=utf-8"},
        {"/sub/x.css", 200, "p{}", "text/css"},
        {"/sub/../sub/x.css", 403, "403 Forbidden\n", ""},
        {"/link-in", 200, "p{}", "text/css"},  // typed by what the link leads to
        {"/link-out", 403, "403 Forbidden\n", ""},
        {"/nothing.txt", 404, "404 Not Found\n", ""},
        {"/sub", 404, "404 Not Found\n", ""},   // a directory is no file
        {"/sub/", 404, "404 Not Found\n", ""},  // ... and it has no index.html
        {"/../secret2.txt", 403, "403 Forbidden\n", ""},
        {"/a/%2e%2e/%2e%2e/secret2.txt", 403, "403 Forbidden\n", ""},
        {"/..%2fsecret2.txt", 403, "403 Forbidden\n", ""},
        {"/x/..%2F..%2Fsecret2.txt", 403, "403 Forbidden\n", ""},
    };
    for (const auto& e : cases) {
      INFO(e.path);
      co_await c.send(get(e.path));
      const response r = co_await c.next();
      CHECK(r.status == e.status);
      CHECK(r.body == e.body);
      if (!e.type.empty()) CHECK(r.header("Content-Type") == e.type);
    }
    // "/" is the greeting, even with an index.html in the root.
    co_await c.send(get("/"));
    const response hello = co_await c.next();
    CHECK(hello.body == "Hello, World!");
    // A file larger than one read and one write.
    co_await c.send(get("/big.bin"));
    const response b = co_await c.next();
    CHECK(b.status == 200);
    CHECK(b.header("Content-Length") == "200000");
    CHECK(b.body.size() == 200'000);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < b.body.size(); ++i) {
      if (b.body[i] != static_cast<char>('a' + i % 26)) ++wrong;
    }
    CHECK(wrong == 0);
    co_await c.send("HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    const response h = co_await c.next(true);
    CHECK(h.header("Content-Length") == "200000");
    co_await c.send(get("/index.html"));  // and the connection is still in step
    const response after = co_await c.next();
    CHECK(after.body == "<p>home</p>");
  });
}

TEST_CASE("without a root every path but / is 404", "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    co_await c.send(get("/index.html"));
    const response r = co_await c.next();
    CHECK(r.status == 404);
  });
}

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
