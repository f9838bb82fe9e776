// graceful_shutdown: a server that stops cleanly on SIGTERM or SIGINT, with ringo::signal_set
// (asyncio's loop.add_signal_handler). The signals are waited for like any I/O: no handler
// runs in the middle of a task. On the first one the server stops accepting, gives the open
// connections a second to finish, and ends; the program exits 0.
//
// Without arguments it shows the whole life on its own: one client connects and talks, then
// the program sends itself SIGTERM. With --port it serves until you stop it:
//
//   build/release/demo/graceful_shutdown
//   build/release/demo/graceful_shutdown --port 9090   # then Ctrl-C, or kill -TERM <pid>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/signal_set.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

// Each connection is greeted, then echoed until the client is done.
ringo::task<void> talk(tcp_stream s, int& open) {
  ++open;
  try {
    co_await s.write_all("hello from graceful_shutdown\n");
    std::array<std::byte, 4096> buf{};
    while (const std::size_t n = co_await s.read_some(buf)) {
      co_await s.write_all(std::span{buf.data(), n});
    }
  } catch (const std::exception&) {
    // the client went away, or the grace period ended (cancelled)
  }
  --open;
}

ringo::task<void> accept_loop(tcp_listener& listener, int& open) {
  for (;;)
    ringo::spawn(talk(co_await listener.accept(), open), ringo::daemon);
}

// The scripted client of a run without arguments: one exchange, then SIGTERM to the process.
ringo::task<void> client_then_sigterm(endpoint server) {
  auto s = co_await tcp_stream::connect(server);
  std::array<std::byte, 64> buf{};
  const std::size_t n = co_await s.read_some(buf);
  fmt::print("client: the server says {:?}\n",
             std::string_view{reinterpret_cast<const char*>(buf.data()), n});
  co_await ringo::sleep_for(200ms);
  fmt::print("sending myself SIGTERM\n");
  ::kill(::getpid(), SIGTERM);
  co_await ringo::sleep_for(100ms);  // the connection is still open when the server stops
}

ringo::task<void> serve(std::uint16_t port, bool self_stop) {
  // First, before anything could send a signal: from here SIGINT and SIGTERM wait for us.
  ringo::signal_set signals{SIGINT, SIGTERM};
  auto listener = tcp_listener::bind(endpoint{"127.0.0.1", port});
  fmt::print("listening on {} (pid {}); SIGINT or SIGTERM stops it\n", listener.local_endpoint(),
             ::getpid());
  std::fflush(stdout);  // for whoever reads it through a pipe
  int open = 0;
  auto server = ringo::spawn(accept_loop(listener, open));
  if (self_stop) ringo::spawn(client_then_sigterm(listener.local_endpoint()), ringo::daemon);

  const int sig = co_await signals.wait();
  fmt::print("got SIG{}: no new connections, {} still open\n", ::sigabbrev_np(sig), open);
  server.cancel();
  try {
    co_await server;
  } catch (const ringo::operation_cancelled&) {
  }
  listener.close();
  for (int i = 0; i < 100 && open > 0; ++i)
    co_await ringo::sleep_for(10ms);
  fmt::print("stopped cleanly ({} connection{} cut off)\n", open, open == 1 ? "" : "s");
}

constexpr demo::usage cli{
    "graceful_shutdown",
    "usage: graceful_shutdown [--port P]\n"
    "A server that stops cleanly on SIGINT or SIGTERM. Without --port, one client talks to it\n"
    "and the program sends itself SIGTERM; with --port (0: a free port, printed) it serves\n"
    "until stopped.\n"};

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  const bool scripted = argc == 1;
  const int port = argc == 3 && std::string_view{argv[1]} == "--port" ? std::atoi(argv[2]) : -1;
  if (!scripted && (port < 0 || port > 65535)) cli.fail("--port P is the one option (0 to 65535)");
  ringo::run(serve(scripted ? 0 : static_cast<std::uint16_t>(port), scripted));
  return 0;
} catch (const std::exception& e) {
  return demo::failed("graceful_shutdown", e);
}
