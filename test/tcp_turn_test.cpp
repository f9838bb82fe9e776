// Sockets let go of within one turn of the loop, while something else about them is still on
// its way: a send queued but not yet in the kernel, a task woken with a connection or bytes but
// not yet run. Nothing of the old socket may reach whoever gets its descriptor number next, and
// the woken task learns that the socket went (EBADF), not a wrong result.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo_test::connected_pair;

namespace {

// A blocking loopback connect: done at once, with the lowest free descriptor, and no trip
// through the loop.
int plain_connect(const endpoint& to) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_storage ss{};
  const socklen_t n = to.to_sockaddr(ss);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&ss), n) == 0);
  return fd;
}

enum class let_go { drop, close_unawaited };

}  // namespace

TEST_CASE("a send still queued when its stream is let go never reaches the next socket",
          "[tcp]") {
  for (const let_go how : {let_go::drop, let_go::close_unawaited}) {
    DYNAMIC_SECTION((how == let_go::drop ? "dropped" : "close() not awaited")) {
      ringo::run([how]() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto other = tcp_listener::bind(endpoint::loopback_v4(0));
        auto a = co_await connected_pair(l);
        const int old_fd = a.client.native_handle();
        auto writer = ringo::spawn([](tcp_stream& s) -> ringo::task<int> {
          try {
            co_await s.write_all(std::string_view{"SECRET-FOR-A"});
          } catch (const std::system_error& e) {
            co_return e.code().value();
          }
          co_return 0;
        }(a.client));
        co_await ringo::yield();  // the writer ran: its send is queued, not in the kernel yet
        if (how == let_go::drop) {
          a.client = tcp_stream{};
        } else {
          (void)a.client.close();
        }
        // Within the same turn, a socket made without the loop takes the lowest free number.
        const int reused = plain_connect(other.local_endpoint());
        INFO("old descriptor " << old_fd << ", new " << reused);
        auto victim = co_await other.accept();  // the loop turns: the kernel sees the queue
        const int err = co_await writer;
        CHECK((err == EBADF || err == 0));  // cut off, or sent on A before A was closed
        std::array<char, 64> buf{};
        const ssize_t n = ::recv(victim.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
        CHECK(n < 0);  // nothing arrived on the other connection (EAGAIN)
        ::close(reused);
      }());
    }
  }
}

TEST_CASE("an accept woken just before its listener closes throws EBADF", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto a = co_await connected_pair(l);
    std::optional<tcp_listener> listener{std::move(l)};
    const endpoint to = listener->local_endpoint();
    // Woken first in the loop turn, the closer closes the listener before the acceptor runs.
    auto closer = ringo::spawn(
        [](tcp_stream& s, std::optional<tcp_listener>& lst) -> ringo::task<void> {
          std::array<std::byte, 1> b{};
          co_await s.read_some(b);
          lst.reset();
        }(a.server, listener));
    auto acceptor = ringo::spawn([](tcp_listener& l) -> ringo::task<int> {
      try {
        auto s = co_await l.accept();
        // Accepted before the close (the one-shot path): a real connection, never descriptor
        // 0 or another stale number.
        CHECK(s.native_handle() > 2);
        CHECK(s.remote_endpoint().port() != 0);
        co_return 0;
      } catch (const std::system_error& e) {
        co_return e.code().value();
      }
    }(*listener));
    co_await ringo::sleep_for(10ms);  // both wait now
    REQUIRE(::send(a.client.native_handle(), "x", 1, 0) == 1);
    const int c = plain_connect(to);
    co_await closer;
    const int outcome = co_await acceptor;
    CHECK((outcome == EBADF || outcome == 0));
    ::close(c);
  }());
}

TEST_CASE("a read woken just before its stream goes throws EBADF, not end of stream",
          "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto a = co_await connected_pair(l);
    auto b = co_await connected_pair(l);
    std::optional<tcp_stream> victim{std::move(b.server)};
    auto closer = ringo::spawn(
        [](tcp_stream& s, std::optional<tcp_stream>& v) -> ringo::task<void> {
          std::array<std::byte, 1> buf{};
          co_await s.read_some(buf);
          v.reset();
        }(a.server, victim));
    auto reader = ringo::spawn([](tcp_stream& s) -> ringo::task<std::string> {
      std::array<std::byte, 16> buf{};
      try {
        const std::size_t n = co_await s.read_some(buf);
        co_return std::string(reinterpret_cast<const char*>(buf.data()), n);
      } catch (const std::system_error& e) {
        co_return e.code().value() == EBADF ? "EBADF" : e.what();
      }
    }(*victim));
    co_await ringo::sleep_for(10ms);
    REQUIRE(::send(a.client.native_handle(), "x", 1, 0) == 1);
    REQUIRE(::send(b.client.native_handle(), "DATA", 4, 0) == 4);
    co_await closer;
    const std::string got = co_await reader;
    // With provided buffers the bytes were queued on the stream and went with it; a one-shot
    // receive had them in the reader's own buffer already.
    CHECK((got == "EBADF" || got == "DATA"));
  }());
}

TEST_CASE("a lazy stream task made on the owner's thread refuses to run on another", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    const std::string_view text = "abc";
    const std::array<std::span<const std::byte>, 2> parts{std::as_bytes(std::span{text}),
                                                          std::as_bytes(std::span{text})};
    auto write = p.client.write_all(parts);
    std::array<std::byte, 3> buf{};
    auto read = p.server.read_exact(buf);
    std::string write_error;
    std::string read_error;
    std::thread([&] {
      auto attempt = [](ringo::task<void> t, std::string& error) {
        try {
          ringo::run(std::move(t));
        } catch (const std::logic_error& e) {
          error = e.what();
        }
      };
      attempt(std::move(write), write_error);
      attempt(std::move(read), read_error);
    }).join();
    CHECK(write_error.find("from a thread that does not run its io_context") != std::string::npos);
    CHECK(read_error.find("from a thread that does not run its io_context") != std::string::npos);
    // Nothing was sent or taken: the stream works on its own thread.
    co_await p.client.write_all(std::string_view{"ok!"});
    co_await p.server.read_exact(buf);
    CHECK(std::string_view{reinterpret_cast<const char*>(buf.data()), buf.size()} == "ok!");
  }());
}
