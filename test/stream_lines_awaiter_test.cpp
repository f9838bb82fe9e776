// What read_line and read_until of TCP and Unix streams return: an awaiter that takes a line
// already received without a coroutine of its own, and waits through a task otherwise. It is
// used as the task it replaced was: awaited at once or later, moved, raced, joined, converted to
// that task; and the lines come whole and in order whichever way each one is found (in the
// front receive buffer, across buffers, in the unread area, at the limit).
#include <ringo/detail/delimited_read_awaiter.hpp>
// (its own header first: proves it stands alone)
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>
#include <ringo/when_all.hpp>
#include <ringo/when_any.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"
#include "tcp_pair.hpp"
#include "unix_pair.hpp"

using namespace std::chrono_literals;

namespace {

struct tcp_kind {
  static ringo::task<ringo_test::pair_of_streams> connect() {
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    co_return co_await ringo_test::connected_pair(l);
  }
};

struct unix_kind {
  static ringo::task<ringo_test::unix_pair> connect() {
    static int made = 0;
    auto l = ringo::net::unix_listener::bind(
        ringo_test::abstract_name(fmt::format("lines-awaiter-{}", ++made)));
    co_return co_await ringo_test::connected_pair(l);
  }
};

ringo::task<int> at_once() {
  co_return 1;
}

// Line i of the stream that the order test sends: its number and up to 199 more bytes.
std::string numbered_line(std::size_t i) {
  return fmt::format("{}:{}\n", i, std::string(i * 7 % 200, static_cast<char>('a' + i % 26)));
}

}  // namespace

static_assert(std::is_same_v<decltype(std::declval<ringo::net::tcp_stream&>().read_line()),
                             ringo::detail::delimited_read_awaiter>);
static_assert(
    std::is_convertible_v<ringo::detail::delimited_read_awaiter, ringo::task<std::string>>);

TEMPLATE_TEST_CASE("a line read is stored, moved, raced, joined and converted as its task was",
                   "[lines]", tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    // Made before the bytes come, awaited after: nothing is read until then.
    auto first = p.server.read_line(64, 5s);
    co_await p.client.write_all("one\ntwo;three\nfour\nfive\nsix\n");
    auto moved = std::move(first);
    const std::string one = co_await moved;
    CHECK(one == "one\n");
    int refused = 0;
    try {
      (void)co_await moved;
    } catch (const std::logic_error&) {
      ++refused;
    }
    try {
      (void)co_await first;  // moved from
    } catch (const std::logic_error&) {
      ++refused;
    }
    CHECK(refused == 2);
    // A one-byte delimiter of read_until.
    const std::string two = co_await p.server.read_until(";", 64, 5s);
    CHECK(two == "two;");
    // Converted to the task it was.
    ringo::task<std::string> three_task = p.server.read_line(64, 5s);
    const std::string three = co_await three_task;
    CHECK(three == "three\n");
    // Under when_all, with_timeout and when_any.
    auto [four, n] = co_await ringo::when_all(p.server.read_line(64), at_once());
    CHECK(four == "four\n");
    CHECK(n == 1);
    const std::string five = co_await ringo::with_timeout(5s, p.server.read_line(64));
    CHECK(five == "five\n");
    auto six = co_await ringo::when_any(p.server.read_until("\n", 64, 5s));
    CHECK(std::get<0>(six) == "six\n");
    // Spawned as a task of its own, which owns it.
    auto seven = ringo::spawn(p.server.read_line(64, 5s));
    co_await p.client.write_all("seven\n");
    const std::string got_seven = co_await seven;
    CHECK(got_seven == "seven\n");
  }());
}

TEMPLATE_TEST_CASE("lines that straddle the receive buffers come whole and in order", "[lines]",
                   tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    constexpr std::size_t lines = 20'000;  // about 2.5 MB: many receive buffers
    std::size_t longest = 0;
    std::string sent;
    for (std::size_t i = 0; i < lines; ++i) {
      sent += numbered_line(i);
      longest = std::max(longest, numbered_line(i).size());
    }
    auto writer = ringo::spawn([](auto& s, const std::string& data) -> ringo::task<void> {
      for (std::size_t at = 0; at < data.size(); at += 65536)
        co_await s.write_all(std::string_view(data).substr(at, 65536), 5s);
      s.shutdown();
    }(p.client, sent));
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < lines; ++i) {
      // The limit is the longest line's size: a line as long as the limit is read whole.
      std::string line;
      if (i % 3 == 0) {
        line = co_await p.server.read_until("\n", longest, 5s);
      } else {
        line = co_await p.server.read_line(longest, 5s);
      }
      if (line != numbered_line(i)) ++wrong;
    }
    CHECK(wrong == 0);
    const std::string end = co_await p.server.read_line(longest, 5s);
    CHECK(end.empty());
    co_await writer;
  }());
}

TEMPLATE_TEST_CASE("a received line one byte longer than the limit stays whole in the stream",
                   "[lines]", tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    co_await p.client.write_all("abcdefg\nabcdefgh\n");
    const std::string fits = co_await p.server.read_line(8, 5s);
    CHECK(fits == "abcdefg\n");
    bool too_long = false;
    try {
      (void)co_await p.server.read_line(8, 5s);
    } catch (const std::length_error&) {
      too_long = true;
    }
    CHECK(too_long);
    const std::string whole = co_await p.server.read_line(9, 5s);
    CHECK(whole == "abcdefgh\n");
  }());
}

TEMPLATE_TEST_CASE("a line read made before its stream is closed fails with EBADF when awaited",
                   "[lines]", tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    co_await p.client.write_all("no end");
    auto pending = p.server.read_line(64, 5s);
    auto dropped = p.server.read_until("\r\n");  // never awaited: lets the state go
    co_await p.server.close();
    std::error_code code;
    try {
      (void)co_await pending;
    } catch (const std::system_error& e) {
      code = e.code();
    }
    CHECK(code == std::error_code(EBADF, std::system_category()));
  }());
}

TEMPLATE_TEST_CASE("read_line of an empty stream, or off its context's thread, is a logic_error",
                   "[lines]", tcp_kind, unix_kind) {
  ringo::run([]() -> ringo::task<void> {
    auto p = co_await TestType::connect();
    std::string off_thread;
    std::thread([&p, &off_thread] {
      try {
        (void)p.server.read_line();
      } catch (const std::logic_error& e) {
        off_thread = e.what();
      }
    }).join();
    CHECK(off_thread.find("read_line on the stream connected to") != std::string::npos);
    auto moved = std::move(p.server);
    std::string empty;
    try {
      (void)p.server.read_line();
    } catch (const std::logic_error& e) {
      empty = e.what();
    }
    CHECK(empty.find("read_line on an empty stream") == 0);
  }());
}
