// epoll_echo_server: the baseline an io_uring echo server has to beat. One thread, non-blocking
// sockets, epoll, written the way a careful hand-tuned C server would be: accept4 in a loop until
// EAGAIN, one buffer per connection, read and write back at once, EPOLLOUT only while a write is
// short (and no reading from that connection until it is flushed, so a slow reader cannot make
// the server buffer without bound). It does not use ringo.
//
// Like demo/echo_server it sends one greeting line to every accepted connection, then echoes
// every byte back. bench/load_client reads and discards that first line, whatever it says.
//
// Usage:
//   build/release/bench/epoll_echo_server [--host H] [--port P] [--greeting TEXT] [--mode et|lt]
//     --host H        address to listen on (default 127.0.0.1)
//     --port P        port (default 9090)
//     --greeting TEXT line sent on accept; "\n" is appended when missing (default
//                     "hello from ringo"); --greeting '' sends nothing
//     --mode et|lt    edge-triggered (default) or level-triggered; on loopback the two
//                     measured the same within noise (both need one recv and one send per
//                     echo: a recv shorter than the buffer ends the edge-triggered loop)
// Serves until SIGINT or SIGTERM, then closes every connection and exits 0.
// bench/suite.sh runs it against the ringo server with bench/load_client.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/core.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t buffer_size = 64 * 1024;
constexpr int max_events = 512;

struct options {
  std::string host = "127.0.0.1";
  std::string port = "9090";
  std::string greeting = "hello from ringo\n";
  bool edge_triggered = true;
};

/// One accepted connection: its socket and the bytes read but not yet written back.
struct connection {
  int fd = -1;
  std::uint32_t begin = 0;  // first unsent byte in buf
  std::uint32_t end = 0;    // one past the last unsent byte
  bool want_out = false;    // a write was short: wait for EPOLLOUT, read nothing meanwhile
  std::array<char, buffer_size> buf;
};

[[noreturn]] void die(std::string_view what) {
  fmt::print(stderr, "epoll_echo_server: {}: {}\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage(std::string_view problem) {
  fmt::print(stderr,
             "epoll_echo_server: {}\n"
             "usage: epoll_echo_server [--host H] [--port P] [--greeting TEXT] [--mode et|lt]\n",
             problem);
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--host") {
      o.host = value();
    } else if (arg == "--port") {
      o.port = value();
    } else if (arg == "--greeting") {
      o.greeting = value();
      if (!o.greeting.empty() && o.greeting.back() != '\n') o.greeting += '\n';
    } else if (arg == "--mode") {
      std::string m = value();
      if (m != "et" && m != "lt") usage("--mode is et or lt");
      o.edge_triggered = m == "et";
    } else if (arg == "--help" || arg == "-h") {
      usage("an echo server on epoll");
    } else {
      usage(fmt::format("unknown argument {}", arg));
    }
  }
  if (o.greeting.size() > buffer_size) usage("--greeting is too long");
  return o;
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int listen_on(const options& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(o.host.c_str(), o.port.c_str(), &hints, &res); rc != 0) {
    fmt::print(stderr, "epoll_echo_server: cannot resolve {}: {}\n", o.host, gai_strerror(rc));
    std::exit(1);
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) die(fmt::format("bind {}:{}", o.host, o.port));
  freeaddrinfo(res);
  if (listen(fd, SOMAXCONN) < 0) die("listen");
  return fd;
}

class server {
 public:
  server(const options& o, int listen_fd, int signal_fd)
      : opts_(o), listen_fd_(listen_fd), signal_fd_(signal_fd) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) die("epoll_create1");
    add(listen_fd_, EPOLLIN);
    add(signal_fd_, EPOLLIN);
    // Kept for the moment accept4 fails with EMFILE: closing it lets us accept and drop the
    // connection, so a level-triggered listener does not spin.
    spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  void run() {
    std::array<epoll_event, max_events> events;
    while (!stop_) {
      int n = epoll_wait(epoll_fd_, events.data(), max_events, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          accept_all();
        } else if (fd == signal_fd_) {
          stop_ = true;
        } else {
          on_ready(fd, events[i].events);
        }
      }
    }
    for (auto& c : conns_) {
      if (c) close(c->fd);
    }
    close(epoll_fd_);
  }

 private:
  void add(int fd, std::uint32_t ev) {
    epoll_event e{};
    e.events = ev;
    e.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl ADD");
  }

  void modify(int fd, std::uint32_t ev) {
    epoll_event e{};
    e.events = ev;
    e.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &e) < 0) die("epoll_ctl MOD");
  }

  void accept_all() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
          if (!warned_fd_limit_) {
            fmt::print(stderr,
                       "epoll_echo_server: out of file descriptors, dropping connections\n");
            warned_fd_limit_ = true;
          }
          close(spare_fd_);
          int dropped = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (dropped >= 0) close(dropped);
          spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
          continue;
        }
        die("accept4");
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1024);
      auto& c = conns_[fd];
      if (!c) c = std::make_unique<connection>();
      c->fd = fd;
      c->begin = c->end = 0;
      c->want_out = false;
      // Edge-triggered: ask for both directions once, never touch epoll_ctl again.
      // Level-triggered: EPOLLIN now, EPOLLOUT only while a write is short.
      add(fd, opts_.edge_triggered ? (EPOLLIN | EPOLLOUT | EPOLLET) : EPOLLIN);
      if (!opts_.greeting.empty()) {
        std::memcpy(c->buf.data(), opts_.greeting.data(), opts_.greeting.size());
        c->end = static_cast<std::uint32_t>(opts_.greeting.size());
        if (!flush(*c)) continue;
      }
    }
  }

  void drop(connection& c) {
    // close() removes the fd from the epoll set; the buffer stays allocated for the next fd.
    close(c.fd);
    c.fd = -1;
  }

  // Writes buf[begin, end). Returns false when the connection was closed.
  bool flush(connection& c) {
    while (c.begin < c.end) {
      ssize_t n = send(c.fd, c.buf.data() + c.begin, c.end - c.begin, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          if (!c.want_out) {
            c.want_out = true;
            if (!opts_.edge_triggered) modify(c.fd, EPOLLOUT);
          }
          return true;
        }
        if (errno != ECONNRESET && errno != EPIPE) {
          fmt::print(stderr, "epoll_echo_server: send: {}\n", std::strerror(errno));
        }
        drop(c);
        return false;
      }
      c.begin += static_cast<std::uint32_t>(n);
    }
    c.begin = c.end = 0;
    if (c.want_out) {
      c.want_out = false;
      if (!opts_.edge_triggered) modify(c.fd, EPOLLIN);
    }
    return true;
  }

  void on_ready(int fd, std::uint32_t ev) {
    connection& c = *conns_[fd];
    if (c.fd < 0) return;  // closed earlier in this batch of events
    if (c.want_out) {
      if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      if (!flush(c) || c.want_out) return;
      // Flushed. Edge-triggered: input that arrived meanwhile raised no new edge; read it now.
      if (!opts_.edge_triggered) return;
    } else if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
      return;  // an EPOLLOUT edge with nothing to write
    }
    // Read and echo until the socket is drained. A read shorter than the buffer means it was
    // empty at that instant; anything arriving later raises a new edge (or stays level).
    for (;;) {
      ssize_t n = recv(c.fd, c.buf.data(), c.buf.size(), 0);
      if (n > 0) {
        c.begin = 0;
        c.end = static_cast<std::uint32_t>(n);
        if (!flush(c) || c.want_out) return;
        if (static_cast<std::size_t>(n) < c.buf.size()) return;
        continue;
      }
      if (n == 0) {
        drop(c);
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno != ECONNRESET)
        fmt::print(stderr, "epoll_echo_server: recv: {}\n", std::strerror(errno));
      drop(c);
      return;
    }
  }

  const options& opts_;
  int listen_fd_;
  int signal_fd_;
  int epoll_fd_ = -1;
  int spare_fd_ = -1;
  bool stop_ = false;
  bool warned_fd_limit_ = false;
  std::vector<std::unique_ptr<connection>> conns_;
};

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) die("sigprocmask");
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");

  int lfd = listen_on(o);
  fmt::print("epoll_echo_server: listening on {}:{} ({}-triggered)\n", o.host, o.port,
             o.edge_triggered ? "edge" : "level");
  std::fflush(stdout);
  server s(o, lfd, sfd);
  s.run();
  close(lfd);
  close(sfd);
  return 0;
}
