#include <ringo/net/unix_stream.hpp>
// (its own header first: proves it stands alone)
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <ringo/net/unix_listener.hpp>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "unix_pair.hpp"

using namespace std::chrono_literals;
using ringo::net::unix_listener;
using ringo::net::unix_stream;
using ringo_test::abstract_name;
using ringo_test::connected_pair;
using ringo_test::ended_cancelled;
using ringo_test::exists;
using ringo_test::socket_dir;
using ringo_test::text_of;

namespace {

ringo::task<std::size_t> read_into(unix_stream& s, std::span<std::byte> b) {
  co_return co_await s.read_some(b);
}

// A pseudo-random pattern, so that a lost, doubled or reordered chunk shows.
std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::byte>(x);
  }
  return v;
}

ringo::task<std::vector<std::byte>> read_all(unix_stream& s) {
  std::vector<std::byte> got;
  std::array<std::byte, 7000> buf{};  // not a divisor of anything the writer sends
  for (;;) {
    const std::size_t n = co_await s.read_some(buf);
    if (n == 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  co_return got;
}

ringo::task<void> write_then_shut(unix_stream& s, const std::vector<std::byte>& data) {
  co_await s.write_all(data);
  s.shutdown();
}

}  // namespace

TEST_CASE("a MiB goes each way through a unix pair at once, byte for byte", "[unix]") {
  socket_dir dir;
  const std::string path = dir.path("mib.sock");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(path);
    auto p = co_await connected_pair(l);
    const auto up = pattern(1 << 20, 1);
    const auto down = pattern(1 << 20, 2);
    // Both ends write and read at the same time: more than the socket buffers hold, so a
    // write waits for the other end's reads.
    auto w1 = ringo::spawn(write_then_shut(p.client, up));
    auto w2 = ringo::spawn(write_then_shut(p.server, down));
    auto r1 = ringo::spawn(read_all(p.server));
    auto r2 = ringo::spawn(read_all(p.client));
    co_await w1;
    co_await w2;
    const auto got_up = co_await r1;
    const auto got_down = co_await r2;
    CHECK(got_up.size() == up.size());
    CHECK(got_up == up);
    CHECK(got_down.size() == down.size());
    CHECK(got_down == down);
  }());
}

TEST_CASE("receive and receive_some read a unix stream without copying", "[unix]") {
  const std::string name = abstract_name("receive");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name);
    auto p = co_await connected_pair(l);
    co_await p.client.write_all("first");
    auto one = co_await p.server.receive();
    CHECK(text_of(one.bytes()) == "first");
    co_await p.client.write_all("second");
    p.client.shutdown();
    std::string rest;
    for (;;) {
      auto bufs = co_await p.server.receive_some();
      if (bufs.empty()) break;
      for (std::size_t i = 0; i < bufs.size(); ++i)
        rest += text_of(bufs[i]);
    }
    CHECK(rest == "second");
    auto end = co_await p.server.receive();
    CHECK(end.empty());
  }());
}

TEST_CASE("connecting to a missing path or a dead socket names the path", "[unix]") {
  socket_dir dir;
  const std::string missing = dir.path("missing.sock");
  const std::string dead = dir.path("dead.sock");
  ringo::run([&]() -> ringo::task<void> {
    std::string what;
    std::error_code code;
    try {
      (void)co_await unix_stream::connect(missing);
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::no_such_file_or_directory);
    CHECK(what == fmt::format("connect to {}: No such file or directory", missing));

    // A socket file whose server is gone (bound, never listened) refuses connections.
    {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      std::memcpy(un.sun_path, dead.c_str(), dead.size());
      REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) == 0);
      ::close(fd);
    }
    code = {};
    try {
      (void)co_await unix_stream::connect(dead);
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::connection_refused);
    CHECK(what == fmt::format("connect to {}: Connection refused", dead));

    code = {};
    try {
      (void)co_await unix_stream::connect(abstract_name("nobody"));
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::connection_refused);
    CHECK(what == fmt::format("connect to {}: Connection refused", abstract_name("nobody")));
  }());
}

TEST_CASE("a unix read cancelled in the middle loses no bytes", "[unix]") {
  const std::string name = abstract_name("cancel-read");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name);
    auto p = co_await connected_pair(l);
    std::array<std::byte, 16> buf{};
    auto h = ringo::spawn(read_into(p.server, buf));
    co_await ringo::sleep_for(5ms);
    CHECK_FALSE(h.done());  // it waits for bytes
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
    co_await p.client.write_all("after");
    const std::size_t n = co_await p.server.read_some(buf);
    CHECK(text_of(std::span{buf}.first(n)) == "after");
  }());
}

TEST_CASE("a write to a unix peer that closed names the path and raises no SIGPIPE", "[unix]") {
  const std::string name = abstract_name("epipe");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name);
    auto p = co_await connected_pair(l);
    co_await p.client.close();
    const std::string chunk(64 * 1024, 'x');
    std::string what;
    std::error_code code;
    try {
      for (int i = 0; i < 64; ++i)
        co_await p.server.write_all(chunk);
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::broken_pipe);
    CHECK(what == fmt::format("send on {}: Broken pipe", name));
  }());
}

TEST_CASE("two tasks reading one unix stream is a logic_error naming unix_stream", "[unix]") {
  const std::string name = abstract_name("two-readers");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name);
    auto p = co_await connected_pair(l);
    std::array<std::byte, 4> a{};
    std::array<std::byte, 4> b{};
    auto first = ringo::spawn(read_into(p.server, a));
    co_await ringo::sleep_for(2ms);
    std::string what;
    try {
      (void)co_await p.server.read_some(b);
    } catch (const std::logic_error& e) {
      what = e.what();
    }
    CHECK(
        what.starts_with(fmt::format("two tasks read from the unix_stream connected to {}", name)));
    co_await p.client.write_all("ok");
    const std::size_t n = co_await first;
    CHECK(n == 2);
  }());
}

TEST_CASE("an empty unix stream or listener says what to do", "[unix]") {
  ringo::run([]() -> ringo::task<void> {
    unix_stream s;
    CHECK_FALSE(s.is_open());
    CHECK(s.native_handle() == -1);
    CHECK_THROWS_AS(s.shutdown(), std::logic_error);
    unix_listener l;
    CHECK(l.path().empty());
    CHECK_THROWS_AS((void)l.accept(), std::logic_error);
    l.close();           // nothing
    co_await s.close();  // nothing
  }());
}
