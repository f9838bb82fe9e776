#pragma once
// The io_uring backend behind detail::reactor (private to the library).
#include <memory>
#include <string>

#include <ringo/detail/reactor.hpp>
#include <ringo/io_context.hpp>

namespace ringo::detail {

/// Sets up a ring as `options` asks, using the best features the kernel offers. Throws
/// std::system_error whose message says why io_uring is unavailable and what to do.
std::unique_ptr<reactor> make_uring_reactor(const io_context_options& options);

/// The message for a failed io_uring_setup with error `err` (a positive errno).
std::string describe_setup_failure(int err, unsigned entries);

}  // namespace ringo::detail
