// demo/io_models.cpp: seed block 11, the "IO models" named among the seed's topics: one echo
// job served three ways, with what each costs.
//   (a) blocking I/O: a thread per connection, each blocked in recv() until its client speaks;
//   (b) readiness (multiplexing): ringo on epoll, one thread asking "tell me when I may read";
//   (c) completion (asynchronous I/O): ringo on io_uring, one thread asking "tell me when it
//       is read" while the kernel reads; skipped, saying why, where io_uring is refused.
// (b) and (c) are the same coroutines; only io_context_options::backend differs. The load is
// the same for all: N client connections (a thread each, plain blocking sockets) doing M round
// trips of 64 bytes. CPU is the process's user+system time per request (getrusage), and the
// server's part: the process less what the client threads used.
//
// Run: build/demo/io_models [--connections 50] [--rounds 2000]   (loopback only, a few seconds)
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/io_context.hpp>
#include <ringo/io_context_options.hpp>
#include <ringo/net.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using ringo::net::endpoint;

namespace {

constexpr std::size_t message_size = 64;

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

double cpu_seconds(int who) {  // RUSAGE_SELF: the process; RUSAGE_THREAD: the calling thread
  rusage u{};
  ::getrusage(who, &u);
  auto s = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// A socket descriptor that closes itself, so no path leaves a peer waiting on an open socket.
class socket_fd {
 public:
  socket_fd(int fd, const char* what) : fd_(fd) {
    if (fd_ < 0) fail(what);
  }
  socket_fd(socket_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~socket_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  void set(int level, int option, const auto& value) {
    if (::setsockopt(fd_, level, option, &value, sizeof value) != 0) fail("setsockopt");
  }

 private:
  int fd_;
};

// What the threads of one measurement report to the main thread: the first error (rethrown
// there, instead of std::terminate on the thread) and the CPU time the client threads used.
struct shared {
  std::mutex m;
  std::exception_ptr error;
  double client_cpu = 0;
  void keep(std::exception_ptr e) {
    std::lock_guard lock{m};
    if (!error) error = std::move(e);
  }
};

// The load: one client connection on its own thread, blocking calls, `rounds` round trips.
// Every call gives up after 10 s, so that whatever a server does, the run ends.
void client(std::uint16_t port, int rounds, shared& out) {
  try {
    socket_fd s{::socket(AF_INET, SOCK_STREAM, 0), "socket"};
    s.set(SOL_SOCKET, SO_RCVTIMEO, timeval{10, 0});
    s.set(SOL_SOCKET, SO_SNDTIMEO, timeval{10, 0});
    s.set(IPPROTO_TCP, TCP_NODELAY, 1);
    const auto to = endpoint::loopback_v4(port);
    if (::connect(s.get(), to.data(), to.size()) != 0) fail("connect");
    std::array<std::byte, message_size> request{}, reply{};
    for (int r = 0; r < rounds; ++r) {
      request.fill(static_cast<std::byte>(r));
      // 64 bytes always fit in the empty send buffer of a ping-pong: all of them or an error.
      if (::send(s.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) fail("send");
      for (std::size_t got = 0; got < reply.size();) {
        const ssize_t n = ::recv(s.get(), reply.data() + got, reply.size() - got, 0);
        if (n == 0) throw std::runtime_error("the server closed the connection early");
        if (n < 0) fail("recv");
        got += static_cast<std::size_t>(n);
      }
      if (reply != request) throw std::runtime_error("the echo differs from the request");
    }
  } catch (...) {
    out.keep(std::current_exception());
  }
  const double used = cpu_seconds(RUSAGE_THREAD);
  std::lock_guard lock{out.m};
  out.client_cpu += used;
}

// Wall time, and the CPU time of the whole process and of its client threads.
struct figures {
  double seconds, cpu, client_cpu;
};

// Starts the clients against `port`, runs serve(out) on this thread, waits for the clients.
template <class Serve>
figures measure(int connections, int rounds, std::uint16_t port, Serve serve) {
  shared out;
  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> clients;  // joined at the end of this block, even on an error
    for (int i = 0; i < connections; ++i)
      clients.emplace_back(client, port, rounds, std::ref(out));
    serve(out);
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
  if (out.error) std::rethrow_exception(out.error);
  return {took.count(), cpu_seconds(RUSAGE_SELF) - cpu0, out.client_cpu};
}

// (a) A thread per connection, its life spent blocked in recv() or send(): the simplest code,
// but every connection costs a thread (a stack, a task for the kernel to schedule) and every
// message a switch into the thread that waits for it.
void echo_blocking(socket_fd s, shared& out) {
  try {
    std::array<std::byte, 4096> buf;
    for (;;) {
      const ssize_t n = ::recv(s.get(), buf.data(), buf.size(), 0);
      if (n == 0) return;  // the client is done
      if (n < 0) fail("recv");
      if (::send(s.get(), buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) < 0) fail("send");
    }
  } catch (...) {
    out.keep(std::current_exception());
  }
}

figures thread_per_connection(int connections, int rounds) {
  socket_fd listener{::socket(AF_INET, SOCK_STREAM, 0), "socket"};
  const auto any_port = endpoint::loopback_v4(0);  // port 0: the kernel picks a free one
  if (::bind(listener.get(), any_port.data(), any_port.size()) != 0) fail("bind");
  if (::listen(listener.get(), SOMAXCONN) != 0) fail("listen");
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) fail("name");
  return measure(connections, rounds, endpoint::from_sockaddr(bound).port(), [&](shared& out) {
    std::vector<std::jthread> per_connection;  // joined once their clients have closed
    for (int i = 0; i < connections; ++i) {
      socket_fd s{::accept(listener.get(), nullptr, nullptr), "accept"};
      s.set(IPPROTO_TCP, TCP_NODELAY, 1);
      per_connection.emplace_back(echo_blocking, std::move(s), std::ref(out));
    }
  });
}

// (b) and (c): a task per connection, all on one thread; a task waiting for its client is a
// coroutine frame parked in the loop, not a thread. On epoll the loop tries recv(), and on
// EAGAIN waits until the socket is readable and tries again; on io_uring the receive is a
// request in a ring that the kernel completes, and one io_uring_enter() submits and reaps many.
ringo::task<void> echo(ringo::net::tcp_stream s) {
  s.set_nodelay(true);
  std::array<std::byte, 4096> buf;
  for (;;) {
    const std::size_t n = co_await s.read_some(buf);
    if (n == 0) co_return;  // the client is done
    co_await s.write_all(std::span{buf}.first(n));
  }
}

ringo::task<void> serve_tasks(ringo::net::tcp_listener& listener, int connections) {
  std::vector<ringo::join_handle<void>> tasks;
  for (int i = 0; i < connections; ++i)
    tasks.push_back(ringo::spawn(echo(co_await listener.accept())));
  for (auto& t : tasks)
    co_await t;  // a connection's error comes out of run()
}

// Empty when the backend cannot be set up here (io_uring may be refused: a seccomp profile,
// kernel.io_uring_disabled, an old kernel); then `refused` says why.
std::optional<figures> one_thread(ringo::io_backend backend, int connections, int rounds,
                                  std::string& refused) {
  ringo::io_context_options options;
  options.backend = backend;  // named, so no fallback to the other one, whatever RINGO_BACKEND
  std::optional<ringo::io_context> ctx;
  try {
    ctx.emplace(options);
  } catch (const std::system_error& e) {
    if (backend != ringo::io_backend::io_uring) throw;
    refused = e.what();
    return std::nullopt;
  }
  auto listener = ringo::net::tcp_listener::bind(endpoint::loopback_v4(0), SOMAXCONN);
  return measure(connections, rounds, listener.local_endpoint().port(),
                 [&](shared&) { ctx->run(serve_tasks(listener, connections)); });
}

constexpr demo::usage cli{
    "io_models",
    "usage: io_models [--connections N] [--rounds M]\n"
    "Serves N echo connections (50) of M round trips each (2000) with blocking threads, with\n"
    "ringo on epoll and with ringo on io_uring, and prints what each model costs.\n"};

// The value of option `name`: a number from 1 to `high` (text is null after a last option).
int option(std::string_view name, const char* text, long high) {
  char* end = nullptr;
  errno = 0;
  const long v = text == nullptr ? 0 : std::strtol(text, &end, 10);
  if (v < 1 || v > high || errno != 0 || *end != '\0') {
    cli.fail(fmt::format("{} takes a number from 1 to {}", name, high));
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) try {
  cli.answer_help(argc, argv);
  int connections = 50;
  int rounds = 2000;
  for (int i = 1; i < argc; i += 2) {  // argv[argc] is null: option() says what is missing
    const std::string_view arg = argv[i];
    if (arg == "--connections") {
      connections = option(arg, argv[i + 1], 1000);
    } else if (arg == "--rounds") {
      rounds = option(arg, argv[i + 1], 1'000'000);
    } else {
      cli.fail(fmt::format("unknown option {}", arg));
    }
  }
  const double requests = static_cast<double>(connections) * rounds;
  fmt::print("{} connections x {} round trips of {} bytes over 127.0.0.1: {} requests a model\n\n",
             connections, rounds, message_size, connections * rounds);
  fmt::print("{:<38}{:>11}{:>13}{:>16}\n", "model", "requests/s", "CPU us/req", "server us/req");
  auto row = [&](std::string_view name, const figures& f) {
    fmt::print("{:<38}{:>11.0f}{:>13.1f}{:>16.1f}\n", name, requests / f.seconds,
               f.cpu / requests * 1e6, (f.cpu - f.client_cpu) / requests * 1e6);
    std::fflush(stdout);
  };
  row("(a) thread per connection, blocking", thread_per_connection(connections, rounds));
  std::string refused;
  row("(b) ringo on epoll (readiness)",
      *one_thread(ringo::io_backend::epoll, connections, rounds, refused));
  if (auto f = one_thread(ringo::io_backend::io_uring, connections, rounds, refused)) {
    row("(c) ringo on io_uring (completion)", *f);
  } else {
    fmt::print("{:<38}skipped: io_uring is refused here\n    {}\n",
               "(c) ringo on io_uring (completion)", refused);
  }
  fmt::print(
      "\nCPU us/req is the whole process, clients included; server us/req leaves them out.\n"
      "(a) costs a thread per connection: a stack (8 MiB of address space), a task for the\n"
      "    scheduler, and a switch into the one thread that each message wakes.\n"
      "(b) costs one thread that waits for readiness (epoll_wait), then a recv() and a send()\n"
      "    system call per request; a connection waits as a coroutine frame, not a thread.\n"
      "(c) costs one thread that waits for completions: the kernel does the receive itself,\n"
      "    and requests and results pass through rings shared with it, many per system call.\n"
      "With few connections and several cores (a) may well win: its threads use every core,\n"
      "(b) and (c) one. Its costs grow with connections: try --connections 1000 --rounds 200.\n");
  return 0;
} catch (const std::exception& e) {
  return demo::failed("io_models", e);
}
