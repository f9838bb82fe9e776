// Connecting a TCP stream by host name: localhost and a numeric host connect, each address
// the name resolves to is tried in turn until one connects, and a failure names the host and
// the last address tried (or the resolver's error).
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

#include "byte_text.hpp"
#include "catch.hpp"
#include "tcp_pair.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo_test::accept_one;
using ringo_test::text_of;

namespace {

// A loopback port that refuses connections: bound, never listened on, so no one else takes it
// while the socket lives.
struct refusing_port {
  refusing_port() : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd >= 0);
    sockaddr_storage ss{};
    const socklen_t len = endpoint::loopback_v4(0).to_sockaddr(ss);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0);
    socklen_t n = sizeof ss;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0);
    at = endpoint::from_sockaddr(ss);
  }
  refusing_port(const refusing_port&) = delete;
  refusing_port& operator=(const refusing_port&) = delete;
  ~refusing_port() { ::close(fd); }
  int fd;
  endpoint at;
};

}  // namespace

TEST_CASE("connect by name resolves localhost and connects to the listener", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    const std::uint16_t port = l.local_endpoint().port();
    auto accepting = ringo::spawn(accept_one(l));
    auto s = co_await tcp_stream::connect("localhost", port);
    auto server = co_await accepting;
    CHECK(s.remote_endpoint() == l.local_endpoint());
    co_await s.write_all("by name");
    std::array<std::byte, 16> buf{};
    const std::size_t n = co_await server.read_some(buf);
    CHECK(text_of(std::span{buf}.first(n)) == "by name");
    // A numeric host takes the same path without a lookup.
    auto accepting2 = ringo::spawn(accept_one(l));
    auto s2 = co_await tcp_stream::connect("127.0.0.1", port);
    auto server2 = co_await accepting2;
    CHECK(s2.remote_endpoint() == l.local_endpoint());
  }());
}

TEST_CASE("connect by name tries the next address when one refuses", "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    refusing_port refusing;
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto accepting = ringo::spawn(accept_one(l));
    std::vector<endpoint> candidates;
    candidates.push_back(refusing.at);
    candidates.push_back(l.local_endpoint());
    auto s = co_await ringo::detail::connect_in_turn(std::move(candidates), "two.example", {},
                                                     std::source_location::current());
    auto server = co_await accepting;
    CHECK(s.remote_endpoint() == l.local_endpoint());
    CHECK(server.is_open());
  }());
}

TEST_CASE("connect by name reports the last address's error, naming host and address",
          "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    refusing_port first;
    refusing_port second;
    std::string what;
    std::error_code code;
    try {
      std::vector<endpoint> candidates;
      candidates.push_back(first.at);
      candidates.push_back(second.at);
      (void)co_await ringo::detail::connect_in_turn(std::move(candidates), "two.example", {},
                                                    std::source_location::current());
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::connection_refused);
    CHECK(what == fmt::format("connect to two.example ({}): Connection refused", second.at));

    // Through the resolver: localhost's last address refuses too.
    const auto addresses = co_await ringo::net::resolve("localhost", first.at.port());
    try {
      (void)co_await tcp_stream::connect("localhost", first.at.port());
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::connection_refused);
    CHECK(what.starts_with(fmt::format("connect to localhost ({}): ", addresses.back())));

    // A name that does not resolve fails in the resolver, naming it.
    try {
      (void)co_await tcp_stream::connect("no-such-host.invalid", 80);
    } catch (const std::system_error& e) {
      what = e.what();
    }
    CHECK(what.starts_with("resolve no-such-host.invalid: "));

    bool empty_refused = false;
    try {
      (void)co_await ringo::detail::connect_in_turn(std::vector<endpoint>{}, "none.example", {},
                                                    std::source_location::current());
    } catch (const std::system_error& e) {
      empty_refused = std::string_view{e.what()}.starts_with("connect to none.example: ");
    }
    CHECK(empty_refused);
  }());
}
