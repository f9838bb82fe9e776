#pragma once
// Whether the kernel offers kernel TLS: asked once per process, by either backend (for its
// features()) and by tls_context::kernel_tls_available(). Needs no TLS library.

namespace ringo::detail {

/// Whether TCP's `tls` upper-layer protocol can be set on a socket here (perhaps after the
/// kernel loads its module). The first call makes the probe; later calls read its answer.
bool kernel_offers_tls() noexcept;

}  // namespace ringo::detail
