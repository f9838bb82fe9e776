// A server context's defaults (Mozilla's "intermediate" profile): TLS 1.2 and 1.3, and in
// TLS 1.2 only ECDHE with an AEAD cipher, in the server's order. A client that offers only CBC
// suites, or only static RSA key exchange, fails the handshake with a clear reason on both
// sides; modern clients connect; set_cipher_list widens the server for older clients.
#include <ringo/net/tls_context.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <openssl/ssl.h>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tls_pair.hpp"
#include "tls_plain_client.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tls_context;
using ringo::net::tls_error;
using ringo::net::tls_stream;

namespace {

/// A client context limited to TLS 1.2 and the cipher list `ciphers`, or one with OpenSSL's
/// defaults (TLS 1.3 first) when `ciphers` is empty.
tls_context client_with(std::string_view ciphers) {
  auto c = ringo_test::client_context();
  if (!ciphers.empty()) {
    REQUIRE(SSL_CTX_set_max_proto_version(static_cast<SSL_CTX*>(c.native_handle()),
                                          TLS1_2_VERSION) == 1);
    c.set_cipher_list(ciphers);
  }
  return c;
}

struct outcome {
  std::string client_error;  // empty: connected
  std::string server_error;
  std::string version;
};

ringo::task<void> accept_one(tcp_listener& l, const tls_context& ctx, outcome& out) {
  try {
    tls_stream s = co_await ringo_test::accept_tls(l, ctx);
    co_await s.close();
  } catch (const std::system_error& e) {
    out.server_error = e.what();
  }
}

outcome handshake(const tls_context& server_ctx, const tls_context& client_ctx) {
  return ringo::run([&]() -> ringo::task<outcome> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    outcome out;
    auto accepting = ringo::spawn(accept_one(l, server_ctx, out));
    try {
      tls_stream c = co_await tls_stream::connect("127.0.0.1", l.local_endpoint().port(),
                                                  client_ctx);
      out.version = std::string{c.protocol_version()};
      // The server closes first; the client reads its close_notify (no unread bytes left to
      // reset the connection) and lets its socket go.
      std::array<std::byte, 16> buf{};
      if (co_await c.read_some(buf, std::chrono::seconds{10}) != 0) out.client_error = "bytes";
    } catch (const std::system_error& e) {
      out.client_error = e.what();
    }
    co_await accepting;
    co_return out;
  }());
}

}  // namespace

TEST_CASE("a server refuses TLS 1.2 clients that offer only CBC suites or static RSA",
          "[tls]") {
  for (const char* ciphers :
       {"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA",
        "AES128-SHA256:AES128-SHA", "AES128-GCM-SHA256:AES256-GCM-SHA384"}) {
    DYNAMIC_SECTION(ciphers) {
      const outcome got = handshake(ringo_test::server_context(), client_with(ciphers));
      INFO("client: " << got.client_error << "; server: " << got.server_error);
      CHECK(got.client_error.find("TLS handshake with 127.0.0.1:") == 0);
      CHECK(got.client_error.ends_with("sslv3 alert handshake failure"));
      CHECK(got.server_error.find("TLS handshake with 127.0.0.1:") == 0);
      CHECK(got.server_error.ends_with("no shared cipher"));
    }
  }
}

TEST_CASE("a server accepts TLS 1.3 and TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305",
          "[tls]") {
  for (const auto& [ciphers, version] :
       {std::pair{"", "TLSv1.3"}, std::pair{"ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2"},
        std::pair{"ECDHE-ECDSA-AES256-GCM-SHA384", "TLSv1.2"},
        std::pair{"ECDHE-ECDSA-CHACHA20-POLY1305", "TLSv1.2"}}) {
    DYNAMIC_SECTION(version << " " << ciphers) {
      const outcome got = handshake(ringo_test::server_context(), client_with(ciphers));
      CHECK(got.client_error.empty());
      CHECK(got.server_error.empty());
      CHECK(got.version == version);
    }
  }
}

TEST_CASE("in TLS 1.2 the server's order of ciphers wins over the client's", "[tls]") {
  // The client prefers ChaCha20-Poly1305; the server's first choice is AES-128-GCM.
  std::string cipher;
  ringo::run([&cipher]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    std::thread client{[&cipher](std::uint16_t port) {
                         ringo_test::plain_openssl_client(
                             port, ringo_test::test_certificates().ca,
                             std::chrono::milliseconds{0},
                             [&cipher](SSL* ssl) { cipher = SSL_get_cipher_name(ssl); },
                             TLS1_2_VERSION,
                             "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256");
                       },
                       l.local_endpoint().port()};
    try {
      tls_stream s = co_await ringo_test::accept_tls(l, ringo_test::server_context());
      co_await s.close();
    } catch (const tls_error&) {
      // the client's check below says what went wrong
    }
    client.join();
  }());
  CHECK(cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST_CASE("set_cipher_list widens a server for a client that offers only CBC suites", "[tls]") {
  auto server = ringo_test::server_context();
  server.set_cipher_list(std::string{tls_context::intermediate_ciphers} +
                         ":ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA");
  const outcome got = handshake(server, client_with("ECDHE-ECDSA-AES128-SHA"));
  CHECK(got.client_error.empty());
  CHECK(got.server_error.empty());
  CHECK(got.version == "TLSv1.2");
}

TEST_CASE("set_cipher_list names the list that matches no cipher", "[tls]") {
  auto server = ringo_test::server_context();
  std::string what;
  try {
    server.set_cipher_list("NO-SUCH-CIPHER");
  } catch (const tls_error& e) {
    what = e.what();
  }
  CHECK(what == "tls_context::set_cipher_list(\"NO-SUCH-CIPHER\"): no cipher match");
}
