// The io_uring backend: one ring per context, driven only by the context's thread.
#include "backend/uring/make_reactor.hpp"

#include "backend/deadline_heap.hpp"
#include "backend/kernel_tls_probe.hpp"
#include "backend/uring/buffer_ring.hpp"
#include "backend/uring/prepare_sqe.hpp"

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace ringo::detail {
namespace {

// user_data values that name no operation: the completions of cancel requests and of the
// timeout liburing submits itself on kernels without IORING_FEAT_EXT_ARG.
constexpr std::uint64_t ignored_user_data = 0;

// Receive bundles (IORING_FEAT_RECVSEND_BUNDLE, Linux 6.10), newer than liburing 2.3's header.
constexpr unsigned recvsend_bundle_feature = 1u << 14;

[[noreturn]] void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

class uring_reactor final : public reactor {
 public:
  explicit uring_reactor(const uring_options& options) {
    io_uring_params params{};
    params.cq_entries = options.ring_entries * 4;
    const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    // Best first: SINGLE_ISSUER + DEFER_TASKRUN runs completion work only when the loop asks
    // for events; COOP_TASKRUN at least avoids interrupting the thread; else the plain ring.
    struct attempt {
      unsigned flags;
      bool single_issuer, defer, coop;
    };
    attempt attempts[4] = {};
    int n = 0;
    const bool si = options.single_issuer;
    if (si && options.defer_taskrun) {
      attempts[n++] = {
          IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED, true,
          true, false};
    }
    if (options.coop_taskrun) {
      if (si) {
        attempts[n++] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
                             IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED,
                         true, false, true};
      }
      attempts[n++] = {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, false, false, true};
    }
    attempts[n++] = {0, false, false, false};
    int rc = -EINVAL;
    for (int i = 0; i < n && rc == -EINVAL; ++i) {
      io_uring_params p = params;
      p.flags = base | attempts[i].flags;
      rc = io_uring_queue_init_params(options.ring_entries, &ring_, &p);
      if (rc == 0) {
        params = p;
        features_.single_issuer = attempts[i].single_issuer;
        features_.defer_taskrun = attempts[i].defer;
        features_.coop_taskrun = attempts[i].coop;
        disabled_ = (attempts[i].flags & IORING_SETUP_R_DISABLED) != 0;
      }
    }
    if (rc < 0) {
      throw std::system_error(-rc, std::system_category(),
                              describe_setup_failure(-rc, options.ring_entries));
    }
    features_.ext_arg = (params.features & IORING_FEAT_EXT_ARG) != 0;
    if ((params.features & IORING_FEAT_NODROP) == 0) {
      // Without NODROP an overflowing completion queue loses completions, and a lost
      // completion is a task that never wakes. Refuse rather than hang later.
      io_uring_queue_exit(&ring_);
      throw std::system_error(ENOSYS, std::system_category(),
                              "io_uring without IORING_FEAT_NODROP (kernel older than 5.5): "
                              "ringo needs Linux 5.10 or later");
    }

    try {
      probe_and_prepare(options, params);
    } catch (...) {
      // (The buffers, a member, are unmapped after the ring is gone.)
      if (wake_fd_ >= 0) ::close(wake_fd_);
      io_uring_queue_exit(&ring_);
      throw;
    }
  }

  ~uring_reactor() override {
    drain();
    flush();  // closes of sockets dropped since the loop last turned
    io_uring_queue_exit(&ring_);  // (the buffers are unmapped after it, as members)
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  // Requests can outlive every task: a stream or listener destroyed without close() leaves
  // its multishot request behind, cancelled, with a heap state that frees itself at the final
  // completion. Deliver those completions before the ring goes, so that memory is not lost;
  // anything still armed is cancelled first: with one IORING_ASYNC_CANCEL_ANY request where the
  // kernel has it (5.19), else one cancel per request, from the list kept for that. Bounded,
  // in case a request ignores cancellation.
  void drain() noexcept override {
    if (in_flight_ == 0 || disabled_) return;
    try {
      draining_ = true;
      if (features_.cancel_any) {
        reserve_one();
        push({nullptr, deferred::cancel, -1});  // every request
      } else {
        const std::vector<io_operation*> all = tracked_;
        for (io_operation* op : all) {
          reserve_one();
          push({op, deferred::cancel, -1});
        }
        reserve_one();
        push({&wake_op_, deferred::cancel, -1});
      }
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
      while (in_flight_ > 0 && std::chrono::steady_clock::now() < until) {
        wait(std::chrono::milliseconds{50});
      }
    } catch (...) {
    }
  }

  void start() override {
    buffers_.set_owner(std::this_thread::get_id());
    if (disabled_) {
      // liburing 2.3 (Debian 12) declares io_uring_enable_rings but does not export it, so
      // make the register call ourselves.
      if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr,
                    0) < 0) {
        throw_errno(errno, "io_uring_register(IORING_REGISTER_ENABLE_RINGS)");
      }
      disabled_ = false;
    }
    // The registration belongs to this thread, the only one that enters the ring (a ring torn
    // down on another thread cannot enter it by index; with SINGLE_ISSUER it could not enter
    // it at all).
    if (allow_registered_ring_) features_.registered_ring = io_uring_register_ring_fd(&ring_) == 1;
    reserve_one();
    queue(wake_op_);
  }

  // Each of these first reserves room in every list the request may enter, so that a failure
  // (std::bad_alloc) leaves nothing half done; after that nothing throws.
  void submit(io_operation& op) override {
    reserve_one();
    queue(op);
    ++in_flight_;
    if (!features_.cancel_any) track(op);
  }

  void cancel(io_operation& op) override {
    reserve_one();
    op.cancel_requested = true;
    push({&op, deferred::cancel, -1});
  }

  void close_later(int fd) noexcept override {
    try {
      reserve_one();
    } catch (...) {
      flush();  // no room to queue the close: what is queued goes first, then the close
      ::close(fd);
      return;
    }
    push({nullptr, deferred::close, fd});
  }

  void flush() noexcept override {
    if (dispatching_) return;
    flush_backlog();
    io_uring_submit(&ring_);
  }

  void wait(std::chrono::nanoseconds timeout) override {
    timeout = deadlines_.bound(timeout);  // wake for the nearest request deadline too
    // The backlog goes first; what does not fit waits for the kernel to take entries, which
    // it does once completions are reaped.
    while (!flush_backlog()) {
      enter(std::chrono::nanoseconds{0});
      reap();
    }
    enter(timeout);
    reap();
    flush_backlog();  // what the handlers submitted, now that the completion queue advanced
    if (rearm_wake_) {
      rearm_wake_ = false;
      reserve_one();
      queue(wake_op_);
    }
    if (!deadlines_.empty()) {
      deadlines_.expire([this](io_operation& op) {
        reserve_one();
        push({&op, deferred::cancel, -1});  // submitted with the next wait
      });
    }
    buffers_.take_back_returned();
  }

  std::size_t in_flight() const noexcept override { return in_flight_; }
  const reactor_features& features() const noexcept override { return features_; }

  std::byte* buffer_data(std::uint32_t buffer) noexcept override { return buffers_.data(buffer); }
  std::size_t buffer_size() const noexcept override { return buffer_size_; }
  void recycle_buffer(std::uint32_t buffer) noexcept override {
    if (buffers_.give_back(buffer)) [[unlikely]] wake();
  }

  void wake() noexcept override {
    const std::uint64_t one = 1;
    // Blocking only at a counter of 2^64-2, which coalesced posts never reach.
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

 private:
  // What the ring is set up for: the features the kernel has and the options allow, the
  // provided buffers, the wake-up. The ring exists; anything that throws here leaves it to
  // the constructor to take down.
  void probe_and_prepare(const uring_options& options, const io_uring_params& params) {
    buffer_size_ = options.buffer_size;
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
      // Opcodes stand in for kernel versions: SOCKET came with 5.19 (multishot accept, buffer
      // rings, IORING_ASYNC_CANCEL_ANY), SEND_ZC with 6.0 (multishot receive).
      const bool has_socket = io_uring_opcode_supported(probe, IORING_OP_SOCKET);
      const bool has_send_zc = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
      io_uring_free_probe(probe);
      features_.multishot_accept = has_socket && options.multishot_accept;
      features_.cancel_any = has_socket && options.cancel_any;
      features_.send_zc = has_send_zc && options.send_zc;
      if (has_send_zc && options.provided_buffers) {
        features_.provided_buffers = buffers_.set_up(
            ring_, options.buffer_count, options.buffer_size, options.incremental_buffers);
      }
      features_.incremental_buffers = features_.provided_buffers && buffers_.incremental();
      // Bundles and incremental consumption exclude each other, and incremental consumption
      // wins. With it one receive already takes what the socket holds, up to the rest of the
      // buffer at the ring's head, so a bundle would add only the receive of more than that.
      // And the split of a bundle in dispatch() relies on every buffer but the last being
      // filled whole from its start (and on a result above buffer_size to spot a bundle);
      // incrementally consumed, a bundle starts part-way into its first buffer and ends in a
      // last one that the kernel may still hold, so each of its buffers would need this
      // bookkeeping. (RINGO_DISABLE_FEATURES=incremental_buffers measures one against the
      // other.)
      features_.recv_bundle = features_.provided_buffers && options.recv_bundle &&
                              !features_.incremental_buffers &&
                              (params.features & recvsend_bundle_feature) != 0;
    }
    features_.kernel_tls = options.kernel_tls && kernel_offers_tls();

    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) throw_errno(errno, "eventfd for the io_context wake-up");
    wake_op_.opcode = io_opcode::read;
    wake_op_.fd = wake_fd_;
    wake_op_.buf = &wake_value_;
    wake_op_.len = sizeof wake_value_;
    wake_op_.offset = static_cast<std::uint64_t>(-1);
    backlog_.reserve(options.ring_entries);
    allow_registered_ring_ = options.registered_ring;
  }

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

  // Room for one more entry in each list a request may enter; the only call that throws.
  void reserve_one() {
    auto room = [](auto& v) {
      if (v.size() == v.capacity()) v.reserve(v.size() * 2 + 16);
    };
    room(backlog_);
    deadlines_.reserve_one();
    if (!features_.cancel_any) room(tracked_);
  }

  static void prepare_cancel(io_uring_sqe* sqe, io_operation* op) noexcept {
    if (op == nullptr) {
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    } else {
      io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(op), 0);
    }
    io_uring_sqe_set_data64(sqe, ignored_user_data);
  }

  void write_sqe(io_uring_sqe* sqe, const deferred& d) noexcept {
    switch (d.kind) {
      case deferred::request:
        prepare_sqe(sqe, *d.op, features_.recv_bundle);
        io_uring_sqe_set_data(sqe, d.op);
        break;
      case deferred::cancel:
        prepare_cancel(sqe, d.op);
        break;
      case deferred::close:
        io_uring_prep_close(sqe, d.fd);  // nobody waits for it: the descriptor is let go of
        io_uring_sqe_set_data64(sqe, ignored_user_data);
        break;
    }
  }

  // Into the submission queue, or the backlog behind what waits there. Room is reserved.
  void push(const deferred& d) noexcept {
    if (io_uring_sqe* sqe = next_sqe()) {
      write_sqe(sqe, d);
    } else {
      backlog_.push_back(d);
    }
  }

  void queue(io_operation& op) noexcept {
    push({&op, deferred::request, -1});
    deadlines_.arm(op);
  }

  // A free submission entry, or null when the entry must wait in the backlog: nothing may
  // overtake the backlog, and while completions are dispatched nothing is submitted.
  io_uring_sqe* next_sqe() noexcept {
    if (!backlog_.empty()) return nullptr;
    if (io_uring_sq_space_left(&ring_) == 0) {
      if (dispatching_) return nullptr;
      io_uring_submit(&ring_);  // the kernel takes the entries; failures leave them queued
      if (io_uring_sq_space_left(&ring_) == 0) return nullptr;
    }
    return io_uring_get_sqe(&ring_);
  }

  // Moves the backlog into the submission queue, in order, as far as it fits; true when it
  // is empty. Never while dispatching; never reaps.
  bool flush_backlog() noexcept {
    std::size_t done = 0;
    while (done < backlog_.size()) {
      if (io_uring_sq_space_left(&ring_) == 0) {
        io_uring_submit(&ring_);
        if (io_uring_sq_space_left(&ring_) == 0) break;
      }
      write_sqe(io_uring_get_sqe(&ring_), backlog_[done++]);
    }
    backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<std::ptrdiff_t>(done));
    return backlog_.empty();
  }

  // The requests in flight, kept only where the kernel cannot cancel them all at once, so that
  // drain() can cancel each. An operation knows its slot; removal swaps the last one in.
  void track(io_operation& op) noexcept {
    tracked_.push_back(&op);  // room is reserved
    op.tracking_slot = static_cast<std::uint32_t>(tracked_.size() - 1);
  }
  void untrack(io_operation& op) noexcept {
    const std::uint32_t i = op.tracking_slot;
    if (i == io_operation::no_slot) return;
    op.tracking_slot = io_operation::no_slot;
    io_operation* last = tracked_.back();
    tracked_.pop_back();
    if (last != &op) {
      tracked_[i] = last;
      last->tracking_slot = i;
    }
  }

  // Submits what is queued and waits for completions for at most `timeout` (see wait()).
  void enter(std::chrono::nanoseconds timeout) {
    int rc = 0;
    if (timeout.count() == 0) {
      // DEFER_TASKRUN posts completions only when we enter the kernel asking for them.
      rc = features_.defer_taskrun ? io_uring_submit_and_get_events(&ring_)
                                   : io_uring_submit(&ring_);
    } else if (timeout.count() < 0) {
      rc = io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = timeout.count() / 1'000'000'000;
      ts.tv_nsec = timeout.count() % 1'000'000'000;
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      throw_errno(-rc, "io_uring_enter");
    }
  }

  void reap() {
    for (;;) {
      unsigned head = 0;
      unsigned seen = 0;
      io_uring_cqe* cqe = nullptr;
      dispatching_ = true;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        dispatch(*cqe);
      }
      dispatching_ = false;
      io_uring_cq_advance(&ring_, seen);
      // With NODROP, completions that did not fit wait in the kernel; flush them in.
      if (io_uring_cq_has_overflow(&ring_)) {
        io_uring_get_events(&ring_);
        continue;
      }
      if (seen == 0) return;
      if (!features_.defer_taskrun) return;
      if (io_uring_cq_ready(&ring_) == 0) return;
    }
  }

  void dispatch(const io_uring_cqe& cqe) noexcept {
    const std::uint64_t data = cqe.user_data;
    if (data == ignored_user_data || data == LIBURING_UDATA_TIMEOUT) return;
    auto& op = *reinterpret_cast<io_operation*>(data);
    if (&op == &wake_op_) {
      // Stay armed (the loop looks at its posted work after every wait), unless the ring is
      // going away. Re-armed after the reap, where a failure to find memory may throw.
      if (!draining_ && (cqe.res >= 0 || cqe.res == -EINTR)) rearm_wake_ = true;
      return;
    }
    std::uint32_t flags = 0;
    std::uint16_t buffer_id = 0;
    if ((cqe.flags & IORING_CQE_F_MORE) != 0) flags |= more_completions;
    if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
      flags |= has_buffer;
      buffer_id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    }
    int res = cqe.res;
    if ((flags & has_buffer) != 0 && res > 0 && static_cast<unsigned>(res) > buffer_size_ &&
        features_.recv_bundle) {
      // A bundle: the bytes fill consecutive buffers of the ring, each but the last one whole.
      // The handler gets one completion per buffer, all but the last marked to be followed.
      std::uint32_t slot = buffers_.slot_of(buffer_id);
      while (static_cast<unsigned>(res) > buffer_size_) {
        op.on_complete(op, static_cast<int>(buffer_size_), flags | more_completions, buffer_id);
        res -= static_cast<int>(buffer_size_);
        buffer_id = buffers_.next_in_bundle(slot);
      }
    }
    // The handle of this completion's part of its buffer (the buffer id when whole).
    const std::uint32_t buffer =
        (flags & has_buffer) != 0 ? buffers_.take(buffer_id, res, cqe.flags) : 0;
    if ((flags & more_completions) == 0) {
      --in_flight_;
      deadlines_.remove(op);
      untrack(op);
    }
    if (res == -ECANCELED && op.deadline_passed && !op.cancel_requested) op.timed_out = true;
    op.on_complete(op, res, flags, buffer);  // may free `op` if this was its last
  }

  io_uring ring_{};
  reactor_features features_{};
  bool disabled_ = false;
  bool allow_registered_ring_ = false;
  bool draining_ = false;
  bool dispatching_ = false;  // completion handlers run: submissions go to the backlog
  bool rearm_wake_ = false;   // the wake-up read completed and is armed again after the reap
  std::size_t in_flight_ = 0;
  std::vector<deferred> backlog_;
  std::vector<io_operation*> tracked_;  // without cancel_any: every request in flight
  deadline_heap deadlines_;
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  io_operation wake_op_{};
  uring_buffer_ring buffers_;
  unsigned buffer_size_ = 0;  // also sizes a stream's own buffer without the ring
};

}  // namespace

std::unique_ptr<reactor> make_uring_reactor(const uring_options& options) {
  return std::make_unique<uring_reactor>(options);
}

}  // namespace ringo::detail
