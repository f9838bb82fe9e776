#pragma once
/// \file
/// ringo::net::tls_stream: a TLS connection over a tcp_stream, whose handshake, reads and
/// writes suspend the calling task, never the thread. Built when RINGO_HAS_TLS is 1.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <string_view>

#include <ringo/detail/byte_ranges.hpp>
#include <ringo/net/endpoint.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/net/tls_context.hpp>
#include <ringo/net/tls_error.hpp>
#include <ringo/task.hpp>

namespace ringo::detail {
struct tls_state;
}  // namespace ringo::detail

namespace ringo::net {

/// A TLS connection (Python's ssl.SSLSocket under asyncio, Asio's ssl::stream). OpenSSL
/// computes the records in memory; the ciphertext moves through the stream's own tcp_stream,
/// so every read and write is a request of the context's backend (io_uring or epoll) with
/// the timeouts and cancellation of tcp_stream, and OpenSSL never touches the socket.
///
/// The rules of tcp_stream hold: move-only, belongs to the context it was made on (a member
/// called from a thread that does not run it is a std::logic_error), one reader
/// at a time (two concurrent reads are a std::logic_error), several writers served one after
/// the other in call order, each write's records contiguous (a close ends the waiting ones
/// with EBADF; one that times out or is cancelled while it waits leaves the stream whole), every
/// awaiting task resumes on its own context, destroying an open stream closes its socket at
/// once (without a close_notify: the peer sees truncation) and a read or write in flight in
/// another task then fails with EBADF. A cancelled or timed-out read loses nothing: the bytes
/// already decrypted, or received and not yet decrypted, are kept for the next read. A
/// write that fails, times out or is cancelled leaves the stream unable to write (a record
/// may have been cut: tls_errc::write_cut), but it can still read and be closed.
///
/// Failures are tls_error in tls_category() ("TLS handshake with 127.0.0.1:8443: certificate
/// verify failed (hostname mismatch)"), std::system_error from the socket ("send on
/// 127.0.0.1:8443: Broken pipe"), ringo::timed_out and operation_cancelled.
///
/// Messages the protocol owes the peer while reading (the alert that refuses a TLS 1.2
/// renegotiation, a TLS 1.3 KeyUpdate's answer) go out before the read waits for the peer
/// again, or with a write in flight in another task; a write that starts while a read sends
/// them waits for that send. Renegotiation is refused.
///
/// Where the kernel offers TLS, the keys go to the kernel after the handshake (kernel_tls()):
/// the same members and rules, with the kernel's records. A fatal alert from the peer is then
/// tls_errc::peer_alert, a record that fails its check tls_errc::bad_record, and a TLS 1.3
/// KeyUpdate tls_errc::kernel_cannot_follow; after any of them nothing more is sent (the
/// kernel sends no alert), and close() closes the socket without a close_notify.
class tls_stream {
 public:
  /// An empty stream (not connected).
  tls_stream() noexcept;
  tls_stream(tls_stream&&) noexcept;
  tls_stream& operator=(tls_stream&&) noexcept;
  ~tls_stream();

  /// Resolves `host`, connects to it (tcp_stream::connect(host, port), each attempt bounded by
  /// the context's handshake timeout) and makes the client's handshake: SNI names `host` and,
  /// unless the context was told set_verify(false), the server's certificate must be valid
  /// for `host` (a name, or an IP address) and signed by a trusted CA. Throws tls_error ("TLS
  /// handshake with localhost (127.0.0.1:8443): certificate verify failed (hostname
  /// mismatch)"), what tcp_stream::connect throws, ringo::timed_out when the handshake's
  /// deadline passes, or operation_cancelled. Resumes on the calling task's context.
  static task<tls_stream> connect(std::string host, std::uint16_t port, const tls_context& ctx,
                                  std::source_location where = std::source_location::current());
  /// The server's side of the handshake on an accepted connection `s`, with a server context.
  /// Throws tls_error (a client that does not speak TLS, or that refused the certificate:
  /// "TLS handshake with 127.0.0.1:40150: tlsv1 alert unknown ca"), ringo::timed_out when the
  /// context's handshake timeout passes first ("TLS handshake with ...: no handshake within
  /// 10000 ms"), or operation_cancelled; `s` is closed then. std::logic_error for a client
  /// context or an empty `s`.
  static task<tls_stream> accept(tcp_stream s, const tls_context& ctx,
                                 std::source_location where = std::source_location::current());

  /// Reads what is there (at least one byte, at most buf.size()); 0 at the end of the stream
  /// that the peer announced with a close_notify. Throws tls_error with tls_errc::truncated
  /// ("TLS read from 127.0.0.1:8443: the peer ended the stream without a close_notify") when
  /// the connection ends without one (unless the context was told set_suppress_ragged_eofs:
  /// then 0), tls_error for a bad record, std::system_error from the socket,
  /// ringo::timed_out when `timeout` (zero: none; for the whole call) passes first, or
  /// operation_cancelled. `buf` must outlive the co_await.
  task<std::size_t> read_some(std::span<std::byte> buf, std::chrono::nanoseconds timeout = {},
                              std::source_location where = std::source_location::current());
  /// read_some into any contiguous range of one-byte elements (std::string, std::array<char,
  /// N>, char[N], std::vector<unsigned char>, std::span<char>): up to its size() bytes.
  template <class Buffer>
    requires detail::writable_byte_range<Buffer>
  task<std::size_t> read_some(Buffer&& buf, std::chrono::nanoseconds timeout = {},
                              std::source_location where = std::source_location::current()) {
    return read_some(detail::writable_bytes_of(buf), timeout, where);
  }
  /// Reads exactly buf.size() bytes; throws tls_error (tls_errc::truncated) or, after a
  /// close_notify, std::system_error (ENODATA: "TLS read from ...: end of stream after 3 of 8
  /// bytes") if the stream ends first. `timeout` applies to each read.
  task<void> read_exact(std::span<std::byte> buf, std::chrono::nanoseconds timeout = {},
                        std::source_location where = std::source_location::current());
  /// read_exact into any contiguous range of one-byte elements, as read_some takes them.
  template <class Buffer>
    requires detail::writable_byte_range<Buffer>
  task<void> read_exact(Buffer&& buf, std::chrono::nanoseconds timeout = {},
                        std::source_location where = std::source_location::current()) {
    return read_exact(detail::writable_bytes_of(buf), timeout, where);
  }
  /// Reads the next line of plaintext, up to and including its "\n", as
  /// tcp_stream::read_line does (asyncio's readline): at the end of the stream the last bytes
  /// without one, then an empty string; std::length_error naming `limit` when no "\n" comes
  /// within it; `timeout` (zero: none) bounds the whole call. Errors otherwise as read_some
  /// (tls_errc::truncated at an end without close_notify, unless the context suppresses
  /// ragged ends). The decrypted bytes past the line, and those of a read_line that ends
  /// without its line (the limit, the timeout, an error, a cancellation), stay in the stream
  /// for the next read of any kind: none is lost, none read twice.
  task<std::string> read_line(std::size_t limit = 65536, std::chrono::nanoseconds timeout = {},
                              std::source_location where = std::source_location::current());
  /// Reads up to and including the next `delimiter` (asyncio's readuntil). Throws
  /// std::system_error (ENODATA: "TLS read from ...: end of stream after 12 bytes, before the
  /// delimiter") if the stream ends first, leaving those bytes for the next read;
  /// std::invalid_argument for an empty delimiter or a limit shorter than it; otherwise as
  /// read_line, `limit` counting the delimiter.
  task<std::string> read_until(std::string_view delimiter, std::size_t limit = 65536,
                               std::chrono::nanoseconds timeout = {},
                               std::source_location where = std::source_location::current());
  /// Encrypts and writes all of `data` (records of up to 16 KiB, sent in batches of up to
  /// 64 KiB), with what the protocol owes the peer first. Errors, `timeout` (for the whole
  /// write) and cancellation as tcp_stream::write_all; afterwards the stream cannot write
  /// (tls_errc::write_cut). `data` must outlive the co_await.
  task<void> write_all(std::span<const std::byte> data, std::chrono::nanoseconds timeout = {},
                       std::source_location where = std::source_location::current());
  task<void> write_all(std::string_view text, std::chrono::nanoseconds timeout = {},
                       std::source_location where = std::source_location::current()) {
    return write_all(std::as_bytes(std::span{text.data(), text.size()}), timeout, where);
  }
  /// write_all of any contiguous range of one-byte elements (std::string, std::vector<char>,
  /// std::array<unsigned char, N>, a char[N] buffer whole); a string literal is text, without
  /// its '\0'.
  template <class Bytes>
    requires detail::written_byte_range<Bytes>
  task<void> write_all(Bytes&& data, std::chrono::nanoseconds timeout = {},
                       std::source_location where = std::source_location::current()) {
    return write_all(detail::bytes_of(data), timeout, where);
  }
  /// Sends a close_notify and keeps the stream open for reading (TLS's half close, as
  /// tcp_stream::shutdown): the peer reads end of stream, and this side reads on until the
  /// peer's own close_notify. Writing afterwards is a tls_error. Errors, cancellation and a
  /// cut stream as write_all; bounded by the context's handshake timeout.
  task<void> shutdown(std::source_location where = std::source_location::current());
  /// Sends a close_notify (unless a write is in flight in another task, or a write was cut)
  /// and closes the socket; writes waiting their turn end with EBADF; the stream is empty from the call on. The peer then reads a clean
  /// end of stream. Throws std::system_error when the close_notify cannot be sent (the socket
  /// is closed all the same); nothing if the stream was empty. A close
  /// dropped without being awaited closes the socket without a close_notify.
  task<void> close(std::source_location where = std::source_location::current());

  [[nodiscard]] bool is_open() const noexcept;
  /// The protocol ALPN chose ("h2"), empty when none was; valid while the stream lives.
  [[nodiscard]] std::string_view alpn_protocol() const;
  /// The subject of the peer's certificate, RFC 2253 style ("CN=localhost,O=ringo"); empty
  /// when the peer sent none (a client, usually).
  [[nodiscard]] std::string peer_certificate_subject() const;
  /// The TLS version in use ("TLSv1.3").
  [[nodiscard]] std::string_view protocol_version() const;
  /// Whether the kernel makes this stream's records both ways (kernel TLS): the keys were
  /// handed to it after the handshake, and reads and writes carry plain bytes on the context's
  /// usual path. False where the records are made in user space (see
  /// tls_context::set_kernel_tls for when), and for an empty stream.
  [[nodiscard]] bool kernel_tls() const noexcept;
  /// Turns Nagle's algorithm off (true) or on, on the underlying socket.
  void set_nodelay(bool on);
  [[nodiscard]] endpoint remote_endpoint() const;
  [[nodiscard]] endpoint local_endpoint() const;

 private:
  explicit tls_stream(std::shared_ptr<detail::tls_state> s) noexcept;
  detail::tls_state& state(const char* op) const;
  // Shared with the operations in flight, so that the stream's destruction under one of them
  // (which closes the socket) leaves the state they use alive until they unwind.
  std::shared_ptr<detail::tls_state> s_;
};

}  // namespace ringo::net
