// The io_uring backend's ring set up with the best features the kernel and the options allow,
// started on the loop's thread, and taken down again.
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include "backend/kernel_tls_probe.hpp"
#include "backend/throw_errno.hpp"
#include "backend/uring/make_reactor.hpp"
#include "backend/uring/reactor.hpp"

namespace ringo::detail {
namespace {

// Receive bundles (IORING_FEAT_RECVSEND_BUNDLE, Linux 6.10), newer than liburing 2.3's header.
constexpr unsigned recvsend_bundle_feature = 1u << 14;

}  // namespace

uring_reactor::uring_reactor(const uring_options& options) {
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

uring_reactor::~uring_reactor() {
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
void uring_reactor::drain() noexcept {
  if (in_flight_ == 0 || disabled_) return;
  try {
    draining_ = true;
    if (features_.cancel_any) {
      reserve_room(1, false);
      push({nullptr, deferred::cancel, -1});  // every request
    } else {
      const std::vector<io_operation*> all = tracked_;
      for (io_operation* op : all) {
        reserve_room(1, false);
        push({op, deferred::cancel, -1});
      }
      reserve_room(1, false);
      push({&wake_op_, deferred::cancel, -1});
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < until) {
      wait(std::chrono::milliseconds{50});
    }
  } catch (...) {
  }
}

void uring_reactor::start() {
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
  reserve_room(1, false);
  queue(wake_op_);
}

// What the ring is set up for: the features the kernel has and the options allow, the
// provided buffers, the wake-up. The ring exists; anything that throws here leaves it to
// the constructor to take down.
void uring_reactor::probe_and_prepare(const uring_options& options,
                                      const io_uring_params& params) {
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

std::unique_ptr<reactor> make_uring_reactor(const uring_options& options) {
  return std::make_unique<uring_reactor>(options);
}

}  // namespace ringo::detail
