// uring_echo_server: the raw io_uring baseline, an echo server written straight on liburing the
// way a careful hand-tuned server would be, so that bench/suite.sh can hold ringo's io_uring
// path against io_uring itself and not only against epoll. One thread, no ringo:
//   - a ring set up with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (completion
//     work runs only when the loop waits), falling back to COOP_TASKRUN, then to a plain ring;
//     the ring descriptor registered (io_uring_register_ring_fd) where the kernel allows it;
//   - one multishot accept on the listener;
//   - one multishot receive per connection into a provided-buffer ring
//     (bench/uring_echo_buffers.hpp), so an idle connection holds no buffer;
//   - each received buffer sent back as it is; one send in flight per connection (two sends on
//     one socket may complete out of order), and the buffers that arrived meanwhile gathered
//     into one sendmsg; a short send resubmits the rest; a buffer goes back to the ring once
//     all of its bytes are sent;
//   - a receive that ran out of buffers (ENOBUFS) is re-armed once sends have returned some.
// Two optional io_uring features, off by default so that the default stays the baseline, and
// each refused with a message when the kernel lacks it:
//   - --direct: sockets as direct descriptors. The table of fixed files is registered sparse
//     (65536 slots, or RLIMIT_NOFILE if lower: the kernel's cap), the multishot accept puts
//     each connection into a free slot (IORING_FILE_INDEX_ALLOC), every receive and send names
//     the slot (IOSQE_FIXED_FILE), and shutdown and close go through the ring. An accepted
//     socket has no plain descriptor, so TCP_NODELAY is set on the listener, which Linux
//     copies to every socket it accepts.
//   - --incremental: the buffer ring consumed incrementally (IOU_PBUF_RING_INC, Linux 6.12):
//     small messages share one buffer instead of taking a whole one each.
//
// Like bench/epoll_echo_server it sends one greeting line to every accepted connection, then
// echoes every byte back; bench/load_client reads and discards that first line.
//
// Usage:
//   build/release/bench/uring_echo_server [--host H] [--port P] [--greeting TEXT]
//       [--setup defer|coop|plain] [--no-ring-fd] [--buffers N] [--buffer-size B]
//       [--direct] [--incremental]
//     --host H          address to listen on (default 127.0.0.1)
//     --port P          port (default 9090)
//     --greeting TEXT   line sent on accept; "\n" is appended when missing (default
//                       "hello from ringo"); --greeting '' sends nothing
//     --setup MODE      the best ring set-up to try first (default defer: DEFER_TASKRUN, then
//                       COOP_TASKRUN, then plain; coop starts at COOP_TASKRUN)
//     --no-ring-fd      do not register the ring descriptor
//     --buffers N       provided buffers, a power of two up to 32768 (default 1024)
//     --buffer-size B   bytes per provided buffer (default 16384)
//     --direct          sockets as direct descriptors (Linux 5.19; see above)
//     --incremental     incremental buffer consumption (Linux 6.12; see above)
//   (the buffer defaults are ringo's io_context_options defaults)
// Serves until SIGINT or SIGTERM, then closes every connection and exits 0.

#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
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

#include "uring_echo_buffers.hpp"
#include "uring_echo_options.hpp"

namespace {

constexpr unsigned ring_entries = 1024;
constexpr unsigned short buffer_group = 0;
constexpr std::size_t max_gather = 16;  // buffers per sendmsg
constexpr unsigned max_direct = 65536;  // slots of the fixed-file table (--direct)

// What a completion is for: the low bits of its user_data (a connection pointer, or nothing).
// A user_data of 0 asks for nothing (a shutdown or a close through the ring, with --direct).
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
  int fd = -1;           // a descriptor, or with --direct a slot of the fixed-file table
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
    if (opts_.direct) setup_direct();
    if (std::string problem = buffers_.setup(ring_, buffer_group, opts_.buffers, opts_.buffer_size,
                                             opts_.incremental);
        !problem.empty()) {
      fmt::print(stderr, "uring_echo_server: {}\n", problem);
      std::exit(1);
    }
    arm_accept();
    io_uring_prep_poll_add(get_sqe(), signal_fd_, POLLIN);
    last_sqe_->user_data = tag_signal;
  }

  /// The set-up the kernel took, for the start-up line.
  std::string setup() const {
    return fmt::format("{}{}{}{}", setup_name_, ring_fd_registered_ ? ", registered ring fd" : "",
                       opts_.direct ? ", direct descriptors" : "",
                       opts_.incremental ? ", incremental buffers" : "");
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
      buffers_.publish();
      rearm_starved();
    }
    for (connection* c : all_) {
      if (!opts_.direct) close(c->fd);  // direct ones close with the ring
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

  // A sparse table: every slot empty, for the multishot accept to fill.
  void setup_direct() {
    rlimit lim{};
    unsigned slots = max_direct;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < slots)
      slots = static_cast<unsigned>(lim.rlim_cur);
    if (int rc = io_uring_register_files_sparse(&ring_, slots); rc < 0) {
      fmt::print(stderr,
                 "uring_echo_server: the kernel refuses a sparse table of {} fixed files ({}; "
                 "--direct needs Linux 5.19); run without --direct\n",
                 slots, std::strerror(-rc));
      std::exit(1);
    }
    // Accepted sockets inherit it, and a direct descriptor has no fd for setsockopt.
    int one = 1;
    if (setsockopt(listen_fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
      die("setsockopt TCP_NODELAY on the listener", errno);
    fixed_ = IOSQE_FIXED_FILE;
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
    if (opts_.direct) {
      // No SOCK_CLOEXEC: the kernel refuses it for a direct descriptor (there is no fd).
      io_uring_prep_multishot_accept_direct(get_sqe(), listen_fd_, nullptr, nullptr, 0);
    } else {
      io_uring_prep_multishot_accept(get_sqe(), listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    }
    last_sqe_->user_data = tag_accept;
  }

  void arm_recv(connection& c) {
    io_uring_prep_recv_multishot(get_sqe(), c.fd, nullptr, 0, 0);
    last_sqe_->flags |= IOSQE_BUFFER_SELECT | fixed_;
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
      if (!opts_.direct) {
        int one = 1;
        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
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
      if (opts_.direct && res == -EINVAL && all_.empty()) {
        fmt::print(stderr,
                   "uring_echo_server: the kernel refuses a multishot accept into the "
                   "fixed-file table (--direct needs Linux 5.19); run without --direct\n");
        std::exit(1);
      }
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
      const buffer_part part = buffers_.take(res, flags);
      if (c.closing) {
        buffers_.release(part.bid);
      } else {
        c.queue.push_back({part.data, part.len, part.bid});
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
      last_sqe_->flags |= fixed_;
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
      last_sqe_->flags |= fixed_;
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
      if (!c.closing) {
        if (opts_.direct) {
          io_uring_prep_shutdown(get_sqe(), c.fd, SHUT_RDWR);
          last_sqe_->flags |= fixed_;
          last_sqe_->user_data = 0;  // nothing to do when it completes
        } else {
          shutdown(c.fd, SHUT_RDWR);
        }
      }
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
        if (k.bid >= 0) buffers_.release(k.bid);
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
      if (c.queue[i].bid >= 0) buffers_.release(c.queue[i].bid);
    }
    if (c.starved) starved_.erase(std::find(starved_.begin(), starved_.end(), &c));
    if (opts_.direct) {
      io_uring_prep_close_direct(get_sqe(), static_cast<unsigned>(c.fd));
      last_sqe_->user_data = 0;  // the slot is free for the accept once it completes
    } else {
      close(c.fd);
    }
    all_[c.slot] = all_.back();
    all_[c.slot]->slot = c.slot;
    all_.pop_back();
    delete &c;
  }

  void rearm_starved() {
    if (starved_.empty() || buffers_.empty()) return;
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
  unsigned char fixed_ = 0;  // IOSQE_FIXED_FILE with --direct
  buffer_ring buffers_;
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
