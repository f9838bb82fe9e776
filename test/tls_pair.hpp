#pragma once
// TLS streams over loopback for the TLS tests: contexts made from the throwaway certificates
// (tls_certs.hpp), and a client and a server end of one connection.
#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/tls_context.hpp>
#include <ringo/net/tls_stream.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include <string>

#include "tls_certs.hpp"

namespace ringo_test {

/// A server context presenting `cert` (the localhost certificate by default).
inline ringo::net::tls_context server_context(const std::string& cert = {}) {
  const auto& f = test_certificates();
  return ringo::net::tls_context::server(cert.empty() ? f.server_cert : cert, f.server_key);
}

/// A client context that trusts the test CA (or the CA in `ca`).
inline ringo::net::tls_context client_context(const std::string& ca = {}) {
  auto c = ringo::net::tls_context::client();
  c.load_verify_file(ca.empty() ? test_certificates().ca : ca);
  return c;
}

inline ringo::task<ringo::net::tls_stream> accept_tls(ringo::net::tcp_listener& l,
                                                      const ringo::net::tls_context& ctx) {
  ringo::net::tcp_stream s = co_await l.accept();
  co_return co_await ringo::net::tls_stream::accept(std::move(s), ctx);
}

struct pair_of_tls_streams {
  ringo::net::tls_stream client;
  ringo::net::tls_stream server;
};

/// Connects a client to `l` (as `host`) and accepts it: both ends after their handshakes.
inline ringo::task<pair_of_tls_streams> connected_tls_pair(
    ringo::net::tcp_listener& l, const ringo::net::tls_context& server_ctx,
    const ringo::net::tls_context& client_ctx, std::string host = "127.0.0.1") {
  auto accepting = ringo::spawn(accept_tls(l, server_ctx));
  pair_of_tls_streams p;
  p.client = co_await ringo::net::tls_stream::connect(host, l.local_endpoint().port(), client_ctx);
  p.server = co_await accepting;
  co_return p;
}

}  // namespace ringo_test
