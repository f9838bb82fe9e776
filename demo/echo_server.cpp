// echo_server: seed block 10, the gevent server that greets each client and echoes, as ringo
// coroutines on io_uring. One task per connection, all on one thread; each connection receives
// into buffers of the context's shared ring (receive()) and writes them back (write_all), so an
// idle connection holds no buffer at all.
//
// Shutdown: SIGINT and SIGTERM are blocked and read from a signalfd through the ring (a signal
// handler may not touch the loop: io_context::post is not async-signal-safe). On the first
// one the server stops accepting, gives open connections two seconds to finish, and exits 0.
//
//   build/demo/echo_server --port 9090 [--host 127.0.0.1]
//   build/demo/echo_client --port 9090 --connections 500 --seconds 5
#include <signal.h>
#include <sys/signalfd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/file.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

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

ringo::task<void> talk(tcp_stream s, counters& n) {
  ++n.active;
  try {
    s.set_nodelay(true);
    co_await s.write_all("hello from ringo\n");
    for (;;) {
      auto buf = co_await s.receive();
      if (buf.empty()) break;  // the client is done
      co_await s.write_all(buf.bytes());
    }
  } catch (const ringo::operation_cancelled&) {
    // shutting down
  } catch (const std::system_error& e) {
    if (!is_peer_gone(e)) fmt::print(stderr, "echo_server: {}\n", e.what());
  }
  --n.active;
  ++n.served;
}

ringo::task<void> accept_loop(tcp_listener& l, counters& n) {
  for (;;) {
    bool failed = false;
    try {
      ringo::spawn(talk(co_await l.accept(), n), ringo::daemon);
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

ringo::task<int> serve(endpoint at, int signal_fd) {
  counters n;
  auto listener = tcp_listener::bind(at);
  fmt::print("listening on {}\n", listener.local_endpoint());
  std::fflush(stdout);
  auto acceptor = ringo::spawn(accept_loop(listener, n));

  auto signals = ringo::file::adopt(signal_fd, "signalfd");
  signalfd_siginfo info{};
  co_await signals.read_some(std::as_writable_bytes(std::span{&info, 1}));

  acceptor.cancel();
  try {
    co_await acceptor;
  } catch (const ringo::operation_cancelled&) {
  }
  listener.close();
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (n.active > 0 && std::chrono::steady_clock::now() < until)
    co_await ringo::sleep_for(10ms);
  fmt::print("{}: stopped after serving {} connection{}\n",
             strsignal(static_cast<int>(info.ssi_signo)), n.served, n.served == 1 ? "" : "s");
  co_return 0;  // connections still open are daemons: run() cancels them
}

[[noreturn]] void usage(const char* why) {
  fmt::print(stderr, "echo_server: {}\nusage: echo_server --port P [--host ADDRESS]\n", why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage("missing value after an option");
    if (arg == "--port") {
      port = std::atoi(argv[++i]);
    } else if (arg == "--host") {
      host = argv[++i];
    } else {
      usage("unknown option");
    }
  }
  if (port < 0 || port > 65535) usage("--port is required (0 to 65535)");
  if (host == "localhost") host = "127.0.0.1";

  // Block the signals before anything else, so every thread inherits the mask and they stay
  // queued for the signalfd.
  // A background job of a shell starts with SIGINT ignored, and an ignored signal never
  // reaches a signalfd: take the default disposition back (the signals stay blocked).
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  const int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) {
    fmt::print(stderr, "echo_server: signalfd: {}\n", std::strerror(errno));
    return 1;
  }
  try {
    return ringo::run(serve(endpoint{host, static_cast<std::uint16_t>(port)}, sfd));
  } catch (const std::exception& e) {
    fmt::print(stderr, "echo_server: {}\n", e.what());
    return 1;
  }
}
