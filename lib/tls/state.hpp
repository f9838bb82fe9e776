#pragma once
// What a tls_stream keeps on the heap: its TCP stream, the OpenSSL session with its two memory
// BIOs, the buffer the outgoing ciphertext is sent from, and what a hand-off of the keys to the
// kernel needs (lib/tls/kernel.cpp). Received ciphertext goes from the
// stream's receive buffer (a lent buffer, without a copy) into the read BIO. The buffers
// grow to their working size in the first transfers and are reused from then on, and OpenSSL
// keeps its own record buffers (SSL_MODE_RELEASE_BUFFERS stays off), so the steady path
// allocates nothing.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/loop.hpp>
#include <ringo/detail/unread_area.hpp>
#include <ringo/detail/write_turn.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/net/tls_context.hpp>
#include <ringo/task.hpp>

namespace ringo::net {

/// What a tls_context shares with its copies and the streams made with it.
struct tls_context::impl {
  impl(SSL_CTX* c, bool is_server) noexcept : ctx(c), server(is_server) {}
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() { SSL_CTX_free(ctx); }

  SSL_CTX* ctx;
  bool server;
  bool verify = false;
  bool kernel_tls = true;  // streams hand their keys to the kernel where it can take them
  bool suppress_ragged_eofs = false;  // an end without close_notify reads as end of stream
  std::vector<unsigned char> alpn;  // ALPN's wire format: length-prefixed names
  std::chrono::nanoseconds handshake_timeout = std::chrono::seconds{10};
};

std::shared_ptr<const tls_context::impl> tls_context_impl(const tls_context& c) noexcept;

}  // namespace ringo::net

namespace ringo::detail {

/// What a TLS stream keeps for the hand-off of its keys to the kernel (lib/tls/kernel.cpp,
/// lib/tls/kernel_keys.cpp): the handshake reads record by record and keeps the traffic
/// secrets, to hand the keys over once it is done.
struct kernel_tls_state {
  bool wanted = false;
  bool rx = false;             // the kernel decrypts: reads are of plain bytes
  bool tx = false;             // the kernel encrypts: writes are of plain bytes
  bool peer_notified = false;  // with rx: the peer's close_notify was read
  bool read_fatal = false;     // with rx: a fatal record came; nothing more is sent
  std::uint8_t head_have = 0;  // bytes of the record header being read
  std::uint8_t secret_size = 0;         // of each TLS 1.3 traffic secret (0: none captured)
  std::uint8_t secrets_kept = 0;        // which of the two were captured (1: client, 2: server)
  std::uint32_t record_left = 0;        // bytes of the record being read still in the socket
  std::array<unsigned char, 5> head{};  // the record header being read
  std::array<unsigned char, 48> client_secret{};  // TLS 1.3: client_application_traffic_secret_0
  std::array<unsigned char, 48> server_secret{};  // and the server's, wiped once handed over
};

struct tls_state {
  tls_state(net::tcp_stream s, std::shared_ptr<const net::tls_context::impl> c, std::string p);
  tls_state(const tls_state&) = delete;
  tls_state& operator=(const tls_state&) = delete;
  ~tls_state() { SSL_free(ssl); }  // frees the BIOs too

  /// Plaintext encrypted before the ciphertext is sent: four full records per send.
  static constexpr std::size_t write_batch = 64 * 1024;

  loop* owner;  // the context the stream belongs to (the one its handshake ran on)
  net::tcp_stream tcp;
  std::shared_ptr<const net::tls_context::impl> context;  // the ALPN callback reads it
  std::string peer;  // "127.0.0.1:8443", or "localhost (127.0.0.1:8443)", for messages
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;               // ciphertext from the peer, for OpenSSL to read (owned by ssl)
  BIO* wbio = nullptr;               // ciphertext OpenSSL wrote, to send (owned by ssl)
  std::unique_ptr<std::byte[]> out;  // out_capacity bytes: what a socket write sends from
  std::size_t out_capacity = 0;
  std::string alpn;          // the protocol ALPN chose
  bool established = false;  // the handshake succeeded
  bool reading = false;      // a read_some is in progress
  bool write_cut = false;    // a write failed part-way: no more records go out
  bool notified = false;     // the close_notify was sent (shutdown)
  // The writes, shutdown and close, one at a time in call order; a read sending what OpenSSL
  // queued while reading takes the turn too (then `reader_sending`), when it is free.
  write_turn turn;
  bool reader_sending = false;
  // A bad record found after a read had bytes to return: thrown by the next read.
  std::exception_ptr read_failure;
  // Plaintext that read_line or read_until gathered and left (past a line, or of a line they
  // did not finish): every read takes it first.
  unread_area plain;

  kernel_tls_state kernel;  // the hand-off of the keys to the kernel
};

/// Keeps the `reading` flag up while a read runs, however it ends; a second concurrent read is a
/// std::logic_error.
class tls_in_progress {
 public:
  tls_in_progress(bool& flag, const char* what);
  tls_in_progress(const tls_in_progress&) = delete;
  tls_in_progress& operator=(const tls_in_progress&) = delete;
  ~tls_in_progress() { flag_ = false; }

 private:
  bool& flag_;
};

/// Marks the stream write_cut unless told the whole send went out: whatever stops a send (an
/// error, the deadline, a cancellation) may have left half a record on the wire.
struct cut_unless_sent {
  explicit cut_unless_sent(tls_state& stream) noexcept : s(stream) {}
  cut_unless_sent(const cut_unless_sent&) = delete;
  cut_unless_sent& operator=(const cut_unless_sent&) = delete;
  ~cut_unless_sent() {
    if (!sent) s.write_cut = true;
  }
  tls_state& s;
  bool sent = false;
};

/// Throws the tls_error (tls_errc::truncated) of a read that met the end of the TCP stream
/// without the peer's close_notify.
[[noreturn]] void throw_tls_truncated(const tls_state& s);

/// Sends every byte OpenSSL has written to `wbio`, by `deadline`. On failure marks the stream
/// write_cut and rethrows.
task<void> tls_flush(tls_state& s, op_deadline deadline, std::source_location where);
/// Before a read waits for the peer: sends what OpenSSL queued while reading (the alert that
/// refuses a renegotiation, a KeyUpdate's answer), which the peer may be waiting for. A write
/// holding the turn sends it (its flush takes all the write BIO holds); a stream that cannot
/// write any more sends nothing. A failed send is left to the read to meet.
task<void> tls_send_owed(tls_state& s, op_deadline deadline, std::source_location where);
/// Reads the next plaintext into `buf` (at least one byte; 0 at the end of the stream), by
/// `deadline`: read_some's work past the bytes the stream keeps unread. Decrypted bytes are in
/// `buf` only when it returns: a read that throws took none.
task<std::size_t> tls_read_plain(tls_state& s, std::span<std::byte> buf, op_deadline deadline,
                                 std::source_location where);
/// Reads the next ciphertext from the socket into `rbio`, by `deadline`; false at end of
/// stream.
task<bool> tls_fill(tls_state& s, op_deadline deadline, std::source_location where);
/// The std::system_error (EBADF) for an operation on a stream whose socket was closed under it.
[[noreturn]] void throw_tls_closed(const tls_state& s, std::string_view op);

/// Throws the tls_error for OpenSSL's failure `ssl_error` (SSL_get_error's value) of operation
/// `op` ("TLS handshake with") on the peer: OpenSSL's earliest queued reason, and the
/// certificate check's reason when that was the cause. Clears OpenSSL's error queue.
[[noreturn]] void throw_tls_failure(const tls_state& s, std::string_view op, int ssl_error);
/// Throws the tls_error of ringo's own failure `code` with `what` as its message.
[[noreturn]] void throw_tls(std::error_code code, std::string what);

}  // namespace ringo::detail
