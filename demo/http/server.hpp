#pragma once
// demo/http/server.hpp: serve(), the HTTP demo's whole server for one io_context, and the
// server_config it takes. demo/http/main.cpp runs it on every context of a pool (the
// http_server program); test/http_test.cpp runs it in-process. The connections are in
// demo/http/connection.cpp, the parser in demo/http/parser.hpp.
#include <chrono>
#include <optional>
#include <string>

#include <ringo/detail/config.hpp>
#include <ringo/net/tcp_listener.hpp>
#if RINGO_HAS_TLS
#include <ringo/net/tls_context.hpp>
#endif
#include <ringo/task.hpp>

#include "parser.hpp"

namespace http {

/// How serve() behaves.
struct server_config {
  /// Files are served from here ("" serves only `GET /`).
  std::string root;
  /// A keep-alive connection with no request in progress is closed after this long; a response
  /// the client does not read within it is abandoned too.
  std::chrono::milliseconds idle_timeout{30'000};
  /// A request head must have arrived whole this long after its first byte (or after the
  /// connection was accepted, for the first request), however slowly it trickles in; the
  /// same holds for a request body the server skips.
  std::chrono::milliseconds header_timeout{10'000};
  /// The parser's limits (head 8 KiB, body 1 MiB).
  http::limits limits{};
#if RINGO_HAS_TLS
  /// HTTPS: each connection makes the server's TLS handshake with this context first (its
  /// deadline is the context's handshake timeout). None: plain HTTP.
  std::optional<ringo::net::tls_context> tls;
#endif
};

/// Serves HTTP on `listener` until cancelled, with one task per connection on the calling
/// task's io_context; cancelling it cancels every connection and returns once all have
/// unwound (operation_cancelled then propagates). If the listener is closed, it stops
/// accepting and returns once the open connections have ended (closed by their clients or
/// their timeouts). `listener` and `config` must outlive it.
/// Throws std::system_error if config.root cannot be resolved. One call per io_context: the
/// multi-core mode runs one per context, each on its own SO_REUSEPORT listener.
ringo::task<void> serve(ringo::net::tcp_listener& listener, const server_config& config);

}  // namespace http
