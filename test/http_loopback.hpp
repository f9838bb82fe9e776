#pragma once
// The HTTP demo's serve() on a loopback port, and a client that reads its answers, for the
// tests of test/http_test.cpp and the http_*_test.cpp files beside it.
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include "../demo/http/server.hpp"
#include "catch.hpp"

namespace ringo_test {

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
  static ringo::task<client> connect(ringo::net::endpoint to) {
    client c;
    c.s_ = co_await ringo::net::tcp_stream::connect(to, std::chrono::seconds{3});
    c.s_.set_nodelay(true);
    co_return c;
  }

  ringo::task<void> send(std::string_view text) {
    co_await s_.write_all(text, std::chrono::seconds{3});
  }

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
  ringo::task<bool> closed_by_server(std::chrono::milliseconds limit = std::chrono::seconds{3}) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds::zero()) co_return false;
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

  ringo::net::tcp_stream& stream() { return s_; }
  std::string& buffered() { return buffer_; }

 private:
  ringo::task<bool> fill() {
    std::array<std::byte, 16384> buf{};
    const std::size_t n = co_await s_.read_some(buf, std::chrono::seconds{3});
    buffer_.append(reinterpret_cast<const char*>(buf.data()), n);
    co_return n > 0;
  }

  ringo::net::tcp_stream s_;
  std::string buffer_;
};

// Runs serve() on a loopback port, then `body(endpoint)`, then cancels the server and waits
// for it to unwind. A failure in `body` is rethrown after the server is down.
template <class F>
void with_server(http::server_config config, F body) {
  ringo::run([](http::server_config config, F body) -> ringo::task<void> {
    auto listener = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
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

/// A GET request for `path`, with the header lines `extra` (each ending in CRLF).
inline std::string get(std::string_view path, std::string_view extra = {}) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: test\r\n{}\r\n", path, extra);
}

}  // namespace ringo_test
