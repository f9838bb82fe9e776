// The HTTP demo's strict request parser (demo/http/parser.hpp) on its own: request lines,
// headers, pipelining, requests split at every byte, each refusal and its status, paths, keep-
// alive, and the response helpers. The server over loopback: test/http_test.cpp.
#include "../demo/http/parser.hpp"
// (its own header first: proves it stands alone)

#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "catch.hpp"

namespace {

// ---- parser helpers ------------------------------------------------------------------------

http::parse_result parse_all(std::string_view data, http::request& req, http::limits lim = {}) {
  http::request_parser p{lim};
  return p.parse(data, req);
}

int error_of(std::string_view data, http::limits lim = {}) {
  http::request req;
  const auto r = parse_all(data, req, lim);
  return r.status == http::parse_status::error ? r.error : 0;
}

}  // namespace

// ---- the parser ----------------------------------------------------------------------------

TEST_CASE("a valid GET is parsed into method, path, query, version and headers", "[http]") {
  const std::string text =
      "GET /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\n"
      "X-Empty:\r\nAccept:  */*  \r\n\r\n";
  http::request req;
  const auto r = parse_all(text, req);
  REQUIRE(r.status == http::parse_status::complete);
  CHECK(r.consumed == text.size());
  CHECK(req.verb == http::method::get);
  CHECK(req.target == "/a/b%20c?x=1&y=2");
  CHECK(req.path == "/a/b%20c");
  CHECK(req.query == "x=1&y=2");
  CHECK(req.version_minor == 1);
  CHECK(req.keep_alive);
  CHECK(req.host == "example.com:8080");
  CHECK(req.header_count == 4);
  CHECK(req.find("user-agent") == "t");
  CHECK(req.find("X-EMPTY").empty());
  CHECK(req.find("accept") == "*/*");
  CHECK_FALSE(req.has_content_length);
}

TEST_CASE("absolute-form and asterisk-form targets are understood", "[http]") {
  http::request req;
  REQUIRE(parse_all("GET http://h.example/x/y?q HTTP/1.1\r\nHost: h.example\r\n\r\n", req).status ==
          http::parse_status::complete);
  CHECK(req.path == "/x/y");
  CHECK(req.query == "q");
  REQUIRE(parse_all("GET HTTP://h.example HTTP/1.1\r\nHost: h.example\r\n\r\n", req).status ==
          http::parse_status::complete);
  CHECK(req.path == "/");
  REQUIRE(parse_all("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", req).status ==
          http::parse_status::complete);
  CHECK(req.verb == http::method::options);
  CHECK(error_of("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
  CHECK(error_of("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("pipelined requests in one buffer are parsed one after another", "[http]") {
  const std::string text =
      "\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "HEAD /2 HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
      "GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
      "GET /5 HT";
  http::request_parser p;
  http::request req;
  std::size_t pos = 0;
  std::vector<std::string> seen;
  for (;;) {
    const auto r = p.parse(std::string_view{text}.substr(pos), req);
    if (r.status != http::parse_status::complete) {
      CHECK(r.status == http::parse_status::incomplete);
      break;
    }
    pos += r.consumed;
    seen.push_back(fmt::format("{} {} {}", http::to_string(req.verb), req.path,
                               req.keep_alive ? "keep" : "close"));
    if (req.has_content_length) {
      CHECK(text.substr(pos, req.content_length) == "hello");
      pos += req.content_length;
    }
  }
  CHECK(seen ==
        std::vector<std::string>{"GET /1 keep", "HEAD /2 keep", "POST /3 keep", "GET /4 close"});
  CHECK(text.substr(pos) == "GET /5 HT");
}

TEST_CASE("a request split at any byte boundary, or fed byte by byte, parses the same", "[http]") {
  const std::string text =
      "\r\nPOST /up%2Fload?a=b HTTP/1.0\r\nHost: h\r\nConnection: Keep-Alive, x\r\n"
      "Content-Length: 42\r\nX-Long: " +
      std::string(300, 'v') + "\r\n\r\n";
  http::request whole;
  REQUIRE(parse_all(text, whole).status == http::parse_status::complete);
  CHECK(whole.keep_alive);
  CHECK(whole.version_minor == 0);
  CHECK(whole.content_length == 42);

  // Split in two, with the bytes moved to a new buffer between the calls (as the server does
  // when a request is cut across receives).
  for (std::size_t cut = 0; cut < text.size(); ++cut) {
    http::request_parser p;
    http::request req;
    const std::string first = text.substr(0, cut);
    REQUIRE(p.parse(first, req).status == http::parse_status::incomplete);
    const std::string all = first + text.substr(cut);
    const auto r = p.parse(all, req);
    REQUIRE(r.status == http::parse_status::complete);
    CHECK(r.consumed == text.size());
    CHECK(req.path == whole.path);
    CHECK(req.find("x-long") == whole.find("x-long"));
    CHECK(req.content_length == 42);
    CHECK(req.keep_alive);
  }
  // Byte by byte: incomplete until the very last byte.
  http::request_parser p;
  http::request req;
  std::string fed;
  for (std::size_t i = 0; i < text.size(); ++i) {
    fed.push_back(text[i]);
    const auto r = p.parse(fed, req);
    if (i + 1 < text.size()) {
      REQUIRE(r.status == http::parse_status::incomplete);
    } else {
      REQUIRE(r.status == http::parse_status::complete);
      CHECK(r.consumed == text.size());
      CHECK(req.path == "/up%2Fload");
      CHECK(req.query == "a=b");
    }
  }
}

TEST_CASE("a malformed request line is 400, found as soon as the line is in", "[http]") {
  for (const char* line :
       {"GET /\r\n", "GET  / HTTP/1.1\r\n", "GET / HTTP/1.1 \r\n", "GET / HTTP/1.x\r\n",
        "GET / HTTP/11\r\n", "G(T / HTTP/1.1\r\n", "GET a HTTP/1.1\r\n", "GET /a\tb HTTP/1.1\r\n",
        "GET /a#f HTTP/1.1\r\n", " GET / HTTP/1.1\r\n", "GET / HTTP/1.1\n", "\n",
        "GET /\x7f HTTP/1.1\r\n", "GET / http/1.1\r\n"}) {
    INFO(line);
    CHECK(error_of(line) == 400);  // no need to wait for the header fields
  }
}

TEST_CASE("bad header syntax is 400", "[http]") {
  const std::string line = "GET / HTTP/1.1\r\n";
  for (const char* fields :
       {"Host : h\r\n", "Host: h\r\nNoColon\r\n", "Host: h\r\n: v\r\n", "Host: h\r\nX: a\r\n b\r\n",
        "Host: h\r\nX: a\x01z\r\n", "Host: h\r\nX: a\rb\r\n", "Host: h\nX: b\r\n", "Ho st: h\r\n",
        "Host: h\r\nHost: h\r\n", "X: y\r\n", "Host: a/b\r\n", "Host: h\r\nContent-Length: 12a\r\n",
        "Host: h\r\nContent-Length: +5\r\n",
        "Host: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n", "Host: h\r\nContent-Length:\r\n",
        "Host: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"}) {
    INFO(fields);
    CHECK(error_of(line + fields + "\r\n") == 400);
  }
  // HTTP/1.0 may leave Host out; the same Content-Length twice is fine.
  CHECK(error_of("GET / HTTP/1.0\r\n\r\n") == 0);
  CHECK(error_of(line + "Host: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") == 0);
}

TEST_CASE("a head over the limit is 431, a request line over it 414", "[http]") {
  const std::string line = "GET / HTTP/1.1\r\nHost: h\r\n";
  const std::string big = line + "X-Big: " + std::string(9000, 'x') + "\r\n\r\n";
  CHECK(error_of(big) == 431);
  // Refused once 8 KiB have come without the end of the head: no need to wait for it.
  CHECK(error_of(big.substr(0, 8192)) == 431);
  CHECK(error_of(big.substr(0, 8191)) == 0);  // still incomplete
  CHECK(error_of("GET /" + std::string(9000, 'a')) == 414);

  // Exactly at the limit is fine, one byte over is not.
  const std::string filler_name = "X-Fill: ";
  const std::size_t fill = 8192 - line.size() - filler_name.size() - 4;
  const std::string exact = line + filler_name + std::string(fill, 'f') + "\r\n\r\n";
  REQUIRE(exact.size() == 8192);
  http::request req;
  CHECK(parse_all(exact, req).status == http::parse_status::complete);
  const std::string over = line + filler_name + std::string(fill + 1, 'f') + "\r\n\r\n";
  CHECK(error_of(over) == 431);

  std::string many = line;
  for (int i = 0; i < 64; ++i)
    many += fmt::format("X-{}: v\r\n", i);
  CHECK(error_of(many + "\r\n") == 431);  // 65 fields
}

TEST_CASE("a body without Content-Length where one is needed is 411, a large one 413", "[http]") {
  for (const char* m : {"POST", "PUT", "PATCH"}) {
    INFO(m);
    CHECK(error_of(fmt::format("{} /x HTTP/1.1\r\nHost: h\r\n\r\n", m)) == 411);
    CHECK(error_of(fmt::format("{} /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", m)) == 0);
  }
  CHECK(error_of("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
  CHECK(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n") == 0);
  CHECK(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n") == 413);
  CHECK(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n") ==
        413);
  CHECK(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", {8192, 10}) == 413);
}

TEST_CASE("unknown methods and Transfer-Encoding are 501, HTTP/2 in a request line 505", "[http]") {
  CHECK(error_of("BREW /pot HTTP/1.1\r\n") == 501);
  CHECK(error_of("get / HTTP/1.1\r\n") == 501);  // method names are case-sensitive
  CHECK(error_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n") == 501);
  CHECK(error_of("GET / HTTP/2.0\r\n") == 505);
  for (const char* m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}) {
    INFO(m);
    CHECK(error_of(fmt::format("{} / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", m)) == 0);
  }
}

TEST_CASE("paths are percent-decoded and '..' segments are refused however they are spelled",
          "[http]") {
  std::string out;
  CHECK(http::decode_path("/a%20b/c%2Fd", out) == http::path_check::ok);
  CHECK(out == "/a b/c/d");
  CHECK(http::decode_path("/a..b/...", out) == http::path_check::ok);
  CHECK(http::decode_path("/./a", out) == http::path_check::ok);
  for (const char* bad : {"/../etc/passwd", "/a/%2e%2e/b", "/a/..%2f", "/a/%2E%2E", "/..",
                          "/a/../b", "/%2e%2e%2fetc", "/a/.%2e/"}) {
    INFO(bad);
    CHECK(http::decode_path(bad, out) == http::path_check::forbidden);
  }
  for (const char* bad : {"/%zz", "/%2", "/a%", "/%00", "/a%0d%0a", "%2fa", ""}) {
    INFO(bad);
    CHECK(http::decode_path(bad, out) == http::path_check::bad_request);
  }
}

TEST_CASE("HTTP/1.1 keeps the connection unless told to close, HTTP/1.0 only if told to keep",
          "[http]") {
  struct row {
    const char* version;
    const char* connection;
    bool keep;
  };
  for (const auto& [version, connection, keep] :
       {row{"1.1", "", true}, row{"1.1", "Connection: close\r\n", false},
        row{"1.1", "Connection: Keep-Alive\r\n", true},
        row{"1.1", "Connection: foo, CLOSE\r\n", false}, row{"1.0", "", false},
        row{"1.0", "Connection: keep-alive\r\n", true},
        row{"1.0", "Connection: keep-alive, close\r\n", false}}) {
    INFO(version << " " << connection);
    http::request req;
    REQUIRE(parse_all(fmt::format("GET / HTTP/{}\r\nHost: h\r\n{}\r\n", version, connection), req)
                .status == http::parse_status::complete);
    CHECK(req.keep_alive == keep);
  }
}

TEST_CASE("response helpers write a correct Date and Content-Length", "[http]") {
  const auto date = http::format_http_date(784111777);
  CHECK(std::string_view{date.data(), date.size()} == "Sun, 06 Nov 1994 08:49:37 GMT");
  std::string out;
  http::append_status_response(out, 404, "D", true, 0);
  CHECK(out ==
        "HTTP/1.1 404 Not Found\r\nServer: ringo\r\nDate: D\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Length: 14\r\nConnection: keep-alive\r\n\r\n404 Not Found\n");
  out.clear();
  http::append_status_response(out, 400, "D", false, 1, true);
  CHECK(out.find("Connection: close\r\n") != std::string::npos);
  CHECK(out.ends_with("\r\n\r\n"));
  CHECK(http::content_type_for("/x/a.HTML") == "text/html; charset=utf-8");
  CHECK(http::content_type_for("/x.d/readme") == "application/octet-stream");
}
