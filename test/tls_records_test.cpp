// TLS streams fed bad records: a relay between client and server flips a byte of the
// ciphertext after the handshake. The read that meets the bad record fails with OpenSSL's
// reason, naming the peer; bytes of good records before it are returned first, and the failure
// comes with the next read. And records that want an answer: a TLS 1.2 renegotiation request
// is refused before the server's read waits again.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)
#include <fcntl.h>
#include <poll.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <functional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tls_pair.hpp"
#include "tls_plain_client.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo::net::tls_error;
using ringo::net::tls_stream;

namespace {

// Forwards `from` to `to` unchanged until `armed` is set; from then on it gathers `batch`
// whole records, flips the last byte of the last of them and sends them all in one write.
// Ends at end of stream, or when either side is gone.
ringo::task<void> relay_records(tcp_stream& from, tcp_stream& to, const bool& armed, int batch) {
  std::vector<std::byte> buf(64 * 1024);
  std::vector<std::byte> held;
  for (;;) {
    const std::size_t n = co_await from.read_some(buf, 5s);
    if (n == 0) co_return;
    if (!armed) {
      co_await to.write_all(std::span{buf.data(), n}, 5s);
      continue;
    }
    held.insert(held.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    // Count the whole records held: a 5-byte header, its length in bytes 3 and 4.
    std::size_t at = 0;
    int records = 0;
    while (held.size() >= at + 5) {
      const std::size_t len = (std::to_integer<std::size_t>(held[at + 3]) << 8) |
                              std::to_integer<std::size_t>(held[at + 4]);
      if (held.size() < at + 5 + len) break;
      at += 5 + len;
      ++records;
    }
    if (records < batch) continue;
    held[at - 1] ^= std::byte{0x01};
    co_await to.write_all(std::span{held.data(), held.size()}, 5s);
    held.clear();
  }
}

ringo::task<void> relay(tcp_stream& from, tcp_stream& to, const bool& armed, int batch) {
  try {
    co_await relay_records(from, to, armed, batch);
  } catch (const std::system_error&) {
    // a side closed under the relay
  }
}

ringo::task<void> read_error(tls_stream& s, std::string& what) {
  std::array<std::byte, 64> buf{};
  try {
    (void)co_await s.read_some(buf, 5s);
    what = "the read succeeded";
  } catch (const tls_error& e) {
    what = e.what();
  }
}

}  // namespace

TEST_CASE("a corrupted record fails the read with OpenSSL's reason", "[tls]") {
  // The client reads the bad record: with kernel TLS where the kernel has it, or in user space
  // (whose OpenSSL then owes the server an alert).
  for (const auto& [batch, client_kernel] : {std::pair{1, true}, std::pair{2, true},
                                             std::pair{1, false}, std::pair{2, false}}) {
    DYNAMIC_SECTION(batch << " record(s) in the corrupted batch, client kernel TLS "
                          << client_kernel) {
      ringo::run([batch, client_kernel]() -> ringo::task<void> {
        const auto server_ctx = ringo_test::server_context();
        auto client_ctx = ringo_test::client_context();
        client_ctx.set_kernel_tls(client_kernel);
        auto server_listener = tcp_listener::bind(endpoint::loopback_v4(0));
        auto relay_listener = tcp_listener::bind(endpoint::loopback_v4(0));
        auto accepting = ringo::spawn(ringo_test::accept_tls(server_listener, server_ctx));
        auto connecting = ringo::spawn(
            [](endpoint at, const ringo::net::tls_context& ctx) -> ringo::task<tls_stream> {
              co_return co_await tls_stream::connect("127.0.0.1", at.port(), ctx);
            }(relay_listener.local_endpoint(), client_ctx));
        tcp_stream client_side = co_await relay_listener.accept();
        tcp_stream server_side = co_await tcp_stream::connect(server_listener.local_endpoint());
        bool armed = false;
        const bool never = false;
        auto down = ringo::spawn(relay(server_side, client_side, armed, batch));
        auto up = ringo::spawn(relay(client_side, server_side, never, 1));
        tls_stream client = co_await connecting;
        tls_stream server = co_await accepting;
        const std::string peer = fmt::format("{}", relay_listener.local_endpoint());

        // The session tickets first, unchanged, so that only application records are cut.
        co_await server.write_all("ready");
        std::array<std::byte, 64> buf{};
        const std::size_t ready = co_await client.read_some(buf, 5s);
        CHECK(std::string(reinterpret_cast<const char*>(buf.data()), ready) == "ready");

        armed = true;
        if (batch == 2) co_await server.write_all("good");  // a record of its own
        co_await server.write_all("bad!");
        if (batch == 2) {
          // The good record's bytes come first; the bad one's failure is the next read's.
          co_await ringo::sleep_for(50ms);
          const std::size_t good = co_await client.read_some(buf, 5s);
          CHECK(std::string(reinterpret_cast<const char*>(buf.data()), good) == "good");
        }
        std::string what;
        co_await read_error(client, what);
        CHECK(what.starts_with("TLS read from " + peer + ": "));
        CHECK((what.ends_with("bad record mac") || what.ends_with("decryption failed")));
        // A user-space client's close sends the fatal alert its OpenSSL made for the bad
        // record, and the server's read fails with it (OpenSSL's "sslv3 alert bad record mac"
        // in user space, tls_errc::peer_alert where the kernel reads the server's records). A
        // kernel TLS client sends none: the kernel refuses to send after a bad record.
        const bool alert_owed = !client.kernel_tls();
        const bool kernel_reads = server.kernel_tls();
        co_await client.close();  // the relays see both ends close, and end
        if (alert_owed) {
          std::string at_server;
          std::error_code code;
          try {
            (void)co_await server.read_some(buf, 5s);
          } catch (const tls_error& e) {
            at_server = e.what();
            code = e.code();
          }
          CHECK(at_server.find("bad record mac") != std::string::npos);
          if (kernel_reads) CHECK(code == ringo::net::tls_errc::peer_alert);
        }
        co_await server.close();
        co_await down;
        co_await up;
      }());
    }
  }
}

namespace {

// A TLS 1.2 client that asks to renegotiate once connected and tells what came of it: OpenSSL's
// reason when the server refused, or that no answer came within 10 s (a server that would
// answer does so in a moment; one that waits for the client first never does).
void renegotiating_client(std::uint16_t port, std::string ca, std::string& outcome) {
  ringo_test::plain_openssl_client(
      port, ca, 0ms,
      [&outcome](SSL* ssl) {
        const int fd = SSL_get_fd(ssl);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (SSL_renegotiate(ssl) != 1) {
          outcome = "SSL_renegotiate failed";
          return;
        }
        int rc = SSL_do_handshake(ssl);  // sends the ClientHello, then wants the answer
        for (;;) {
          if (rc == 1) {
            outcome = "renegotiated";
            return;
          }
          const int err = SSL_get_error(ssl, rc);
          if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            const char* reason = ERR_reason_error_string(ERR_peek_error());
            outcome = reason != nullptr ? reason : "failed without a reason";
            return;
          }
          pollfd p{fd, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
          if (::poll(&p, 1, 10000) != 1) {
            outcome = "no answer within 10 s";
            return;
          }
          rc = SSL_do_handshake(ssl);
        }
      },
      TLS1_2_VERSION);
}

}  // namespace

TEST_CASE("a TLS 1.2 renegotiation request is refused at once, while the server reads",
          "[tls]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    std::string outcome;
    std::thread client{renegotiating_client, l.local_endpoint().port(),
                       ringo_test::test_certificates().ca, std::ref(outcome)};
    tls_stream s = co_await ringo_test::accept_tls(l, ringo_test::server_context());
    CHECK(s.protocol_version() == "TLSv1.2");
    // The read waits for application data; the refusal must leave before it waits, and the
    // client's answer to the refusal (a fatal handshake_failure alert) ends the read.
    std::array<std::byte, 16> buf{};
    std::string what;
    try {
      (void)co_await s.read_some(buf, 30s);
      what = "the read succeeded";
    } catch (const tls_error& e) {
      what = e.what();
    }
    client.join();
    CHECK(outcome == "no renegotiation");
    CHECK(what.find("handshake failure") != std::string::npos);
    co_await s.close();
  }());
}
