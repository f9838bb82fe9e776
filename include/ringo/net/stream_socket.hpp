#pragma once
/// \file
/// ringo::net::stream_socket: what every connected stream socket offers, whatever its address
/// family: the reads, writes, shutdown and close of tcp_stream and unix_stream.
#include <chrono>
#include <cstddef>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <ringo/detail/byte_ranges.hpp>
#include <ringo/detail/delimited_read_awaiter.hpp>
#include <ringo/detail/stream_awaiters.hpp>
#include <ringo/detail/stream_state.hpp>
#include <ringo/net/received_buffer.hpp>
#include <ringo/net/received_buffers.hpp>
#include <ringo/task.hpp>

namespace ringo::detail {
struct stream_access;  // the TLS code's access to the state (lib/tls/kernel.cpp)
}  // namespace ringo::detail

namespace ringo::net {

/// The reading and writing members of a connected stream, shared by tcp_stream and unix_stream
/// (see tcp_stream for the rules: one reader at a time, writers served in call order, a stream
/// belongs to its context, dropping it closes it). Move-only, and made only as one of those: they add how a
/// stream is made (connect, adopt, accept) and what is particular to the family (TCP_NODELAY
/// and endpoints; a path).
class stream_socket {
 public:
  stream_socket(const stream_socket&) = delete;
  stream_socket& operator=(const stream_socket&) = delete;

  /// Reads what is there (at least one byte, at most buf.size()); 0 at end of stream. Throws
  /// std::system_error ("recv on 127.0.0.1:9090: Connection reset by peer"), ringo::timed_out
  /// when `timeout` (zero: none) passes first, or operation_cancelled. `buf` must outlive the
  /// co_await.
  [[nodiscard]] detail::read_some_awaiter read_some(
      std::span<std::byte> buf, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());

  /// read_some into any contiguous range of one-byte elements (std::string, std::array<char,
  /// N>, char[N], std::vector<unsigned char>, std::span<char>): up to its size() bytes.
  template <class Buffer>
    requires detail::writable_byte_range<Buffer>
  [[nodiscard]] detail::read_some_awaiter read_some(
      Buffer&& buf, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current()) {
    return read_some(detail::writable_bytes_of(buf), timeout, where);
  }

  /// Reads exactly buf.size() bytes; throws std::system_error (ENODATA: "recv on ...: end
  /// of stream after 3 of 8 bytes") if the stream ends first. `timeout` applies to each read.
  /// Like write_all(parts), the task holds the stream's state from the call on.
  task<void> read_exact(std::span<std::byte> buf, std::chrono::nanoseconds timeout = {},
                        std::source_location where = std::source_location::current());
  /// read_exact into any contiguous range of one-byte elements, as read_some takes them.
  template <class Buffer>
    requires detail::writable_byte_range<Buffer>
  task<void> read_exact(Buffer&& buf, std::chrono::nanoseconds timeout = {},
                        std::source_location where = std::source_location::current()) {
    return read_exact(detail::writable_bytes_of(buf), timeout, where);
  }

  /// Reads the next line: the bytes up to and including the next "\n" (Python's asyncio
  /// StreamReader.readline). At the end of the stream, the last bytes without a "\n", then
  /// an empty string. Throws std::length_error naming `limit` when no "\n" comes within
  /// `limit` bytes, std::invalid_argument for a limit of 0, and as read_some otherwise;
  /// `timeout` (zero: none) bounds the whole call. Mixes with every other read of the stream:
  /// the bytes received past the line, and those of a read_line that ends without its line
  /// (the limit, the timeout, an error, a cancellation: when_any's loser, with_timeout), stay
  /// in the stream for the next read of any kind, none lost and none read twice. Lazy, as a
  /// task<std::string> (to which it converts): nothing is read until it is awaited, once; it
  /// holds the stream's state from the call on. A line already received is taken without
  /// suspending.
  [[nodiscard]] detail::delimited_read_awaiter read_line(
      std::size_t limit = 65536, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current()) {
    detail::stream_state* s = detail::usable_here(s_);
    return detail::delimited_read_awaiter{s != nullptr ? *s : state("read_line"), limit, timeout,
                                          where};
  }
  /// Reads up to and including the next `delimiter` ("\r\n"; asyncio's readuntil). Throws
  /// std::system_error (ENODATA: "recv on ...: end of stream after 12 bytes, before the
  /// delimiter") if the stream ends first, leaving those bytes for the next read;
  /// std::invalid_argument for an empty delimiter or a limit shorter than it; otherwise as
  /// read_line, `limit` counting the delimiter.
  [[nodiscard]] detail::delimited_read_awaiter read_until(
      std::string_view delimiter, std::size_t limit = 65536, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());

  /// Receives the next bytes without copying them: the buffer they landed in (see
  /// received_buffer), empty at end of stream. Errors as read_some.
  [[nodiscard]] detail::receive_awaiter receive(
      std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());

  /// Receives every buffer queued on the stream at once, without copying: at least one, at most
  /// received_buffers::capacity (the rest stay queued for the next call), waiting for the first
  /// if none is there. Empty at end of stream. Errors as read_some; an error that arrives after
  /// some bytes is thrown by the next call, once those bytes were taken. Meant for relaying:
  /// `co_await s.write_all(bufs)` sends the whole batch with one gathered send.
  [[nodiscard]] detail::receive_some_awaiter receive_some(
      std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());

  /// Writes all of `data` (looping on short writes). Never raises SIGPIPE: a vanished peer is
  /// a std::system_error ("send on ...: Broken pipe"). Throws ringo::timed_out if `timeout`
  /// (zero: none; for the whole write, the wait for earlier writes included) passes,
  /// operation_cancelled if cancelled before all was written. Another task's write in progress:
  /// this one waits its turn (writes go out whole, in call order); a close while it waits ends
  /// it with EBADF, none of its bytes sent. `data` must outlive the co_await.
  [[nodiscard]] detail::send_all_awaiter write_all(
      std::span<const std::byte> data, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());
  [[nodiscard]] detail::send_all_awaiter write_all(
      std::string_view text, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current()) {
    return write_all(std::as_bytes(std::span{text.data(), text.size()}), timeout, where);
  }
  /// write_all of any contiguous range of one-byte elements (std::string, std::vector<char>,
  /// std::array<unsigned char, N>, a char[N] buffer whole); a string literal is text, without
  /// its '\0'.
  template <class Bytes>
    requires detail::written_byte_range<Bytes>
  [[nodiscard]] detail::send_all_awaiter write_all(
      Bytes&& data, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current()) {
    return write_all(detail::bytes_of(data), timeout, where);
  }
  /// Writes all the bytes of `parts`, in order, with gathered sends (one sendmsg request for
  /// up to 16 parts). Errors, `timeout` and cancellation as write_all(data); `parts` and
  /// the bytes they view must outlive the co_await. The task holds the stream's state from
  /// the call on: a stream closed or destroyed before it is awaited makes it throw EBADF.
  task<void> write_all(std::span<const std::span<const std::byte>> parts,
                       std::chrono::nanoseconds timeout = {},
                       std::source_location where = std::source_location::current());
  /// Writes all the bytes of a batch from receive_some (of this or another stream) with one
  /// send (gathered when the batch has several buffers). Errors, `timeout` and cancellation as
  /// write_all(data); `bufs` must outlive the co_await.
  [[nodiscard]] detail::send_batch_awaiter write_all(
      const received_buffers& bufs, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());

  /// Shuts the write side down: the peer reads end of stream; reading goes on.
  void shutdown();
  /// Closes the stream through the ring; the stream is empty afterwards. A read or write in
  /// flight in another task fails with EBADF. Throws std::system_error ("close of
  /// 127.0.0.1:9090: ...") if the kernel reports an error; nothing if the stream was empty.
  /// Dropping the returned awaiter without awaiting it closes the descriptor at once.
  [[nodiscard]] detail::stream_close_awaiter close(
      std::source_location where = std::source_location::current());

  [[nodiscard]] bool is_open() const noexcept { return s_ != nullptr; }
  /// The socket descriptor (-1 when empty). The stream still owns it.
  [[nodiscard]] int native_handle() const noexcept { return s_ != nullptr ? s_->fd : -1; }

 protected:
  friend struct detail::stream_access;
  stream_socket() noexcept = default;
  stream_socket(stream_socket&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  stream_socket& operator=(stream_socket&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~stream_socket() { reset(); }

  /// A new state for connected socket `fd` on the current context, or std::logic_error (and
  /// `fd` closed) outside of a loop. `kind` names the stream type in that error.
  void adopt_fd(int fd, detail::socket_name peer, const char* kind);
  /// The state, checked for use: std::logic_error if the stream is empty or used from a
  /// thread that does not run its context. `op` names the member ("read_some").
  detail::stream_state& state(const char* op) const;
  void reset() noexcept {
    if (s_ != nullptr) std::exchange(s_, nullptr)->orphan(true);
  }

  detail::stream_state* s_ = nullptr;
};

}  // namespace ringo::net
