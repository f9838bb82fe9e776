// idle_client: opens N TCP connections to a server and holds them idle, for measuring what an
// idle connection costs the server (bench/suite.sh reads the server's VmRSS before and after).
// One thread, plain epoll, no ringo.
//
// Connections are opened non-blocking, at most --window at a time not yet confirmed, so the
// server's accept queue never overflows (an overflow costs a one-second SYN retransmit). A
// connection counts as established when the server's greeting line has arrived (that proves
// the server accepted it and runs its handler), or at once with --no-greeting. Source
// addresses rotate over 127.0.0.1 .. 127.0.0.K (K = N / 20000 + 1) with IP_BIND_ADDRESS_NO_PORT,
// so more connections than one address has ephemeral ports can reach one server port.
//
// When all are established it prints "ready N" on stdout (or "failed ..." and exits 1), then
// holds the connections until stdin reaches end of file or --hold seconds have passed, closes
// them and exits 0.
//
// Usage: build/release/bench/idle_client [--host 127.0.0.1] --port P --connections N
//            [--window W] [--no-greeting] [--hold S]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fmt/core.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct options {
  std::string host = "127.0.0.1";
  int port = 9090;
  long connections = 10000;
  long window = 256;
  bool greeting = true;
  double hold = 3600;
};

[[noreturn]] void usage(std::string_view why) {
  fmt::print(stderr,
             "idle_client: {}\nusage: idle_client [--host H] --port P --connections N "
             "[--window W] [--no-greeting] [--hold S]\n",
             why);
  std::exit(2);
}

[[noreturn]] void fatal(std::string_view what) {
  fmt::print(stderr, "idle_client: {}: {}\n", what, std::strerror(errno));
  std::exit(1);
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void raise_fd_limit(long need) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  const auto want = static_cast<rlim_t>(need);
  if (lim.rlim_cur >= want) return;
  if (lim.rlim_max < want) {
    // Raising the hard limit needs CAP_SYS_RESOURCE, which containers often drop.
    rlimit raised{want, want};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
    fmt::print(stderr,
               "idle_client: {} connections need {} descriptors, above the hard limit of {} "
               "(raising it needs CAP_SYS_RESOURCE): {}\n",
               need - 64, need, lim.rlim_max, std::strerror(errno));
    std::exit(1);
  }
  lim.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) fatal("setrlimit RLIMIT_NOFILE");
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--host") {
      o.host = value();
    } else if (arg == "--port") {
      o.port = std::atoi(value());
    } else if (arg == "--connections") {
      o.connections = std::atol(value());
    } else if (arg == "--window") {
      o.window = std::atol(value());
    } else if (arg == "--no-greeting") {
      o.greeting = false;
    } else if (arg == "--hold") {
      o.hold = std::atof(value());
    } else {
      usage(fmt::format("unknown argument {}", arg));
    }
  }
  if (o.connections < 1 || o.window < 1 || o.port <= 0) usage("bad value");
  raise_fd_limit(o.connections + 64);

  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &to.sin_addr) != 1) usage("--host takes an IPv4 address");
  const bool loopback = (ntohl(to.sin_addr.s_addr) >> 24) == 127;
  const long sources = loopback ? o.connections / 20000 + 1 : 1;

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fatal("epoll_create1");
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(o.connections));
  long pending = 0;  // opened, greeting not yet seen
  long established = 0;
  long failed = 0;
  const double deadline = now_s() + 120;
  std::array<epoll_event, 512> events;
  std::array<char, 512> buf;

  while (established + failed < o.connections) {
    while (pending < o.window && static_cast<long>(fds.size()) < o.connections) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) fatal("socket");
      if (sources > 1) {
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in from{};
        from.sin_family = AF_INET;
        from.sin_addr.s_addr =
            htonl((127u << 24) + 1 + static_cast<std::uint32_t>(fds.size() % sources));
        if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) fatal("bind");
      }
      if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)
        fatal(fmt::format("connect (connection {})", fds.size()));
      if (o.greeting) {
        epoll_event e{};
        e.events = EPOLLIN | EPOLLRDHUP;
        e.data.fd = fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) fatal("epoll_ctl");
        ++pending;
      } else {
        ++established;
      }
      fds.push_back(fd);
    }
    if (!o.greeting) break;
    if (now_s() > deadline) break;
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0 && errno != EINTR) fatal("epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      const ssize_t got = recv(fd, buf.data(), buf.size(), 0);
      if (got > 0 && std::memchr(buf.data(), '\n', static_cast<std::size_t>(got)) != nullptr) {
        ++established;
      } else if (got > 0 || (got < 0 && errno == EAGAIN)) {
        continue;  // part of the greeting; wait for its end
      } else {
        ++failed;
      }
      --pending;
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    }
  }
  if (established < o.connections) {
    fmt::print("failed: {} of {} connections established, {} failed\n", established, o.connections,
               failed);
    std::fflush(stdout);
    return 1;
  }
  fmt::print("ready {}\n", established);
  std::fflush(stdout);

  // Hold until stdin ends (the suite closes its end of the pipe) or --hold seconds pass.
  pollfd in{0, POLLIN, 0};
  const double until = now_s() + o.hold;
  while (now_s() < until) {
    const int r = poll(&in, 1, 1000);
    if (r > 0) {
      char c[64];
      if (read(0, c, sizeof c) <= 0) break;
    }
  }
  for (int fd : fds)
    close(fd);
  return 0;
}
