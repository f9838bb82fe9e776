// An I/O wait cancelled after what it waited for arrived, but before its task resumed, takes
// nothing: an accepted connection stays queued for the next accept, a signal pending for the
// next wait, and received bytes queued for the next read (from provided buffers, or given back
// by a one-shot receive that had them as it was cancelled); and an accept, a read or a signal
// wait cancelled before it ran takes nothing that is already there. The same for queues and
// semaphores: cancel_safety_test.cpp.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/file.hpp>
#include <ringo/io_context.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/signal_set.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>
#include <ringo/when_any.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;

namespace {

// A client socket connected by a plain connect(2), which returns once the kernel has queued
// the connection on the listener: no turn of the loop passes.
ringo::net::tcp_stream connect_now(const ringo::net::endpoint& to) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_storage addr{};
  const socklen_t len = to.to_sockaddr(addr);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0);
  return ringo::net::tcp_stream::adopt(fd, to);
}

}  // namespace

TEST_CASE("an accept cancelled once its connection arrived leaves it for the next accept",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    auto wake = co_await ringo_test::connected_pair(l);
    int cancelled_rounds = 0;
    for (int round = 0; round < 20; ++round) {
      bool resumed = false;
      auto a = ringo::spawn([](ringo::net::tcp_listener& l, bool& resumed) -> ringo::task<void> {
        auto s = co_await l.accept();
        resumed = true;
        co_await s.close();
      }(l, resumed));
      std::optional<ringo::join_handle<void>> canceller;
      if (round % 2 == 0) {
        // Cancelled once the connection woke it: the canceller wakes on a byte that arrives
        // just before the connection, so that in the turn both are reaped it runs first.
        canceller = ringo::spawn([](ringo::net::tcp_stream& s,
                                    ringo::join_handle<void>& a) -> ringo::task<void> {
          std::array<std::byte, 1> b{};
          (void)co_await s.read_some(b);
          a.cancel();
        }(wake.server, a));
      }
      for (int i = 0; i < 3; ++i)
        co_await ringo::yield();  // the accept (and the canceller) wait, in the kernel
      const char byte = 'w';
      if (canceller) REQUIRE(::send(wake.client.native_handle(), &byte, 1, 0) == 1);
      auto c = connect_now(l.local_endpoint());
      if (canceller) {
        co_await *canceller;
      } else {
        // Cancelled as the connection arrives: the listener's accept (one per arming on epoll,
        // or on io_uring without multishot accept) may complete with it before the cancel.
        a.cancel();
      }
      bool cancelled = false;
      try {
        co_await a;
      } catch (const ringo::operation_cancelled&) {
        cancelled = true;
      }
      if (!cancelled) {  // the accept resumed first this round: nothing was raced
        CHECK(resumed);
        co_await c.close();
        continue;
      }
      ++cancelled_rounds;
      CHECK_FALSE(resumed);
      // The connection is still the listener's: the next accept gets this very client.
      auto s = co_await l.accept(2s);
      co_await s.write_all("same one");
      std::array<std::byte, 8> got{};
      co_await c.read_exact(got);
      CHECK(std::string(reinterpret_cast<const char*>(got.data()), got.size()) == "same one");
      co_await s.close();
      co_await c.close();
    }
    CHECK(cancelled_rounds > 0);
  }());
}

TEST_CASE("a signal wait that loses a when_any race as its signal arrives leaves the signal",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    auto wake = co_await ringo_test::connected_pair(l);
    ringo::signal_set signals{SIGUSR1};
    auto woken = [](ringo::net::tcp_stream& s) -> ringo::task<int> {
      std::array<std::byte, 1> b{};
      (void)co_await s.read_some(b);
      co_return 0;
    };
    int raced = 0;
    for (int round = 0; round < 5; ++round) {
      auto race = ringo::spawn(ringo::when_any(woken(wake.server), signals.wait()));
      for (int i = 0; i < 4; ++i)
        co_await ringo::yield();  // both racers wait, their requests in the kernel
      // The byte first, then the signal: in the turn both are reaped the reader runs first,
      // wins, and cancels the signal's wait after its descriptor turned readable.
      const char byte = 'w';
      REQUIRE(::send(wake.client.native_handle(), &byte, 1, 0) == 1);
      REQUIRE(::raise(SIGUSR1) == 0);
      const auto winner = co_await race;
      if (winner.index() == 1) continue;  // the signal's wait resumed first: it won
      ++raced;
      // The signal is still there for the next wait.
      const int sig = co_await ringo::with_timeout(2s, signals.wait());
      CHECK(sig == SIGUSR1);
    }
    CHECK(raced > 0);
  }());
}

TEST_CASE("a read from provided buffers that loses a when_any race as its bytes arrive leaves them",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    if (!ringo::io_context::current()->features().provided_buffers) {
      // One-shot receives (without provided buffers, on either backend): the test after the
      // next checks those.
      WARN("no provided buffers on this context: nothing to check");
      co_return;
    }
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    auto wake = co_await ringo_test::connected_pair(l);
    auto data = co_await ringo_test::connected_pair(l);
    auto first_byte = [](ringo::net::tcp_stream& s) -> ringo::task<int> {
      std::array<std::byte, 1> b{};
      (void)co_await s.read_some(b);
      co_return static_cast<int>(b[0]);
    };
    int raced = 0;
    for (int round = 0; round < 5; ++round) {
      auto race = ringo::spawn(ringo::when_any(first_byte(wake.server), first_byte(data.server)));
      for (int i = 0; i < 4; ++i)
        co_await ringo::yield();  // both read, their receives armed
      const char w = 'w';
      const char d = static_cast<char>('a' + round);
      REQUIRE(::send(wake.client.native_handle(), &w, 1, 0) == 1);
      REQUIRE(::send(data.client.native_handle(), &d, 1, 0) == 1);
      const auto winner = co_await race;
      std::array<std::byte, 1> b{};
      if (winner.index() == 1) {  // the data's reader resumed first and won
        CHECK(std::get<1>(winner) == d);
      } else {
        ++raced;
        // The byte the losing reader was woken for is the next read's.
        co_await data.server.read_exact(b, 2s);
        CHECK(static_cast<char>(b[0]) == d);
      }
    }
    CHECK(raced > 0);
  }());
}

TEST_CASE("a task with a cancellation due takes no pending signal when it starts to wait",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::signal_set signals{SIGUSR2};
    REQUIRE(::raise(SIGUSR2) == 0);  // pending before anyone waits
    auto t = ringo::spawn([](ringo::signal_set& s) -> ringo::task<int> {
      co_return co_await s.wait();
    }(signals));
    t.cancel();  // before it first runs: due at its first wait
    bool cancelled = false;
    try {
      (void)co_await t;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    const int sig = co_await ringo::with_timeout(2s, signals.wait());
    CHECK(sig == SIGUSR2);
  }());
}

TEST_CASE("an accept and a read cancelled before they ran take nothing that is already there",
          "[cancel_safety]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    auto pair = co_await ringo_test::connected_pair(l);
    auto now = []() -> ringo::task<int> { co_return 0; };
    auto accepted = [](ringo::net::tcp_listener& l) -> ringo::task<int> {
      auto s = co_await l.accept();
      co_return 1;
    };
    auto first_byte = [](ringo::net::tcp_stream& s) -> ringo::task<int> {
      std::array<std::byte, 1> b{};
      (void)co_await s.read_some(b);
      co_return static_cast<int>(b[0]);
    };
    // A connection waiting to be accepted, and a byte waiting to be read.
    auto c = connect_now(l.local_endpoint());
    const char byte = 'b';
    REQUIRE(::send(pair.client.native_handle(), &byte, 1, 0) == 1);
    co_await ringo::sleep_for(10ms);
    const auto a = co_await ringo::when_any(now(), accepted(l));
    CHECK(a.index() == 0);
    const auto r = co_await ringo::when_any(now(), first_byte(pair.server));
    CHECK(r.index() == 0);
    // Both are still there for the next accept and read.
    auto s = co_await l.accept(2s);
    co_await s.write_all("same one");
    std::array<std::byte, 8> got{};
    co_await c.read_exact(got, 2s);
    CHECK(std::string(reinterpret_cast<const char*>(got.data()), got.size()) == "same one");
    std::array<std::byte, 1> b{};
    co_await pair.server.read_exact(b, 2s);
    CHECK(static_cast<char>(b[0]) == byte);
  }());
}

TEST_CASE("a one-shot read that loses a race as its bytes come gives them to the next read",
          "[cancel_safety]") {
  // Without lent buffers every read is a one-shot receive, into the stream's own buffer
  // (receive) or the reader's (read_some). Bytes that are already in the socket complete it
  // as it is submitted, so the racer that wins at once cancels a receive that has its bytes.
  ringo::io_context_options options;
  options.disabled_features = static_cast<unsigned>(ringo::kernel_feature::provided_buffers);
  ringo::run(
      []() -> ringo::task<void> {
        auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
        auto p = co_await ringo_test::connected_pair(l);
        auto now = []() -> ringo::task<int> { co_return 0; };
        auto received = [](ringo::net::tcp_stream& s) -> ringo::task<std::string> {
          auto b = co_await s.receive();
          co_return std::string{b.text()};
        };
        auto read_some = [](ringo::net::tcp_stream& s) -> ringo::task<std::string> {
          std::array<char, 64> buf{};
          const std::size_t n = co_await s.read_some(std::as_writable_bytes(std::span{buf}));
          co_return std::string(buf.data(), n);
        };
        std::string want;
        std::string got;
        for (int round = 0; round < 10; ++round) {
          const std::string msg = fmt::format("<{}>", round);
          want += msg;
          REQUIRE(::send(p.client.native_handle(), msg.data(), msg.size(), 0) ==
                  static_cast<ssize_t>(msg.size()));
          co_await ringo::sleep_for(1ms);  // in the server's socket
          std::variant<std::string, int> r;
          if (round % 2 == 0) {
            r = co_await ringo::when_any(received(p.server), now());
          } else {
            r = co_await ringo::when_any(read_some(p.server), now());
          }
          if (r.index() == 0) got += std::get<0>(r);  // the read won after all
          // What the loser was handed is the next read's.
          while (got.size() < want.size()) {
            std::array<char, 64> buf{};
            got.append(buf.data(),
                       co_await p.server.read_some(std::as_writable_bytes(std::span{buf}), 2s));
          }
        }
        CHECK(got == want);
      }(),
      options);
}

TEST_CASE("a pipe read that loses a race as its bytes come gives them to the next read",
          "[cancel_safety]") {
  // On io_uring the read of a pipe with bytes in it completes as it is submitted, so the racer
  // that wins at once cancels a read that has its bytes.
  ringo::run([]() -> ringo::task<void> {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    auto in = ringo::file::adopt(fds[0], "pipe");
    auto now = []() -> ringo::task<int> { co_return 0; };
    auto read_some = [](ringo::file& f) -> ringo::task<std::string> {
      std::array<char, 64> buf{};
      const std::size_t n = co_await f.read_some(std::as_writable_bytes(std::span{buf}));
      co_return std::string(buf.data(), n);
    };
    std::string want;
    std::string got;
    for (int round = 0; round < 10; ++round) {
      const std::string msg = fmt::format("<{}>", round);
      want += msg;
      REQUIRE(::write(fds[1], msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
      auto r = co_await ringo::when_any(read_some(in), now());
      if (r.index() == 0) got += std::get<0>(r);  // the read won after all
      // What the loser was handed is the next read's.
      while (got.size() < want.size())
        got += co_await ringo::with_timeout(2s, read_some(in));
    }
    CHECK(got == want);
    ::close(fds[1]);
  }());
}
