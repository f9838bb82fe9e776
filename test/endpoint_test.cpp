#include <ringo/net/endpoint.hpp>
// (its own header first: proves it stands alone)
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "catch.hpp"

using ringo::net::endpoint;

TEST_CASE("endpoint parses IPv4 and bracketed IPv6 text and prints it back", "[endpoint]") {
  const auto a = endpoint::parse("127.0.0.1:9090");
  CHECK_FALSE(a.is_v6());
  CHECK(a.port() == 9090);
  CHECK(a.address() == "127.0.0.1");
  CHECK(fmt::format("{}", a) == "127.0.0.1:9090");

  const auto b = endpoint::parse("[::1]:80");
  CHECK(b.is_v6());
  CHECK(b.port() == 80);
  CHECK(fmt::format("{}", b) == "[::1]:80");
  CHECK(b.to_string() == "[::1]:80");

  CHECK(endpoint::parse("0.0.0.0:0").port() == 0);
  CHECK(endpoint::parse("[2001:db8::1]:65535").port() == 65535);
}

TEST_CASE("endpoint is made from an address and a port", "[endpoint]") {
  CHECK(endpoint("127.0.0.1", 1) == endpoint::parse("127.0.0.1:1"));
  CHECK(endpoint("::1", 80) == endpoint::parse("[::1]:80"));
  CHECK(endpoint("[::1]", 80) == endpoint::loopback_v6(80));
  CHECK(endpoint::loopback_v4(9) == endpoint::parse("127.0.0.1:9"));
  CHECK(fmt::format("{}", endpoint::any_v4(5)) == "0.0.0.0:5");
  CHECK(fmt::format("{}", endpoint::any_v6(5)) == "[::]:5");
  CHECK(fmt::format("{}", endpoint{}) == "0.0.0.0:0");
}

TEST_CASE("bad endpoint text throws invalid_argument naming the text", "[endpoint]") {
  for (const char* text : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                           "127.0.0.1:80x", "localhost:80", "::1:80", "[::1]80", "[::1:80",
                           "1.2.3:4", "[127.0.0.1]:80x", "[nonsense]:1"}) {
    INFO(text);
    try {
      (void)endpoint::parse(text);
      FAIL("no exception");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string{e.what()}.find(fmt::format("'{}'", text)) != std::string::npos);
    }
  }
  CHECK_THROWS_AS(endpoint("not an address", 1), std::invalid_argument);
  CHECK_THROWS_WITH(endpoint("300.1.1.1", 1),
                    "invalid address '300.1.1.1': expected a numeric IPv4 or IPv6 address");
}

TEST_CASE("endpoints compare by family, address and port", "[endpoint]") {
  CHECK(endpoint::parse("127.0.0.1:1") < endpoint::parse("127.0.0.1:2"));
  CHECK(endpoint::parse("127.0.0.1:9") < endpoint::parse("127.0.0.2:1"));
  CHECK(endpoint::parse("255.0.0.1:9") < endpoint::parse("[::]:1"));  // AF_INET < AF_INET6
  CHECK(endpoint::parse("[::1]:1") != endpoint::parse("[::2]:1"));
  CHECK(endpoint::parse("[::1]:7") == endpoint::loopback_v6(7));
}

TEST_CASE("endpoint converts to and from sockaddr_storage", "[endpoint]") {
  for (const char* text : {"10.1.2.3:4567", "[fe80::1:2]:9"}) {
    const auto e = endpoint::parse(text);
    sockaddr_storage ss{};
    const socklen_t n = e.to_sockaddr(ss);
    CHECK(n == e.size());
    CHECK(endpoint::from_sockaddr(ss) == e);
  }
  sockaddr_storage unix_addr{};
  unix_addr.ss_family = AF_UNIX;
  CHECK_THROWS_AS(endpoint::from_sockaddr(unix_addr), std::invalid_argument);
}
