// http_server: an HTTP/1.1 server as ringo coroutines on io_uring, one task per connection.
// It shows keep-alive and pipelining done cheaply: every complete request in what one receive()
// brought is parsed straight out of the ring's provided buffer (no copy unless a request is cut
// across receives), answered in order, and the answers go out in one write. `GET /` answers
// "Hello, World!" from a precomputed response whose Date is patched once a second, so that path
// allocates nothing per request. With --root, other paths are files under DIR, read through
// the ring (ringo::file); ".." segments (also percent-encoded) are 403, and so are symlinks
// leading out of DIR (realpath, run off the loop with ringo::to_thread). A strict parser
// (parser.hpp) answers malformed requests 400, big heads 431, unknown methods 501, bodies
// without length 411, large ones 413, chunked bodies 501 (not implemented), then closes. A
// request head must arrive whole within --header-timeout-ms however slowly it trickles
// (slowloris), and an idle keep-alive connection is closed after --idle-timeout-ms.
//
// --cert CHAIN.pem --key KEY.pem serves HTTPS instead (ringo::net::tls_stream, when ringo was
// built with TLS): each connection makes the server's handshake, then the same HTTP.
//
// --threads N runs one io_context per thread (ringo::context_pool), each with its own
// SO_REUSEPORT listener. SIGINT and SIGTERM stop the pool: every context's server task is
// cancelled, every connection unwinds, and the program exits 0.
//
//   build/release/demo/http_server --port 8080 [--host 127.0.0.1] [--root DIR] [--threads N]
//                                  [--idle-timeout-ms 30000] [--header-timeout-ms 10000]
//   curl -v http://127.0.0.1:8080/
//   build/release/demo/http_server --port 8443 --cert cert.pem --key key.pem
//   curl --cacert cert.pem https://localhost:8443/
//   wrk -t1 -c50 -d3s http://127.0.0.1:8080/
//   wrk -t1 -c50 -d3s -s bench/wrk_pipeline.lua http://127.0.0.1:8080/
//
// The program's files are in demo/http/: this one reads the options and runs a pool;
// server.hpp declares serve(listener, config), the whole server for one io_context
// (server.cpp, with each connection in connection.cpp); parser.hpp is the parser. All but this
// file make the http_demo library (demo/http/meson.build), which test/http_test.cpp links to
// run serve() in-process.
#include "server.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/context_pool.hpp>
#include <ringo/net.hpp>
#include <ringo/task.hpp>

#include "../demo_main.hpp"

namespace {

// One context's server: its own listener (bound by main, SO_REUSEPORT when several contexts
// share the port), serving until the pool stops it on SIGINT/SIGTERM.
ringo::task<void> run_server(ringo::net::tcp_listener listener, const http::server_config& config) {
  co_await http::serve(listener, config);
}

constexpr demo::usage cli{
    "http_server",
    "usage: http_server [--port P] [--host ADDRESS] [--root DIR] [--threads N]\n"
    "                   [--idle-timeout-ms MS] [--header-timeout-ms MS]\n"
    "                   [--cert CHAIN.pem --key KEY.pem]\n"
    "Serves GET / (Hello, World!) and the files under DIR on port P (8080; 0: a free port,\n"
    "printed) until SIGINT or SIGTERM; HTTPS with --cert and --key.\n"};

long number(const char* text, long low, long high, const char* what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < low || v > high) cli.fail(what);
  return v;
}

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  std::string host = "127.0.0.1";
  long port = 8080;
  long threads = 1;
  http::server_config config;
  std::string cert, key;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) cli.fail("missing value after an option");
    const char* value = argv[++i];
    if (arg == "--port") {
      port = number(value, 0, 65535, "--port takes 0 to 65535");
    } else if (arg == "--host") {
      host = value;
    } else if (arg == "--threads") {
      threads = number(value, 1, 1024, "--threads takes 1 to 1024");
    } else if (arg == "--cert") {
      cert = value;
    } else if (arg == "--key") {
      key = value;
    } else if (arg == "--root") {
      config.root = value;
    } else if (arg == "--idle-timeout-ms") {
      config.idle_timeout = std::chrono::milliseconds{
          number(value, 1, 86'400'000, "--idle-timeout-ms: 1 to 86400000")};
    } else if (arg == "--header-timeout-ms") {
      config.header_timeout = std::chrono::milliseconds{
          number(value, 1, 86'400'000, "--header-timeout-ms: 1 to 86400000")};
    } else {
      cli.fail("unknown option");
    }
  }
  if (host == "localhost") host = "127.0.0.1";
  if (cert.empty() != key.empty()) cli.fail("--cert and --key go together");
  if (!cert.empty()) {
#if RINGO_HAS_TLS
    config.tls = ringo::net::tls_context::server(cert, key);
    config.tls->set_alpn({"http/1.1"});
    config.tls->set_handshake_timeout(config.header_timeout);
#else
    cli.fail("--cert: this ringo was built without TLS (the meson option tls, libssl-dev)");
#endif
  }

  // A background job of a shell starts with SIGINT ignored, and the pool waits for the signal
  // with sigtimedwait, which an ignored signal never reaches: take the default back.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  // A root that does not exist is an error now, not at the first request.
  if (!config.root.empty()) {
    struct stat st {};
    if (::stat(config.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      fmt::print(stderr, "http_server: --root {}: not a directory\n", config.root);
      return 2;
    }
  }
  // Every listener is bound before "listening on" is printed, so that a port in use fails the
  // program before it claims to listen. The first one picks the port (for --port 0), the others
  // share it (SO_REUSEPORT); each context's first accept() ties its listener to it.
  ringo::net::listen_options options;
  options.reuse_port = threads > 1;
  std::vector<ringo::net::tcp_listener> listeners;
  listeners.push_back(ringo::net::tcp_listener::bind(
      ringo::net::endpoint{host, static_cast<std::uint16_t>(port)}, 1024, options));
  const ringo::net::endpoint at = listeners.front().local_endpoint();
  while (listeners.size() < static_cast<std::size_t>(threads))
    listeners.push_back(ringo::net::tcp_listener::bind(at, 1024, options));
  ringo::context_pool pool{static_cast<unsigned>(threads)};
  fmt::print("listening on {}://{}/ with {} thread{}\n", cert.empty() ? "http" : "https", at,
             threads, threads == 1 ? "" : "s");
  std::fflush(stdout);
  pool.run([&](unsigned i) { return run_server(std::move(listeners[i]), config); });
  fmt::print("stopped\n");
  return 0;
} catch (const std::exception& e) {
  return demo::failed("http_server", e);
}
