#pragma once
// Kernel TLS: an established session's keys handed to the kernel (TCP's `tls` upper-layer
// protocol), which then makes the records, so that the stream's reads and writes carry plain
// bytes on the context's usual path. The handshake that leads to it reads record by record,
// so that no byte past its last record leaves the socket; records that are not application
// data (alerts, post-handshake messages) then come with their type in a control message.
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <span>


#include <ringo/task.hpp>

#include "tls/state.hpp"

namespace ringo::detail {

/// Whether the handshake about to start on `s` should end with the hand-off: the context and
/// the stream's io_context allow it and the kernel offers it, and nothing was read from the
/// socket yet. Readies the stream for it (record by record reads, the secrets kept).
bool prepare_kernel_tls(tls_state& s) noexcept;
/// Ends the record by record reads, whether or not the keys were handed over.
void end_exact_reads(tls_state& s) noexcept;

/// Reads the next ciphertext into `rbio`, never past the end of the record being read;
/// false at end of stream.
task<bool> tls_fill_record(tls_state& s, op_deadline deadline, std::source_location where);

/// The sequence number of this side's next record once the handshake is done: the records
/// of its flights already sent under the application keys. Called with the final flight
/// still in `wbio`.
std::uint64_t write_sequence_at_handoff(const tls_state& s) noexcept;

/// After the handshake: hands the keys to the kernel, receiving side first, and sets
/// kernel.rx and kernel.tx to what the kernel took. Leaves the stream to user-space records
/// where the cipher or the kernel refuses (or OpenSSL holds bytes that the kernel would not
/// see). Wipes the secrets either way.
void hand_keys_to_kernel(tls_state& s, std::uint64_t write_sequence) noexcept;

/// With kernel.rx: reads plain bytes (0 after the peer's close_notify); alerts end the
/// stream or fail the read, post-handshake tickets are skipped.
task<std::size_t> kernel_tls_read_some(tls_state& s, std::span<std::byte> buf,
                                       op_deadline deadline, std::source_location where);
/// With kernel.tx: sends all of `data` (the kernel makes the records), by `deadline`; on failure
/// marks the stream write_cut and rethrows.
task<void> kernel_tls_write_all(tls_state& s, std::span<const std::byte> data,
                                op_deadline deadline, std::source_location where);
/// With kernel.tx: sends a close_notify alert, by `deadline`.
task<void> kernel_tls_close_notify(tls_state& s, op_deadline deadline,
                                   std::source_location where);

}  // namespace ringo::detail
