// The batched wait needs an io_uring_enter that liburing 2.3 cannot make: its
// io_uring_getevents_arg has the field the kernel now reads as min_wait_usec (there named
// `pad`), but no call fills it. So the submission queue is published and the system call made
// here, the way liburing does both.
#include "uring_enter.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace ringo::detail {
namespace {

// What io_uring_submit does before it enters: make the entries written since the last submit
// visible to the kernel, and count those it has not taken yet.
unsigned publish_submissions(io_uring& ring) noexcept {
  io_uring_sq& sq = ring.sq;
  const unsigned tail = sq.sqe_tail;
  if (sq.sqe_head != tail) {
    sq.sqe_head = tail;
    __atomic_store_n(sq.ktail, tail, __ATOMIC_RELEASE);
  }
  return tail - __atomic_load_n(sq.khead, __ATOMIC_ACQUIRE);
}

}  // namespace

int uring_submit_and_wait(io_uring& ring, std::chrono::nanoseconds timeout,
                          const uring_batching& batching, bool registered_ring) {
  // A wait shorter than the batching window returns at its first completion: holding out
  // would make a timer late.
  if (batching.batch <= 1 || (timeout.count() >= 0 && timeout < batching.min_wait)) {
    if (timeout.count() < 0) return io_uring_submit_and_wait(&ring, 1);
    __kernel_timespec ts{};
    ts.tv_sec = timeout.count() / 1'000'000'000;
    ts.tv_nsec = timeout.count() % 1'000'000'000;
    io_uring_cqe* cqe = nullptr;
    return io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, nullptr);
  }
  __kernel_timespec ts{};
  io_uring_getevents_arg arg{};
  arg.sigmask_sz = _NSIG / 8;
  arg.pad = static_cast<__u32>(batching.min_wait.count());  // min_wait_usec
  if (timeout.count() >= 0) {
    ts.tv_sec = timeout.count() / 1'000'000'000;
    ts.tv_nsec = timeout.count() % 1'000'000'000;
    arg.ts = reinterpret_cast<__u64>(&ts);
  }
  const unsigned to_submit = publish_submissions(ring);
  unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
  if (registered_ring) flags |= IORING_ENTER_REGISTERED_RING;
  const long rc = ::syscall(__NR_io_uring_enter, ring.enter_ring_fd, to_submit, batching.batch,
                            flags, &arg, sizeof arg);
  return rc < 0 ? -errno : static_cast<int>(rc);
}

}  // namespace ringo::detail
