#pragma once
// Writing a request of the reactor seam as an io_uring submission entry (private to the
// library).
#include <liburing.h>

#include "backend/reactor.hpp"

namespace ringo::detail {

/// Fills `sqe` for `op`, without its user data, with the features the ring uses: a standing
/// receive takes everything waiting in one completion where it has receive bundles
/// (IORING_RECVSEND_BUNDLE), and a standing accept is one accept (ended by its connection)
/// where it has no multishot accept.
void prepare_sqe(io_uring_sqe* sqe, const io_operation& op,
                 const reactor_features& features) noexcept;

}  // namespace ringo::detail
