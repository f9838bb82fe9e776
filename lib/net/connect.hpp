#pragma once
// Connecting a new socket through the backend, for every family (tcp_stream, unix_stream).
#include <sys/socket.h>

#include <chrono>
#include <source_location>

#include <ringo/detail/socket_name.hpp>
#include <ringo/task.hpp>

namespace ringo::detail {

/// Connects socket `fd` to the `len` bytes of `addr`. On failure closes `fd` (through the
/// backend, which may have registered it) and throws: std::system_error "connect to <to>: ...",
/// ringo::timed_out after `timeout` (zero: none), or operation_cancelled.
task<void> connect_or_close(int fd, sockaddr_storage addr, socklen_t len, socket_name to,
                            std::chrono::nanoseconds timeout, std::source_location where);

}  // namespace ringo::detail
