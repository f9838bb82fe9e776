#pragma once
// The epoll backend behind detail::reactor (private to the library): for machines where
// io_uring is refused. This is what the reactor factory sees of it: its options and how to
// make one. The reactor itself is in reactor.hpp.
#include <cstddef>
#include <memory>

#include "backend/reactor.hpp"

namespace ringo::detail {

struct epoll_options {
  std::size_t buffer_size = 16384;  // each lent buffer (and a stream's own, without them)
  unsigned buffer_count = 1024;     // the most buffers lent at once
  bool lend_buffers = true;         // standing receives into lent buffers
  bool kernel_tls = true;           // TLS streams may hand their keys to the kernel
};

/// Sets up epoll and its wake-up; throws std::system_error when the kernel refuses.
std::unique_ptr<reactor> make_epoll_reactor(const epoll_options& options);

}  // namespace ringo::detail
