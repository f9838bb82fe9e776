#pragma once
// Writing a request of the reactor seam as an io_uring submission entry (private to the
// library).
#include <liburing.h>

#include <ringo/detail/reactor.hpp>

namespace ringo::detail {

/// Fills `sqe` for `op`, without its user data. `bundle`: a multishot receive with provided
/// buffers takes everything waiting in one completion (IORING_RECVSEND_BUNDLE).
void prepare_sqe(io_uring_sqe* sqe, const io_operation& op, bool bundle) noexcept;

}  // namespace ringo::detail
