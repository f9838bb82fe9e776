// The chat server demo (demo/chat_server.cpp) driven as its users drive it: the program runs as
// a child process (its path in CHAT_SERVER_PROGRAM, set by test/meson.build: Catch2's main
// would take an argument for a test name), its clients connect over loopback. 50 clients each
// hear every other client's lines once, in order, and never their own; a silent client is told
// so and dropped while a talking one stays; a client that reads nothing is dropped once its
// queue is full; SIGTERM and SIGINT end every session with a goodbye and end of stream, and the
// program exits 0. No assertion is about how long anything takes: every wait has a deadline
// (`patience`) far beyond what a loaded machine needs, only so that a failure ends the test. The
// one margin leaned on: a client that speaks every 100 ms is not silent for --idle 2 s.
#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ringo/error.hpp>
#include <ringo/file.hpp>
#include <ringo/net.hpp>
#include <ringo/process.hpp>
#include <ringo/queue.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_stream;

namespace {

constexpr auto patience = 60s;  // the bound on any one wait

std::string program() {
  const char* path = std::getenv("CHAT_SERVER_PROGRAM");
  if (path == nullptr)
    throw std::runtime_error("CHAT_SERVER_PROGRAM is not set: run it with meson test");
  return path;
}

using output_lines = ringo::queue<std::string>;

// Reads the server's stdout to its end, a line at a time into `lines`, then closes the queue.
// It owns what it uses, so it may outlive the chat_server object: it ends at the end of the
// pipe, when the child is gone (a chat_server destroyed early kills it).
ringo::task<void> read_output(ringo::file out, std::shared_ptr<output_lines> lines) {
  std::string pending;
  std::array<std::byte, 4096> buf{};
  while (const std::size_t n = co_await out.read_some(buf)) {
    pending.append(reinterpret_cast<const char*>(buf.data()), n);
    for (auto eol = pending.find('\n'); eol != std::string::npos; eol = pending.find('\n')) {
      lines->try_put(pending.substr(0, eol));
      pending.erase(0, eol + 1);
    }
  }
  if (!pending.empty()) lines->try_put(pending);
  lines->close();
}

// The demo as a child process, with --port 0 and `options`; its stdout read as it comes.
class chat_server {
 public:
  explicit chat_server(std::vector<std::string> options) {
    std::vector<std::string> argv{program(), "--port", "0"};
    argv.insert(argv.end(), options.begin(), options.end());
    ringo::process_options piped;
    piped.pipe_stdout = true;
    proc_ = ringo::process::spawn(std::move(argv), piped);
    ringo::spawn(read_output(std::move(proc_.stdout_pipe()), lines_));
  }

  // The next line of its output ("" once it has ended).
  ringo::task<std::string> next_line() {
    try {
      seen_.push_back(co_await ringo::with_timeout(patience, lines_->get()));
    } catch (const ringo::queue_closed&) {
      co_return "";
    }
    co_return seen_.back();
  }

  // Reads its first line, "listening on 127.0.0.1:PORT", and returns where it listens.
  ringo::task<endpoint> listening() {
    const std::string line = co_await next_line();
    const auto colon = line.rfind(':');
    REQUIRE(line.starts_with("listening on 127.0.0.1:"));
    co_return endpoint{"127.0.0.1", static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)))};
  }

  // Reads its output up to a line equal to `wanted`; false if it ended first.
  ringo::task<bool> said(std::string wanted) {
    for (;;) {
      const std::string line = co_await next_line();
      if (line == wanted) co_return true;
      if (line.empty()) co_return false;
    }
  }

  // Sends it `sig`, reads the rest of its output and returns its exit status.
  ringo::task<int> stop(int sig) {
    proc_.kill(sig);
    const int status = co_await ringo::with_timeout(patience, proc_.wait());
    while (!(co_await next_line()).empty()) {
    }
    co_return status;
  }

  // Everything it printed so far, for failure messages.
  std::string output() const { return fmt::format("{}", fmt::join(seen_, "\n")); }

 private:
  ringo::process proc_;
  std::shared_ptr<output_lines> lines_ = std::make_shared<output_lines>();
  std::vector<std::string> seen_;
};

// A connected client, past its welcome.
struct chat_client {
  tcp_stream s;
  std::string name;     // as the server names it, "127.0.0.1:40312": its own address
  std::string welcome;  // "welcome 127.0.0.1:40312, 3 other(s) here\n"
};

// Connects and reads the welcome, after which every line sent reaches the client.
ringo::task<chat_client> join(endpoint at) {
  chat_client c;
  c.s = co_await tcp_stream::connect(at, patience);
  c.name = fmt::format("{}", c.s.local_endpoint());
  c.welcome = co_await c.s.read_line(4096, patience);
  CHECK(c.welcome.starts_with(fmt::format("welcome {}, ", c.name)));
  co_return c;
}

// What a client reads once the server stops: the goodbye, then the end of the stream.
ringo::task<void> expect_shutdown(chat_client& c) {
  const std::string goodbye = co_await c.s.read_line(8192, patience);
  CHECK(goodbye == "server shutting down, goodbye\n");
  const std::string end = co_await c.s.read_line(8192, patience);
  CHECK(end == "");
}

constexpr int clients = 50;
constexpr int lines_each = 10;

ringo::task<void> send_lines(tcp_stream& s, int self) {
  for (int j = 0; j < lines_each; ++j)
    co_await s.write_all(fmt::format("line {} from client {}\n", j, self));
}

// Reads every other client's lines, "<name>: line <j> from client <i>\n", and returns what was
// wrong with them: a line from itself, a name that is not its sender's, a line out of order,
// repeated or missing.
ringo::task<std::vector<std::string>> receive_lines(tcp_stream& s, int self,
                                                    const std::vector<std::string>& names) {
  std::vector<std::string> problems;
  std::vector<int> next(clients, 0);  // per sender, the line expected next
  for (int n = 0; n < (clients - 1) * lines_each; ++n) {
    const std::string line = co_await s.read_line(4096, patience);
    const auto colon = line.find(": ");
    int i = -1;
    int j = -1;
    if (colon == std::string::npos ||
        std::sscanf(line.c_str() + colon + 2, "line %d from client %d", &j, &i) != 2 || i < 0 ||
        i >= clients) {
      problems.push_back(fmt::format("client {} read {:?}", self, line));
      continue;
    }
    if (i == self || line.substr(0, colon) != names[i] || j != next[i]) {
      problems.push_back(fmt::format("client {} read {:?} (expected line {} of client {}, {})",
                                     self, line, next[i], i, names[i]));
    }
    ++next[i];
  }
  for (int i = 0; i < clients; ++i) {
    if (next[i] != (i == self ? 0 : lines_each))
      problems.push_back(fmt::format("client {} read {} lines of client {}", self, next[i], i));
  }
  co_return problems;
}

ringo::task<std::vector<std::string>> talk(chat_client& c, int self,
                                           const std::vector<std::string>& names) {
  auto sending = ringo::spawn(send_lines(c.s, self));
  auto problems = co_await receive_lines(c.s, self, names);
  co_await sending;
  co_return problems;
}

}  // namespace

TEST_CASE("each of 50 clients hears every other client's lines once, in order, and not its own",
          "[chat_server]") {
  ringo::run([]() -> ringo::task<void> {
    chat_server server{{"--queue", "1000"}};  // 49 * 10 lines fit in a queue that never drains
    const endpoint at = co_await server.listening();
    std::vector<chat_client> cs;
    std::vector<std::string> names;
    for (int i = 0; i < clients; ++i) {
      cs.push_back(co_await join(at));
      names.push_back(cs.back().name);
      CHECK(cs.back().welcome.ends_with(fmt::format(", {} other(s) here\n", i)));
    }
    // Every client is in the room (it has read its welcome): all talk at once.
    std::vector<ringo::join_handle<std::vector<std::string>>> talks;
    for (int i = 0; i < clients; ++i)
      talks.push_back(ringo::spawn(talk(cs[i], i, names)));
    std::vector<std::string> problems;
    for (auto& t : talks) {
      auto p = co_await t;
      problems.insert(problems.end(), p.begin(), p.end());
    }
    // The first ten, if any: a failure shows what went wrong, not only that something did.
    problems.resize(std::min<std::size_t>(problems.size(), 10));
    CHECK(fmt::format("{}", fmt::join(problems, "\n")) == "");

    // SIGTERM with every client connected: each reads the goodbye, then the end of the stream.
    const int status = co_await server.stop(SIGTERM);
    for (auto& c : cs)
      co_await expect_shutdown(c);
    INFO(server.output());
    CHECK(status == 0);
    CHECK(server.output().find("got SIGTERM: ending 50 session(s)") != std::string::npos);
    CHECK(server.output().ends_with("\nstopped"));
  }());
}

TEST_CASE("a silent client is told so and dropped, a talking one stays, and SIGINT ends both",
          "[chat_server]") {
  ringo::run([]() -> ringo::task<void> {
    chat_server server{{"--idle", "2"}};
    const endpoint at = co_await server.listening();
    chat_client silent = co_await join(at);
    chat_client talker = co_await join(at);

    // The talker speaks every 100 ms, twenty times as often as --idle asks, until told to stop.
    bool stop_talking = false;
    auto talking = ringo::spawn([](tcp_stream& s, const bool& stop) -> ringo::task<void> {
      int n = 0;
      while (!stop) {
        const std::string tick = fmt::format("tick {}\n", n);
        ++n;
        co_await s.write_all(tick);
        co_await ringo::sleep_for(100ms);
      }
    }(talker.s, stop_talking));

    // The silent client hears the ticks, then its goodbye, then the end of its stream.
    std::string line;
    do {
      line = co_await silent.s.read_line(4096, patience);
    } while (line.starts_with(talker.name + ": tick "));
    CHECK(line == "idle for 2 s, goodbye\n");
    const std::string end = co_await silent.s.read_line(4096, patience);
    CHECK(end == "");
    const bool logged =
        co_await server.said(fmt::format("{} left: idle for 2 s, goodbye", silent.name));
    CHECK(logged);

    // The talker is still in the room: a newcomer finds it there and hears it.
    chat_client newcomer = co_await join(at);
    CHECK(newcomer.welcome.ends_with(", 1 other(s) here\n"));
    stop_talking = true;
    co_await talking;
    co_await talker.s.write_all("still here\n");
    do {
      line = co_await newcomer.s.read_line(4096, patience);
    } while (line.starts_with(talker.name + ": tick "));
    CHECK(line == talker.name + ": still here\n");

    // SIGINT: the talker (which never heard from the others) and the newcomer each get the
    // goodbye and the end of the stream; nobody was idle. (The newcomer has read the talker's
    // last line, so the server has read all it sent: a server that closes a connection with
    // bytes still unread sends a reset instead of the end of the stream.)
    const int status = co_await server.stop(SIGINT);
    co_await expect_shutdown(talker);
    co_await expect_shutdown(newcomer);
    INFO(server.output());
    CHECK(status == 0);
    CHECK(server.output().find("got SIGINT: ending 2 session(s)") != std::string::npos);
  }());
}

TEST_CASE("a client that reads nothing is dropped once its queue is full, the sender is not",
          "[chat_server]") {
  ringo::run([]() -> ringo::task<void> {
    chat_server server{{"--queue", "4"}};
    const endpoint at = co_await server.listening();
    chat_client slow = co_await join(at);  // reads its welcome, then nothing until the end
    chat_client fast = co_await join(at);

    // The fast client sends long lines until the server says it dropped the slow one: they fill
    // the slow one's queue of 4 lines, which its writer stops emptying once the socket buffers
    // on the way to it are full (or sooner: a burst of more lines than that read at once).
    bool dropped = false;
    auto watching =
        ringo::spawn([](chat_server& srv, std::string wanted, bool& seen) -> ringo::task<void> {
          seen = co_await srv.said(std::move(wanted));
        }(server, fmt::format("{} left: too slow, dropped", slow.name), dropped));
    const std::string long_line = std::string(4000, 'x') + "\n";
    int sent = 0;
    while (!dropped && !watching.done() && sent < 100000) {
      co_await fast.s.write_all(long_line);
      ++sent;
      co_await ringo::yield();
    }
    co_await watching;
    CHECK(dropped);

    // The slow client reads what reached it, fewer lines than were sent, then the end.
    int received = 0;
    for (;;) {
      const std::string line = co_await slow.s.read_line(8192, patience);
      if (line.empty()) break;
      if (line.ends_with("\n")) ++received;
    }
    CHECK(received < sent);

    // The fast client was never dropped: it leaves on its own, once the server has read all it
    // sent, and the server stops with nobody left.
    fast.s.shutdown();
    const std::string end = co_await fast.s.read_line(8192, patience);
    CHECK(end == "");
    const bool left = co_await server.said(fmt::format("{} left: end of stream", fast.name));
    CHECK(left);

    const int status = co_await server.stop(SIGTERM);
    INFO(server.output());
    CHECK(status == 0);
    CHECK(server.output().find("got SIGTERM: ending 0 session(s)") != std::string::npos);
  }());
}
