// echo_client: seed block 10's 500 client threads, as 500 coroutines on one thread. Each
// connection reads the server's greeting line, then plays request/response ping-pong with
// fixed-size messages until the time is up. Prints requests per second and the p50/p99 latency
// of one round trip in microseconds; exits 1 if any connection failed.
//
//   build/demo/echo_server --port 9090 &
//   build/demo/echo_client --port 9090 [--host 127.0.0.1] [--connections 500] [--seconds 5]
//                          [--size 64]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_stream;
using clock_type = std::chrono::steady_clock;

namespace {

struct results {
  std::vector<std::uint32_t> latencies_us;
  long failures = 0;
};

ringo::task<void> read_greeting(tcp_stream& s) {
  std::array<std::byte, 1> c{};
  for (int i = 0; i < 1024; ++i) {  // byte by byte: the greeting must not eat the first echo
    if (co_await s.read_some(c) == 0) {
      throw std::system_error(ECONNRESET, std::system_category(),
                              "the server closed before greeting");
    }
    if (c[0] == std::byte{'\n'}) co_return;
  }
  throw std::runtime_error("greeting longer than 1024 bytes");
}

ringo::task<void> client(endpoint server, std::size_t size, clock_type::time_point start,
                         clock_type::time_point stop, results& out) {
  try {
    auto s = co_await tcp_stream::connect(server);
    s.set_nodelay(true);
    co_await read_greeting(s);
    std::vector<std::byte> request(size, std::byte{'x'});
    std::vector<std::byte> reply(size);
    std::vector<std::uint32_t> mine;
    mine.reserve(1 << 14);
    (void)start;
    while (clock_type::now() < stop) {
      const auto t0 = clock_type::now();
      co_await s.write_all(request);
      co_await s.read_exact(reply);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0);
      mine.push_back(static_cast<std::uint32_t>(us.count()));
      if (reply != request) throw std::runtime_error("the echo differs from the request");
    }
    co_await s.close();
    out.latencies_us.insert(out.latencies_us.end(), mine.begin(), mine.end());
  } catch (const std::exception& e) {
    if (out.failures++ == 0) fmt::print(stderr, "echo_client: a connection failed: {}\n", e.what());
  }
}

ringo::task<results> run_clients(endpoint server, int connections, int seconds, std::size_t size) {
  results out;
  const auto start = clock_type::now();
  const auto stop = start + std::chrono::seconds{seconds};
  std::vector<ringo::join_handle<void>> hs;
  hs.reserve(static_cast<std::size_t>(connections));
  for (int i = 0; i < connections; ++i)
    hs.push_back(ringo::spawn(client(server, size, start, stop, out)));
  for (auto& h : hs)
    co_await h;
  co_return out;
}

constexpr demo::usage cli{
    "echo_client",
    "usage: echo_client --port P [--host ADDRESS] [--connections N] [--seconds S] [--size BYTES]\n"
    "Opens N connections (500) to an echo_server, each sending BYTES-byte messages (64) for S\n"
    "seconds (5), and prints requests per second and the p50/p99 round-trip latency.\n"};

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  std::string host = "127.0.0.1";
  int port = -1;
  int connections = 500;
  int seconds = 5;
  long size = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) cli.fail("missing value after an option");
    const char* value = argv[++i];
    if (arg == "--port") {
      port = std::atoi(value);
    } else if (arg == "--host") {
      host = value;
    } else if (arg == "--connections") {
      connections = std::atoi(value);
    } else if (arg == "--seconds") {
      seconds = std::atoi(value);
    } else if (arg == "--size") {
      size = std::atol(value);
    } else {
      cli.fail("unknown option");
    }
  }
  if (port <= 0 || port > 65535) cli.fail("--port is required (1 to 65535)");
  if (connections <= 0 || seconds <= 0 || size <= 0) cli.fail("counts must be positive");
  if (host == "localhost") host = "127.0.0.1";

  const auto start = clock_type::now();
  auto r = ringo::run(run_clients(endpoint{host, static_cast<std::uint16_t>(port)}, connections,
                                  seconds, static_cast<std::size_t>(size)));
  const double took = std::chrono::duration<double>(clock_type::now() - start).count();
  auto& l = r.latencies_us;
  std::uint32_t p50 = 0, p99 = 0;
  if (!l.empty()) {
    std::nth_element(l.begin(), l.begin() + static_cast<long>(l.size() / 2), l.end());
    p50 = l[l.size() / 2];
    std::nth_element(l.begin(), l.begin() + static_cast<long>(l.size() * 99 / 100), l.end());
    p99 = l[l.size() * 99 / 100];
  }
  fmt::print("{} connections, {}-byte messages, {:.1f} s: {:.0f} requests/s\n", connections, size,
             took, static_cast<double>(l.size()) / took);
  fmt::print("latency p50 {} us, p99 {} us\n", p50, p99);
  if (r.failures > 0) {
    fmt::print(stderr, "echo_client: {} of {} connections failed\n", r.failures, connections);
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  return demo::failed("echo_client", e);
}
