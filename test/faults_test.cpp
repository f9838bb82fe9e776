#include <ringo/net/tcp_stream.hpp>
// (the header of what these tests break first: proves it stands alone)
//
// Faults a server meets: a peer that half-closes, resets in the middle of a write or never
// reads, a process out of descriptors, a provided-buffer ring run dry by many connections at
// once. Each test checks that the fault reaches the task it concerns alone, that nothing is
// lost or reordered, and that the server recovers. Run on both backends (faults, faults_epoll)
// and without io_uring's features (faults_fallback).
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/io_context.hpp>
#include <ringo/net/tcp_listener.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "descriptors.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo_test::connected_pair;

namespace {

std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void set_linger_zero(const tcp_stream& s) {
  linger lg{1, 0};
  REQUIRE(::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
}

// One round trip on a connection that must not notice the fault next to it.
ringo::task<std::string> round_trip(ringo_test::pair_of_streams& p, std::string_view what) {
  co_await p.client.write_all(what);
  std::vector<std::byte> got(what.size());
  co_await p.server.read_exact(got);
  co_await p.server.write_all(got);
  std::vector<std::byte> back(what.size());
  co_await p.client.read_exact(back);
  co_return text_of(back);
}

// Writes 1 MiB chunks until the write fails; returns its errno, or 0 if all were written.
ringo::task<int> write_until_failure(tcp_stream& s, int chunks,
                                     std::chrono::nanoseconds deadline = {}) {
  const std::string chunk(1 << 20, 'w');
  try {
    for (int i = 0; i < chunks; ++i)
      co_await s.write_all(chunk, deadline);
  } catch (const std::system_error& e) {
    co_return e.code().value();
  }
  co_return 0;
}

// Descriptors taken to fill the table, closed however the test ends.
struct descriptors {
  std::vector<int> fds;
  descriptors() = default;
  descriptors(const descriptors&) = delete;
  descriptors& operator=(const descriptors&) = delete;
  ~descriptors() { release(); }
  void release() {
    for (const int fd : fds)
      ::close(fd);
    fds.clear();
  }
};

std::chrono::nanoseconds cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return std::chrono::seconds{ts.tv_sec} + std::chrono::nanoseconds{ts.tv_nsec};
}

}  // namespace

TEST_CASE("a peer that half-closes reads the answer sent after its end of stream", "[faults]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    co_await p.client.write_all("question");
    p.client.shutdown();
    std::string asked;
    std::array<std::byte, 64> buf{};
    for (std::size_t n; (n = co_await p.server.read_some(buf)) != 0;)
      asked += text_of(std::span{buf}.first(n));
    CHECK(asked == "question");
    co_await p.server.write_all("answer");
    co_await p.server.close();
    std::string answer;
    for (std::size_t n; (n = co_await p.client.read_some(buf)) != 0;)
      answer += text_of(std::span{buf}.first(n));
    CHECK(answer == "answer");
  }());
}

TEST_CASE("a peer reset in the middle of a write fails that write alone", "[faults]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto reset = co_await connected_pair(l);
    auto other = co_await connected_pair(l);
    set_linger_zero(reset.client);
    auto writer = ringo::spawn(write_until_failure(reset.server, 1000));
    co_await ringo::sleep_for(20ms);  // the writer fills the socket buffers and waits
    reset.client = tcp_stream{};      // RST
    const std::string during = co_await round_trip(other, "during");
    const int err = co_await writer;
    CHECK((err == ECONNRESET || err == EPIPE));
    CHECK(during == "during");
    const std::string after = co_await round_trip(other, "after");
    CHECK(after == "after");
  }());
}

TEST_CASE("a peer that never reads: the writer's deadline fires for that writer alone",
          "[faults]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto stuck = co_await connected_pair(l);
    auto other = co_await connected_pair(l);
    const auto start = std::chrono::steady_clock::now();
    auto writer = ringo::spawn(write_until_failure(stuck.server, 1000, 100ms));
    int trips = 0;
    while (!writer.done()) {
      const std::string got = co_await round_trip(other, "ping");
      CHECK(got == "ping");
      ++trips;
    }
    const int err = co_await writer;
    CHECK(err == ETIMEDOUT);
    CHECK(std::chrono::steady_clock::now() - start >= 90ms);
    CHECK(trips > 1);  // the other connection went on while the writer waited
  }());
}

TEST_CASE(
    "out of descriptors: the server serves the connections it has, idles, and accepts "
    "again once descriptors are freed",
    "[faults]") {
  // The descriptor limit comes back however the test ends.
  ringo_test::descriptor_limit_restorer limit;
  const rlimit old = limit.old;
  ringo::run([&]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    // Descriptors to free later, then none left: the limit just above the highest. (The limit
    // is lowered before the listener's first accept: an armed multishot accept keeps the
    // limit it was armed with.)
    descriptors spare;
    spare.fds = {::dup(0), ::dup(0), ::dup(0), ::dup(0)};
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(*std::max_element(spare.fds.begin(), spare.fds.end()) + 1);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    descriptors fill;
    for (int fd; (fd = ::dup(0)) >= 0;)
      fill.fds.push_back(fd);
    CHECK(errno == EMFILE);

    int connect_error = 0;
    try {
      (void)co_await tcp_stream::connect(l.local_endpoint());
    } catch (const std::system_error& e) {
      connect_error = e.code().value();
    }
    CHECK(connect_error == EMFILE);

    // Room for one connection; then, the table full again, for one more client, whose server
    // end finds no descriptor.
    spare.release();
    auto served = co_await connected_pair(l);
    for (int fd; (fd = ::dup(0)) >= 0;)
      fill.fds.push_back(fd);
    ::close(fill.fds.back());
    fill.fds.pop_back();
    auto waiting = co_await tcp_stream::connect(l.local_endpoint());
    int accept_error = 0;
    try {
      (void)co_await l.accept(2s);
    } catch (const std::system_error& e) {
      accept_error = e.code().value();
    }
    CHECK(accept_error == EMFILE);
    const std::string during = co_await round_trip(served, "still served");
    CHECK(during == "still served");

    // A server backs off before it accepts again; meanwhile the loop must not spin on the
    // listener that stays readable.
    const auto cpu_before = cpu_time();
    co_await ringo::sleep_for(100ms);
    const auto cpu_used = cpu_time() - cpu_before;
    CHECK(cpu_used < 30ms);

    fill.release();
    auto accepted = co_await l.accept(2s);
    co_await waiting.write_all("late");
    std::array<std::byte, 4> b{};
    co_await accepted.read_exact(b);
    CHECK(text_of(b) == "late");
  }());
}

namespace {

constexpr int senders = 5000;
constexpr std::size_t per_sender = 8192;

std::byte pattern(int sender, std::size_t i) {
  return static_cast<std::byte>((i * 13 + static_cast<std::size_t>(sender) * 7 + i / 251) & 0xff);
}

ringo::task<void> send_pattern(endpoint to, int sender) {
  auto s = co_await tcp_stream::connect(to);
  std::vector<std::byte> out(per_sender + 1);
  out[0] = static_cast<std::byte>(sender & 0xff);  // who this is (with the connection order)
  for (std::size_t i = 0; i < per_sender; ++i)
    out[i + 1] = pattern(sender, i);
  co_await s.write_all(out);
  s.shutdown();
  std::byte end[1];
  (void)co_await s.read_some(end);  // until the server closes
}

// Reads one connection to its end; true if it carried exactly its sender's pattern.
ringo::task<bool> check_pattern(tcp_stream s, int& ok) {
  std::vector<std::byte> in;
  std::array<std::byte, 3000> buf{};
  for (std::size_t n; (n = co_await s.read_some(buf)) != 0;)
    in.insert(in.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  co_await s.close();  // the sender waits for it (the frame, and `s`, live on in the handle)
  bool good = in.size() == per_sender + 1;
  for (int sender = 0; good && sender < senders; ++sender) {
    if (static_cast<int>(in[0]) != (sender & 0xff)) continue;
    bool same = true;
    for (std::size_t i = 0; same && i < per_sender; ++i)
      same = in[i + 1] == pattern(sender, i);
    if (same) {
      ++ok;
      co_return true;
    }
  }
  co_return false;
}

}  // namespace

TEST_CASE(
    "five thousand connections sending at once into two provided buffers lose nothing "
    "and keep their order",
    "[faults]") {
  // Both ends of every connection live in this process: room for 2 x 5,000 descriptors.
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  const rlimit old = limit;
  const rlim_t needed = 2 * senders + 100;
  if (limit.rlim_cur < needed) {
    if (limit.rlim_max < needed) {
      WARN("RLIMIT_NOFILE's hard limit is below " << needed << ": not run");
      return;
    }
    limit.rlim_cur = needed;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
  }
  struct restore {
    rlimit r;
    ~restore() { ::setrlimit(RLIMIT_NOFILE, &r); }
  } restore_limit{old};
  ringo::io_context_options options;
  options.buffer_count = 2;  // every receive but two finds the ring empty (ENOBUFS)
  options.buffer_size = 1024;
  ringo::io_context ctx{options};
  int ok = 0;
  ctx.run([](int& ok) -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0), senders);
    std::vector<ringo::join_handle<void>> clients;
    for (int i = 0; i < senders; ++i)
      clients.push_back(ringo::spawn(send_pattern(l.local_endpoint(), i)));
    std::vector<ringo::join_handle<bool>> checks;
    for (int i = 0; i < senders; ++i)
      checks.push_back(ringo::spawn(check_pattern(co_await l.accept(), ok)));
    int bad = 0;
    for (auto& c : checks)
      bad += (co_await c) ? 0 : 1;
    for (auto& c : clients)
      co_await c;
    CHECK(bad == 0);
  }(ok));
  CHECK(ok == senders);
}
