// Lines and delimiters on TCP and Unix streams (read_line, read_until), and the buffers that
// reads and writes take (std::string, std::array, char[], std::vector<unsigned char>). Each
// case runs on a tcp_stream and on a unix_stream. Line reads mixed with the other reads, and
// line reads cut short, are in stream_lines_mixed_test.cpp.
#include <ringo/net/stream_socket.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <stdexcept>
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

#include "catch.hpp"
#include "stream_kinds.hpp"

using namespace std::chrono_literals;
using ringo::net::tcp_stream;
using ringo::net::unix_stream;
using ringo_test::tcp_kind;
using ringo_test::unix_kind;

namespace {

template <class S, class B>
concept reads_into = requires(S& s, B&& b) {
  s.read_some(std::forward<B>(b));
};
template <class S, class B>
concept writes_from = requires(S& s, B&& b) {
  s.write_all(std::forward<B>(b));
};

// Reads take writable byte ranges only; writes take any byte range.
static_assert(reads_into<tcp_stream, std::string&>);
static_assert(reads_into<tcp_stream, std::array<unsigned char, 4>&>);
static_assert(reads_into<tcp_stream, char (&)[4]>);
static_assert(reads_into<tcp_stream, std::span<char>>);
static_assert(!reads_into<tcp_stream, const std::string&>);
static_assert(!reads_into<tcp_stream, std::string_view>);
static_assert(!reads_into<tcp_stream, std::vector<int>&>);
static_assert(writes_from<unix_stream, const std::vector<unsigned char>&>);
static_assert(writes_from<unix_stream, const char (&)[3]>);
static_assert(!writes_from<unix_stream, std::vector<int>&>);

// Answers each line with its length, until the client is done (the guide's example).
ringo::task<void> answer_lines(tcp_stream s) {
  for (;;) {
    const std::string line = co_await s.read_line(1024, 30s);  // with its "\n"
    if (line.empty()) break;                                   // the client is done
    co_await s.write_all(fmt::format("{}\n", line.size()));
  }
}

}  // namespace

TEST_CASE("a line server answers each line, until the client is done", "[lines]") {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await tcp_kind::connect();
    {
      // (The frame, and the server's stream in it, goes with the handle.)
      auto server = ringo::spawn(answer_lines(std::move(p.server)));
      co_await p.client.write_all("hello\nworld!\n");
      const std::string a = co_await p.client.read_line(64, 5s);
      const std::string b = co_await p.client.read_line(64, 5s);
      CHECK(a == "6\n");
      CHECK(b == "7\n");
      p.client.shutdown();
      co_await server;
    }
    const std::string end = co_await p.client.read_line(64, 5s);
    CHECK(end.empty());
  }());
}

TEMPLATE_TEST_CASE("read_line returns each line with its \\n, the tail at the end, then \"\"",
                   "[lines]", tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    co_await p.client.write_all("one\ntwo\n\nthree");
    p.client.shutdown();
    std::vector<std::string> lines;
    for (int i = 0; i < 5; ++i)
      lines.push_back(co_await p.server.read_line(65536, 5s));
    CHECK(lines == std::vector<std::string>{"one\n", "two\n", "\n", "three", ""});
  }());
}

TEMPLATE_TEST_CASE("read_until ends at a CRLF delimiter, also when it is split across sends",
                   "[lines]", tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    co_await p.client.write_all("Host: a\r\nAccept: */*\r");
    const auto got1 = co_await p.server.read_until("\r\n", 65536, 5s);
    CHECK(got1 == "Host: a\r\n");
    // "Accept: */*\r" is there and ends in half the delimiter: the read waits for the rest.
    bool timed_out = false;
    try {
      (void)co_await p.server.read_until("\r\n", 65536, 20ms);
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await p.client.write_all("\n\r");
    co_await p.client.write_all("\nbody");
    const auto got2 = co_await p.server.read_until("\r\n", 65536, 5s);
    CHECK(got2 == "Accept: */*\r\n");
    const auto got3 = co_await p.server.read_until("\r\n", 65536, 5s);
    CHECK(got3 == "\r\n");
    // A three-byte delimiter in three sends.
    co_await p.client.write_all("--");
    co_await ringo::sleep_for(5ms);  // (only to make separate receives likely)
    co_await p.client.write_all("-");
    co_await ringo::sleep_for(5ms);
    co_await p.client.write_all("=tail");
    const auto got4 = co_await p.server.read_until("---=", 65536, 5s);
    CHECK(got4 == "body---=");
    p.client.shutdown();
    std::string rest(16, '\0');
    const std::size_t n = co_await p.server.read_some(rest, 5s);
    CHECK(rest.substr(0, n) == "tail");
  }());
}

TEMPLATE_TEST_CASE("read_until at end of stream throws ENODATA and leaves the bytes", "[lines]",
                   tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    co_await p.client.write_all("twelve bytes");
    p.client.shutdown();
    std::error_code code;
    std::string what;
    try {
      (void)co_await p.server.read_until("\r\n", 65536, 5s);
    } catch (const std::system_error& e) {
      code = e.code();
      what = e.what();
    }
    CHECK(code == std::error_code(ENODATA, std::system_category()));
    // std::system_error adds the code's own words, as for read_exact.
    CHECK(what == fmt::format("recv on {}: end of stream after 12 bytes, before the delimiter: {}",
                              p.server_peer, std::system_category().message(ENODATA)));
    std::array<char, 32> buf{};
    const std::size_t n = co_await p.server.read_some(buf, 5s);
    CHECK(std::string_view(buf.data(), n) == "twelve bytes");
    const auto got5 = co_await p.server.read_some(buf, 5s);
    CHECK(got5 == 0);
    const auto got6 = co_await p.server.read_line(65536, 5s);
    CHECK(got6 == "");
  }());
}

TEMPLATE_TEST_CASE("a line longer than the limit is a length_error, and its bytes stay", "[lines]",
                   tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    co_await p.client.write_all("0123456789abcdef\nnext\n");
    std::string what;
    try {
      (void)co_await p.server.read_line(8, 5s);
    } catch (const std::length_error& e) {
      what = e.what();
    }
    CHECK(what == fmt::format("recv on {}: no delimiter in the first 8 bytes (the limit); they "
                              "stay in the stream for the next read",
                              p.server_peer));
    std::array<char, 8> head{};
    co_await p.server.read_exact(head, 5s);
    CHECK(std::string_view(head.data(), head.size()) == "01234567");
    char two[2];
    co_await p.server.read_exact(two, 5s);
    CHECK(std::string_view(two, 2) == "89");
    // A line that fits exactly, its delimiter included.
    const auto got7 = co_await p.server.read_line(7, 5s);
    CHECK(got7 == "abcdef\n");
    const auto got8 = co_await p.server.read_line(5, 5s);
    CHECK(got8 == "next\n");
    bool invalid = false;
    try {
      (void)co_await p.server.read_until("", 10);
    } catch (const std::invalid_argument&) {
      invalid = true;
    }
    CHECK(invalid);
  }());
}

TEMPLATE_TEST_CASE("reads and writes take std::string, std::array, char[] and vectors", "[lines]",
                   tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    const std::string text = "text;";
    const std::vector<unsigned char> bytes{'b', 'y', 't', 'e', 's', ';'};
    const std::array<char, 3> arr{'a', 'r', ';'};
    char raw[4] = {'r', 'a', 'w', ';'};
    co_await p.client.write_all(text);
    co_await p.client.write_all(bytes);
    co_await p.client.write_all(arr);
    co_await p.client.write_all(raw);     // the whole array: it is not a string literal
    co_await p.client.write_all("lit;");  // a literal: without its '\0'
    co_await p.client.write_all(std::span<const char>(text).first(2));
    p.client.shutdown();

    std::string s(5, '\0');
    co_await p.server.read_exact(s, 5s);
    CHECK(s == "text;");
    std::vector<unsigned char> v(6);
    co_await p.server.read_exact(v, 5s);
    CHECK(v == bytes);
    std::array<char, 3> a{};
    co_await p.server.read_exact(a, 5s);
    CHECK(a == arr);
    char r[4];
    co_await p.server.read_exact(r, 5s);
    CHECK(std::string_view(r, 4) == "raw;");
    std::string rest(100, '\0');  // up to 100 bytes
    std::size_t n = 0;
    for (std::size_t got = 0;
         (got = co_await p.server.read_some(std::span<char>(rest).subspan(n), 5s)) != 0;) {
      n += got;
    }
    CHECK(rest.substr(0, n) == "lit;te");
  }());
}
