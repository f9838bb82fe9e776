// tls_echo: Python's ssl.SSLContext with asyncio.start_server(ssl=...) and
// asyncio.open_connection(ssl=...): an echo server that makes the server's side of a TLS
// handshake on each accepted connection (tls_stream::accept) and echoes what it decrypts, and a
// client that connects by host name (tls_stream::connect: SNI, and the server's certificate
// checked against the CA file or the system's trust store), sends each message, prints the echo,
// and ends with a close_notify. The records are made by OpenSSL in memory; the ciphertext goes
// through ringo's own TCP stream, on io_uring or epoll.
//
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30
//     -keyout key.pem -out cert.pem -subj /CN=localhost
//     -addext subjectAltName=DNS:localhost,IP:127.0.0.1        (one command)
//   build/demo/tls_echo server --port 8443 --cert cert.pem --key key.pem [--connections N]
//   build/demo/tls_echo client --host localhost --port 8443 --ca cert.pem hello world
//
// The server serves until killed, or N connections with --connections N; the client's
// --insecure skips the certificate check (for tests only).
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task_group.hpp>

#include "demo_main.hpp"

#if !RINGO_HAS_TLS
#error "tls_echo needs ringo built with TLS (the meson option tls, libssl-dev)"
#endif

using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo::net::tls_context;
using ringo::net::tls_stream;

namespace {

// One connection: the handshake, then every decrypted byte back, until the client's
// close_notify; our own close_notify last.
ringo::task<void> echo(tcp_stream accepted, const tls_context& ctx) {
  try {
    tls_stream s = co_await tls_stream::accept(std::move(accepted), ctx);
    fmt::print("{}: {} (ALPN: '{}', records made by {})\n", s.remote_endpoint(),
               s.protocol_version(), s.alpn_protocol(), s.kernel_tls() ? "the kernel" : "OpenSSL");
    std::array<std::byte, 16384> buf;
    while (const std::size_t n = co_await s.read_some(buf)) {
      co_await s.write_all(std::span{buf.data(), n});
    }
    co_await s.close();
  } catch (const std::system_error& e) {
    // A failed handshake, a truncated stream: this connection's end, not the server's.
    fmt::print(stderr, "tls_echo: {}\n", e.what());
  }
}

ringo::task<void> server(std::uint16_t port, std::string cert, std::string key, long connections) {
  tls_context ctx = tls_context::server(std::move(cert), std::move(key));
  ctx.set_alpn({"echo"});
  auto listener = tcp_listener::bind(ringo::net::endpoint::loopback_v4(port));
  fmt::print("listening on {}\n", listener.local_endpoint());
  std::fflush(stdout);
  ringo::task_group group;
  for (long served = 0; connections == 0 || served < connections; ++served) {
    group.spawn(echo(co_await listener.accept(), ctx));
  }
  co_await group.join();
}

ringo::task<void> client(std::string host, std::uint16_t port, std::string ca, bool insecure,
                         std::vector<std::string> messages) {
  tls_context ctx = tls_context::client();
  if (!ca.empty()) ctx.load_verify_file(std::move(ca));
  if (insecure) ctx.set_verify(false);
  ctx.set_alpn({"echo"});
  tls_stream s = co_await tls_stream::connect(host, port, ctx);
  fmt::print("connected to {} ({}, {}), server certificate: {}\n", host, s.remote_endpoint(),
             s.protocol_version(), s.peer_certificate_subject());
  for (const std::string& m : messages) {
    co_await s.write_all(m);
    std::string echoed(m.size(), '\0');
    co_await s.read_exact(std::as_writable_bytes(std::span{echoed}));
    fmt::print("echoed: {}\n", echoed);
  }
  co_await s.close();
}

constexpr demo::usage cli{
    "tls_echo",
    "usage: tls_echo server --port P --cert CERT.pem --key KEY.pem [--connections N]\n"
    "       tls_echo client [--host H] --port P [--ca CA.pem] [--insecure] MESSAGE...\n"
    "The server echoes over TLS (ending after N connections if given); the client sends each\n"
    "MESSAGE and prints the echo.\n"};

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  if (argc < 2) cli.fail("server or client?");
  const std::string_view mode = argv[1];
  std::string host = "localhost", cert, key, ca;
  long port = -1, connections = 0;
  bool insecure = false;
  std::vector<std::string> messages;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--insecure") {
      insecure = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      messages.emplace_back(arg);
      continue;
    }
    if (i + 1 >= argc) cli.fail("missing value after an option");
    const char* value = argv[++i];
    if (arg == "--port") {
      port = std::strtol(value, nullptr, 10);
    } else if (arg == "--host") {
      host = value;
    } else if (arg == "--cert") {
      cert = value;
    } else if (arg == "--key") {
      key = value;
    } else if (arg == "--ca") {
      ca = value;
    } else if (arg == "--connections") {
      connections = std::strtol(value, nullptr, 10);
    } else {
      cli.fail("unknown option");
    }
  }
  if (port < 0 || port > 65535) cli.fail("--port is required (0 to 65535)");
  if (mode == "server") {
    if (cert.empty() || key.empty()) cli.fail("the server needs --cert and --key");
    ringo::run(server(static_cast<std::uint16_t>(port), cert, key, connections));
  } else if (mode == "client") {
    if (messages.empty()) messages.emplace_back("hello over TLS");
    ringo::run(client(host, static_cast<std::uint16_t>(port), ca, insecure, messages));
  } else {
    cli.fail("the first argument is server or client");
  }
  return 0;
} catch (const std::exception& e) {
  return demo::failed("tls_echo", e);
}
