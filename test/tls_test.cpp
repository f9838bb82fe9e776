// TLS streams: handshakes both ways, ALPN, the certificate checks and their messages, a clean
// end (close_notify) against truncation, bulk transfers both ways at once, bad peers and bad
// contexts. The cancellations, timeouts and misuse are in tls_cancel_test.cpp.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)
#include <stdlib.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/io_context.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tls_exchange.hpp"
#include "tls_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo::net::tls_context;
using ringo::net::tls_error;
using ringo::net::tls_stream;
using ringo_test::accept_tls;
using ringo_test::client_context;
using ringo_test::connected_tls_pair;
using ringo_test::server_context;
using ringo_test::test_certificates;

namespace {

ringo::task<std::string> read_text(tls_stream& s, std::size_t n) {
  std::string out(n, '\0');
  co_await s.read_exact(std::as_writable_bytes(std::span{out}), 5s);
  co_return out;
}

// What a handshake that must fail ended with on each side.
struct failed_handshake {
  std::string client;  // the client's what(), or "" if it connected
  std::string server;  // the server's what(), or "" if it accepted
  bool client_tls_category = false;
};

ringo::task<std::string> accept_failure(tcp_listener& l, const tls_context& ctx) {
  try {
    auto s = co_await accept_tls(l, ctx);
  } catch (const std::system_error& e) {
    co_return e.what();
  }
  co_return "";
}

ringo::task<failed_handshake> handshake_expecting_failure(const tls_context& server_ctx,
                                                          const tls_context& client_ctx,
                                                          std::string host) {
  auto l = tcp_listener::bind(endpoint::loopback_v4(0));
  auto server = ringo::spawn(accept_failure(l, server_ctx));
  failed_handshake out;
  try {
    auto s = co_await tls_stream::connect(host, l.local_endpoint().port(), client_ctx);
  } catch (const tls_error& e) {
    out.client = e.what();
    out.client_tls_category = e.code().category() == ringo::net::tls_category();
  }
  out.server = co_await server;
  co_return out;
}


}  // namespace

TEST_CASE("a client and a server make a handshake and talk both ways", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    co_await p.client.write_all("ping from the client");
    const std::string at_server = co_await read_text(p.server, 20);
    CHECK(at_server == "ping from the client");
    co_await p.server.write_all("pong from the server");
    const std::string at_client = co_await read_text(p.client, 20);
    CHECK(at_client == "pong from the server");

    CHECK(p.client.protocol_version() == "TLSv1.3");
    CHECK(p.client.peer_certificate_subject() == "CN=localhost,O=ringo tests");
    CHECK(p.server.peer_certificate_subject().empty());  // no client certificate asked for
    CHECK(p.client.alpn_protocol().empty());
    CHECK(p.client.remote_endpoint() == l.local_endpoint());
    CHECK(p.server.remote_endpoint() == p.client.local_endpoint());
    // The kernel makes the records where it offers TLS (tls_kernel_test.cpp), else OpenSSL.
    CHECK(p.client.kernel_tls() == ringo::io_context::current()->features().kernel_tls);
    co_await p.client.close();
    CHECK_FALSE(p.client.is_open());
  }());
}

TEST_CASE("a client connects by host name, with SNI and the name verified", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx, "localhost");
    co_await p.server.write_all("by name");
    const std::string got = co_await read_text(p.client, 7);
    CHECK(got == "by name");
  }());
}

TEST_CASE("ALPN picks the server's first protocol that the client offers, or none", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    server_ctx.set_alpn({"http/1.1", "h2"});
    client_ctx.set_alpn({"h2", "http/1.1"});
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    {
      auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
      CHECK(p.client.alpn_protocol() == "http/1.1");
      CHECK(p.server.alpn_protocol() == "http/1.1");
    }
    server_ctx.set_alpn({"imap"});  // no overlap: the handshake goes on without ALPN
    {
      auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
      CHECK(p.client.alpn_protocol().empty());
      CHECK(p.server.alpn_protocol().empty());
    }
  }());
  CHECK_THROWS_AS(client_context().set_alpn({""}), std::invalid_argument);
  CHECK_THROWS_AS(client_context().set_alpn({std::string(256, 'x')}), std::invalid_argument);
}

TEST_CASE("a certificate that fails the check fails the handshake, saying why", "[tls]") {
  const auto& f = test_certificates();
  struct verify_case {
    const char* name;
    std::string server_cert;
    std::string client_ca;
    std::string host;
    std::string reason;
  };
  const std::vector<verify_case> cases = {
      {"wrong host name", f.wrong_host_cert, f.ca, "localhost", "hostname mismatch"},
      {"wrong address", f.wrong_host_cert, f.ca, "127.0.0.1", "IP address mismatch"},
      {"unknown CA", f.server_cert, f.other_ca, "127.0.0.1",
       "unable to get local issuer certificate"},
      {"expired", f.expired_cert, f.ca, "127.0.0.1", "certificate has expired"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      ringo::run([&c]() -> ringo::task<void> {
        const auto server_ctx = server_context(c.server_cert);
        const auto client_ctx = client_context(c.client_ca);
        const failed_handshake r =
            co_await handshake_expecting_failure(server_ctx, client_ctx, c.host);
        INFO("client: " << r.client << "\nserver: " << r.server);
        CHECK(r.client_tls_category);
        CHECK(r.client.starts_with("TLS handshake with " + c.host));
        CHECK(r.client.ends_with(": certificate verify failed (" + c.reason + ")"));
        // The client's alert tells the server.
        CHECK(r.server.starts_with("TLS handshake with 127.0.0.1:"));
        CHECK(r.server.find("alert") != std::string::npos);
      }());
    }
  }
}

TEST_CASE("set_verify(false) accepts a server the client cannot verify", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context(test_certificates().wrong_host_cert);
    auto client_ctx = tls_context::client();  // the system's trust store: not the test CA
    client_ctx.set_verify(false);
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx, "localhost");
    co_await p.client.write_all("unverified");
    const std::string got = co_await read_text(p.server, 10);
    CHECK(got == "unverified");
    CHECK(p.client.peer_certificate_subject() == "CN=wrong.example,O=ringo tests");
  }());
}

TEST_CASE("the system's trust store does not know the test CA", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = tls_context::client();
    const failed_handshake r =
        co_await handshake_expecting_failure(server_ctx, client_ctx, "localhost");
    INFO(r.client);
    CHECK(
        r.client.ends_with(": certificate verify failed (unable to get local issuer certificate)"));
  }());
}

TEST_CASE("the system's trust store is the bundle SSL_CERT_FILE names, read when made", "[tls]") {
  ::setenv("SSL_CERT_FILE", test_certificates().ca.c_str(), 1);
  const auto client_ctx = tls_context::client();  // the test CA is the system's now
  ::unsetenv("SSL_CERT_FILE");
  ringo::run([&client_ctx]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx, "localhost");
    CHECK(p.client.peer_certificate_subject() == "CN=localhost,O=ringo tests");
  }());
}

TEST_CASE("close sends a close_notify: the peer reads what came before, then end of stream",
          "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    co_await p.server.write_all("last words");
    co_await p.server.close();
    CHECK_FALSE(p.server.is_open());
    const std::string got = co_await read_text(p.client, 10);
    CHECK(got == "last words");
    std::array<std::byte, 16> buf{};
    const std::size_t end = co_await p.client.read_some(buf, 5s);
    CHECK(end == 0);
    const std::size_t again = co_await p.client.read_some(buf, 5s);
    CHECK(again == 0);
    // The client may still answer after the server's close_notify (the server closed its
    // socket, so the write reaches no one, but the client learns that only from the kernel).
    co_await p.client.close();
    co_await p.server.close();  // closing an empty stream does nothing
  }());
}

TEST_CASE("a peer that ends the connection without close_notify is truncation, not the end",
          "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    const std::string peer = fmt::format("{}", p.client.remote_endpoint());
    co_await p.server.write_all("cut");
    { tls_stream dropped = std::move(p.server); }  // closes the socket, sends no close_notify
    const std::string got = co_await read_text(p.client, 3);
    CHECK(got == "cut");
    std::array<std::byte, 16> buf{};
    std::string what;
    std::error_code code;
    try {
      (void)co_await p.client.read_some(buf, 5s);
    } catch (const tls_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == ringo::net::tls_errc::truncated);
    CHECK(what == "TLS read from " + peer + ": the peer ended the stream without a close_notify");
  }());
}

TEST_CASE("a read takes every record already received, as far as its buffer goes", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    for (const std::string_view part : {"one,", "two,", "three"})
      co_await p.server.write_all(part);  // a record each
    co_await ringo::sleep_for(50ms);      // all of them here
    std::array<std::byte, 64> buf{};
    const std::size_t n = co_await p.client.read_some(buf, 5s);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), n) == "one,two,three");
    // A buffer smaller than what is there: the rest waits for the next read.
    for (const std::string_view part : {"four,", "five"})
      co_await p.server.write_all(part);
    co_await ringo::sleep_for(50ms);
    std::array<std::byte, 7> small{};
    const std::size_t first = co_await p.client.read_some(small, 5s);
    CHECK(std::string(reinterpret_cast<const char*>(small.data()), first) == "four,fi");
    const std::size_t rest = co_await p.client.read_some(buf, 5s);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), rest) == "ve");
  }());
}

TEST_CASE("16 MiB go both ways at once, in order", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
    constexpr std::size_t total = 16 << 20;
    auto server_side = ringo::spawn(ringo_test::exchange(p.server, total, 1, 2));
    const std::size_t at_client = co_await ringo_test::exchange(p.client, total, 2, 1);
    const std::size_t at_server = co_await server_side;
    CHECK(at_client == total);
    CHECK(at_server == total);
  }());
}

TEST_CASE("a peer that does not speak TLS fails the handshake with OpenSSL's reason", "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    // A plaintext server: answers the client's hello with an HTTP error.
    auto plain_server = ringo::spawn([](tcp_listener& l) -> ringo::task<void> {
      tcp_stream s = co_await l.accept();
      std::array<std::byte, 512> buf{};
      (void)co_await s.read_some(buf, 5s);
      co_await s.write_all("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    }(l));
    std::string what;
    try {
      auto s =
          co_await tls_stream::connect("127.0.0.1", l.local_endpoint().port(), client_context());
    } catch (const tls_error& e) {
      what = e.what();
    }
    co_await plain_server;
    CHECK(what == fmt::format("TLS handshake with {}: wrong version number", l.local_endpoint()));

    // A plaintext client: the server's handshake fails on its bytes.
    const auto server_ctx = server_context();
    auto accepting = ringo::spawn(accept_failure(l, server_ctx));
    tcp_stream plain = co_await tcp_stream::connect(l.local_endpoint());
    co_await plain.write_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string server_what = co_await accepting;
    INFO(server_what);
    CHECK(server_what.starts_with(fmt::format("TLS handshake with {}: ", plain.local_endpoint())));
    CHECK(server_what.size() >
          fmt::format("TLS handshake with {}: ", plain.local_endpoint()).size());
  }());
}

TEST_CASE("a context that cannot be made says which file and why", "[tls]") {
  const auto& f = test_certificates();
  try {
    (void)tls_context::server(f.dir + "/missing.pem", f.server_key);
    FAIL("a missing certificate file was accepted");
  } catch (const std::system_error& e) {
    CHECK(std::string{e.what()}.starts_with("TLS certificate chain " + f.dir + "/missing.pem: "));
  }
  try {
    (void)tls_context::server(f.server_cert, f.server_cert);  // no key in it
    FAIL("a key file without a key was accepted");
  } catch (const std::system_error& e) {
    CHECK(std::string{e.what()}.starts_with("TLS private key " + f.server_cert + ": "));
  }
  auto c = tls_context::client();
  try {
    c.load_verify_file(f.dir + "/no-ca.pem");
    FAIL("a missing CA file was accepted");
  } catch (const std::system_error& e) {
    CHECK(std::string{e.what()}.starts_with("TLS CA file " + f.dir + "/no-ca.pem: "));
  }
  // A context is a handle: copies share the settings.
  auto copy = c;
  copy.set_handshake_timeout(3s);
  CHECK(c.handshake_timeout() == 3s);
  CHECK(tls_context::client().handshake_timeout() == 10s);
  CHECK_FALSE(c.is_server());
  CHECK(server_context().is_server());
  CHECK(c.native_handle() == copy.native_handle());
}
