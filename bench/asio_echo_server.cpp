// asio_echo_server: the Boost.Asio baseline for the echo comparison (bench/suite.sh). Boost.Asio
// 1.81 with C++20 coroutines: one coroutine per connection started with co_spawn, every
// operation awaited with use_awaitable, one io_context on one thread (concurrency hint 1). It
// does not use ringo.
//
// Like demo/echo_server it sets TCP_NODELAY, sends the greeting line "hello from ringo\n" to
// every accepted connection, then echoes every byte back (read_some into a 64 KiB buffer of its
// own, as bench/epoll_echo_server does, then async_write of what arrived). bench/load_client
// reads and discards that first line.
//
// bench/meson.build builds it twice from this file when Boost 1.81 headers are found:
//   asio_echo_server_epoll  Asio's default reactor (epoll)
//   asio_echo_server_uring  -DBOOST_ASIO_HAS_IO_URING -DBOOST_ASIO_DISABLE_EPOLL (liburing)
//
// Usage:
//   build/release/bench/asio_echo_server_epoll [--host H] [--port P]
// Serves until SIGINT or SIGTERM, then stops the io_context and exits 0.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/version.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::string_view greeting = "hello from ringo\n";
constexpr std::size_t buffer_size = 64 * 1024;

#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
constexpr const char* backend = "io_uring";
#else
constexpr const char* backend = "epoll";
#endif

asio::awaitable<void> talk(tcp::socket s) {
  // The buffer lives outside the frame, left uninitialized: an idle connection's untouched
  // pages cost no resident memory.
  auto buf = std::make_unique_for_overwrite<std::array<char, buffer_size>>();
  try {
    s.set_option(tcp::no_delay(true));
    co_await asio::async_write(s, asio::buffer(greeting), asio::use_awaitable);
    for (;;) {
      const std::size_t n = co_await s.async_read_some(asio::buffer(*buf), asio::use_awaitable);
      co_await asio::async_write(s, asio::buffer(buf->data(), n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // end of stream, reset by the peer or shutting down: the connection is done
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& a) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await a.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      std::fprintf(stderr, "asio_echo_server: accept: %s\n", ec.message().c_str());
      continue;
    }
    asio::co_spawn(a.get_executor(), talk(std::move(s)), asio::detached);
  }
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "asio_echo_server: %s\nusage: asio_echo_server [--host H] [--port P]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 9090;
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
  if (port < 0 || port > 65535) usage("--port takes 0 to 65535");
  try {
    asio::io_context ctx{1};
    tcp::acceptor acceptor{ctx};
    const tcp::endpoint at{asio::ip::make_address(host), static_cast<unsigned short>(port)};
    acceptor.open(at.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen(asio::socket_base::max_listen_connections);
    std::printf("listening on %s:%d (Boost.Asio %d.%d, %s)\n", host.c_str(), port,
                BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, backend);
    std::fflush(stdout);
    asio::signal_set signals{ctx, SIGINT, SIGTERM};
    signals.async_wait([&](const boost::system::error_code&, int) { ctx.stop(); });
    asio::co_spawn(ctx, accept_loop(acceptor), asio::detached);
    ctx.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_echo_server: %s\n", e.what());
    return 1;
  }
  return 0;
}
