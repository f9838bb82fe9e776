// resolve_connect: Python's socket.getaddrinfo and asyncio.open_connection(host, port). Resolves
// a host name (getaddrinfo runs on a pool thread, so the loop goes on serving its other tasks),
// prints every address in the resolver's order, then connects by name: each address in turn
// until one answers. Without arguments it resolves "localhost" and connects to a listener it
// opens itself on a free loopback port, sends a line and prints what came back.
//
//   build/demo/resolve_connect                  # localhost, its own listener
//   build/demo/resolve_connect example.com 80   # any host and port (sends nothing)
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

// Answers one connection: reads what the client sent and sends it back in upper case.
ringo::task<void> answer_once(tcp_listener& l) {
  auto s = co_await l.accept();
  std::array<std::byte, 256> buf{};
  const std::size_t n = co_await s.read_some(buf);
  std::string reply(reinterpret_cast<const char*>(buf.data()), n);
  for (char& c : reply)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  co_await s.write_all(reply);
}

ringo::task<void> resolve_and_connect(std::string host, std::uint16_t port, bool own_listener) {
  tcp_listener l;
  if (own_listener) {
    l = tcp_listener::bind(endpoint::loopback_v4(0));
    port = l.local_endpoint().port();
    ringo::spawn(answer_once(l));
  }
  // socket.getaddrinfo(host, port)
  const std::vector<endpoint> addresses = co_await ringo::net::resolve(host, port);
  for (const endpoint& e : addresses)
    fmt::print("{} -> {}\n", host, e);

  // asyncio.open_connection(host, port): the first address that connects wins
  tcp_stream s = co_await tcp_stream::connect(host, port);
  fmt::print("connected to {}\n", s.remote_endpoint());
  if (!own_listener) co_return;
  co_await s.write_all("hello by name");
  std::array<std::byte, 256> buf{};
  const std::size_t n = co_await s.read_some(buf);
  fmt::print("echoed: {}\n", std::string_view{reinterpret_cast<const char*>(buf.data()), n});
}

constexpr demo::usage cli{
    "resolve_connect",
    "usage: resolve_connect [HOST PORT]\n"
    "Resolves HOST, prints its addresses and connects to PORT on the first that answers;\n"
    "without arguments, localhost and a listener of its own, which echoes a line.\n"};

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  if (argc != 1 && argc != 3) cli.fail("HOST and PORT go together");
  const bool own_listener = argc == 1;
  const std::string host = own_listener ? "localhost" : argv[1];
  const int port = own_listener ? 0 : std::atoi(argv[2]);
  if (port < 0 || port > 65535 || (!own_listener && port == 0)) {
    cli.fail("the port must be 1 to 65535");
  }
  ringo::run(resolve_and_connect(host, static_cast<std::uint16_t>(port), own_listener));
  return 0;
} catch (const std::exception& e) {
  return demo::failed("resolve_connect", e);
}
