// TLS streams fed bad records: a relay between client and server flips a byte of the
// ciphertext after the handshake. The read that meets the bad record fails with OpenSSL's
// reason, naming the peer; bytes of good records before it are returned first, and the failure
// comes with the next read.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tls_pair.hpp"

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
  for (const int batch : {1, 2}) {
    DYNAMIC_SECTION(batch << " record(s) in the corrupted batch") {
      ringo::run([batch]() -> ringo::task<void> {
        const auto server_ctx = ringo_test::server_context();
        const auto client_ctx = ringo_test::client_context();
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
        co_await client.close();  // the relays see both ends close, and end
        co_await server.close();
        co_await down;
        co_await up;
      }());
    }
  }
}
