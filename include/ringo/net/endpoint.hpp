#pragma once
/// \file
/// ringo::net::endpoint: an IPv4 or IPv6 address with a port ("127.0.0.1:9090", "[::1]:80").
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace ringo::net {

/// An IPv4 or IPv6 socket address: a value type, cheap to copy, printable with fmt
/// ("127.0.0.1:9090", "[::1]:80"). Names are not resolved: the text is a numeric address.
class endpoint {
 public:
  /// 0.0.0.0:0.
  endpoint() noexcept;
  /// `address` is numeric IPv4 ("127.0.0.1") or IPv6 ("::1", brackets allowed). Throws
  /// std::invalid_argument naming the text if it is not an address.
  endpoint(std::string_view address, std::uint16_t port);

  /// Parses "a.b.c.d:port" or "[v6]:port". Throws std::invalid_argument naming the text when
  /// it is neither.
  static endpoint parse(std::string_view text);
  /// The IPv4 loopback (127.0.0.1) or any-address (0.0.0.0) with `port`.
  static endpoint loopback_v4(std::uint16_t port) noexcept;
  static endpoint any_v4(std::uint16_t port) noexcept;
  /// The IPv6 loopback (::1) or any-address (::) with `port`.
  static endpoint loopback_v6(std::uint16_t port) noexcept;
  static endpoint any_v6(std::uint16_t port) noexcept;

  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] bool is_v6() const noexcept { return addr_.base.sa_family == AF_INET6; }
  /// The address alone, without brackets or port ("::1").
  [[nodiscard]] std::string address() const;
  /// "127.0.0.1:9090" or "[::1]:80".
  [[nodiscard]] std::string to_string() const;

  /// Ordered by family, then address bytes, then port.
  friend std::strong_ordering operator<=>(const endpoint& a, const endpoint& b) noexcept;
  friend bool operator==(const endpoint& a, const endpoint& b) noexcept {
    return (a <=> b) == std::strong_ordering::equal;
  }

  // ---- for ringo's sockets: the system's view ----
  /// The socket address, and its length for bind/connect/sendmsg.
  [[nodiscard]] const sockaddr* data() const noexcept { return &addr_.base; }
  [[nodiscard]] socklen_t size() const noexcept {
    return is_v6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  }
  /// Copies the address into `out`; returns its length.
  socklen_t to_sockaddr(sockaddr_storage& out) const noexcept;
  /// The endpoint in `in` (AF_INET or AF_INET6); throws std::invalid_argument for another
  /// family.
  static endpoint from_sockaddr(const sockaddr_storage& in);
  static endpoint from_sockaddr(const sockaddr* in, socklen_t len);

 private:
  union {
    sockaddr base;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } addr_;
};

}  // namespace ringo::net

/// Formats an endpoint as "127.0.0.1:9090" or "[::1]:80" (no format spec).
template <>
struct fmt::formatter<ringo::net::endpoint> {
  constexpr auto parse(fmt::format_parse_context& ctx) -> decltype(ctx.begin()) {
    return ctx.begin();
  }
  template <class FormatContext>
  auto format(const ringo::net::endpoint& e, FormatContext& ctx) const -> decltype(ctx.out()) {
    const std::string text = e.to_string();
    return std::copy(text.begin(), text.end(), ctx.out());
  }
};
