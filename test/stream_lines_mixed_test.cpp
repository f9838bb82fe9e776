// Line reads on TCP and Unix streams among the stream's other reads (read_some, read_exact,
// receive, receive_some, read_until), and line reads cut short by a deadline or a
// cancellation, which keep what they gathered for the next read. Each case runs on a
// tcp_stream and on a unix_stream.
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <ringo/error.hpp>
#include <ringo/event.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/when_any.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"
#include "stream_kinds.hpp"

using namespace std::chrono_literals;
using ringo_test::tcp_kind;
using ringo_test::unix_kind;

namespace {

std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A racer that wins at once.
ringo::task<int> at_once() {
  co_return 1;
}

// A racer that wins when `e` is set.
ringo::task<int> when_set(ringo::event& e) {
  co_await e.wait();
  co_return 2;
}

}  // namespace

TEMPLATE_TEST_CASE("read_line mixes with read_some, read_exact, receive and receive_some",
                   "[lines]", tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    // 300 lines of 1 to 90 bytes, some ending in CRLF, sent in uneven pieces.
    std::string sent;
    for (int i = 0; i < 300; ++i) {
      sent += std::string(static_cast<std::size_t>(i * 37 % 90), static_cast<char>('a' + i % 26));
      sent += i % 7 == 0 ? "\r\n" : "\n";
    }
    sent += "no newline at the end";
    auto writer = ringo::spawn([](auto& s, const std::string& data) -> ringo::task<void> {
      for (std::size_t at = 0, i = 0; at < data.size(); ++i) {
        const std::size_t n = std::min(data.size() - at, 1 + i * 131 % 1500);
        co_await s.write_all(std::string_view(data).substr(at, n), 5s);
        at += n;
        if (i % 5 == 0) co_await ringo::yield();
      }
      s.shutdown();
    }(p.client, sent));
    std::string got;
    for (int step = 0;; ++step) {
      std::string piece;
      switch (step % 6) {
        case 0:
        case 3:
          piece = co_await p.server.read_line(65536, 5s);
          CHECK(
              (piece.empty() || piece.back() == '\n' || got.size() + piece.size() == sent.size()));
          break;
        case 1: {
          std::array<char, 7> buf{};
          piece.assign(buf.data(), co_await p.server.read_some(buf, 5s));
          break;
        }
        case 2: {
          auto b = co_await p.server.receive(5s);
          piece = text_of(b.bytes());
          break;
        }
        case 4: {
          auto bufs = co_await p.server.receive_some(5s);
          for (std::size_t i = 0; i < bufs.size(); ++i)
            piece += text_of(bufs[i]);
          break;
        }
        case 5: {
          bool ended = false;
          try {
            piece = co_await p.server.read_until("\r\n", 65536, 5s);
          } catch (const std::system_error& e) {
            CHECK(e.code() == std::error_code(ENODATA, std::system_category()));
            ended = true;
          }
          if (ended) {  // the bytes it did not take are still there
            std::string tail(sent.size() - got.size(), '\0');
            co_await p.server.read_exact(tail, 5s);
            piece = tail;
          }
          break;
        }
      }
      if (piece.empty() && got.size() == sent.size()) break;
      got += piece;
      REQUIRE(got.size() <= sent.size());
    }
    co_await writer;
    CHECK(got == sent);
  }());
}

TEMPLATE_TEST_CASE("a read_line that times out keeps what it gathered", "[lines]", tcp_kind,
                   unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    co_await p.client.write_all("half a ");
    bool timed_out = false;
    try {
      (void)co_await p.server.read_line(65536, 20ms);
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await p.client.write_all("line\n");
    const auto got9 = co_await p.server.read_line(65536, 5s);
    CHECK(got9 == "half a line\n");
  }());
}

TEMPLATE_TEST_CASE("a cancelled read_line keeps what it gathered", "[lines]", tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    co_await p.client.write_all("first\nsecond\nthi");
    const auto got10 = co_await p.server.read_line(65536, 5s);
    CHECK(got10 == "first\n");
    // Cancelled before it first ran (the other racer wins at once): it takes nothing.
    auto r1 = co_await ringo::when_any(at_once(), p.server.read_line(65536, 5s));
    CHECK(r1.index() == 0);
    const auto got11 = co_await p.server.read_line(65536, 5s);
    CHECK(got11 == "second\n");
    // Cancelled while it waits for the rest of "thi...".
    ringo::event go;
    auto race = ringo::spawn(ringo::when_any(when_set(go), p.server.read_line(65536, 5s)));
    co_await ringo::sleep_for(10ms);  // (the bytes have arrived, and the read waits for more)
    go.set();
    auto r2 = co_await race;
    CHECK(r2.index() == 0);
    // Under with_timeout.
    bool timed_out = false;
    try {
      (void)co_await ringo::with_timeout(10ms, p.server.read_line(65536));
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await p.client.write_all("rd\nfourth\n");
    const auto got12 = co_await p.server.read_line(65536, 5s);
    CHECK(got12 == "third\n");
    const auto got13 = co_await p.server.read_line(65536, 5s);
    CHECK(got13 == "fourth\n");
  }());
}
