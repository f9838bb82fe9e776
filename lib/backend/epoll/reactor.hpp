#pragma once
// The epoll backend's reactor (private to the library): readiness instead of completion, behind
// the same seam as io_uring.
//
// A request is tried at once (a recv with data waiting costs that one system call) and waits
// for readiness only on EAGAIN. Sockets are registered once, edge-triggered, and every request
// waiting on a socket is retried at each edge until one finds EAGAIN again. Other descriptors
// (pipes, terminals: stdin_reader) may be blocking, so their reads and writes wait first, with
// a one-shot registration, and make one system call per readiness report (a write to a
// blocking one at most PIPE_BUF bytes, which readiness promises room for). A poll request
// (pidfd, signalfd) is the readiness report itself. A standing receive stays on its socket
// and, at each edge, receives into buffers the backend lends (buffer_pool.hpp) until the
// socket is empty, a completion per buffer. Regular files, which
// epoll cannot wait for, go to the file threads. Completions are delivered from wait(), never
// from inside submit(): the awaiter that submits has not parked its task yet.
//
// Its members are defined by concern: setting epoll up and taking it down (reactor_setup.cpp),
// taking requests in and back (reactor_submit.cpp), the requests waiting on each descriptor
// and its readiness (reactor_readiness.cpp), and waiting and delivering completions
// (reactor_wait.cpp).
#include <sys/epoll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/reactor.hpp"

#include "backend/epoll/buffer_pool.hpp"
#include "backend/epoll/file_workers.hpp"
#include "backend/epoll/make_reactor.hpp"

namespace ringo::detail {

class epoll_reactor final : public reactor {
 public:
  explicit epoll_reactor(const epoll_options& options);
  ~epoll_reactor() override;

  void start() override;

  void submit(io_operation& op) override;
  void cancel(io_operation& op) noexcept override;
  void close_later(int fd) noexcept override;
  void flush() noexcept override {}

  void wait(std::chrono::nanoseconds timeout) override;
  void drain() noexcept override;

  std::size_t in_flight() const noexcept override { return in_flight_; }
  const reactor_features& features() const noexcept override { return features_; }
  std::byte* buffer_data(std::uint32_t buffer) noexcept override {
    return buffers_->data(buffer);
  }
  std::size_t buffer_size() const noexcept override { return buffer_size_; }
  void recycle_buffer(std::uint32_t buffer) noexcept override;

  void wake() noexcept override;

 private:
  // Where a request is, kept in its backend_slot.
  enum where_t : std::uint32_t {
    nowhere = io_operation::no_slot,  // completed (maybe not delivered yet), or not submitted
    on_fd = 1,                        // waiting for its descriptor to be ready
    on_workers = 2,                   // with the file threads
  };

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
    bool pending = false;      // a standing receive stopped before the socket was empty
  };

  struct completion {
    io_operation* op;
    int res;
    std::uint32_t flags;
    std::uint32_t buffer;
  };

  // ---- taking requests in and back (reactor_submit.cpp) ----
  // Room in every list `fd`'s request may enter, so that nothing after this throws.
  void reserve_one(int fd);
  bool pollable(int fd) noexcept;
  int access_error(const io_operation& op) noexcept;
  void make_nonblocking(int fd) noexcept;
  void start_connect(io_operation& op) noexcept;
  void take_back(io_operation& op) noexcept;
  void to_workers(io_operation& op);

  // ---- descriptors and their readiness (reactor_readiness.cpp) ----
  static void note_read(fd_state& s, const io_operation& op, int r) noexcept;
  fd_state& state_of(int fd);
  // Parks `op` until its descriptor is ready (room is reserved).
  void wait_for(io_operation& op, bool oneshot) noexcept;
  int register_socket(int fd, fd_state& s) noexcept;
  int arm_oneshot(int fd, fd_state& s) noexcept;
  void on_ready(int fd, std::uint32_t events) noexcept;
  void retry(fd_state& s, std::vector<io_operation*>& waiting, bool once) noexcept;
  // Receives what the socket holds into lent buffers for the standing receive `op`; true
  // when the request ended (its final completion is queued).
  bool receive_standing(fd_state& s, io_operation& op) noexcept;
  void retry_pending() noexcept;
  void fail_all(fd_state& s, int res) noexcept;
  void forget(int fd) noexcept;
  void fresh(int fd) noexcept;
  void take_off_fd(io_operation& op) noexcept;

  // ---- completions (reactor_wait.cpp) ----
  void take_from_workers();
  void complete_later(io_operation& op, int res, std::uint32_t flags = 0,
                      std::uint32_t buffer = 0) noexcept;
  // Whether a completion that does not end its request fits now without taking the room
  // kept for the final completion of every request in flight (and of one being submitted).
  bool room_for_more() const noexcept {
    return done_.size() + in_flight_ + 1 < done_.capacity();
  }
  void deliver() noexcept;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::size_t buffer_size_;
  std::size_t in_flight_ = 0;
  reactor_features features_{};  // lent buffers (provided_buffers) and kernel TLS, no more
  std::vector<epoll_event> events_;
  std::vector<fd_state> fds_;
  std::vector<completion> done_;
  std::vector<completion> delivering_;
  // Sockets whose standing receive stopped short (a burst's end, no room for completions):
  // they get another turn at the next wait(), which does not sleep then. Room for every
  // descriptor, so that noting one never allocates.
  std::vector<int> pending_;
  std::vector<int> retrying_;
  std::unique_ptr<epoll_buffer_pool> buffers_;  // null when buffers are not lent
  std::vector<file_workers::finished> finished_;
  std::unique_ptr<file_workers> workers_;
};

}  // namespace ringo::detail
