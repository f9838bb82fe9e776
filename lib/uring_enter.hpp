#pragma once
// Entering an io_uring ring to submit and wait, with the kernel's batched wait (min-wait,
// Linux 6.12) where it is asked for. Private to the io_uring backend.
#include <liburing.h>

#include <chrono>

namespace ringo::detail {

/// How long a wait may hold out for a batch of completions: up to `min_wait` for `batch` of
/// them, then it returns with what has come (at least one). batch <= 1: no batching.
struct uring_batching {
  unsigned batch = 0;
  std::chrono::microseconds min_wait{0};
};

/// Submits what is queued and waits for at least one completion for at most `timeout`
/// (negative: without limit). `registered_ring`: the ring's descriptor was registered
/// (io_uring_register_ring_fd), so liburing keeps its index in enter_ring_fd. Returns the
/// kernel's result (negative errno).
int uring_submit_and_wait(io_uring& ring, std::chrono::nanoseconds timeout,
                          const uring_batching& batching, bool registered_ring);

}  // namespace ringo::detail
