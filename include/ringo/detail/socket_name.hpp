#pragma once
// What a socket's state names in its error messages and task listings: the peer's IP endpoint
// (TCP) or a Unix socket's path. One type for both, so that the stream and listener machinery
// (stream_state, listener_state and their awaiters) serves TCP and Unix sockets alike.
//
// It is as small as an endpoint (28 bytes, 4-byte aligned), since every connection's state
// holds one: a path is a pointer to a shared, reference-counted string, kept in the endpoint's
// bytes after an AF_UNIX family. Every connection a unix_listener accepts refers to the
// listener's one string, and copying a name (a close awaiter keeps one) never allocates.
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <ringo/net/endpoint.hpp>

namespace ringo::detail {

class socket_name {
 public:
  /// 0.0.0.0:0.
  socket_name() noexcept : ip_() {}
  socket_name(const net::endpoint& e) noexcept : ip_(e) {}  // NOLINT: a TCP socket's name
  /// A Unix socket's path (allocates its shared copy).
  static socket_name path_of(std::string path) {
    socket_name n;
    n.set_text(new shared_text{std::move(path)});
    return n;
  }
  socket_name(const socket_name& o) noexcept : ip_(o.ip_) {
    if (shared_text* t = text()) t->refs.fetch_add(1, std::memory_order_relaxed);
  }
  socket_name(socket_name&& o) noexcept : ip_(std::exchange(o.ip_, net::endpoint{})) {}
  socket_name& operator=(socket_name o) noexcept {
    std::swap(ip_, o.ip_);
    return *this;
  }
  ~socket_name() {
    shared_text* t = text();
    if (t != nullptr && t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete t;
  }

  [[nodiscard]] bool is_path() const noexcept { return text() != nullptr; }
  /// The IP endpoint (0.0.0.0:0 for a path).
  [[nodiscard]] net::endpoint endpoint() const noexcept {
    return is_path() ? net::endpoint{} : ip_;
  }
  /// The Unix socket path ("@name" for an abstract one; empty for an endpoint).
  [[nodiscard]] const std::string& path() const noexcept {
    static const std::string none;
    const shared_text* t = text();
    return t != nullptr ? t->text : none;
  }
  /// The socket type's name for messages: "tcp_stream" or "unix_stream", or (`listener`)
  /// "tcp_listener" or "unix_listener".
  [[nodiscard]] const char* kind(bool listener) const noexcept {
    if (is_path()) return listener ? "unix_listener" : "unix_stream";
    return listener ? "tcp_listener" : "tcp_stream";
  }

 private:
  struct shared_text {
    std::string text;
    std::atomic<std::uint32_t> refs{1};
  };
  // Where the pointer sits in the endpoint's bytes: after the family, 4-byte aligned.
  static constexpr std::size_t text_at = 4;
  static_assert(sizeof(net::endpoint) >= text_at + sizeof(shared_text*));

  shared_text* text() const noexcept {
    const auto* bytes = reinterpret_cast<const unsigned char*>(&ip_);
    sa_family_t family;
    std::memcpy(&family, bytes, sizeof family);
    if (family != AF_UNIX) return nullptr;
    shared_text* t;
    std::memcpy(&t, bytes + text_at, sizeof t);
    return t;
  }
  void set_text(shared_text* t) noexcept {
    auto* bytes = reinterpret_cast<unsigned char*>(&ip_);
    const sa_family_t family = AF_UNIX;
    std::memcpy(bytes, &family, sizeof family);
    std::memcpy(bytes + text_at, &t, sizeof t);
  }

  net::endpoint ip_;  // an endpoint, or (family AF_UNIX) the path's pointer
};

}  // namespace ringo::detail

/// Formats a socket's name as its endpoint ("127.0.0.1:9090") or its path ("/run/app.sock").
template <>
struct fmt::formatter<ringo::detail::socket_name> {
  constexpr auto parse(fmt::format_parse_context& ctx) -> decltype(ctx.begin()) {
    return ctx.begin();
  }
  template <class FormatContext>
  auto format(const ringo::detail::socket_name& n, FormatContext& ctx) const
      -> decltype(ctx.out()) {
    if (n.is_path()) return fmt::format_to(ctx.out(), "{}", n.path());
    return fmt::format_to(ctx.out(), "{}", n.endpoint());
  }
};
