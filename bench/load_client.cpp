// load_client: a neutral echo load generator for comparing echo servers (bench/suite.sh
// compares demo/echo_server on ringo with bench/epoll_echo_server). One thread, plain epoll,
// no ringo, so neither server is favoured by the client's runtime.
//
// Each connection first reads and discards the server's greeting line (up to and including the
// first '\n'; --no-greeting skips that), then sends --size byte messages and checks that every
// byte comes back unchanged. Counting starts after a warm-up; latency runs from the send of a
// message to the arrival of its last echoed byte.
//
// Usage:
//   build/release/bench/load_client [--host H] [--port P] [--connections N] [--size M]
//       [--seconds T] [--warmup W] [--pipeline K | --rate R | --churn] [--no-greeting] [--json]
//     --connections N  concurrent connections (default 50)
//     --size M         message size in bytes (default 64)
//     --seconds T      measured seconds (default 5), after --warmup W seconds (default 1)
//     --pipeline K     closed loop with K messages in flight per connection (default 1:
//                      ping-pong; K > 1 streams)
//     --rate R         open loop instead: R messages/s in total, sent round-robin over the
//                      connections on a fixed schedule whether or not echoes have come back;
//                      latency then counts from the scheduled send time, so a server that falls
//                      behind shows it. Meant for measuring server CPU per request.
//     --churn          one message per connection: each connection opens, reads the greeting,
//                      sends one message, reads its echo and closes, and a new one takes its
//                      place at once (closed loop, N connections at a time); latency then runs
//                      from the connect to the echo. Measures accepting and closing.
//     --json           print one line of JSON instead of the human-readable report
//     --samples FILE   also write one CSV line per measured second to FILE: t_s, echoes,
//                      p50_us, p99_us, max_us, errors, and with --watch-pid the server's
//                      rss_kib, cpu_pct (of one core, that second) and fds (bench/hold.sh)
//     --watch-pid PID  read the server's VmRSS, CPU time and open descriptors from /proc/PID
//                      at each sample and over the measured window (server_* in --json)
//     --connect-retries N   connection attempts per connection while the server refuses (default
//                      50, 100 ms apart)
// Prints requests/s, MB/s (payload, each way), p50/p99/p99.9 latency in microseconds and errors
// (connections that failed, were closed early or echoed wrong bytes). Exits 0 when there were
// no errors, 1 when there were, 2 on bad arguments or when no connection could be made.
//
// Example, quick ping-pong against the baseline on loopback:
//   build/release/bench/epoll_echo_server --port 9091 &
//   build/release/bench/load_client --port 9091 --connections 50 --size 64 --seconds 3

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "latency_histogram.hpp"
#include "load_options.hpp"
#include "server_probe.hpp"

using namespace load_client;

namespace {

/// The byte stream every connection sends: pseudo-random bytes, repeating every pattern_period
/// bytes. The buffer is longer than the period so that any chunk of up to pattern_slack bytes
/// starting at offset % pattern_period is contiguous, for writing and for checking echoes.
constexpr std::size_t pattern_period = 65521;  // prime: message boundaries drift through it
constexpr std::size_t chunk = 256 * 1024;      // largest single read or write

enum class state { greeting, running, closed };

/// One client connection. Send times of messages in flight wait in a ring, oldest first.
struct connection {
  int fd = -1;
  state st = state::greeting;
  std::size_t greeting_bytes = 0;
  std::uint64_t written = 0;  // stream bytes handed to the kernel
  std::uint64_t queued = 0;   // stream bytes the schedule wants sent (written <= queued)
  std::uint64_t received = 0;
  bool want_out = false;
  std::vector<nanos> ring = std::vector<nanos>(16);
  std::size_t head = 0;  // oldest message in flight
  std::size_t count = 0;
  nanos opened = 0;  // --churn: when the connect started

  void push(nanos t) {
    if (count == ring.size()) {
      std::vector<nanos> bigger(ring.size() * 2);
      for (std::size_t i = 0; i < count; ++i)
        bigger[i] = ring[(head + i) % ring.size()];
      ring.swap(bigger);
      head = 0;
    }
    ring[(head + count) % ring.size()] = t;
    ++count;
  }
  nanos pop() {
    nanos t = ring[head];
    head = (head + 1) % ring.size();
    --count;
    return t;
  }
};

class client {
 public:
  explicit client(const options& o) : o_(o), conns_(o.connections) {
    pattern_.resize(pattern_period + std::max(chunk, o.size * o.pipeline));
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (auto& b : pattern_) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<char>(x);
    }
    for (std::size_t i = pattern_period; i < pattern_.size(); ++i)
      pattern_[i] = pattern_[i - pattern_period];
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) fatal("epoll_create1");
  }

  int run() {
    if (!o_.samples.empty()) {
      samples_ = std::fopen(o_.samples.c_str(), "we");
      if (samples_ == nullptr) fatal(fmt::format("cannot write --samples {}", o_.samples));
      fmt::print(samples_, "t_s,echoes,p50_us,p99_us,max_us,errors{}\n",
                 o_.watch_pid > 0 ? ",server_rss_kib,server_cpu_pct,server_fds" : "");
    }
    connect_all();
    wait_for_greetings();
    if (live_ == 0) {
      fmt::print(stderr, "load_client: no connection is usable\n");
      return 2;
    }
    const nanos start = now_ns();
    warm_end_ = start + static_cast<nanos>(o_.warmup * 1e9);
    measure_end_ = warm_end_ + static_cast<nanos>(o_.seconds * 1e9);
    if (o_.rate > 0) {
      interval_ = 1e9 / o_.rate;
      schedule_start_ = start;
    } else {
      for (auto& c : conns_) {
        if (c.st != state::running) continue;
        for (int k = 0; k < o_.pipeline; ++k)
          enqueue(c, start);
        flush(c);
      }
    }
    started_ = true;
    nanos cpu_begin = 0;
    bool measuring = false;
    while (true) {
      nanos t = now_ns();
      if (!measuring && t >= warm_end_) {
        measuring = true;
        cpu_begin = cpu_ns();
        window_begin_ = probe_server(o_.watch_pid);
        last_probe_ = window_begin_;
        last_probe_time_ = t;
        next_sample_ = warm_end_ + 1'000'000'000;
      }
      if (measuring && sampling() && t >= next_sample_) {
        emit_sample(t);
        next_sample_ += 1'000'000'000;
      }
      if (t >= measure_end_) break;
      if (live_ == 0 && !(o_.churn && opening_ > 0)) break;
      nanos deadline = measuring ? measure_end_ : warm_end_;
      if (measuring && sampling()) deadline = std::min(deadline, next_sample_);
      if (o_.rate > 0) {
        send_due(t);
        deadline = std::min(deadline, next_due());
      }
      poll_once(deadline - t);
    }
    const nanos cpu_used = cpu_ns() - cpu_begin;
    window_end_ = probe_server(o_.watch_pid);
    if (samples_ != nullptr) std::fclose(samples_);
    stopping_ = true;
    drain();
    report(cpu_used);
    return errors_ == 0 ? 0 : 1;
  }

 private:
  [[noreturn]] static void fatal(std::string_view what) {
    fmt::print(stderr, "load_client: {}: {}\n", what, std::strerror(errno));
    std::exit(2);
  }

  bool sampling() const { return samples_ != nullptr; }

  // One line of --samples: the second that ends at t (echoes completed in it and their
  // latency), and the server's state at t.
  void emit_sample(nanos t) {
    auto us = [](nanos v) { return static_cast<double>(v) / 1e3; };
    fmt::print(samples_, "{:.0f},{},{:.1f},{:.1f},{:.1f},{}",
               static_cast<double>(t - warm_end_) / 1e9, second_.count(), us(second_.quantile(0.5)),
               us(second_.quantile(0.99)), us(second_.max()), errors_ - errors_at_sample_);
    if (o_.watch_pid > 0) {
      const server_probe p = probe_server(o_.watch_pid);
      const double cpu_pct = p.cpu < 0 || last_probe_.cpu < 0 || t <= last_probe_time_
                                 ? -1.0
                                 : 100.0 * static_cast<double>(p.cpu - last_probe_.cpu) /
                                       static_cast<double>(t - last_probe_time_);
      fmt::print(samples_, ",{},{:.1f},{}", p.rss_kib, cpu_pct, p.fds);
      last_probe_ = p;
      last_probe_time_ = t;
    }
    fmt::print(samples_, "\n");
    std::fflush(samples_);
    second_.reset();
    errors_at_sample_ = errors_;
  }

  void error(connection& c, std::string_view what) {
    if (errors_ < 5)
      fmt::print(stderr, "load_client: connection {}: {}\n", &c - conns_.data(), what);
    ++errors_;
    close_connection(c);
  }

  void close_connection(connection& c) {
    if (c.st == state::closed) return;
    if (c.st == state::running) --live_;
    if (c.st == state::greeting && o_.churn && opening_ > 0) --opening_;
    close(c.fd);
    c.st = state::closed;
  }

  void connect_all() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(o_.host.c_str(), o_.port.c_str(), &hints, &res); rc != 0) {
      fmt::print(stderr, "load_client: cannot resolve {}: {}\n", o_.host, gai_strerror(rc));
      std::exit(2);
    }
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      connection& c = conns_[i];
      // Blocking connect, then non-blocking I/O: simple, and on loopback a handshake completes
      // in the kernel without waiting for the server to call accept.
      for (int attempt = 1;; ++attempt) {
        c.fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c.fd < 0) fatal("socket");
        if (connect(c.fd, res->ai_addr, res->ai_addrlen) == 0) break;
        int err = errno;
        close(c.fd);
        bool transient = err == ECONNREFUSED || err == EAGAIN || err == ETIMEDOUT || err == EINTR ||
                         err == ECONNRESET;
        if (!transient || attempt >= o_.connect_retries) {
          fmt::print(stderr, "load_client: connect to {}:{} (connection {}): {}\n", o_.host,
                     o_.port, i, std::strerror(err));
          std::exit(2);
        }
        usleep(100'000);
      }
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK) < 0) fatal("fcntl O_NONBLOCK");
      epoll_event e{};
      e.events = EPOLLIN | EPOLLOUT | EPOLLET;
      e.data.u64 = i;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &e) < 0) fatal("epoll_ctl");
      c.st = o_.greeting ? state::greeting : state::running;
      if (c.st == state::running) ++live_;
    }
    std::memcpy(&peer_, res->ai_addr, res->ai_addrlen);
    peer_len_ = res->ai_addrlen;
    freeaddrinfo(res);
  }

  // --churn: closes c after its one message and opens a new connection in its place
  // (non-blocking connect; the greeting, then the message, follow from poll_once).
  void reopen(connection& c) {
    close_connection(c);
    ++connections_opened_;
    c.greeting_bytes = 0;
    c.written = c.queued = c.received = 0;
    c.want_out = false;
    c.head = c.count = 0;  // keeps the ring's storage: no allocation per connection
    c.fd = socket(peer_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) fatal("socket");
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const nanos t = now_ns();
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&peer_), peer_len_) != 0 &&
        errno != EINPROGRESS) {
      c.st = state::running;
      ++live_;
      error(c, fmt::format("connect: {}", std::strerror(errno)));
      return;
    }
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLET;
    e.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &e) < 0) fatal("epoll_ctl");
    if (o_.greeting) {
      c.st = state::greeting;
      c.opened = t;
      ++opening_;
    } else {
      c.st = state::running;
      ++live_;
      enqueue(c, t);
      flush(c);
    }
  }

  void wait_for_greetings() {
    if (!o_.greeting) return;
    const nanos deadline = now_ns() + 10'000'000'000;
    std::size_t waiting = 0;
    for (auto& c : conns_)
      waiting += c.st == state::greeting;
    greeting_waiting_ = waiting;
    while (greeting_waiting_ > 0) {
      nanos t = now_ns();
      if (t >= deadline) break;
      poll_once(deadline - t);
    }
    for (auto& c : conns_) {
      if (c.st == state::greeting) error(c, "no greeting line within 10 s");
    }
  }

  void poll_once(nanos timeout) {
    std::array<epoll_event, 512> events;
    int ms = static_cast<int>((std::max<nanos>(timeout, 0) + 999'999) / 1'000'000);
    int n;
    if (use_pwait2_) {
      timespec ts{static_cast<time_t>(timeout / 1'000'000'000),
                  static_cast<long>(std::max<nanos>(timeout, 0) % 1'000'000'000)};
      n = epoll_pwait2(epoll_fd_, events.data(), static_cast<int>(events.size()), &ts, nullptr);
      if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        use_pwait2_ = false;  // an old kernel or a seccomp filter: millisecond timeouts then
        n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), ms);
      }
    } else {
      n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), ms);
    }
    if (n < 0) {
      if (errno == EINTR) return;
      fatal("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      connection& c = conns_[events[i].data.u64];
      if (c.st == state::closed) continue;
      if ((events[i].events & EPOLLOUT) && c.want_out) {
        if (!flush(c)) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    }
  }

  // Schedules one message on c: its send time, and M more stream bytes to write.
  void enqueue(connection& c, nanos t) {
    c.push(t);
    c.queued += o_.size;
  }

  // Writes what the schedule wants sent. Returns false when the connection failed.
  bool flush(connection& c) {
    while (c.written < c.queued) {
      std::size_t off = c.written % pattern_period;
      std::size_t len =
          static_cast<std::size_t>(std::min<std::uint64_t>(c.queued - c.written, chunk));
      ssize_t n = send(c.fd, pattern_.data() + off, len, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          c.want_out = true;  // registered edge-triggered for EPOLLOUT already
          return true;
        }
        error(c, fmt::format("send: {}", std::strerror(errno)));
        return false;
      }
      c.written += static_cast<std::uint64_t>(n);
    }
    c.want_out = false;
    return true;
  }

  void on_readable(connection& c) {
    std::array<char, 64 * 1024> buf;
    for (;;) {
      ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        error(c, fmt::format("recv: {}", std::strerror(errno)));
        return;
      }
      if (n == 0) {
        error(c, "the server closed the connection");
        return;
      }
      const nanos t = now_ns();
      std::size_t used = 0;
      if (c.st == state::greeting) {
        auto* nl =
            static_cast<const char*>(std::memchr(buf.data(), '\n', static_cast<std::size_t>(n)));
        if (!nl) {
          c.greeting_bytes += static_cast<std::size_t>(n);
          if (c.greeting_bytes > 64 * 1024) error(c, "greeting longer than 64 KiB without '\\n'");
          if (c.st == state::closed) return;
          continue;
        }
        used = static_cast<std::size_t>(nl - buf.data()) + 1;
        c.st = state::running;
        ++live_;
        if (greeting_waiting_ > 0) --greeting_waiting_;
        if (o_.churn && started_) {
          --opening_;
          enqueue(c, c.opened);
          if (!flush(c)) return;
        }
      }
      std::size_t len = static_cast<std::size_t>(n) - used;
      if (len > 0 && !consume(c, buf.data() + used, len, t)) return;
      if (static_cast<std::size_t>(n) < buf.size()) return;  // drained; a new edge will come
    }
  }

  // Checks echoed bytes against what was sent and completes the messages they finish.
  bool consume(connection& c, const char* data, std::size_t len, nanos t) {
    if (c.received + len > c.written) {
      error(c, "received more bytes than were sent (a greeting of more than one line?)");
      return false;
    }
    if (std::memcmp(data, pattern_.data() + c.received % pattern_period, len) != 0) {
      error(c, "echoed bytes differ from the bytes sent");
      return false;
    }
    const std::uint64_t before = c.received / o_.size;
    c.received += len;
    const std::uint64_t done = c.received / o_.size - before;
    for (std::uint64_t k = 0; k < done; ++k) {
      nanos sent = c.pop();
      ++total_requests_;
      if (t >= warm_end_ && t < measure_end_) {
        ++requests_;
        latency_.record(t - sent);
        if (sampling()) second_.record(t - sent);
      }
      if (o_.rate == 0 && !stopping_ && !o_.churn) enqueue(c, t);
    }
    if (o_.churn && c.received == c.queued) {
      if (stopping_) {
        close_connection(c);
      } else {
        reopen(c);
      }
      return false;  // c is another connection now: stop reading for the old one
    }
    if (done > 0 && c.written < c.queued) return flush(c);
    return true;
  }

  // Open loop: message k is due at schedule_start_ + k * interval_ on connection k mod N.
  nanos due(std::uint64_t k) const {
    return schedule_start_ + static_cast<nanos>(static_cast<double>(k) * interval_);
  }
  nanos next_due() const { return due(next_send_); }

  void send_due(nanos t) {
    std::size_t tries = 0;
    while (due(next_send_) <= t) {
      connection& c = conns_[next_send_ % conns_.size()];
      if (c.st == state::running) {
        enqueue(c, due(next_send_));
        flush(c);
        tries = 0;
      } else if (++tries > conns_.size()) {
        return;  // no live connection left
      }
      ++next_send_;
    }
  }

  // After the measured window: stop sending, give echoes still in flight up to a second to
  // come back, then close politely (FIN, not RST) so servers see an orderly end.
  void drain() {
    const nanos deadline = now_ns() + 1'000'000'000;
    auto pending = [&] {
      for (auto& c : conns_) {
        if (c.st == state::running && c.received < c.queued) return true;
      }
      return false;
    };
    while (pending()) {
      nanos t = now_ns();
      if (t >= deadline) break;
      poll_once(deadline - t);
    }
    for (auto& c : conns_) {
      if (c.st == state::closed) continue;
      shutdown(c.fd, SHUT_WR);
      close_connection(c);
    }
  }

  // The watched server's CPU over the measured window, in % of one core (-1: unknown).
  double server_cpu_pct() const {
    if (window_begin_.cpu < 0 || window_end_.cpu < 0) return -1;
    return 100.0 * static_cast<double>(window_end_.cpu - window_begin_.cpu) / (o_.seconds * 1e9);
  }

  void report(nanos cpu_used) const {
    const double secs = o_.seconds;
    const double rps = static_cast<double>(requests_) / secs;
    const double mbps = rps * static_cast<double>(o_.size) / 1e6;
    const double cpu_pct = 100.0 * static_cast<double>(cpu_used) / (secs * 1e9);
    auto us = [&](double q) { return static_cast<double>(latency_.quantile(q)) / 1e3; };
    const char* mode = o_.churn      ? "churn"
                       : o_.rate > 0 ? "rate"
                                     : (o_.pipeline > 1 ? "pipeline" : "pingpong");
    if (o_.json) {
      fmt::print(
          "{{\"host\":\"{}\",\"port\":{},\"connections\":{},\"size\":{},\"mode\":\"{}\","
          "\"pipeline\":{},\"rate\":{},\"seconds\":{},\"warmup\":{},\"requests\":{},"
          "\"total_requests\":{},\"rps\":{:.1f},\"mbps\":{:.3f},\"p50_us\":{:.2f},"
          "\"p99_us\":{:.2f},\"p999_us\":{:.2f},\"max_us\":{:.2f},\"mean_us\":{:.2f},"
          "\"errors\":{},\"client_cpu_pct\":{:.1f},\"connections_opened\":{}{}}}\n",
          o_.host, o_.port, o_.connections, o_.size, mode, o_.pipeline, o_.rate, secs, o_.warmup,
          requests_, total_requests_, rps, mbps, us(0.5), us(0.99), us(0.999),
          static_cast<double>(latency_.max()) / 1e3, latency_.mean() / 1e3, errors_, cpu_pct,
          connections_opened_,
          o_.watch_pid > 0
              ? fmt::format(",\"server_rss_kib\":{},\"server_cpu_pct\":{:.1f},\"server_fds\":{}",
                            window_end_.rss_kib, server_cpu_pct(), window_end_.fds)
              : std::string{});
      return;
    }
    std::string how = o_.churn ? std::string{"one message per connection (churn)"}
                      : o_.rate > 0
                          ? fmt::format("open loop at {:.0f} requests/s", o_.rate)
                          : fmt::format("closed loop, {} in flight per connection", o_.pipeline);
    fmt::print("load_client: {}:{}, {} connections, {} B messages, {}\n", o_.host, o_.port,
               o_.connections, o_.size, how);
    fmt::print("  {:.0f} s measured after {:.0f} s warm-up\n", secs, o_.warmup);
    fmt::print("  requests/s   {:.0f}\n", rps);
    fmt::print("  MB/s         {:.2f} (payload, each way)\n", mbps);
    fmt::print("  latency us   p50 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}  mean {:.1f}\n",
               us(0.5), us(0.99), us(0.999), static_cast<double>(latency_.max()) / 1e3,
               latency_.mean() / 1e3);
    fmt::print("  client CPU   {:.0f}% of one core\n", cpu_pct);
    if (o_.watch_pid > 0) {
      fmt::print(
          "  server       pid {}: VmRSS {} KiB and {} descriptors at the end, CPU {:.1f}% "
          "of one core\n",
          o_.watch_pid, window_end_.rss_kib, window_end_.fds, server_cpu_pct());
    }
    fmt::print("  errors       {}\n", errors_);
  }

  const options& o_;
  std::vector<connection> conns_;
  std::vector<char> pattern_;
  int epoll_fd_ = -1;
  bool use_pwait2_ = true;
  bool stopping_ = false;
  bool started_ = false;
  std::size_t live_ = 0;
  std::size_t opening_ = 0;  // --churn: connections waiting for their greeting
  std::uint64_t connections_opened_ = 0;
  sockaddr_storage peer_{};
  socklen_t peer_len_ = 0;
  std::size_t greeting_waiting_ = 0;
  nanos warm_end_ = 0;
  nanos measure_end_ = 0;
  double interval_ = 0;
  nanos schedule_start_ = 0;
  std::uint64_t next_send_ = 0;
  std::uint64_t requests_ = 0;
  std::uint64_t total_requests_ = 0;
  std::uint64_t errors_ = 0;
  histogram latency_;
  histogram second_;  // --samples: this second's latencies
  std::FILE* samples_ = nullptr;
  nanos next_sample_ = 0;
  std::uint64_t errors_at_sample_ = 0;
  server_probe window_begin_;  // --watch-pid: at the start and the end of the measured window
  server_probe window_end_;
  server_probe last_probe_;
  nanos last_probe_time_ = 0;
};

void raise_fd_limit(int connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  rlim_t want = static_cast<rlim_t>(connections) + 64;
  if (lim.rlim_cur >= want) return;
  lim.rlim_cur = std::min(want, lim.rlim_max);
  setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < want) {
    fmt::print(stderr,
               "load_client: the hard limit of {} file descriptors is below the {} needed\n",
               lim.rlim_max, want);
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  raise_fd_limit(o.connections);
  signal(SIGPIPE, SIG_IGN);
  client c(o);
  return c.run();
}
