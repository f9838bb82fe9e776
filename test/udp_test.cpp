#include <ringo/net/udp_socket.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <chrono>
#include <string>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::udp_socket;

TEST_CASE("a datagram makes a round trip between two udp sockets", "[udp]") {
  ringo::run([]() -> ringo::task<void> {
    auto a = udp_socket::bind(endpoint::loopback_v4(0));
    auto b = udp_socket::bind(endpoint::loopback_v4(0));
    CHECK(a.local_endpoint().port() != 0);
    const std::string ping = "ping";
    const auto sent =
        co_await a.send_to(std::as_bytes(std::span{ping.data(), ping.size()}), b.local_endpoint());
    CHECK(sent == 4);
    std::array<std::byte, 64> buf{};
    const auto d = co_await b.receive_from(buf, 5s);
    CHECK(d.size == 4);
    CHECK(d.from == a.local_endpoint());
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), d.size) == "ping");
    (void)co_await b.send_to(std::span{buf}.first(d.size), d.from);
    const auto back = co_await a.receive_from(buf);
    CHECK(back.from == b.local_endpoint());
    CHECK(back.size == 4);
  }());
}

TEST_CASE("a udp receive deadline throws timed_out naming the socket", "[udp]") {
  ringo::run([]() -> ringo::task<void> {
    auto a = udp_socket::bind(endpoint::loopback_v4(0));
    std::array<std::byte, 8> buf{};
    try {
      (void)co_await a.receive_from(buf, 20ms);
      FAIL("received");
    } catch (const ringo::timed_out& e) {
      CHECK(std::string{e.what()}.starts_with(fmt::format("recvmsg on {}", a.local_endpoint())));
    }
  }());
}

TEST_CASE("spawn takes a udp receive and send as tasks of their own", "[udp]") {
  // The awaiters move into their tasks before they start: the message they build points into
  // the moved awaiter, not the one the call returned.
  ringo::run([]() -> ringo::task<void> {
    auto a = udp_socket::bind(endpoint::loopback_v4(0));
    auto b = udp_socket::bind(endpoint::loopback_v4(0));
    std::array<std::byte, 16> buf{};
    auto got = ringo::spawn(b.receive_from(buf, 5s));
    const std::string ping = "spawned";
    auto sent = ringo::spawn(
        a.send_to(std::as_bytes(std::span{ping.data(), ping.size()}), b.local_endpoint()));
    const std::size_t n = co_await sent;
    CHECK(n == ping.size());
    const auto d = co_await got;
    CHECK(d.size == ping.size());
    CHECK(d.from == a.local_endpoint());
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), d.size) == ping);
  }());
}
