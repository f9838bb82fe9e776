// chat_server: the program a newcomer writes first. Clients connect over TCP and send lines;
// each line goes to every other client, prefixed with the sender's address. It shows
//   - lines read with read_line, under a deadline: a client silent for --idle seconds is told
//     so and dropped;
//   - a writer task per client, fed by a bounded ringo::queue, so that a slow reader cannot
//     hold up the others: a client whose queue is full is dropped;
//   - a task_group of sessions cancelled from a signal_set: on SIGINT or SIGTERM every session
//     says goodbye, closes its connection, and the program exits 0;
//   - cleaning up after a cancellation: C++ forbids co_await in a catch block, so the catch
//     block takes note, and the awaits come after it (session() and accept_loop()).
//
//   build/release/demo/chat_server --port 9000 [--host 127.0.0.1] [--idle 300] [--queue 1000]
//   nc 127.0.0.1 9000     # in two terminals or more, then type lines
#include <signal.h>
#include <string.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/event.hpp>
#include <ringo/net.hpp>
#include <ringo/queue.hpp>
#include <ringo/run.hpp>
#include <ringo/signal_set.hpp>
#include <ringo/sleep.hpp>
#include <ringo/task_group.hpp>
#include <ringo/when_any.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace {

constexpr std::size_t max_line = 4096;  // a longer line ends the session

struct settings {
  std::chrono::seconds idle{300};  // how long a client may stay silent (0: for ever)
  std::size_t queue_lines = 1000;  // how many lines may wait for a client that reads slowly
};

// A line on stdout, flushed at once: whoever runs the server may read it through a pipe.
template <class... Args>
void note(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(format, std::forward<Args>(args)...);
  fmt::print("\n");
  std::fflush(stdout);
}

// One connected client, as the others see it.
struct client {
  client(std::string n, std::size_t queue_lines) : name(std::move(n)), outbox(queue_lines) {}
  std::string name;                  // its address, "127.0.0.1:40312", which prefixes its lines
  ringo::queue<std::string> outbox;  // lines for it, which its writer task sends in order
  ringo::event too_slow;             // set when its outbox overflows
};

// Everyone connected. Every task runs on the one thread of ringo::run's loop, and another task
// runs only where this one awaits, so the list needs no lock.
struct room {
  std::vector<client*> clients;

  // Hands `line` from `from` to every other client's writer, without waiting for any of them.
  void broadcast(const client& from, std::string_view line) {
    const std::string text = fmt::format("{}: {}", from.name, line);
    for (client* c : clients) {
      if (c == &from) continue;
      // try_put, not co_await put(): waiting for room in one client's outbox would stall the
      // sender's session, and with it what it says to everyone else. A full outbox means that
      // queue_lines lines wait for the client (it reads too slowly, or more lines than that
      // came in at once): it is dropped instead (its session ends on too_slow), and the line
      // is lost for it alone.
      if (!c->outbox.try_put(text)) c->too_slow.set();
    }
  }
};

// Reads the client's lines and passes each to the room. Returns the last words for the client:
// none when it closed its end, a goodbye when it stayed silent too long or sent too long a line.
ringo::task<std::string> read_lines(tcp_stream& s, client& me, room& r, settings cfg) {
  for (;;) {
    std::string line;
    try {
      // The next line with its "\n". The timeout bounds the whole wait (zero: none).
      line = co_await s.read_line(max_line, cfg.idle);
    } catch (const ringo::timed_out&) {
      co_return fmt::format("idle for {} s, goodbye\n", cfg.idle.count());
    } catch (const std::length_error&) {
      co_return fmt::format("lines are limited to {} bytes, goodbye\n", max_line);
    }
    if (line.empty()) co_return "";         // end of stream: the client left
    if (line.back() != '\n') line += '\n';  // its last bytes, sent without a "\n"
    r.broadcast(me, line);
  }
}

// The client's writer: sends the lines of its outbox one at a time, in the order they were
// queued. It ends only by an exception: a failed write (the client is gone), or the
// cancellation that ends its session.
ringo::task<void> write_lines(tcp_stream& s, ringo::queue<std::string>& outbox) {
  for (;;) {
    const std::string line = co_await outbox.get();
    co_await s.write_all(line);
  }
}

// One client, from its welcome to its goodbye.
ringo::task<void> session(tcp_stream s, room& r, settings cfg) {
  client me{fmt::format("{}", s.remote_endpoint()), cfg.queue_lines};
  // Queued before the client joins the room, so the welcome is the first line it reads: once
  // it has read it, every line sent afterwards reaches it.
  me.outbox.try_put(fmt::format("welcome {}, {} other(s) here\n", me.name, r.clients.size()));
  r.clients.push_back(&me);
  note("{} joined", me.name);

  std::string last_words;        // a line to send before closing, if any
  std::string why;               // for the log
  std::exception_ptr cancelled;  // set when the server stops this session
  try {
    // The reader, the writer and the overflow signal run at once: the first to end decides,
    // and when_any returns once the other two are cancelled and have ended.
    auto first = co_await ringo::when_any(read_lines(s, me, r, cfg), write_lines(s, me.outbox),
                                          me.too_slow.wait());
    if (first.index() == 0) {
      last_words = std::get<0>(first);
      why = last_words.empty() ? "end of stream" : last_words.substr(0, last_words.size() - 1);
    } else {
      why = "too slow, dropped";
    }
  } catch (const ringo::operation_cancelled&) {
    // The server is stopping (task_group::cancel). No co_await may stand in a catch block:
    // keep the exception, say goodbye after the block, then rethrow it.
    cancelled = std::current_exception();
    last_words = "server shutting down, goodbye\n";
    why = "server shutting down";
  } catch (const std::exception& e) {
    why = e.what();  // the connection failed: "recv on ...: Connection reset by peer"
  }
  std::erase(r.clients, &me);  // before the next co_await: no broadcast reaches it any more

  // The cleanup awaits, out of the catch block. A cancellation is delivered once, so they run
  // as usual; the timeout keeps a client that reads nothing from holding up the shutdown.
  try {
    if (!last_words.empty()) co_await s.write_all(last_words, 2s);
    co_await s.close();
  } catch (const std::exception&) {
    // the client is gone already: nothing is left to tidy
  }
  note("{} left: {}", me.name, why);
  if (cancelled) std::rethrow_exception(cancelled);  // whoever cancelled us sees it done
}

// Starts a session for each connection, in the group that the server cancels on a signal.
ringo::task<void> accept_loop(tcp_listener& listener, ringo::task_group& sessions, room& r,
                              settings cfg) {
  for (;;) {
    bool failed = false;
    try {
      tcp_stream s = co_await listener.accept();
      sessions.spawn(session(std::move(s), r, cfg));
    } catch (const ringo::operation_cancelled&) {
      throw;  // the server is stopping
    } catch (const std::system_error& e) {
      // Out of descriptors, say: report it, and (after the catch block) try again shortly.
      fmt::print(stderr, "chat_server: {}\n", e.what());
      failed = true;
    }
    if (failed) co_await ringo::sleep_for(100ms);
  }
}

ringo::task<void> serve(endpoint at, settings cfg) {
  // First of all: from here on, SIGINT and SIGTERM wait for signals.wait() instead of ending
  // the process, so one sent as soon as "listening on" is printed is not lost.
  ringo::signal_set signals{SIGINT, SIGTERM};
  tcp_listener listener = tcp_listener::bind(at);  // a port in use throws: exit status 1
  note("listening on {}", listener.local_endpoint());

  room r;
  ringo::task_group sessions;  // the accept loop and every session
  sessions.spawn(accept_loop(listener, sessions, r, cfg));

  const int sig = co_await signals.wait();
  note("got SIG{}: ending {} session(s)", ::sigabbrev_np(sig), r.clients.size());
  sessions.cancel();         // operation_cancelled in the accept loop and in every session,
  co_await sessions.join();  // and here they have all said goodbye and ended
  note("stopped");
}

constexpr demo::usage cli{
    "chat_server",
    "usage: chat_server --port P [--host ADDRESS] [--idle SECONDS] [--queue LINES]\n"
    "A line chat: each line a client sends goes to every other client. --port 0 takes a free\n"
    "port (printed). A client silent for --idle seconds (300; 0: never) is dropped, and so is\n"
    "one with --queue lines (1000) waiting for it. SIGINT or SIGTERM stops the server.\n"};

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  std::string host = "127.0.0.1";
  int port = -1;
  int idle = 300;
  int queue_lines = 1000;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) cli.fail("missing value after an option");
    if (arg == "--port") {
      port = std::atoi(argv[++i]);
    } else if (arg == "--host") {
      host = argv[++i];
    } else if (arg == "--idle") {
      idle = std::atoi(argv[++i]);
    } else if (arg == "--queue") {
      queue_lines = std::atoi(argv[++i]);
    } else {
      cli.fail("unknown option");
    }
  }
  if (port < 0 || port > 65535) cli.fail("--port is required (0 to 65535)");
  if (idle < 0) cli.fail("--idle takes 0 (never) or more seconds");
  if (queue_lines < 1) cli.fail("--queue takes 1 line or more");
  if (host == "localhost") host = "127.0.0.1";

  settings cfg;
  cfg.idle = std::chrono::seconds{idle};
  cfg.queue_lines = static_cast<std::size_t>(queue_lines);
  ringo::run(serve(endpoint{host, static_cast<std::uint16_t>(port)}, cfg));
  return 0;
} catch (const std::exception& e) {
  return demo::failed("chat_server", e);
}
