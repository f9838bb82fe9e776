#include <ringo/net/unix_listener.hpp>
// (its own header first: proves it stands alone)
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
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

TEST_CASE("a unix stream echoes through a socket file that the listener removes at close",
          "[unix_listener]") {
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

TEST_CASE("a listener's destructor removes its socket file too", "[unix_listener]") {
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

TEST_CASE("an abstract name ('@...') needs no file and works like a path", "[unix_listener]") {
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

TEST_CASE("binding a path in use fails with EADDRINUSE naming it, and touches nothing",
          "[unix_listener]") {
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

TEST_CASE("close leaves alone a file that replaced the listener's socket", "[unix_listener]") {
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

TEST_CASE("a path longer than a sockaddr_un holds is an invalid_argument naming it",
          "[unix_listener]") {
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

TEST_CASE("a cancelled or timed-out unix accept leaves the listener accepting", "[unix_listener]") {
  const std::string name = abstract_name("cancel-accept");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name);
    auto h = ringo::spawn(ringo_test::accept_one(l));
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

TEST_CASE("a connect to a listener whose backlog is full waits for room, or for its deadline",
          "[unix_listener]") {
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
          "[unix_listener]") {
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

TEST_CASE("a connect to a full backlog fails with timed_out no earlier than its deadline",
          "[unix_listener]") {
  const std::string name = abstract_name("backlog-deadline");
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(name, 0);  // never accepts
    std::vector<unix_stream> fill;
    // Fill the backlog: the first connect that cannot get in ends at its deadline.
    for (int i = 0; i < 8; ++i) {
      try {
        fill.push_back(co_await unix_stream::connect(name, 20ms));
      } catch (const ringo::timed_out&) {
        break;
      }
    }
    REQUIRE(fill.size() < 8);
    for (const auto timeout : {100ms, 50ms}) {
      const auto start = std::chrono::steady_clock::now();
      bool timed_out = false;
      try {
        fill.push_back(co_await unix_stream::connect(name, timeout));
      } catch (const ringo::timed_out&) {
        timed_out = true;
      }
      const auto took = std::chrono::steady_clock::now() - start;
      CHECK(timed_out);
      CHECK(took >= timeout);
      CHECK(took < 10s);
    }
  }());
}
