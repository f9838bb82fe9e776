#pragma once
/// \file
/// ringo::io_context_options: how an io_context sets up its I/O backend, and which backend.
#include <string_view>

#include <fmt/format.h>

namespace ringo {

/// The I/O backend of a context. `automatic` takes io_uring where it can be set up and falls
/// back to epoll where it is refused (a seccomp profile such as Docker's default,
/// kernel.io_uring_disabled, an old kernel), saying so once on stderr; the environment
/// variable RINGO_BACKEND (io_uring, epoll or auto) decides where the options say automatic.
enum class io_backend : unsigned char {
  automatic,
  io_uring,
  epoll,
};

/// "automatic", "io_uring" or "epoll".
constexpr std::string_view to_string(io_backend b) noexcept {
  switch (b) {
    case io_backend::automatic:
      return "automatic";
    case io_backend::io_uring:
      return "io_uring";
    case io_backend::epoll:
      return "epoll";
  }
  return "?";
}

/// Kernel features the io_uring backend uses when the kernel has them. Each can be switched
/// off to force its fallback path (tests do; so can a user on a kernel with a buggy feature).
enum class kernel_feature : unsigned {
  single_issuer = 1u << 0,
  defer_taskrun = 1u << 1,
  coop_taskrun = 1u << 2,
  multishot_accept = 1u << 3,
  /// Standing receives into buffers the backend lends: io_uring's provided buffer ring
  /// (5.19), or the epoll backend's own pool. Without it every read is one receive into the
  /// reader's buffer (or the stream's own).
  provided_buffers = 1u << 4,
  send_zc = 1u << 5,
  /// One request cancels every request in flight (IORING_ASYNC_CANCEL_ANY, 5.19); without it
  /// a context shutting down cancels each of its requests on its own.
  cancel_any = 1u << 6,
  /// The ring's descriptor registered with the kernel (io_uring_register_ring_fd, 5.18), so
  /// that each io_uring_enter skips looking the descriptor up.
  registered_ring = 1u << 7,
  /// Multishot receives in bundles (IORING_RECVSEND_BUNDLE, 6.10): one completion for all the
  /// bytes a socket holds, across several provided buffers.
  recv_bundle = 1u << 8,
  /// Provided buffers consumed incrementally (IOU_PBUF_RING_INC, 6.12): small receives, of
  /// any streams of the context, share one buffer instead of taking a whole one each; a buffer
  /// goes back to the kernel once every part of it has been given back. Only for buffer_size
  /// up to 65536. Where the kernel has it, receive bundles are not used (one or the other).
  incremental_buffers = 1u << 9,
  /// Kernel TLS (the `tls` upper-layer protocol of TCP): a TLS stream hands its keys to the
  /// kernel after the handshake, which then makes the records, so that the stream's reads and
  /// writes carry plain bytes. Either backend; without it TLS records are made in user space.
  kernel_tls = 1u << 10,
};

/// How an io_context is set up: the backend, then the backends' section (the sizes of the
/// io_uring ring and of the receive buffers either backend lends, the kernel features they may
/// use). buffer_size also sizes a stream's own receive buffer where no buffers are lent.
struct io_context_options {
  io_backend backend = io_backend::automatic;
  /// Submission queue entries; the completion queue gets four times as many.
  unsigned ring_entries = 1024;
  /// Receive buffers lent to every stream of the context (a power of two), and the size of
  /// each: idle connections hold no buffer of their own. (io_uring's provided buffer ring;
  /// the epoll backend makes its own sixteen at a time, as the load asks.) 16 KiB lets one
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

/// Formats a backend by its name.
template <>
struct fmt::formatter<ringo::io_backend> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(ringo::io_backend b, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(ringo::to_string(b), ctx);
  }
};
