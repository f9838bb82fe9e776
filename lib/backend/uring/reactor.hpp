#pragma once
// The io_uring backend's reactor (private to the library): one ring per context, driven only
// by the context's thread. Its members are defined by concern: setting the ring up and taking
// it down (reactor_setup.cpp), writing requests into the submission queue or the backlog
// behind it (reactor_submit.cpp), and waiting for completions and dispatching them
// (reactor_wait.cpp).
#include <liburing.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/reactor.hpp"

#include "backend/uring/buffer_ring.hpp"
#include "backend/uring/make_reactor.hpp"

namespace ringo::detail {

class uring_reactor final : public reactor {
 public:
  explicit uring_reactor(const uring_options& options);
  ~uring_reactor() override;

  void drain() noexcept override;
  void start() override;

  // Each of these first reserves room in every list the request may enter, so that a failure
  // (std::bad_alloc) leaves nothing half done; after that nothing throws.
  void submit(io_operation& op) override;
  void cancel(io_operation& op) noexcept override;
  void close_later(int fd) noexcept override;
  void flush() noexcept override;

  void wait(std::chrono::nanoseconds timeout) override;

  std::size_t in_flight() const noexcept override { return in_flight_; }
  const reactor_features& features() const noexcept override { return features_; }

  std::byte* buffer_data(std::uint32_t buffer) noexcept override { return buffers_.data(buffer); }
  std::size_t buffer_size() const noexcept override { return buffer_size_; }
  void recycle_buffer(std::uint32_t buffer) noexcept override;

  void wake() noexcept override;

 private:
  // user_data values that name no operation: the completions of cancel requests and of the
  // timeout liburing submits itself on kernels without IORING_FEAT_EXT_ARG.
  static constexpr std::uint64_t ignored_user_data = 0;

  // A request, cancel or close that found no free submission entry (the queue full while
  // completions were dispatched, or after a submit the kernel could not take): it reaches the
  // ring, in order, once the completion queue has advanced. Only wait() reaps, so reaping
  // never nests inside a handler or a task, and no completion is seen twice.
  struct deferred {
    enum kind_t : std::uint8_t { request, cancel, close };
    io_operation* op;  // the request, or what to cancel (null: every request)
    kind_t kind;
    int fd;  // close
  };

  // ---- setup (reactor_setup.cpp) ----
  void probe_and_prepare(const uring_options& options, const io_uring_params& params);

  // ---- submission (reactor_submit.cpp) ----
  // Room in the backlog for `entries` more entries beside a cancel for every request that may
  // still be cancelled, and (for a request) in the list of requests; the only call that
  // throws.
  void reserve_room(std::size_t entries, bool request);
  static void prepare_cancel(io_uring_sqe* sqe, io_operation* op) noexcept;
  void write_sqe(io_uring_sqe* sqe, const deferred& d) noexcept;
  // Into the submission queue, or the backlog behind what waits there. Room is reserved.
  void push(const deferred& d) noexcept;
  void queue(io_operation& op) noexcept;
  io_uring_sqe* next_sqe() noexcept;
  bool flush_backlog() noexcept;
  void track(io_operation& op) noexcept;
  void untrack(io_operation& op) noexcept;

  // ---- completion (reactor_wait.cpp) ----
  // Submits what is queued and waits for completions for at most `timeout` (see wait()).
  void enter(std::chrono::nanoseconds timeout);
  void reap();
  void dispatch(const io_uring_cqe& cqe) noexcept;

  io_uring ring_{};
  reactor_features features_{};
  bool disabled_ = false;
  bool allow_registered_ring_ = false;
  bool draining_ = false;
  bool dispatching_ = false;  // completion handlers run: submissions go to the backlog
  bool rearm_wake_ = false;   // the wake-up read completed and is armed again after the reap
  std::size_t in_flight_ = 0;
  std::size_t cancellable_ = 0;  // requests in flight not cancelled yet: the backlog has room
                                 // for a cancel of each
  std::vector<deferred> backlog_;
  std::vector<io_operation*> tracked_;  // without cancel_any: every request in flight
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  io_operation wake_op_{};
  uring_buffer_ring buffers_;
  unsigned buffer_size_ = 0;  // also sizes a stream's own buffer without the ring
};

}  // namespace ringo::detail
