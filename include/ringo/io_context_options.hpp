#pragma once
/// \file
/// ringo::io_context_options: how an io_context sets up its I/O backend.

namespace ringo {

/// Kernel features the io_uring backend uses when the kernel has them. Each can be switched
/// off to force its fallback path (tests do; so can a user on a kernel with a buggy feature).
enum class kernel_feature : unsigned {
  single_issuer = 1u << 0,
  defer_taskrun = 1u << 1,
  coop_taskrun = 1u << 2,
  multishot_accept = 1u << 3,
  provided_buffers = 1u << 4,
  send_zc = 1u << 5,
  /// One request cancels every request in flight (IORING_ASYNC_CANCEL_ANY, 5.19); without it
  /// a context shutting down cancels each of its requests on its own.
  cancel_any = 1u << 6,
};

/// How an io_context is set up. The fields are the io_uring backend's section: they size its
/// ring and its provided buffers and say which kernel features it may use.
struct io_context_options {
  /// Submission queue entries; the completion queue gets four times as many.
  unsigned ring_entries = 1024;
  /// Provided buffers shared by every multishot receive on the context (a power of two), and
  /// the size of each: idle connections hold no buffer of their own. 16 KiB lets one
  /// completion carry what a streaming peer sends in one go (4 KiB buffers cost streaming
  /// echo three quarters of its throughput); the 16 MiB are touched only as they are used.
  unsigned buffer_count = 1024;
  unsigned buffer_size = 16384;
  /// Features to treat as missing, as a mask of kernel_feature. The environment variable
  /// RINGO_DISABLE_FEATURES (a comma-separated list of names such as "multishot_accept", or
  /// "all") adds to it, so a whole test suite can run through the fallback paths.
  unsigned disabled_features = 0;
};

}  // namespace ringo
