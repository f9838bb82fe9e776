// unix_echo: Python's asyncio.start_unix_server and asyncio.open_unix_connection. A server
// listens on a Unix socket (a socket file, or an abstract name beginning with '@') and echoes
// each connection; clients connect by path. Without arguments both run in this one process: a
// server on a socket file in a fresh temporary directory, three clients that each send a line
// and print what was echoed, and the listener's close, which removes its file.
//
//   build/demo/unix_echo                   # server and clients in one process
//   build/demo/unix_echo @ringo-demo       # the same on an abstract name (no file)
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using ringo::net::unix_listener;
using ringo::net::unix_stream;

namespace {

// Echoes until the client ends the stream.
ringo::task<void> echo(unix_stream s) {
  for (;;) {
    auto bufs = co_await s.receive_some();
    if (bufs.empty()) break;
    co_await s.write_all(bufs);
  }
}

ringo::task<void> serve(unix_listener& l, int connections) {
  for (int i = 0; i < connections; ++i)
    ringo::spawn(echo(co_await l.accept()));
}

ringo::task<void> client(std::string path, int n) {
  unix_stream s = co_await unix_stream::connect(path);
  const std::string line = fmt::format("hello {} from client {}", path, n);
  co_await s.write_all(line);
  s.shutdown();  // no more to send: the server's echo loop ends
  std::string echoed;
  std::array<std::byte, 256> buf{};
  while (const std::size_t got = co_await s.read_some(buf))
    echoed.append(reinterpret_cast<const char*>(buf.data()), got);
  fmt::print("client {}: echoed \"{}\"\n", n, echoed);
}

ringo::task<void> demo_main(std::string path) {
  constexpr int clients = 3;
  auto l = unix_listener::bind(path);
  fmt::print("listening on {}\n", l.path());
  auto server = ringo::spawn(serve(l, clients));
  std::vector<ringo::join_handle<void>> hs;
  for (int i = 1; i <= clients; ++i)
    hs.push_back(ringo::spawn(client(path, i)));
  for (auto& h : hs)
    co_await h;
  co_await server;
  l.close();  // removes the socket file this listener made
  fmt::print("closed; {} {}\n", path,
             path.front() == '@'
                 ? "was an abstract name"
                 : (::access(path.c_str(), F_OK) == 0 ? "is still there" : "is gone"));
}

constexpr demo::usage cli{
    "unix_echo",
    "usage: unix_echo [PATH | @NAME]\n"
    "An echo server on a Unix socket (a file in a fresh temporary directory, PATH, or the\n"
    "abstract name NAME) and three clients of it, in one process.\n"};

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  if (argc > 2) cli.fail("one PATH at most");
  if (argc == 2 && argv[1][0] == '-') cli.fail(fmt::format("unknown option {}", argv[1]));
  std::string dir;
  std::string path;
  if (argc == 2) {
    path = argv[1];
  } else {
    char tmpl[] = "/tmp/unix_echo-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      throw std::system_error(errno, std::system_category(), "mkdtemp /tmp/unix_echo-XXXXXX");
    }
    dir = tmpl;
    path = dir + "/echo.sock";
  }
  ringo::run(demo_main(path));
  if (!dir.empty()) ::rmdir(dir.c_str());
  return 0;
} catch (const std::exception& e) {
  return demo::failed("unix_echo", e);
}
