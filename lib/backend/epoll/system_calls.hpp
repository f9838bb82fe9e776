#pragma once
// The system calls behind the epoll backend's requests (private to the library).
#include "backend/reactor.hpp"

namespace ringo::detail {

/// Whether a request of kind `op` accepts a connection (one, or the standing accept's next).
bool accepts(io_opcode op) noexcept;

/// Whether a request of kind `op` waits for its descriptor to be readable (else writable).
bool reads(io_opcode op) noexcept;

/// A system call's result as a request's: the value, or -errno.
int result_of(long r) noexcept;

/// Makes the system call of `op` once, without blocking: its result, or -EAGAIN when it must
/// wait for readiness. `blocking`: the descriptor is a pipe or terminal without O_NONBLOCK, so
/// a write takes at most PIPE_BUF bytes (what readiness promises room for).
int try_request(io_operation& op, bool blocking) noexcept;

}  // namespace ringo::detail
