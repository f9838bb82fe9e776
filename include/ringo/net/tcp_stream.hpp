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
#include <ringo/task.hpp>

namespace ringo::net {
class tcp_stream;
}

namespace ringo::detail {

/// A read from a stream: served from the multishot receive's queue when it has something,
/// else parks the task as the stream's reader (with provided buffers) or submits a one-shot
/// receive owned by this awaiter (without them, or when the ring ran dry).
class stream_read_awaiter : protected suspension, protected timer_node, protected io_operation {
 public:
  stream_read_awaiter(const stream_read_awaiter&) = delete;
  stream_read_awaiter& operator=(const stream_read_awaiter&) = delete;

  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);

  stream_read_awaiter(stream_state& s, std::span<std::byte> into, bool whole_buffer,
                      std::chrono::nanoseconds limit, std::source_location where) noexcept
      : suspension(where), s_(&s), into_(into), limit_(limit), whole_buffer_(whole_buffer) {}

 protected:
  ~stream_read_awaiter() = default;

  /// read_some's result: bytes copied into the caller's span (0 at end of stream).
  std::size_t take_bytes();
  /// receive()'s result: the buffer itself (empty at end of stream).
  net::received_buffer take_buffer();

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
  [[noreturn]] void throw_closed() const;
  std::string what() const;

  static void on_oneshot(io_operation& op, int res, std::uint32_t flags,
                         std::uint16_t buffer) noexcept;
  static void on_cancel_read(wait_node& n) noexcept;
  static void on_deadline(timer_node& t) noexcept;
  static void describe_read(const wait_node& n, std::string& out);

  stream_state* s_;
  std::span<std::byte> into_;
  std::unique_ptr<std::byte[]> own_;  // the stream's buffer during a one-shot receive()
  std::chrono::nanoseconds limit_;
  net::endpoint peer_;  // kept for messages once detached
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

/// write_all: one-shot sends of the rest of the span until all of it is written. A short
/// write is continued from the completion handler, without waking the task.
class send_all_awaiter final : io_awaiter {
 public:
  send_all_awaiter(int fd, const net::endpoint& peer, std::span<const std::byte> data,
                   std::chrono::nanoseconds limit, std::source_location where) noexcept
      : io_awaiter(where), peer_(peer), rest_(data), limit_(limit) {
    this->fd = fd;
  }
  bool await_ready() const noexcept { return rest_.empty(); }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  void prepare_send() noexcept;
  static void on_sent(io_operation& op, int res, std::uint32_t flags,
                      std::uint16_t buffer) noexcept;
  static void describe_send(const wait_node& n, std::string& out);

  net::endpoint peer_;
  std::span<const std::byte> rest_;
  std::chrono::nanoseconds limit_;
  std::chrono::steady_clock::time_point until_{};
  bool failed_to_continue_ = false;
};

}  // namespace ringo::detail

namespace ringo::net {

/// A connected TCP socket. Move-only; belongs to the io_context it was made on, and must not
/// outlive it. One task may read and another write at the same time; two concurrent reads (or
/// two concurrent writes) are a std::logic_error (resp. interleave). Every awaiting task
/// resumes on its own context. Destroying an open stream closes it at once (the kernel is told
/// to drop its pending receive); co_await close() to close it through the ring instead.
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
  task<void> read_exact(std::span<std::byte> buf, std::chrono::nanoseconds timeout = {},
                        std::source_location where = std::source_location::current());

  /// Receives the next bytes without copying them: the buffer they landed in (see
  /// received_buffer), empty at end of stream. Errors as read_some.
  [[nodiscard]] detail::receive_awaiter receive(
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

  /// Shuts the write side down: the peer reads end of stream; reading goes on.
  void shutdown();
  /// Closes the stream through the ring; the stream is empty afterwards. A read waiting in
  /// another task fails with EBADF.
  [[nodiscard]] detail::close_awaiter close(
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
