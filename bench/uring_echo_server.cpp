// uring_echo_server: the raw io_uring baseline, an echo server written straight on liburing the
// way a careful hand-tuned server would be, so that bench/suite.sh can hold ringo's io_uring
// path against io_uring itself and not only against epoll. One thread, no ringo:
//   - a ring set up with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (completion
//     work runs only when the loop waits), falling back to COOP_TASKRUN, then to a plain ring;
//     the ring descriptor registered (io_uring_register_ring_fd) where the kernel allows it;
//   - one multishot accept on the listener;
//   - one multishot receive per connection into a provided-buffer ring (liburing 2.3 has no
//     io_uring_setup_buf_ring: the ring is mmap'ed here and registered with
//     io_uring_register_buf_ring), so an idle connection holds no buffer;
//   - each received buffer sent back as it is; one send in flight per connection (two sends on
//     one socket may complete out of order), and the buffers that arrived meanwhile gathered
//     into one sendmsg; a short send resubmits the rest; a buffer goes back to the ring once
//     all of its bytes are sent;
//   - a receive that ran out of buffers (ENOBUFS) is re-armed once sends have returned some.
//
// Like bench/epoll_echo_server it sends one greeting line to every accepted connection, then
// echoes every byte back; bench/load_client reads and discards that first line.
//
// Usage:
//   build/release/bench/uring_echo_server [--host H] [--port P] [--greeting TEXT]
//       [--setup defer|coop|plain] [--no-ring-fd] [--buffers N] [--buffer-size B]
//     --host H          address to listen on (default 127.0.0.1)
//     --port P          port (default 9090)
//     --greeting TEXT   line sent on accept; "\n" is appended when missing (default
//                       "hello from ringo"); --greeting '' sends nothing
//     --setup MODE      the best ring set-up to try first (default defer: DEFER_TASKRUN, then
//                       COOP_TASKRUN, then plain; coop starts at COOP_TASKRUN)
//     --no-ring-fd      do not register the ring descriptor
//     --buffers N       provided buffers, a power of two up to 32768 (default 1024)
//     --buffer-size B   bytes per provided buffer (default 16384)
//   (the buffer defaults are ringo's io_context_options defaults)
// Serves until SIGINT or SIGTERM, then closes every connection and exits 0.

#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr unsigned ring_entries = 1024;
constexpr unsigned short buffer_group = 0;
constexpr std::size_t max_gather = 16;  // buffers per sendmsg

struct options {
  std::string host = "127.0.0.1";
  std::string port = "9090";
  std::string greeting = "hello from ringo\n";
  int setup = 0;  // index of the first set-up to try (0 defer, 1 coop, 2 plain)
  bool ring_fd = true;
  unsigned buffers = 1024;
  unsigned buffer_size = 16384;
};

// What a completion is for: the low bits of its user_data (a connection pointer, or nothing).
enum tag : std::uint64_t {
  tag_recv = 1,
  tag_send = 2,
  tag_accept = 3,
  tag_signal = 4,
  tag_accept_retry = 5
};
constexpr std::uint64_t tag_mask = 7;

/// Bytes waiting to be sent back: a provided buffer (bid >= 0) or the greeting (bid < 0).
struct chunk {
  const char* data;
  unsigned len;
  int bid;
};

struct connection {
  int fd = -1;
  std::size_t slot = 0;  // its place in server::all_
  bool recv_armed = false;
  bool send_in_flight = false;
  bool closing = false;        // an error: nothing more is sent
  bool peer_done = false;      // end of stream: what is queued is still sent
  bool starved = false;        // its receive ran out of buffers: re-armed when some come back
  unsigned sent_of_front = 0;  // bytes of queue[head] already sent
  std::size_t head = 0;        // queue[head..] still to send
  std::vector<chunk> queue;
  iovec iov[max_gather];
  msghdr msg{};
};

[[noreturn]] void die(std::string_view what, int err) {
  fmt::print(stderr, "uring_echo_server: {}: {}\n", what, std::strerror(err));
  std::exit(1);
}

[[noreturn]] void usage(std::string_view problem) {
  fmt::print(stderr,
             "uring_echo_server: {}\n"
             "usage: uring_echo_server [--host H] [--port P] [--greeting TEXT] "
             "[--setup defer|coop|plain] [--no-ring-fd] [--buffers N] [--buffer-size B]\n",
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
    } else if (arg == "--setup") {
      std::string m = value();
      const char* const modes[] = {"defer", "coop", "plain"};
      o.setup = -1;
      for (int k = 0; k < 3; ++k) {
        if (m == modes[k]) o.setup = k;
      }
      if (o.setup < 0) usage("--setup is defer, coop or plain");
    } else if (arg == "--no-ring-fd") {
      o.ring_fd = false;
    } else if (arg == "--buffers") {
      o.buffers = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
      if (o.buffers == 0 || o.buffers > 32768 || (o.buffers & (o.buffers - 1)) != 0)
        usage("--buffers takes a power of two up to 32768");
    } else if (arg == "--buffer-size") {
      o.buffer_size = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
      if (o.buffer_size == 0 || o.buffer_size > (1u << 20)) usage("--buffer-size takes 1 to 1 MiB");
    } else if (arg == "--help" || arg == "-h") {
      usage("an echo server on raw io_uring");
    } else {
      usage(fmt::format("unknown argument {}", arg));
    }
  }
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
    fmt::print(stderr, "uring_echo_server: cannot resolve {}: {}\n", o.host, gai_strerror(rc));
    std::exit(1);
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket", errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) < 0)
    die(fmt::format("bind {}:{}", o.host, o.port), errno);
  freeaddrinfo(res);
  if (listen(fd, SOMAXCONN) < 0) die("listen", errno);
  return fd;
}

class server {
 public:
  server(const options& o, int listen_fd, int signal_fd)
      : opts_(o), listen_fd_(listen_fd), signal_fd_(signal_fd) {
    setup_ring();
    setup_buffers();
    arm_accept();
    io_uring_prep_poll_add(get_sqe(), signal_fd_, POLLIN);
    last_sqe_->user_data = tag_signal;
  }

  /// The set-up the kernel took, for the start-up line.
  std::string setup() const {
    return fmt::format("{}{}", setup_name_, ring_fd_registered_ ? ", registered ring fd" : "");
  }

  void run() {
    while (!stop_) {
      int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        die("io_uring_submit_and_wait", -rc);
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        handle(*cqe);
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
      give_back_buffers();
      rearm_starved();
    }
    for (connection* c : all_) {
      close(c->fd);
      delete c;
    }
    all_.clear();
    io_uring_queue_exit(&ring_);
  }

 private:
  void setup_ring() {
    struct attempt {
      unsigned flags;
      const char* name;
    };
    const attempt attempts[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single issuer, defer taskrun"},
        {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop taskrun"},
        {0, "plain"},
    };
    int rc = -EINVAL;
    for (int i = opts_.setup; i < 3 && rc < 0; ++i) {
      io_uring_params p{};
      p.flags =
          attempts[i].flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
      p.cq_entries = 4 * ring_entries;
      rc = io_uring_queue_init_params(ring_entries, &ring_, &p);
      if (rc == 0) setup_name_ = attempts[i].name;
    }
    if (rc < 0) die("io_uring_queue_init_params", -rc);
    ring_fd_registered_ = opts_.ring_fd && io_uring_register_ring_fd(&ring_) == 1;
  }

  void setup_buffers() {
    const unsigned n = opts_.buffers;
    void* ring_mem = mmap(nullptr, sizeof(io_uring_buf) * n, PROT_READ | PROT_WRITE,
                          MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED) die("mmap of the buffer ring", errno);
    void* data = mmap(nullptr, std::size_t{n} * opts_.buffer_size, PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (data == MAP_FAILED) die("mmap of the buffers", errno);
    br_ = static_cast<io_uring_buf_ring*>(ring_mem);
    buffers_ = static_cast<char*>(data);
    io_uring_buf_ring_init(br_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
    reg.ring_entries = n;
    reg.bgid = buffer_group;
    if (int rc = io_uring_register_buf_ring(&ring_, &reg, 0); rc < 0)
      die("io_uring_register_buf_ring (needs Linux 5.19)", -rc);
    for (unsigned i = 0; i < n; ++i)
      give_back(static_cast<int>(i));
    give_back_buffers();
  }

  char* buffer(int bid) { return buffers_ + std::size_t(bid) * opts_.buffer_size; }

  // A buffer goes back to the ring; the kernel sees it at the next give_back_buffers().
  void give_back(int bid) {
    io_uring_buf_ring_add(br_, buffer(bid), opts_.buffer_size, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(opts_.buffers), returned_++);
  }
  void give_back_buffers() {
    if (returned_ == 0) return;
    io_uring_buf_ring_advance(br_, returned_);
    in_ring_ += static_cast<unsigned>(returned_);
    returned_ = 0;
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (s == nullptr) {
      io_uring_submit(&ring_);
      s = io_uring_get_sqe(&ring_);
      if (s == nullptr) die("io_uring_get_sqe", EBUSY);
    }
    last_sqe_ = s;
    return s;
  }
  static std::uint64_t data_of(connection* c, tag t) {
    return reinterpret_cast<std::uint64_t>(c) | t;
  }

  void arm_accept() {
    // Blocking sockets: io_uring waits for a socket itself, where on an O_NONBLOCK one it
    // would hand a full send buffer back as EAGAIN.
    io_uring_prep_multishot_accept(get_sqe(), listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    last_sqe_->user_data = tag_accept;
  }

  void arm_recv(connection& c) {
    io_uring_prep_recv_multishot(get_sqe(), c.fd, nullptr, 0, 0);
    last_sqe_->flags |= IOSQE_BUFFER_SELECT;
    last_sqe_->buf_group = buffer_group;
    last_sqe_->user_data = data_of(&c, tag_recv);
    c.recv_armed = true;
  }

  void handle(const io_uring_cqe& cqe) {
    connection* c = reinterpret_cast<connection*>(cqe.user_data & ~tag_mask);
    switch (cqe.user_data & tag_mask) {
      case tag_recv:
        on_recv(*c, cqe.res, cqe.flags);
        break;
      case tag_send:
        on_send(*c, cqe.res);
        break;
      case tag_accept:
        on_accept(cqe.res, cqe.flags);
        break;
      case tag_accept_retry:
        arm_accept();
        break;
      case tag_signal:
        stop_ = true;
        break;
      default:
        break;
    }
  }

  void on_accept(int res, unsigned flags) {
    if (res >= 0) {
      int one = 1;
      setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* c = new connection;
      c->fd = res;
      c->slot = all_.size();
      all_.push_back(c);
      if (!opts_.greeting.empty()) {
        c->queue.push_back(
            {opts_.greeting.data(), static_cast<unsigned>(opts_.greeting.size()), -1});
        start_send(*c);
      }
      arm_recv(*c);
    } else if (res != -ECONNABORTED && res != -EINTR) {
      if (!warned_accept_) {
        fmt::print(stderr, "uring_echo_server: accept: {} (retrying every 10 ms)\n",
                   std::strerror(-res));
        warned_accept_ = true;
      }
      if (!(flags & IORING_CQE_F_MORE)) {
        // Out of descriptors, say: re-arming at once would fail again at once.
        static __kernel_timespec ten_ms{0, 10'000'000};
        io_uring_prep_timeout(get_sqe(), &ten_ms, 0, 0);
        last_sqe_->user_data = tag_accept_retry;
        return;
      }
    }
    if (!(flags & IORING_CQE_F_MORE)) arm_accept();
  }

  void on_recv(connection& c, int res, unsigned flags) {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) c.recv_armed = false;
    if (res > 0) {
      const int bid = static_cast<int>(flags >> IORING_CQE_BUFFER_SHIFT);
      --in_ring_;
      if (c.closing) {
        give_back(bid);
      } else {
        c.queue.push_back({buffer(bid), static_cast<unsigned>(res), bid});
        if (!c.send_in_flight) start_send(c);
        if (!more) arm_recv(c);
      }
    } else if (res == -ENOBUFS && !c.closing) {
      // Every buffer is queued for sending somewhere: try again once some came back.
      c.starved = true;
      starved_.push_back(&c);
    } else if (res == 0) {
      c.peer_done = true;
    } else {
      if (res != -ECONNRESET && res != -ENOBUFS)
        fmt::print(stderr, "uring_echo_server: recv: {}\n", std::strerror(-res));
      c.closing = true;
    }
    finish_if_closed(c);
  }

  // One send in flight per connection: queue[head..] from sent_of_front on, gathered.
  void start_send(connection& c) {
    const std::size_t n = std::min(c.queue.size() - c.head, max_gather);
    if (n == 1) {
      const chunk& k = c.queue[c.head];
      io_uring_prep_send(get_sqe(), c.fd, k.data + c.sent_of_front, k.len - c.sent_of_front,
                         MSG_NOSIGNAL);
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        const chunk& k = c.queue[c.head + i];
        const unsigned skip = i == 0 ? c.sent_of_front : 0;
        c.iov[i].iov_base = const_cast<char*>(k.data) + skip;
        c.iov[i].iov_len = k.len - skip;
      }
      c.msg = msghdr{};
      c.msg.msg_iov = c.iov;
      c.msg.msg_iovlen = n;
      io_uring_prep_sendmsg(get_sqe(), c.fd, &c.msg, MSG_NOSIGNAL);
    }
    last_sqe_->user_data = data_of(&c, tag_send);
    c.send_in_flight = true;
  }

  void on_send(connection& c, int res) {
    c.send_in_flight = false;
    if (res < 0) {
      if (res != -ECONNRESET && res != -EPIPE)
        fmt::print(stderr, "uring_echo_server: send: {}\n", std::strerror(-res));
      // Ends the multishot receive too (it completes with end of stream).
      if (!c.closing) shutdown(c.fd, SHUT_RDWR);
      c.closing = true;
    } else {
      unsigned left = static_cast<unsigned>(res);
      while (left > 0 && c.head < c.queue.size()) {
        chunk& k = c.queue[c.head];
        const unsigned rest = k.len - c.sent_of_front;
        if (left < rest) {
          c.sent_of_front += left;  // a short send: the rest goes next
          break;
        }
        left -= rest;
        c.sent_of_front = 0;
        if (k.bid >= 0) give_back(k.bid);
        ++c.head;
      }
      if (c.head == c.queue.size()) {
        c.queue.clear();
        c.head = 0;
      }
      if (!c.closing && c.head < c.queue.size()) start_send(c);
    }
    finish_if_closed(c);
  }

  // Frees a connection that failed, or whose peer is done and everything was echoed, once no
  // request of it is left in the ring.
  void finish_if_closed(connection& c) {
    if (c.recv_armed || c.send_in_flight) return;
    if (!c.closing && !(c.peer_done && c.head == c.queue.size())) return;
    for (std::size_t i = c.head; i < c.queue.size(); ++i) {
      if (c.queue[i].bid >= 0) give_back(c.queue[i].bid);
    }
    if (c.starved) starved_.erase(std::find(starved_.begin(), starved_.end(), &c));
    close(c.fd);
    all_[c.slot] = all_.back();
    all_[c.slot]->slot = c.slot;
    all_.pop_back();
    delete &c;
  }

  void rearm_starved() {
    if (starved_.empty() || in_ring_ == 0) return;
    for (connection* c : starved_) {
      c->starved = false;
      arm_recv(*c);
    }
    starved_.clear();
  }

  const options& opts_;
  int listen_fd_;
  int signal_fd_;
  io_uring ring_{};
  io_uring_sqe* last_sqe_ = nullptr;
  const char* setup_name_ = "";
  bool ring_fd_registered_ = false;
  io_uring_buf_ring* br_ = nullptr;
  char* buffers_ = nullptr;
  int returned_ = 0;      // buffers given back since the last give_back_buffers()
  unsigned in_ring_ = 0;  // buffers the kernel may pick
  bool stop_ = false;
  bool warned_accept_ = false;
  std::vector<connection*> all_;
  std::vector<connection*> starved_;
};

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);
  // A shell's background job starts with SIGINT ignored, and an ignored signal never reaches
  // the signalfd: take the default back before blocking it.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) die("sigprocmask", errno);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) die("signalfd", errno);

  int lfd = listen_on(o);
  server s(o, lfd, sfd);
  fmt::print("uring_echo_server: listening on {}:{} (ring: {})\n", o.host, o.port, s.setup());
  std::fflush(stdout);
  s.run();
  close(lfd);
  close(sfd);
  return 0;
}
