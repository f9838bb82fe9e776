// A ring far too small for its load: submissions made while completions are dispatched (short
// writes continued, multishot receives re-armed, cancels) find the submission queue full.
// They must wait for the completion queue to advance, never reap from inside a handler: a
// nested reap would see the same completions again and resume tasks twice (ASan reports that).
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tcp_pair.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

constexpr int connections = 40;
constexpr std::size_t message = 256 * 1024;  // several short writes and receives each

ringo::task<void> echo(tcp_stream s) {
  for (;;) {
    auto bufs = co_await s.receive_some();
    if (bufs.empty()) break;
    co_await s.write_all(bufs);
  }
}

ringo::task<void> serve(tcp_listener& l) {
  for (int i = 0; i < connections; ++i)
    ringo::spawn(echo(co_await l.accept()));
}

// Sends a pattern that differs per connection and checks that exactly it comes back.
ringo::task<std::size_t> client(endpoint to, int n) {
  auto s = co_await tcp_stream::connect(to);
  std::vector<std::byte> out(message);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::byte>((i * 7 + static_cast<std::size_t>(n)) & 0xff);
  auto writer = ringo::spawn([](tcp_stream& s, const std::vector<std::byte>& d) -> ringo::task<void> {
    co_await s.write_all(d);
    s.shutdown();
  }(s, out));
  std::vector<std::byte> in(message);
  co_await s.read_exact(in);
  co_await writer;
  std::byte extra[1];
  const std::size_t after = co_await s.read_some(extra);
  co_return in == out && after == 0 ? 1 : 0;
}

// Sends `count` small messages, each its own write, and checks that they come back in order.
ringo::task<std::size_t> small_client(endpoint to, int n, int count) {
  auto s = co_await tcp_stream::connect(to);
  std::string out;
  for (int i = 0; i < count; ++i)
    out += fmt::format("{}:{};", n, i);
  auto writer =
      ringo::spawn([](tcp_stream& s, const std::string& d, int count) -> ringo::task<void> {
        std::size_t at = 0;
        for (int i = 0; i < count; ++i) {
          const std::size_t end = d.find(';', at) + 1;
          co_await s.write_all(std::string_view{d}.substr(at, end - at));
          at = end;
          if (i % 8 == 0) co_await ringo::yield();  // let the others in between
        }
        s.shutdown();
      }(s, out, count));
  std::string in(out.size(), '\0');
  co_await s.read_exact(std::as_writable_bytes(std::span{in}));
  co_await writer;
  std::byte extra[1];
  const std::size_t after = co_await s.read_some(extra);
  co_return in == out && after == 0 ? 1 : 0;
}

}  // namespace

TEST_CASE("forty connections of small messages share a ring of four small buffers, in order",
          "[reactor]") {
  ringo::io_context_options options;
  options.ring_entries = 4;
  options.buffer_count = 4;   // every stream's small receives share these, and run them dry
  options.buffer_size = 256;  // while the echoes hold their parts
  const std::size_t intact = ringo::run(
      []() -> ringo::task<std::size_t> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto server = ringo::spawn(serve(l));
        std::vector<ringo::join_handle<std::size_t>> clients;
        for (int i = 0; i < connections; ++i)
          clients.push_back(ringo::spawn(small_client(l.local_endpoint(), i, 300)));
        std::size_t ok = 0;
        for (auto& c : clients)
          ok += co_await c;
        co_await server;
        co_return ok;
      }(),
      options);
  CHECK(intact == connections);
}

TEST_CASE("a four-entry ring serves forty connections of large messages, each byte once",
          "[reactor]") {
  ringo::io_context_options options;
  options.ring_entries = 4;  // 16 completion entries
  options.buffer_count = 8;  // and a provided-buffer ring that runs dry
  options.buffer_size = 4096;
  const std::size_t intact = ringo::run(
      []() -> ringo::task<std::size_t> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto server = ringo::spawn(serve(l));
        std::vector<ringo::join_handle<std::size_t>> clients;
        for (int i = 0; i < connections; ++i)
          clients.push_back(ringo::spawn(client(l.local_endpoint(), i)));
        std::size_t ok = 0;
        for (auto& c : clients)
          ok += co_await c;
        co_await server;
        co_return ok;
      }(),
      options);
  CHECK(intact == connections);
}

TEST_CASE("a stream that ends in a buffer it shares leaves that buffer to the streams still in it",
          "[reactor]") {
  // Two provided buffers: with incremental consumption both streams' small receives land in
  // the same one. The end of stream of one of them (a completion carrying no bytes, which may
  // name the shared buffer) must not send that buffer back to the kernel while the kernel
  // still fills it for the other: every byte of the other stream arrives, in order. (Linux
  // 6.18 posts a socket's end of stream without a buffer; kernels that name one take the
  // path this guards.)
  ringo::io_context_options options;
  options.buffer_count = 2;
  options.buffer_size = 4096;
  const bool intact = ringo::run(
      []() -> ringo::task<bool> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        bool all = true;
        for (int round = 0; round < 20; ++round) {
          auto ending = co_await ringo_test::connected_pair(l);
          auto going = co_await ringo_test::connected_pair(l);
          std::array<std::byte, 64> buf{};
          co_await ending.client.write_all("a");
          co_await going.client.write_all("b");
          (void)co_await ending.server.read_some(buf);
          (void)co_await going.server.read_some(buf);
          co_await ending.client.close();  // its end of stream lands in the shared buffer
          const std::size_t at_end = co_await ending.server.read_some(buf);
          all = all && at_end == 0;
          std::string sent, got;
          for (int i = 0; i < 200; ++i) {
            const std::string m = fmt::format("{}.{};", round, i);
            sent += m;
            co_await going.client.write_all(m);
            while (got.size() < sent.size()) {
              const std::size_t n = co_await going.server.read_some(buf);
              if (n == 0) break;
              got.append(reinterpret_cast<const char*>(buf.data()), n);
            }
          }
          all = all && got == sent;
          co_await ending.server.close();
          co_await going.client.close();
          co_await going.server.close();
        }
        co_return all;
      }(),
      options);
  CHECK(intact);
}
