#include <ringo/net/unix_listener.hpp>
// (its own header first: proves it stands alone)
#include <ringo/net/unix_stream.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;
using ringo::net::unix_listener;
using ringo::net::unix_stream;

namespace {

// A directory of its own for the test's socket files, removed (with what is left in it) at the
// end of the test.
class socket_dir {
 public:
  socket_dir() {
    char tmpl[] = "/tmp/ringo-unix-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
  }
  socket_dir(const socket_dir&) = delete;
  socket_dir& operator=(const socket_dir&) = delete;
  ~socket_dir() {
    for (const auto& f : made_) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string path(std::string_view name) {
    made_.push_back(fmt::format("{}/{}", dir_, name));
    return made_.back();
  }

 private:
  std::string dir_;
  std::vector<std::string> made_;
};

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

// An abstract name no other process of the machine uses.
std::string abstract_name(std::string_view what) {
  return fmt::format("@ringo-test-{}-{}", ::getpid(), what);
}

std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

struct unix_pair {
  unix_stream client;
  unix_stream server;
};

ringo::task<unix_pair> connected_pair(unix_listener& l) {
  auto accepting = ringo::spawn(
      [](unix_listener& l) -> ringo::task<unix_stream> { co_return co_await l.accept(); }(l));
  unix_pair p;
  p.client = co_await unix_stream::connect(l.path());
  p.server = co_await accepting;
  co_return p;
}

template <class T>
ringo::task<bool> ended_cancelled(ringo::join_handle<T>& h) {
  try {
    co_await h;
  } catch (const ringo::operation_cancelled&) {
    co_return true;
  }
  co_return false;
}

ringo::task<std::size_t> read_into(unix_stream& s, std::span<std::byte> b) {
  co_return co_await s.read_some(b);
}

// The bytes of a pattern that differs at every offset of a MiB (no period a lost or doubled
// chunk could hide behind).
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

TEST_CASE("a unix stream echoes through a socket file that the listener removes at close",
          "[unix]") {
  socket_dir dir;
  const std::string path = dir.path("echo.sock");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(path);
    CHECK(l.path() == path);
    CHECK(exists(path));
    auto p = co_await connected_pair(l);
    CHECK(p.client.path() == path);
    CHECK(p.server.path() == path);  // an accepted stream is named by its listener
    co_await p.client.write_all("hello over unix");
    std::array<std::byte, 64> buf{};
    const std::size_t n = co_await p.server.read_some(buf);
    CHECK(text_of(std::span{buf}.first(n)) == "hello over unix");
    co_await p.server.write_all("and back");
    const std::size_t m = co_await p.client.read_some(buf);
    CHECK(text_of(std::span{buf}.first(m)) == "and back");
    l.close();
    CHECK_FALSE(exists(path));
    CHECK(l.path().empty());
    // The connection outlives its listener.
    co_await p.client.write_all("still here");
    const std::size_t k = co_await p.server.read_some(buf);
    CHECK(text_of(std::span{buf}.first(k)) == "still here");
  }());
}

TEST_CASE("a listener's destructor removes its socket file too", "[unix]") {
  socket_dir dir;
  const std::string path = dir.path("dropped.sock");
  ringo::run([&]() -> ringo::task<void> {
    {
      auto l = unix_listener::bind(path);
      unix_listener moved = std::move(l);  // the file goes with the listener that owns it
      CHECK(exists(path));
      l = unix_listener{};
      CHECK(exists(path));
    }
    CHECK_FALSE(exists(path));
    co_return;
  }());
}

TEST_CASE("an abstract name ('@...') needs no file and works like a path", "[unix]") {
  const std::string name = abstract_name("abstract");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name);
    CHECK(l.path() == name);
    CHECK_FALSE(exists(name));
    CHECK_FALSE(exists(name.substr(1)));
    auto p = co_await connected_pair(l);
    CHECK(p.client.path() == name);
    co_await p.client.write_all("abstract");
    std::array<std::byte, 16> buf{};
    co_await p.server.read_exact(std::span{buf}.first(8));
    CHECK(text_of(std::span{buf}.first(8)) == "abstract");
    // The name is in use while the listener is open, and free once it closes.
    bool in_use = false;
    try {
      (void)unix_listener::bind(name);
    } catch (const std::system_error& e) {
      in_use = e.code() == std::errc::address_in_use &&
               std::string_view{e.what()}.starts_with(fmt::format("bind to {}:", name));
    }
    CHECK(in_use);
    // The name is free once the socket is closed, which the ring does in the loop's next
    // turns (behind the cancel of its accept).
    l.close();
    unix_listener again;
    for (int i = 0; i < 200 && !again.is_open(); ++i) {
      co_await ringo::sleep_for(1ms);
      try {
        again = unix_listener::bind(name);
      } catch (const std::system_error&) {
      }
    }
    CHECK(again.is_open());
  }());
}

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

TEST_CASE("binding a path in use fails with EADDRINUSE naming it, and touches nothing",
          "[unix]") {
  socket_dir dir;
  const std::string path = dir.path("busy.sock");
  const std::string stale = dir.path("stale.sock");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(path);
    std::string what;
    std::error_code code;
    try {
      (void)unix_listener::bind(path);
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::errc::address_in_use);
    CHECK(what.starts_with(fmt::format("bind to {} (a file is already there", path)));
    CHECK(what.ends_with(": Address already in use"));
    // The first listener is unharmed: its file is there and it accepts.
    CHECK(exists(path));
    auto p = co_await connected_pair(l);
    CHECK(p.server.is_open());

    // A file left behind (here an ordinary one) is not removed either.
    const int fd = ::open(stale.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    ::close(fd);
    code = {};
    try {
      (void)unix_listener::bind(stale);
    } catch (const std::system_error& e) {
      code = e.code();
    }
    CHECK(code == std::errc::address_in_use);
    CHECK(exists(stale));
  }());
}

TEST_CASE("close leaves alone a file that replaced the listener's socket", "[unix]") {
  socket_dir dir;
  const std::string path = dir.path("replaced.sock");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(path);
    REQUIRE(::unlink(path.c_str()) == 0);
    auto other = unix_listener::bind(path);  // another server took the path
    l.close();
    CHECK(exists(path));
    auto s = co_await unix_stream::connect(path);  // and still listens there
    CHECK(s.is_open());
    other.close();
    CHECK_FALSE(exists(path));
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

TEST_CASE("a path longer than a sockaddr_un holds is an invalid_argument naming it", "[unix]") {
  const std::string longest = "/tmp/" + std::string(102, 'x');  // 107 bytes: still fits
  const std::string too_long = "/tmp/" + std::string(150, 'y');
  const std::string too_long_abstract = "@" + std::string(108, 'z');
  ringo::run([&]() -> ringo::task<void> {
    auto message_of = [](auto&& f) -> std::string {
      try {
        f();
      } catch (const std::invalid_argument& e) {
        return e.what();
      }
      return "no invalid_argument";
    };
    const std::string bind_msg = message_of([&] { (void)unix_listener::bind(too_long); });
    CHECK(bind_msg.starts_with(fmt::format("bind to {}: the path is 155 bytes long", too_long)));
    const std::string abstract_msg =
        message_of([&] { (void)unix_listener::bind(too_long_abstract); });
    CHECK(abstract_msg.find(too_long_abstract) != std::string::npos);
    CHECK(message_of([&] { (void)unix_listener::bind(""); }).find("needs a path") !=
          std::string::npos);
    CHECK(message_of([&] { (void)unix_listener::bind("@"); }).find("needs a path") !=
          std::string::npos);

    std::string connect_msg;
    try {
      (void)co_await unix_stream::connect(too_long);
    } catch (const std::invalid_argument& e) {
      connect_msg = e.what();
    }
    CHECK(connect_msg.starts_with(fmt::format("connect to {}:", too_long)));

    // 107 bytes is the most that fits: a clean ENOENT, not an invalid_argument.
    std::error_code code;
    try {
      (void)co_await unix_stream::connect(longest);
    } catch (const std::system_error& e) {
      code = e.code();
    }
    CHECK(code == std::errc::no_such_file_or_directory);
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

TEST_CASE("a cancelled or timed-out unix accept leaves the listener accepting", "[unix]") {
  const std::string name = abstract_name("cancel-accept");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name);
    auto h = ringo::spawn(
        [](unix_listener& l) -> ringo::task<unix_stream> { co_return co_await l.accept(); }(l));
    co_await ringo::sleep_for(5ms);
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
    std::string what;
    try {
      (void)co_await l.accept(10ms);
    } catch (const ringo::timed_out& e) {
      what = e.what();
    }
    CHECK(what.starts_with(fmt::format("accept on {}: deadline passed", name)));
    auto p = co_await connected_pair(l);
    CHECK(p.server.is_open());
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
    CHECK(what.starts_with(fmt::format("two tasks read from the unix_stream connected to {}",
                                       name)));
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
    l.close();  // nothing
    co_await s.close();  // nothing
  }());
}

TEST_CASE("a connect to a listener whose backlog is full waits for room, or for its deadline",
          "[unix]") {
  const std::string name = abstract_name("backlog");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name, 1);
    // More connections than the backlog holds, before anyone accepts: each waits (on every
    // backend) until accepts make room.
    std::vector<ringo::join_handle<unix_stream>> connecting;
    for (int i = 0; i < 5; ++i)
      connecting.push_back(ringo::spawn(unix_stream::connect(name, 5s)));
    co_await ringo::sleep_for(30ms);
    std::vector<unix_stream> accepted;
    for (int i = 0; i < 5; ++i)
      accepted.push_back(co_await l.accept(5s));
    for (auto& h : connecting) {
      auto s = co_await h;
      CHECK(s.is_open());
    }
  }());
}

TEST_CASE("a connect waiting on a full backlog ends at its deadline or when cancelled",
          "[unix]") {
  const std::string name = abstract_name("backlog-full");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name, 1);  // never accepts: the backlog fills and stays full
    std::vector<unix_stream> fill;
    std::string what;
    try {
      for (int i = 0; i < 8; ++i)
        fill.push_back(co_await unix_stream::connect(name, 50ms));
    } catch (const ringo::timed_out& e) {
      what = e.what();
    }
    INFO(fill.size());
    CHECK(what.starts_with(fmt::format("connect to {}: deadline passed", name)));
    auto h = ringo::spawn(unix_stream::connect(name));
    co_await ringo::sleep_for(20ms);
    CHECK_FALSE(h.done());
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
}());
}
