// The epoll backend: readiness instead of completion, behind the same seam as io_uring.
//
// A request is tried at once (a recv with data waiting costs that one system call) and waits
// for readiness only on EAGAIN. Sockets are registered once, edge-triggered, and every request
// waiting on a socket is retried at each edge until one finds EAGAIN again. Other descriptors
// (pipes, terminals: stdin_reader) may be blocking, so their reads and writes wait first, with
// a one-shot registration, and make one system call per readiness report (a write to a
// blocking one at most PIPE_BUF bytes, which readiness promises room for). A poll request
// (pidfd, signalfd) is the readiness report itself. Regular files, which
// epoll cannot wait for, go to the file threads. Completions are delivered from wait(), never
// from inside submit(): the awaiter that submits has not parked its task yet.
#include "backend/epoll/make_reactor.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <vector>

#include "backend/deadline_heap.hpp"
#include "backend/epoll/file_workers.hpp"
#include "backend/epoll/system_calls.hpp"
#include "backend/kernel_tls_probe.hpp"

namespace ringo::detail {
namespace {

[[noreturn]] void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

// Where a request is, in tracking_slot (the io_uring backend's slot for its list of
// requests, unused here).
enum where_t : std::uint32_t {
  nowhere = io_operation::no_slot,  // completed (maybe not delivered yet), or not submitted
  on_fd = 1,                        // waiting for its descriptor to be ready
  on_workers = 2,                   // with the file threads
};

class epoll_reactor final : public reactor {
 public:
  explicit epoll_reactor(const epoll_options& options) : buffer_size_(options.buffer_size) {
    features_.kernel_tls = options.kernel_tls && kernel_offers_tls();
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw_errno(errno, "epoll_create1");
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      const int err = errno;
      ::close(epoll_fd_);
      throw_errno(err, "eventfd for the io_context wake-up");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
      const int err = errno;
      ::close(wake_fd_);
      ::close(epoll_fd_);
      throw_errno(err, "epoll_ctl for the io_context wake-up");
    }
    events_.resize(256);
    // Both completion lists get room up front: they trade places at every delivery, and a
    // loop that only runs tasks (no I/O) then never allocates in wait().
    done_.reserve(64);
    delivering_.reserve(64);
  }

  ~epoll_reactor() override {
    drain();
    workers_.reset();  // before the wake-up its threads call goes (they call it no more)
    ::close(wake_fd_);
    ::close(epoll_fd_);
  }

  void start() override {}

  void submit(io_operation& op) override {
    const bool may_wait = op.opcode != io_opcode::nop && op.opcode != io_opcode::close &&
                          op.opcode != io_opcode::openat;
    reserve_one(may_wait ? op.fd : -1);
    switch (op.opcode) {
      case io_opcode::openat:
        to_workers(op);  // the only part that may throw after the reservation
        break;
      case io_opcode::read:
      case io_opcode::write:
        // A descriptor epoll cannot wait for (a regular file, /dev/null) goes to the file
        // threads; any other may be blocking: it waits for readiness first, then one call.
        if (!pollable(op.fd)) {
          to_workers(op);
          break;
        }
        if (const int err = access_error(op); err != 0) {
          complete_later(op, -err);  // as the call itself would fail, at once
          break;
        }
        wait_for(op, true);
        break;
      case io_opcode::poll:
        // (A descriptor epoll cannot wait for fails when it is armed, with EPERM.)
        if (op.fd < 0) {
          complete_later(op, -EBADF);
        } else if (const int r = try_request(op, fds_[static_cast<std::size_t>(op.fd)].blocking);
                   r == -EAGAIN) {
          wait_for(op, true);
        } else {
          complete_later(op, r);
        }
        break;
      case io_opcode::nop:
        complete_later(op, 0);
        break;
      case io_opcode::close:
        forget(op.fd);
        complete_later(op, result_of(::close(op.fd)));
        break;
      case io_opcode::connect:
        start_connect(op);
        break;
      default: {
        fd_state& s = fds_[static_cast<std::size_t>(op.fd)];
        if (op.opcode == io_opcode::accept) make_nonblocking(op.fd);  // accept4 would block
        // A socket that a short read found empty has nothing until its next edge, which the
        // registration reports: no need to try (and fail with EAGAIN) first.
        const bool skip = op.opcode == io_opcode::recv && s.registered && s.drained && !s.hung_up;
        const int r = skip ? -EAGAIN : try_request(op, s.blocking);
        note_read(s, op, r);
        if (r == -EAGAIN) {
          wait_for(op, false);
        } else {
          complete_later(op, r);
        }
      }
    }
    deadlines_.arm(op);
    ++in_flight_;
  }

  void cancel(io_operation& op) override {
    op.cancel_requested = true;
    take_back(op);
  }

  void close_later(int fd) noexcept override {
    // Nothing is queued here that could reach the descriptor later: requests run at once or
    // wait in this backend's own lists, which the socket emptied (cancelled) before.
    forget(fd);
    ::close(fd);
  }

  void flush() noexcept override {}

  void wait(std::chrono::nanoseconds timeout) override {
    // Room for a completion of every request in flight: from here to the end of deliver(),
    // nothing allocates.
    if (done_.capacity() < in_flight_ + 1) done_.reserve(in_flight_ + 1);
    if (!done_.empty()) timeout = std::chrono::nanoseconds{0};
    timeout = deadlines_.bound(timeout);
    int ms = -1;
    if (timeout.count() >= 0) {
      ms = static_cast<int>(std::min<std::int64_t>(
          std::chrono::ceil<std::chrono::milliseconds>(timeout).count(), 24 * 3600 * 1000));
    }
    const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), ms);
    if (n < 0 && errno != EINTR) throw_errno(errno, "epoll_wait");
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = events_[static_cast<std::size_t>(i)];
      if (ev.data.fd == wake_fd_) {
        std::uint64_t count = 0;
        [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
        continue;
      }
      on_ready(ev.data.fd, ev.events);
    }
    if (n == static_cast<int>(events_.size())) events_.resize(events_.size() * 2);
    if (workers_ != nullptr) take_from_workers();
    if (!deadlines_.empty()) {
      deadlines_.expire([this](io_operation& op) { take_back(op); });
    }
    deliver();
  }

  void drain() noexcept override {
    if (in_flight_ == 0) return;
    try {
      for (std::size_t fd = 0; fd < fds_.size(); ++fd) {
        while (!fds_[fd].readers.empty()) take_back(*fds_[fd].readers.back());
        while (!fds_[fd].writers.empty()) take_back(*fds_[fd].writers.back());
      }
      // File calls too, running ones included: their threads finish them on their own.
      if (workers_ != nullptr) {
        for (io_operation* op : workers_->cancel_all()) {
          op->cancel_requested = true;
          op->tracking_slot = nowhere;
          complete_later(*op, -ECANCELED);
        }
      }
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
      while (in_flight_ > 0 && std::chrono::steady_clock::now() < until) {
        wait(std::chrono::milliseconds{10});
      }
    } catch (...) {
    }
  }

  std::size_t in_flight() const noexcept override { return in_flight_; }
  const reactor_features& features() const noexcept override { return features_; }
  std::byte* buffer_data(std::uint32_t) noexcept override { return nullptr; }
  std::size_t buffer_size() const noexcept override { return buffer_size_; }
  void recycle_buffer(std::uint32_t) noexcept override {}  // no provided buffers to give back

  void wake() noexcept override {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

 private:
  // What the backend knows of a descriptor: the requests waiting for it, in order, and how it
  // is registered. Indexed by descriptor number; forgotten when the descriptor is closed.
  struct fd_state {
    std::vector<io_operation*> readers;
    std::vector<io_operation*> writers;
    bool registered = false;   // a socket: edge-triggered for reading and writing, for good
    bool oneshot = false;      // another kind: armed once per readiness report wanted
    bool nonblocking = false;  // a listener made non-blocking by the backend
    bool drained = false;      // a receive found it empty (EAGAIN, or fewer bytes than asked)
    bool hung_up = false;      // the peer closed (or an error came): no edge will announce it
    bool blocking = false;     // a pipe or terminal without O_NONBLOCK: see try_request()
  };

  static void note_read(fd_state& s, const io_operation& op, int r) noexcept {
    // (Not at end of stream, nor on an error: those stay, and raise no new edge.)
    if (op.opcode == io_opcode::recv &&
        (r == -EAGAIN || (r > 0 && static_cast<std::uint32_t>(r) < op.len))) {
      s.drained = true;
    }
  }

  fd_state& state_of(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= fds_.size()) fds_.resize(std::max(i + 1, fds_.size() * 2));
    return fds_[i];
  }

  // Room in every list `fd`'s request may enter, so that nothing after this throws.
  void reserve_one(int fd) {
    deadlines_.reserve_one();
    if (done_.capacity() < in_flight_ + 1) done_.reserve(std::max(in_flight_ + 1, 2 * done_.capacity()));
    if (fd >= 0) {
      fd_state& s = state_of(fd);
      if (s.readers.size() == s.readers.capacity()) s.readers.reserve(s.readers.size() + 4);
      if (s.writers.size() == s.writers.capacity()) s.writers.reserve(s.writers.size() + 4);
    }
  }

  // Whether epoll can wait for `fd`: not for regular files, nor for some devices (/dev/null).
  bool pollable(int fd) noexcept {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return true;  // the call itself reports the error
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return false;
    if (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode)) return true;
    fd_state& s = fds_[static_cast<std::size_t>(fd)];
    if (s.oneshot) return true;  // registered before
    epoll_event ev{};
    ev.events = EPOLLONESHOT;  // armed for nothing yet
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST) {
      s.oneshot = true;
      return true;
    }
    return false;  // EPERM: a device without poll
  }

  // EBADF for a read of a descriptor open only for writing (or the other way round), which
  // would otherwise wait for a readiness that never comes. Notes whether it blocks.
  int access_error(const io_operation& op) noexcept {
    const int flags = ::fcntl(op.fd, F_GETFL);
    if (flags < 0) return errno;
    fds_[static_cast<std::size_t>(op.fd)].blocking = (flags & O_NONBLOCK) == 0;
    const int mode = flags & O_ACCMODE;
    const bool ok = op.opcode == io_opcode::read ? mode != O_WRONLY : mode != O_RDONLY;
    return ok ? 0 : EBADF;
  }

  void make_nonblocking(int fd) noexcept {
    fd_state& s = fds_[static_cast<std::size_t>(fd)];
    if (s.nonblocking) return;
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    s.nonblocking = true;
  }

  void start_connect(io_operation& op) noexcept {
    forget(op.fd);  // a new socket: whatever had this number before is gone
    const int flags = ::fcntl(op.fd, F_GETFL);
    if (flags >= 0) ::fcntl(op.fd, F_SETFL, flags | O_NONBLOCK);
    const int r = result_of(::connect(op.fd, op.addr, op.len));
    if (r == -EINPROGRESS) {
      wait_for(op, false);
    } else {
      complete_later(op, r);
    }
  }

  // Parks `op` until its descriptor is ready (room is reserved).
  void wait_for(io_operation& op, bool oneshot) noexcept {
    fd_state& s = fds_[static_cast<std::size_t>(op.fd)];
    (reads(op.opcode) ? s.readers : s.writers).push_back(&op);
    op.tracking_slot = on_fd;
    s.oneshot = oneshot;
    const int err = oneshot ? arm_oneshot(op.fd, s) : register_socket(op.fd, s);
    if (err != 0) {
      take_off_fd(op);
      complete_later(op, -err);
    }
  }

  int register_socket(int fd, fd_state& s) noexcept {
    if (s.registered) return 0;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) return errno;
    s.registered = true;
    return 0;
  }

  int arm_oneshot(int fd, fd_state& s) noexcept {
    epoll_event ev{};
    ev.events = EPOLLONESHOT | (s.readers.empty() ? 0u : EPOLLIN) | (s.writers.empty() ? 0u : EPOLLOUT);
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
    if (errno == ENOENT && ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
    return errno;
  }

  void on_ready(int fd, std::uint32_t events) noexcept {
    if (static_cast<std::size_t>(fd) >= fds_.size()) return;
    fd_state& s = fds_[static_cast<std::size_t>(fd)];
    const bool failed = (events & (EPOLLERR | EPOLLHUP)) != 0;
    if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) s.hung_up = true;
    if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 || failed) {
      s.drained = false;  // an edge: something came
      retry(s, s.readers, s.oneshot);
    }
    if ((events & EPOLLOUT) != 0 || failed) retry(s, s.writers, s.oneshot);
    if (s.oneshot && (!s.readers.empty() || !s.writers.empty())) {
      const int err = arm_oneshot(fd, s);
      if (err != 0) fail_all(s, -err);
    }
  }

  // Retries the waiting requests in order until one must wait again; a descriptor that
  // reported readiness once (one-shot) gets one call.
  void retry(fd_state& s, std::vector<io_operation*>& waiting, bool once) noexcept {
    std::size_t done = 0;
    while (done < waiting.size()) {
      io_operation& op = *waiting[done];
      const int r = try_request(op, s.blocking);
      note_read(s, op, r);
      if (r == -EAGAIN) break;
      ++done;
      op.tracking_slot = nowhere;
      complete_later(op, r);
      if (once) break;
    }
    waiting.erase(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(done));
  }

  void fail_all(fd_state& s, int res) noexcept {
    for (auto* list : {&s.readers, &s.writers}) {
      for (io_operation* op : *list) {
        op->tracking_slot = nowhere;
        complete_later(*op, res);
      }
      list->clear();
    }
  }

  // The descriptor is closed: requests still waiting on it fail, its registration is gone.
  void forget(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    fd_state& s = fds_[static_cast<std::size_t>(fd)];
    if (s.oneshot || s.registered) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    fail_all(s, -EBADF);
    s.registered = false;
    s.oneshot = false;
    s.nonblocking = false;
    s.drained = false;
    s.hung_up = false;
    s.blocking = false;
  }

  // A descriptor that accept just made: nothing the backend knew of its number applies.
  void fresh(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    fd_state& s = fds_[static_cast<std::size_t>(fd)];
    fail_all(s, -EBADF);  // (nothing should wait on a number that was closed)
    s.registered = false;
    s.oneshot = false;
    s.nonblocking = false;
    s.drained = false;
    s.hung_up = false;
    s.blocking = false;
  }

  void take_off_fd(io_operation& op) noexcept {
    fd_state& s = fds_[static_cast<std::size_t>(op.fd)];
    for (auto* list : {&s.readers, &s.writers}) {
      const auto it = std::find(list->begin(), list->end(), &op);
      if (it != list->end()) list->erase(it);
    }
    op.tracking_slot = nowhere;
  }

  // Cancels `op` where it waits; a request already done keeps its result. One running on a
  // file thread is abandoned there (see file_workers.hpp): the task need not wait for a call
  // that may never return.
  void take_back(io_operation& op) noexcept {
    if (op.tracking_slot == on_fd) {
      take_off_fd(op);
      complete_later(op, -ECANCELED);
    } else if (op.tracking_slot == on_workers && workers_->cancel(op)) {
      op.tracking_slot = nowhere;
      complete_later(op, -ECANCELED);
    }
  }

  void to_workers(io_operation& op) {
    if (workers_ == nullptr) {
      workers_ = std::make_unique<file_workers>(
          [](void* self) noexcept { static_cast<epoll_reactor*>(self)->wake(); }, this);
    }
    workers_->push(op);  // on a throw nothing was queued
    op.tracking_slot = on_workers;
  }

  void take_from_workers() {
    finished_.clear();
    workers_->take_finished(finished_);
    for (const file_workers::finished& f : finished_) {
      if (f.op->tracking_slot != on_workers) continue;
      f.op->tracking_slot = nowhere;
      complete_later(*f.op, f.result);
    }
  }

  void complete_later(io_operation& op, int res) noexcept {
    if (op.opcode == io_opcode::accept && res >= 0) fresh(res);
    done_.push_back({&op, res});  // room is reserved
  }

  // Delivers the completions gathered so far; those that their handlers cause wait for the
  // next wait(), so that one turn of the loop stays bounded.
  void deliver() noexcept {
    delivering_.swap(done_);
    for (const completion& c : delivering_) {
      io_operation& op = *c.op;
      --in_flight_;
      deadlines_.remove(op);
      if (c.res == -ECANCELED && op.deadline_passed && !op.cancel_requested) op.timed_out = true;
      op.on_complete(op, c.res, 0, 0);  // may free `op`
    }
    delivering_.clear();
  }

  struct completion {
    io_operation* op;
    int res;
  };

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::size_t buffer_size_;
  std::size_t in_flight_ = 0;
  reactor_features features_{};  // nothing of io_uring's: the one-shot paths serve epoll
  std::vector<epoll_event> events_;
  std::vector<fd_state> fds_;
  std::vector<completion> done_;
  std::vector<completion> delivering_;
  std::vector<file_workers::finished> finished_;
  deadline_heap deadlines_;
  std::unique_ptr<file_workers> workers_;
};

}  // namespace

std::unique_ptr<reactor> make_epoll_reactor(const epoll_options& options) {
  return std::make_unique<epoll_reactor>(options);
}

}  // namespace ringo::detail
