// Kernel TLS: where the kernel offers it, a stream hands its keys over after the handshake and
// the kernel makes the records; everywhere else (and where told not to, or for a cipher the
// kernel has no records for) the records stay in user space. Each test checks which one it
// got against what the machine offers, and the bytes either way, against a peer of the same
// kind and of the other. With RINGO_EXPECT_KERNEL_TLS=1 (scripts/in_vm sets it, in a VM whose
// kernel has the `tls` module) a machine without kernel TLS is a failure, not a fallback.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <openssl/ssl.h>

#include <ringo/error.hpp>
#include <ringo/io_context.hpp>
#include <ringo/io_context_options.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tls_exchange.hpp"
#include "tls_pair.hpp"
#include "tls_plain_client.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tls_context;
using ringo::net::tls_error;
using ringo::net::tls_stream;
using ringo_test::client_context;
using ringo_test::connected_tls_pair;
using ringo_test::plain_openssl_client;
using ringo_test::server_context;

namespace {

bool expected_by_environment() {
  const char* v = std::getenv("RINGO_EXPECT_KERNEL_TLS");
  return v != nullptr && std::string_view{v} == "1";
}

/// Whether a stream made on the running context with a context that allows it should get kernel
/// TLS: the kernel offers it and the context's backend was not told to do without.
bool kernel_tls_here() {
  const bool offered = tls_context::kernel_tls_available();
  if (expected_by_environment()) REQUIRE(offered);
  return offered && ringo::io_context::current()->features().kernel_tls;
}


struct exchanged {
  bool client_kernel = false;
  bool server_kernel = false;
  std::string version;
  std::size_t at_client = 0;
  std::size_t at_server = 0;
};

ringo::task<exchanged> talk(const tls_context& server_ctx, const tls_context& client_ctx,
                            std::size_t total) {
  auto l = tcp_listener::bind(endpoint::loopback_v4(0));
  auto p = co_await connected_tls_pair(l, server_ctx, client_ctx);
  exchanged out;
  out.client_kernel = p.client.kernel_tls();
  out.server_kernel = p.server.kernel_tls();
  out.version = std::string{p.client.protocol_version()};
  auto server_side = ringo::spawn(ringo_test::exchange(p.server, total, 1, 2));
  out.at_client = co_await ringo_test::exchange(p.client, total, 2, 1);
  out.at_server = co_await server_side;
  co_return out;
}

SSL_CTX* native(const tls_context& c) {
  return static_cast<SSL_CTX*>(c.native_handle());
}

/// A server context limited to TLS 1.2 with the cipher `cipher`, or to TLS 1.3 with the
/// cipher suite `suite`.
tls_context server_with(std::string_view version, const char* cipher) {
  auto c = server_context();
  if (version == "TLSv1.2") {
    REQUIRE(SSL_CTX_set_max_proto_version(native(c), TLS1_2_VERSION) == 1);
    c.set_cipher_list(cipher);  // widened or narrowed from the server's default as named
  } else {
    REQUIRE(SSL_CTX_set_ciphersuites(native(c), cipher) == 1);
  }
  return c;
}

}  // namespace

TEST_CASE("where the kernel offers TLS, both ends hand their keys over and talk through it",
          "[tls][kernel]") {
  ringo::run([]() -> ringo::task<void> {
    const bool kernel = kernel_tls_here();
    // The context's feature is the probe's, unless RINGO_DISABLE_FEATURES names it (or all).
    const char* off = std::getenv("RINGO_DISABLE_FEATURES");
    const std::string_view disabled = off != nullptr ? off : "";
    const bool turned_off = disabled.find("kernel_tls") != std::string_view::npos ||
                            disabled.find("all") != std::string_view::npos;
    CHECK(ringo::io_context::current()->features().kernel_tls ==
          (tls_context::kernel_tls_available() && !turned_off));
    const auto got = co_await talk(server_context(), client_context(), 3 << 20);
    CHECK(got.client_kernel == kernel);
    CHECK(got.server_kernel == kernel);
    CHECK(got.version == "TLSv1.3");
    CHECK(got.at_client == 3u << 20);
    CHECK(got.at_server == 3u << 20);
  }());
}

TEST_CASE("each cipher the kernel has, in TLS 1.2 and 1.3", "[tls][kernel]") {
  struct choice {
    const char* version;
    const char* cipher;
  };
  for (const choice c : {choice{"TLSv1.3", "TLS_AES_128_GCM_SHA256"},
                         choice{"TLSv1.3", "TLS_AES_256_GCM_SHA384"},
                         choice{"TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"},
                         choice{"TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"},
                         choice{"TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"},
                         choice{"TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"}}) {
    DYNAMIC_SECTION(c.version << " " << c.cipher) {
      ringo::run([c]() -> ringo::task<void> {
        const bool kernel = kernel_tls_here();
        const auto got = co_await talk(server_with(c.version, c.cipher), client_context(), 300000);
        CHECK(got.version == c.version);
        CHECK(got.client_kernel == kernel);
        CHECK(got.server_kernel == kernel);
        CHECK(got.at_client == 300000u);
        CHECK(got.at_server == 300000u);
      }());
    }
  }
}

TEST_CASE("a cipher the kernel has no records for stays in user space", "[tls][kernel]") {
  ringo::run([]() -> ringo::task<void> {
    (void)kernel_tls_here();
    // AES-CBC with HMAC: the kernel makes no such records. The handshake still read record by
    // record where the kernel offers TLS; the stream goes on in user space all the same.
    const auto got = co_await talk(server_with("TLSv1.2", "ECDHE-ECDSA-AES128-SHA256"),
                                   client_context(), 300000);
    CHECK(got.version == "TLSv1.2");
    CHECK_FALSE(got.client_kernel);
    CHECK_FALSE(got.server_kernel);
    CHECK(got.at_client == 300000u);
    CHECK(got.at_server == 300000u);
  }());
}

TEST_CASE("a kernel TLS end talks with a user-space end, either way round", "[tls][kernel]") {
  for (const bool user_space_server : {true, false}) {
    DYNAMIC_SECTION((user_space_server ? "user-space server" : "user-space client")) {
      ringo::run([user_space_server]() -> ringo::task<void> {
        const bool kernel = kernel_tls_here();
        auto server_ctx = server_context();
        auto client_ctx = client_context();
        (user_space_server ? server_ctx : client_ctx).set_kernel_tls(false);
        CHECK_FALSE((user_space_server ? server_ctx : client_ctx).kernel_tls());
        // TLS 1.3 and 1.2: tickets come after the handshake in one, not the other.
        for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
          REQUIRE(SSL_CTX_set_max_proto_version(native(server_ctx), version) == 1);
          const auto got = co_await talk(server_ctx, client_ctx, 1 << 20);
          CHECK(got.server_kernel == (kernel && !user_space_server));
          CHECK(got.client_kernel == (kernel && user_space_server));
          CHECK(got.at_client == 1u << 20);
          CHECK(got.at_server == 1u << 20);
        }
      }());
    }
  }
}

TEST_CASE("a peer gone without close_notify is truncation with kernel TLS too", "[tls][kernel]") {
  ringo::run([]() -> ringo::task<void> {
    const bool kernel = kernel_tls_here();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_context(), client_context());
    CHECK(p.client.kernel_tls() == kernel);
    co_await p.server.write_all("cut");
    { tls_stream dropped = std::move(p.server); }  // closes the socket: no close_notify
    std::array<std::byte, 16> buf{};
    const std::size_t n = co_await p.client.read_some(buf, 5s);
    CHECK(std::string_view(reinterpret_cast<const char*>(buf.data()), n) == "cut");
    std::error_code code;
    try {
      (void)co_await p.client.read_some(buf, 5s);
    } catch (const tls_error& e) {
      code = e.code();
    }
    CHECK(code == ringo::net::tls_errc::truncated);
  }());
}

namespace {

// Keeps what `ssl` reads until the peer closes.
void read_to_end(SSL* ssl, std::string& heard) {
  char buf[16];
  int n = 0;
  while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
    heard.append(buf, static_cast<std::size_t>(n));
}

// Sends "before", updates its keys (TLS 1.3 KeyUpdate) and sends "after", then reads to the end.
void key_updating_client(std::uint16_t port, std::string ca) {
  plain_openssl_client(port, ca, 0ms, [](SSL* ssl) {
    SSL_write(ssl, "before", 6);
    SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED);
    SSL_write(ssl, "after", 5);
    std::string ignored;
    read_to_end(ssl, ignored);
  });
}

// Says nothing for 100 ms after connecting, then makes its handshake, sends "hello" and keeps
// what it reads until the server closes.
void slow_client(std::uint16_t port, std::string ca, std::string& heard) {
  plain_openssl_client(port, ca, 100ms, [&heard](SSL* ssl) {
    if (SSL_write(ssl, "hello", 5) == 5) read_to_end(ssl, heard);
  });
}

}  // namespace

TEST_CASE("a KeyUpdate, which kernel TLS cannot follow, fails the read and says what to do",
          "[tls][kernel]") {
  ringo::run([]() -> ringo::task<void> {
    const bool kernel = kernel_tls_here();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    std::thread client{key_updating_client, l.local_endpoint().port(),
                       ringo_test::test_certificates().ca};
    tls_stream s = co_await ringo_test::accept_tls(l, server_context());
    CHECK(s.kernel_tls() == kernel);
    std::string got(11, '\0');
    std::string what;
    std::error_code code;
    try {
      co_await s.read_exact(std::as_writable_bytes(std::span{got}), 5s);
    } catch (const tls_error& e) {
      what = e.what();
      code = e.code();
    }
    if (kernel) {
      // "before" came through; the update stops the stream.
      CHECK(got.starts_with("before"));
      CHECK(code == ringo::net::tls_errc::kernel_cannot_follow);
      CHECK(what.find("KeyUpdate") != std::string::npos);
      CHECK(what.find("set_kernel_tls(false)") != std::string::npos);
    } else {
      CHECK(got == "beforeafter");  // OpenSSL follows it in user space
      CHECK_FALSE(code);
    }
    co_await s.close();
    client.join();
  }());
}

TEST_CASE("after shutdown the stream writes nothing more, and reads on", "[tls][kernel]") {
  ringo::run([]() -> ringo::task<void> {
    const bool kernel = kernel_tls_here();
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_tls_pair(l, server_context(), client_context());
    CHECK(p.client.kernel_tls() == kernel);
    co_await p.client.shutdown();
    std::string what;
    try {
      co_await p.client.write_all("late");
    } catch (const tls_error& e) {
      what = e.what();
    }
    CHECK(what.ends_with("protocol is shutdown"));
    // The server reads the end, and its answer still reaches the client.
    std::array<std::byte, 16> buf{};
    const std::size_t end = co_await p.server.read_some(buf, 5s);
    CHECK(end == 0);
    co_await p.server.write_all("answer");
    co_await p.server.close();
    std::string got(6, '\0');
    co_await p.client.read_exact(std::as_writable_bytes(std::span{got}), 5s);
    CHECK(got == "answer");
    const std::size_t after = co_await p.client.read_some(buf, 5s);
    CHECK(after == 0);
  }());
}

TEST_CASE("a context told to do without kernel TLS keeps records in user space",
          "[tls][kernel]") {
  (void)tls_context::kernel_tls_available();
  ringo::io_context_options o;
  o.disabled_features = static_cast<unsigned>(ringo::kernel_feature::kernel_tls);
  ringo::io_context ctx{o};
  CHECK_FALSE(ctx.features().kernel_tls);
  const auto got = ctx.run(talk(server_context(), client_context(), 200000));
  CHECK_FALSE(got.client_kernel);
  CHECK_FALSE(got.server_kernel);
  CHECK(got.at_client == 200000u);
  CHECK(got.at_server == 200000u);

  // The same by name in the environment.
  const char* before = std::getenv("RINGO_DISABLE_FEATURES");
  const std::string saved = before != nullptr ? before : "";
  ::setenv("RINGO_DISABLE_FEATURES", "kernel_tls", 1);
  {
    ringo::io_context named;
    CHECK_FALSE(named.features().kernel_tls);
    const auto again = named.run(talk(server_context(), client_context(), 1000));
    CHECK_FALSE(again.server_kernel);
    CHECK(again.at_server == 1000u);
  }
  if (before != nullptr) {
    ::setenv("RINGO_DISABLE_FEATURES", saved.c_str(), 1);
  } else {
    ::unsetenv("RINGO_DISABLE_FEATURES");
  }
}

TEST_CASE("a stream already read from goes on in user space, where bytes may be queued",
          "[tls][kernel]") {
  ringo::run([]() -> ringo::task<void> {
    const bool kernel = kernel_tls_here();
    const bool multishot = ringo::io_context::current()->features().provided_buffers;
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    std::string heard_back;
    std::thread client{slow_client, l.local_endpoint().port(), ringo_test::test_certificates().ca,
                       std::ref(heard_back)};
    ringo::net::tcp_stream tcp = co_await l.accept();
    // A read that times out before the client says anything: with provided buffers it leaves
    // the stream's multishot receive armed, which may take bytes past the handshake.
    std::array<std::byte, 1> one{};
    bool timed_out = false;
    try {
      (void)co_await tcp.read_some(one, 5ms);
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    tls_stream server = co_await tls_stream::accept(std::move(tcp), server_context());
    CHECK(server.kernel_tls() == (kernel && !multishot));
    std::string got(5, '\0');
    co_await server.read_exact(std::as_writable_bytes(std::span{got}), 5s);
    CHECK(got == "hello");
    co_await server.write_all("back");
    co_await server.close();
    client.join();
    CHECK(heard_back == "back");
  }());
}
