#pragma once
// The one place that picks and sets up a context's I/O backend (private to the library).
#include <memory>

#include <ringo/detail/reactor.hpp>
#include <ringo/io_context_options.hpp>

namespace ringo::detail {

/// The backend `options` ask for, with RINGO_DISABLE_FEATURES applied. Throws
/// std::system_error when it cannot be set up, std::invalid_argument for bad options.
std::unique_ptr<reactor> make_reactor(const io_context_options& options);

}  // namespace ringo::detail
