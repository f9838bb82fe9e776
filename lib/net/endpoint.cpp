// Endpoint text and sockaddr conversions. inet_pton/inet_ntop do the address work; the port
// and the brackets are ours.
#include <ringo/net/endpoint.hpp>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace ringo::net {
namespace {

[[noreturn]] void bad_text(std::string_view text, std::string_view why) {
  throw std::invalid_argument(fmt::format("invalid endpoint '{}': {}", text, why));
}

// Fills `out` from a numeric address (IPv6 may carry brackets); false if it is neither family.
bool parse_address(std::string_view text, std::uint16_t port, endpoint& out) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  sockaddr_storage ss{};
  if (::inet_pton(AF_INET, buf, &reinterpret_cast<sockaddr_in&>(ss).sin_addr) == 1) {
    auto& in = reinterpret_cast<sockaddr_in&>(ss);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
  } else if (::inet_pton(AF_INET6, buf, &reinterpret_cast<sockaddr_in6&>(ss).sin6_addr) == 1) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
  } else {
    return false;
  }
  out = endpoint::from_sockaddr(ss);
  return true;
}

}  // namespace

endpoint::endpoint() noexcept {
  std::memset(&addr_, 0, sizeof addr_);
  addr_.v4.sin_family = AF_INET;
}

endpoint::endpoint(std::string_view address, std::uint16_t port) : endpoint() {
  if (!parse_address(address, port, *this)) {
    throw std::invalid_argument(
        fmt::format("invalid address '{}': expected a numeric IPv4 or IPv6 address", address));
  }
}

endpoint endpoint::parse(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) bad_text(text, "'[' without ']'");
    host = text.substr(0, close + 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      bad_text(text, "expected ':port' after the bracketed address");
    }
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) bad_text(text, "expected 'address:port'");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      bad_text(text, "an IPv6 address with a port needs brackets, as in '[::1]:80'");
    }
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535) {
    bad_text(text, "the port must be a number from 0 to 65535");
  }
  endpoint e;
  if (!parse_address(host, static_cast<std::uint16_t>(port), e)) {
    bad_text(text, "expected a numeric IPv4 or IPv6 address");
  }
  return e;
}

endpoint endpoint::loopback_v4(std::uint16_t port) noexcept {
  endpoint e;
  e.addr_.v4.sin_port = htons(port);
  e.addr_.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return e;
}

endpoint endpoint::any_v4(std::uint16_t port) noexcept {
  endpoint e;
  e.addr_.v4.sin_port = htons(port);
  return e;
}

endpoint endpoint::loopback_v6(std::uint16_t port) noexcept {
  endpoint e;
  std::memset(&e.addr_, 0, sizeof e.addr_);
  e.addr_.v6.sin6_family = AF_INET6;
  e.addr_.v6.sin6_port = htons(port);
  e.addr_.v6.sin6_addr = in6addr_loopback;
  return e;
}

endpoint endpoint::any_v6(std::uint16_t port) noexcept {
  endpoint e;
  std::memset(&e.addr_, 0, sizeof e.addr_);
  e.addr_.v6.sin6_family = AF_INET6;
  e.addr_.v6.sin6_port = htons(port);
  return e;
}

std::uint16_t endpoint::port() const noexcept {
  return ntohs(is_v6() ? addr_.v6.sin6_port : addr_.v4.sin_port);
}

std::string endpoint::address() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v6()) {
    ::inet_ntop(AF_INET6, &addr_.v6.sin6_addr, buf, sizeof buf);
  } else {
    ::inet_ntop(AF_INET, &addr_.v4.sin_addr, buf, sizeof buf);
  }
  return buf;
}

std::string endpoint::to_string() const {
  return is_v6() ? fmt::format("[{}]:{}", address(), port())
                 : fmt::format("{}:{}", address(), port());
}

std::strong_ordering operator<=>(const endpoint& a, const endpoint& b) noexcept {
  if (auto c = a.addr_.base.sa_family <=> b.addr_.base.sa_family; c != 0) return c;
  int bytes = 0;
  if (a.is_v6()) {
    bytes = std::memcmp(&a.addr_.v6.sin6_addr, &b.addr_.v6.sin6_addr, sizeof(in6_addr));
    if (bytes == 0 && a.addr_.v6.sin6_scope_id != b.addr_.v6.sin6_scope_id) {
      return a.addr_.v6.sin6_scope_id <=> b.addr_.v6.sin6_scope_id;
    }
  } else {
    bytes = std::memcmp(&a.addr_.v4.sin_addr, &b.addr_.v4.sin_addr, sizeof(in_addr));
  }
  if (bytes != 0) return bytes <=> 0;
  return a.port() <=> b.port();
}

socklen_t endpoint::to_sockaddr(sockaddr_storage& out) const noexcept {
  std::memset(&out, 0, sizeof out);
  std::memcpy(&out, &addr_, size());
  return size();
}

endpoint endpoint::from_sockaddr(const sockaddr_storage& in) {
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&in), sizeof in);
}

endpoint endpoint::from_sockaddr(const sockaddr* in, socklen_t len) {
  endpoint e;
  if (in->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&e.addr_.v4, in, sizeof(sockaddr_in));
  } else if (in->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memset(&e.addr_, 0, sizeof e.addr_);
    std::memcpy(&e.addr_.v6, in, sizeof(sockaddr_in6));
  } else {
    throw std::invalid_argument(
        fmt::format("not an IPv4 or IPv6 socket address (family {})", in->sa_family));
  }
  return e;
}

}  // namespace ringo::net
