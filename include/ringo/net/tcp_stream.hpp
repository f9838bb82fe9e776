#pragma once
/// \file
/// ringo::net::tcp_stream: a connected TCP socket whose reads and writes suspend the calling
/// task, never the thread.
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <string_view>

#include <ringo/detail/close_awaiter.hpp>
#include <ringo/detail/io_awaiter.hpp>
#include <ringo/detail/stream_state.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/timer_node.hpp>
#include <ringo/net/endpoint.hpp>
#include <ringo/net/received_buffer.hpp>
#include <ringo/net/received_buffers.hpp>
#include <ringo/task.hpp>

namespace ringo::net {
class tcp_stream;
}

namespace ringo::detail {

/// A read from a stream: served from the multishot receive's queue when it has something,
/// else parks the task as the stream's reader (with provided buffers) or submits a one-shot
/// receive owned by this awaiter (without them, or when the ring ran dry). It holds the stream's
/// state until it is destroyed, so that it can name the peer when it fails even after the stream
/// was closed under it; it keeps no copy of the peer (an idle connection's task waits in one).
class stream_read_awaiter : protected suspension, protected timer_node, protected io_operation {
 public:
  stream_read_awaiter(const stream_read_awaiter&) = delete;
  stream_read_awaiter& operator=(const stream_read_awaiter&) = delete;

  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);

  stream_read_awaiter(stream_state& s, std::span<std::byte> into, bool whole_buffer,
                      std::chrono::nanoseconds limit, std::source_location where) noexcept
      : suspension(where), s_(&s), into_(into), whole_buffer_(whole_buffer) {
    timeout = limit;  // the read's deadline until the read starts (io_operation's own field)
    s.hold();
  }

 protected:
  ~stream_read_awaiter() { s_->unhold(); }

  /// read_some's result: bytes copied into the caller's span (0 at end of stream).
  std::size_t take_bytes();
  /// receive()'s result: the buffer itself (empty at end of stream).
  net::received_buffer take_buffer();
  /// receive_some()'s result: every buffer queued, up to received_buffers::capacity.
  net::received_buffers take_buffers();

 private:
  friend class stream_state;
  enum class mode : std::uint8_t { ready, waiting, oneshot };

  /// Submits a one-shot receive into the caller's span or the stream's own buffer.
  void start_oneshot(std::chrono::nanoseconds limit);
  /// From the stream: an event was queued for the waiting reader, or the multishot receive
  /// ran out of buffers and this reader must fetch its bytes itself.
  void wake_reader() noexcept;
  void switch_to_oneshot() noexcept;
  /// From the stream: it is being destroyed or closed under this reader.
  void detach() noexcept;
  /// Throws for a read that was cancelled, timed out or cut off; true if the result is a
  /// one-shot receive's res_.
  bool check_outcome();
  /// For a one-shot receive into the stream's own buffer: true when own_ holds res_ bytes to
  /// lend out (counted in the stream's `lent`); false at end of stream (the buffer goes back
  /// to the stream) or when the stream was closed under the read.
  bool lend_own_buffer() noexcept;
  /// Looks at the queue's front: true at end of stream (taken from the queue, or read before),
  /// false when it holds bytes; throws for a queued error.
  bool at_end_of_queue();
  /// Throws for the error event at the front of the queue.
  [[noreturn]] void throw_queued_error();
  [[noreturn]] void throw_closed() const;
  std::string what() const;

  static void on_oneshot(io_operation& op, int res, std::uint32_t flags,
                         std::uint16_t buffer) noexcept;
  static void on_cancel_read(wait_node& n) noexcept;
  static void on_deadline(timer_node& t) noexcept;
  static void describe_read(const wait_node& n, std::string& out);

  stream_state* s_;  // held (hold/unhold): valid, if orphaned, until this awaiter ends
  std::span<std::byte> into_;
  std::unique_ptr<std::byte[]> own_;  // the stream's buffer during a one-shot receive()
  int res_ = 0;
  mode mode_ = mode::ready;
  bool whole_buffer_;
  bool deadline_passed_ = false;
  bool detached_ = false;
};

class read_some_awaiter final : public stream_read_awaiter {
 public:
  using stream_read_awaiter::stream_read_awaiter;
  std::size_t await_resume() { return take_bytes(); }
};

class receive_awaiter final : public stream_read_awaiter {
 public:
  using stream_read_awaiter::stream_read_awaiter;
  net::received_buffer await_resume() { return take_buffer(); }
};

class receive_some_awaiter final : public stream_read_awaiter {
 public:
  using stream_read_awaiter::stream_read_awaiter;
  net::received_buffers await_resume() { return take_buffers(); }
};

/// What the write awaiters share. The bytes still to send are either one run that ends at
/// `end_` or, for a gathered write, the iovecs of a `parts` block, sent with sendmsg while
/// several are left and with a plain send for the last. A short write is continued from the
/// completion handler, without waking the task, so the task resumes once per write. Holds the
/// stream's state for its error messages, as a read does; keeps no copy of the peer.
class stream_send_awaiter : protected io_awaiter {
 public:
  stream_send_awaiter(const stream_send_awaiter&) = delete;
  stream_send_awaiter& operator=(const stream_send_awaiter&) = delete;

  bool await_ready() const noexcept { return left_ == 0; }
  void await_resume();

 protected:
  struct parts;  // a gathered write's iovecs and msghdr (lib/net_tcp_stream.cpp)

  /// `until`: the whole write's deadline, or a default time point for none.
  stream_send_awaiter(stream_state& s, std::chrono::steady_clock::time_point until,
                      std::source_location where) noexcept;
  ~stream_send_awaiter() { s_->unhold(); }

  /// The bytes to send: one run, or the iovecs of `p` (which must outlive the write; left_
  /// is then kept by the caller).
  void send_run(std::span<const std::byte> data) noexcept {
    end_ = data.data() + data.size();
    gathered_ = false;
    left_ = data.size();
  }
  void send_gathered(parts& p) noexcept {
    parts_ = &p;
    gathered_ = true;
  }
  /// Submits the first send and parks the task; false (do not suspend) when a cancellation is
  /// due or the deadline already passed, which await_resume then throws.
  bool begin(std::coroutine_handle<> h);

  stream_state* s_;
  std::chrono::steady_clock::time_point until_;
  std::size_t left_ = 0;  // bytes not yet sent

 private:
  friend class stream_state;
  void prepare_send() noexcept;
  void consume(std::size_t n) noexcept;
  /// From the stream: it is being destroyed or closed under this write. The send in flight
  /// is cancelled and nothing more is sent: the descriptor number may soon name another
  /// connection.
  void detach() noexcept;
  /// The write is over (done, failed, cut off): the stream has no writer, the task resumes.
  void finish() noexcept;
  static void on_sent(io_operation& op, int res, std::uint32_t flags,
                      std::uint16_t buffer) noexcept;
  static void describe_send(const wait_node& n, std::string& out);

  union {
    const std::byte* end_;  // one run: where it ends (the rest is its last left_ bytes)
    parts* parts_;          // gathered
  };
  bool gathered_ = false;
  bool failed_to_continue_ = false;  // no memory to submit the rest of a short write
  bool timed_out_early_ = false;     // the deadline passed before the first send
  bool detached_ = false;            // the stream was closed under the write
};

/// write_all(span): the span's bytes.
class send_all_awaiter final : public stream_send_awaiter {
 public:
  send_all_awaiter(stream_state& s, std::span<const std::byte> data, std::chrono::nanoseconds limit,
                   std::source_location where) noexcept;
  bool await_suspend(std::coroutine_handle<> h) { return begin(h); }
};

/// write_all(received_buffers): the batch's buffers sent in order. One buffer (the common case
/// when a reader keeps up) is a plain send straight from it; for several, the iovecs and msghdr
/// come from the frame allocator only then, so the awaiter stays as small as send_all_awaiter
/// in the frame of the task that awaits it.
class send_batch_awaiter final : public stream_send_awaiter {
 public:
  send_batch_awaiter(stream_state& s, const net::received_buffers& bufs,
                     std::chrono::nanoseconds limit, std::source_location where) noexcept;
  ~send_batch_awaiter();
  bool await_suspend(std::coroutine_handle<> h);

 private:
  struct batch_parts;

  const net::received_buffers* bufs_;
  batch_parts* own_ = nullptr;
};

/// close(): the stream's descriptor closed through the ring. Keeps the peer (not a formatted
/// message) for an error, so a close that succeeds allocates nothing.
class stream_close_awaiter final : public close_awaiter {
 public:
  stream_close_awaiter(int fd, const net::endpoint& peer, std::source_location where) noexcept
      : close_awaiter(fd, &name, where), peer_(peer) {}

 private:
  static void name(const close_awaiter& self, std::string& out);

  net::endpoint peer_;
};

}  // namespace ringo::detail

namespace ringo::net {

/// A connected TCP socket. Move-only; belongs to the io_context it was made on, and must not
/// outlive it: using it from a thread that does not run that context is a std::logic_error.
/// One task may read and another write at the same time; two concurrent reads, or two
/// concurrent writes (whose bytes would interleave), are a std::logic_error. Every awaiting
/// task resumes on its own context. Destroying an open stream closes it: its pending requests
/// are cancelled and its descriptor is closed through the ring behind them, in the loop's next
/// turn (at once when the loop is not running); co_await close() to wait for the close and
/// learn its error. Either way a read or write in flight in another task fails with EBADF (or
/// keeps what it completed before), and no byte of a write is sent after the close, on this
/// connection or on the next one to get its descriptor number. Destroy a stream on its
/// context's thread.
///
/// With provided buffers (io_context::features().provided_buffers) the stream arms one
/// multishot receive on its first read and keeps it armed: bytes arrive in buffers of the
/// context's shared ring, and an idle connection holds none.
class tcp_stream {
 public:
  /// An empty stream (not connected).
  tcp_stream() noexcept = default;
  tcp_stream(tcp_stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  tcp_stream& operator=(tcp_stream&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  tcp_stream(const tcp_stream&) = delete;
  tcp_stream& operator=(const tcp_stream&) = delete;
  ~tcp_stream() { reset(); }

  /// Connects to `to`. Throws std::system_error naming the endpoint ("connect to
  /// 127.0.0.1:1: Connection refused"), ringo::timed_out after `timeout` (zero: none), or
  /// operation_cancelled. Resumes on the calling task's context.
  static task<tcp_stream> connect(endpoint to, std::chrono::nanoseconds timeout = {},
                                  std::source_location where = std::source_location::current());

  /// Takes ownership of connected socket `fd` (peer `peer`) on the current context.
  static tcp_stream adopt(int fd, const endpoint& peer);

  /// Reads what is there (at least one byte, at most buf.size()); 0 at end of stream. Throws
  /// std::system_error ("recv on 127.0.0.1:9090: Connection reset by peer"), ringo::timed_out
  /// when `timeout` (zero: none) passes first, or operation_cancelled. `buf` must outlive the
  /// co_await.
  [[nodiscard]] detail::read_some_awaiter read_some(
      std::span<std::byte> buf, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());

  /// Reads exactly buf.size() bytes; throws std::system_error (ENODATA: "recv on ...: end
  /// of stream after 3 of 8 bytes") if the stream ends first. `timeout` applies to each read.
  /// Like write_all(parts), the task holds the stream's state from the call on.
  task<void> read_exact(std::span<std::byte> buf, std::chrono::nanoseconds timeout = {},
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
  /// (zero: none; for the whole write) passes, operation_cancelled if cancelled before all was
  /// written. `data` must outlive the co_await.
  [[nodiscard]] detail::send_all_awaiter write_all(
      std::span<const std::byte> data, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current());
  [[nodiscard]] detail::send_all_awaiter write_all(
      std::string_view text, std::chrono::nanoseconds timeout = {},
      std::source_location where = std::source_location::current()) {
    return write_all(std::as_bytes(std::span{text.data(), text.size()}), timeout, where);
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

  /// Turns Nagle's algorithm off (true) or on.
  void set_nodelay(bool on);
  [[nodiscard]] endpoint remote_endpoint() const;
  [[nodiscard]] endpoint local_endpoint() const;
  [[nodiscard]] bool is_open() const noexcept { return s_ != nullptr; }
  /// The socket descriptor (-1 when empty). The stream still owns it.
  [[nodiscard]] int native_handle() const noexcept { return s_ != nullptr ? s_->fd : -1; }

 private:
  detail::stream_state& state(const char* op) const;
  void reset() noexcept {
    if (s_ != nullptr) std::exchange(s_, nullptr)->orphan(true);
  }

  detail::stream_state* s_ = nullptr;
};

}  // namespace ringo::net
