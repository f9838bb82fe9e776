#pragma once
// The io_uring backend behind detail::reactor (private to the library), as the reactor factory
// sees it: its options and how to make one. The reactor itself is in reactor.hpp.
#include <memory>
#include <string>

#include "backend/reactor.hpp"

namespace ringo::detail {

/// What the io_uring backend is asked for: its sizes, and which kernel features it may use
/// when the kernel has them (each off forces that feature's fallback path).
struct uring_options {
  unsigned ring_entries = 1024;  // submission queue entries; the completion queue gets 4x
  unsigned buffer_count = 1024;  // provided buffers (a power of two)
  unsigned buffer_size = 16384;
  bool single_issuer = true;
  bool defer_taskrun = true;
  bool coop_taskrun = true;
  bool multishot_accept = true;
  bool provided_buffers = true;
  bool send_zc = true;
  bool cancel_any = true;
  bool registered_ring = true;
  bool recv_bundle = true;
  bool incremental_buffers = true;  // only with buffer_size <= 65536
  bool kernel_tls = true;           // TLS streams may hand their keys to the kernel
};

/// Sets up a ring as `options` asks, using the best features the kernel offers. Throws
/// std::system_error whose message says why io_uring is unavailable and what to do.
std::unique_ptr<reactor> make_uring_reactor(const uring_options& options);

/// The message for a failed io_uring_setup with error `err` (a positive errno).
std::string describe_setup_failure(int err, unsigned entries);

}  // namespace ringo::detail
