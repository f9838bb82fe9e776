// echo_server: seed block 10, the gevent server that greets each client and echoes, as ringo
// coroutines on io_uring. One task per connection, all on one thread; each connection receives
// into buffers of the context's shared ring and takes all that arrived at once (receive_some),
// then writes them back with one gathered send (write_all), so an idle connection holds no
// buffer at all.
//
// --plain echoes the way most programs would write it instead: read_some into a buffer of the
// connection's own, then write_all of what was read (bench/suite.sh measures both).
//
// --threads N runs one io_context per thread (ringo::context_pool), each with its own
// SO_REUSEPORT listener on the same port: the kernel spreads connections over them.
//
// Shutdown: the pool takes SIGINT and SIGTERM (blocked in every thread, waited for by a
// signal_set on the main one) and cancels each context's server, which stops accepting, gives
// open connections two seconds to finish, and ends; the program exits 0.
//
//   build/release/demo/echo_server --port 9090 [--host 127.0.0.1] [--threads 2] [--plain]
//   build/release/demo/echo_client --port 9090 --connections 500 --seconds 5
#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/context_pool.hpp>
#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

struct counters {
  long active = 0;
  long served = 0;
};

bool is_peer_gone(const std::system_error& e) {
  const int v = e.code().value();
  return v == ECONNRESET || v == EPIPE;
}

// The greeting in a coroutine of its own: its write awaiter lives in a frame that ends with the
// greeting, not in talk's, which every idle connection keeps (g++ gives the awaiter of every
// co_await in a coroutine a place of its own in the frame).
ringo::task<void> greet(tcp_stream& s) {
  co_await s.write_all("hello from ringo\n");
}

ringo::task<void> talk(tcp_stream s, counters& n) {
  ++n.active;
  try {
    s.set_nodelay(true);
    co_await greet(s);
    for (;;) {
      // Everything that arrived since the last turn, and all of it back in one send.
      auto bufs = co_await s.receive_some();
      if (bufs.empty()) break;  // the client is done
      co_await s.write_all(bufs);
    }
  } catch (const ringo::operation_cancelled&) {
    // shutting down
  } catch (const std::system_error& e) {
    if (!is_peer_gone(e)) fmt::print(stderr, "echo_server: {}\n", e.what());
  }
  --n.active;
  ++n.served;
}

// --plain: a buffer in the frame, read_some into it, write_all of what was read.
ringo::task<void> talk_plain(tcp_stream s, counters& n) {
  ++n.active;
  try {
    s.set_nodelay(true);
    co_await greet(s);
    std::array<std::byte, 16384> buf;
    for (;;) {
      const std::size_t got = co_await s.read_some(buf);
      if (got == 0) break;  // the client is done
      co_await s.write_all(std::span{buf.data(), got});
    }
  } catch (const ringo::operation_cancelled&) {
    // shutting down
  } catch (const std::system_error& e) {
    if (!is_peer_gone(e)) fmt::print(stderr, "echo_server: {}\n", e.what());
  }
  --n.active;
  ++n.served;
}

ringo::task<void> accept_loop(tcp_listener& l, bool plain, counters& n) {
  for (;;) {
    bool failed = false;
    try {
      tcp_stream s = co_await l.accept();
      ringo::spawn(plain ? talk_plain(std::move(s), n) : talk(std::move(s), n), ringo::daemon);
    } catch (const ringo::operation_cancelled&) {
      throw;
    } catch (const std::system_error& e) {
      // Out of descriptors, say: report it and try again a little later.
      fmt::print(stderr, "echo_server: {}\n", e.what());
      failed = true;
    }
    if (failed) co_await ringo::sleep_for(10ms);
  }
}

// One context's server: its own listener (bound by main, SO_REUSEPORT when several contexts
// share the port), accepting until the pool stops it, then two seconds of grace for open
// connections.
ringo::task<void> serve(tcp_listener listener, bool plain, counters& n) {
  try {
    co_await accept_loop(listener, plain, n);
  } catch (const ringo::operation_cancelled&) {
    // stopped by SIGINT/SIGTERM
  }
  listener.close();
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (n.active > 0 && std::chrono::steady_clock::now() < until) {
    co_await ringo::sleep_for(10ms);
  }
  // Connections still open are daemons: run() cancels them.
}

constexpr demo::usage cli{
    "echo_server",
    "usage: echo_server --port P [--host ADDRESS] [--threads N] [--plain]\n"
    "Greets each client, then echoes what it sends until SIGINT or SIGTERM. --port 0 takes a\n"
    "free port (printed); --threads N runs N loops; --plain echoes through a buffer of its own.\n"};

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  std::string host = "127.0.0.1";
  int port = -1;
  int threads = 1;
  bool plain = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--plain") {
      plain = true;
      continue;
    }
    if (i + 1 >= argc) cli.fail("missing value after an option");
    if (arg == "--port") {
      port = std::atoi(argv[++i]);
    } else if (arg == "--host") {
      host = argv[++i];
    } else if (arg == "--threads") {
      threads = std::atoi(argv[++i]);
    } else {
      cli.fail("unknown option");
    }
  }
  if (port < 0 || port > 65535) cli.fail("--port is required (0 to 65535)");
  if (threads < 1 || threads > 1024) cli.fail("--threads takes 1 to 1024");
  if (host == "localhost") host = "127.0.0.1";

  // A background job of a shell starts with SIGINT ignored: take the default back, so that
  // SIGINT ends the server before the pool runs too (while it runs, the pool's signal_set
  // blocks SIGINT and reads it, ignored or not).
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  // Every listener is bound before "listening on" is printed, so that a port in use fails the
  // program before it claims to listen. The first one picks the port (for --port 0), the others
  // share it (SO_REUSEPORT); each context's first accept() ties its listener to it.
  ringo::net::listen_options options;
  options.reuse_port = threads > 1;
  std::vector<tcp_listener> listeners;
  listeners.push_back(
      tcp_listener::bind(endpoint{host, static_cast<std::uint16_t>(port)}, 1024, options));
  const endpoint at = listeners.front().local_endpoint();
  while (listeners.size() < static_cast<std::size_t>(threads))
    listeners.push_back(tcp_listener::bind(at, 1024, options));
  ringo::context_pool pool{static_cast<unsigned>(threads)};
  std::vector<counters> per_context(pool.size());
  fmt::print("listening on {} with {} thread{}\n", at, threads, threads == 1 ? "" : "s");
  std::fflush(stdout);
  pool.run([&](unsigned i) { return serve(std::move(listeners[i]), plain, per_context[i]); });
  long served = 0;
  for (const auto& n : per_context)
    served += n.served;
  fmt::print("stopped after serving {} connection{}\n", served, served == 1 ? "" : "s");
  return 0;
} catch (const std::exception& e) {
  return demo::failed("echo_server", e);
}
