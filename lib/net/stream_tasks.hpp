#pragma once
// The lazy tasks behind stream_socket's multi-step members (lib/net/stream_socket.cpp hands
// them out). Each takes the state as a held parameter: the hold starts when the task is made,
// so a stream closed or destroyed before the task first runs leaves it a valid, orphaned state
// (and an EBADF), never a dangling one.
#include <chrono>
#include <cstddef>
#include <source_location>
#include <span>

#include <ringo/detail/stream_state.hpp>
#include <ringo/task.hpp>

namespace ringo::detail {

/// write_all(parts): every byte of `parts`, in order, with gathered sends, holding the stream's
/// write turn from the first part to the last (lib/net/stream_write.cpp).
task<void> send_parts(state_hold<stream_state> s, std::span<const std::span<const std::byte>> parts,
                      std::chrono::nanoseconds timeout, std::source_location where);

/// read_exact: exactly buf.size() bytes, or ENODATA naming how many came before the end
/// (lib/net/stream_socket.cpp).
task<void> read_all(state_hold<stream_state> s, std::span<std::byte> buf,
                    std::chrono::nanoseconds timeout, std::source_location where);

}  // namespace ringo::detail
