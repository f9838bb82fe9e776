#pragma once
// The awaiters behind a connected stream's reads, writes and close (tcp_stream, unix_stream: see
// net/stream_socket.hpp), over the stream's state (detail/stream_state.hpp).
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <span>
#include <string>

#include <ringo/detail/close_awaiter.hpp>
#include <ringo/detail/io_awaiter.hpp>
#include <ringo/detail/socket_name.hpp>
#include <ringo/detail/stream_state.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/timer_node.hpp>
#include <ringo/detail/write_turn.hpp>
#include <ringo/net/received_buffer.hpp>
#include <ringo/net/received_buffers.hpp>

namespace ringo::detail {

/// A read from a stream: served from the standing receive's queue when it has something,
/// else parks the task as the stream's reader (with lent buffers) or submits a one-shot
/// receive (without them, or when the ring ran dry). The one-shot receive goes out in the
/// stream's own request record, the standing receive's, which is idle whenever a one-shot
/// receive is needed: so the awaiter carries no request of its own (an idle connection's task
/// waits in one, and g++ gives every co_await of a coroutine its own awaiter in the frame).
/// While it is in flight the stream's `reader` names this awaiter, closed stream or not, and
/// the task resumes only after its completion. It holds the stream's state until it is
/// destroyed, so that it can name the peer when it fails even after the stream was closed under
/// it; it keeps no copy of the peer.
class stream_read_awaiter : protected suspension, protected timer_node {
 public:
  stream_read_awaiter(const stream_read_awaiter&) = delete;
  stream_read_awaiter& operator=(const stream_read_awaiter&) = delete;

  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);

  stream_read_awaiter(stream_state& s, std::span<std::byte> into, bool whole_buffer,
                      std::chrono::nanoseconds limit, std::source_location where) noexcept
      : suspension(where), s_(&s), into_(into), whole_buffer_(whole_buffer) {
    // Until the read starts, the timer's deadline holds the read's time limit (zero: none).
    deadline = std::chrono::steady_clock::time_point{
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit)};
    s.hold();
  }
  /// Moves a read that has not been awaited, as when_any, when_all and with_timeout do when
  /// they take it into a task of their own: the new awaiter holds the stream too (the old one
  /// lets go when destroyed). A read that has started never moves: the stream names it as its
  /// reader.
  stream_read_awaiter(stream_read_awaiter&& o) noexcept
      : suspension(o.where), s_(o.s_), into_(o.into_), whole_buffer_(o.whole_buffer_) {
    deadline = o.deadline;  // the time limit, until the read starts
    s_->hold();
  }

 protected:
  ~stream_read_awaiter() { s_->unhold(); }

  /// read_some's result: bytes copied into the caller's span (0 at end of stream).
  std::size_t take_bytes();
  /// receive()'s result: the buffer itself (empty at end of stream).
  net::received_buffer take_buffer();
  /// receive_some()'s result: every buffer queued, up to received_buffers::capacity.
  net::received_buffers take_buffers();
  /// fill_awaiter's result (see there).
  std::size_t take_fill();
  /// Makes the read ignore the stream's unread area (fill_awaiter, which adds to it).
  void read_past_unread() noexcept { past_unread_ = true; }

 private:
  friend class stream_state;
  enum class mode : std::uint8_t { ready, waiting, oneshot };

  /// The read's time limit, kept in the timer's deadline until the read starts.
  [[nodiscard]] std::chrono::nanoseconds limit() const noexcept {
    return deadline.time_since_epoch();
  }
  /// Submits a one-shot receive into the caller's span or the stream's own buffer, in the
  /// stream's request record, and makes this awaiter the stream's reader.
  void start_oneshot();
  /// From the stream: an event was queued for the waiting reader, or the standing receive
  /// ran out of buffers and this reader must fetch its bytes itself.
  void wake_reader() noexcept;
  void switch_to_oneshot() noexcept;
  /// From the stream: it is being destroyed or closed under this reader. True if the reader
  /// stays the stream's reader until its one-shot receive completes.
  bool detach() noexcept;
  /// Throws for a read that was cancelled, timed out or cut off; true if the result is a
  /// one-shot receive's res_.
  bool check_outcome();
  /// A one-shot receive's res_ bytes, cancelled as they came, go back to the stream's unread
  /// area; false when no memory is left for them (the read returns them then).
  bool give_back_received() noexcept;
  /// For a one-shot receive into the stream's own buffer: true when own_ holds res_ bytes to
  /// lend out (counted in the stream's `lent`); false at end of stream (the buffer goes back
  /// to the stream) or when the stream was closed under the read.
  bool lend_own_buffer() noexcept;
  /// Looks at the queue's front: true at end of stream (taken from the queue, or read before),
  /// false when it holds bytes; throws for a queued error.
  bool at_end_of_queue();
  /// Throws for the error event at the front of the queue.
  [[noreturn]] void throw_queued_error();
  /// The bytes of the stream's unread area, taken, in a buffer of the stream's own.
  std::unique_ptr<std::byte[]> take_unread(std::size_t& size);
  [[noreturn]] void throw_closed() const;
  std::string what() const;

  static void on_oneshot(io_operation& op, int res, std::uint32_t flags,
                         std::uint32_t buffer) noexcept;
  static void on_cancel_read(wait_node& n) noexcept;
  static void on_deadline(timer_node& t) noexcept;
  static void describe_read(const wait_node& n, std::string& out);

  stream_state* s_;  // held (hold/unhold): valid, if orphaned, until this awaiter ends
  std::span<std::byte> into_;
  std::unique_ptr<std::byte[]> own_;  // the stream's buffer during a one-shot receive()
  int res_ = 0;
  mode mode_ = mode::ready;
  // Two bits of one byte: an idle connection's task waits in this awaiter.
  bool whole_buffer_ : 1;
  bool past_unread_ : 1 = false;
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

/// read_line's and read_until's wait for more bytes (lib/net/stream_lines.cpp), past those of
/// the unread area: with lent buffers, until the queue has some (left there for the caller
/// to take); else a one-shot receive into `into`, the free end of the unread area. Returns the
/// bytes received into `into`, 0 at end of stream, or queued_bytes.
class fill_awaiter final : public stream_read_awaiter {
 public:
  static constexpr std::size_t queued_bytes = static_cast<std::size_t>(-1);
  fill_awaiter(stream_state& s, std::span<std::byte> into, std::chrono::nanoseconds limit,
               std::source_location where) noexcept
      : stream_read_awaiter(s, into, false, limit, where) {
    read_past_unread();
  }
  std::size_t await_resume() { return take_fill(); }
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
  /// Moves a write that has not been awaited (see stream_read_awaiter's): it holds the stream
  /// too. A write in flight or in the line never moves: the stream points at it.
  stream_send_awaiter(stream_send_awaiter&& o) noexcept
      : io_awaiter(std::move(o)),
        s_(o.s_),
        left_(o.left_),
        gathered_(o.gathered_),
        keeps_turn_(o.keeps_turn_) {
    if (gathered_) {
      parts_ = o.parts_;
    } else {
      end_ = o.end_;
    }
    s_->hold();
  }

  bool await_ready() const noexcept { return left_ == 0; }
  void await_resume();

 protected:
  struct parts;  // a gathered write's iovecs and msghdr (lib/net/stream_write.cpp)

  /// `until`: the whole write's deadline.
  stream_send_awaiter(stream_state& s, op_deadline until, std::source_location where) noexcept;
  ~stream_send_awaiter();

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
  /// Takes the stream's write turn, or waits in its line for it (see write_turn), then submits
  /// the first send; parks the task. False (do not suspend) when a cancellation is due or the
  /// deadline already passed, which await_resume then throws.
  bool begin(std::coroutine_handle<> h);

  stream_state* s_;
  std::size_t left_ = 0;  // bytes not yet sent

  /// The turn stays with this awaiter from one send to the next (write_all(parts) sends its
  /// parts in several, which must not let another write in between); its destructor passes it.
  void keep_turn() noexcept { keeps_turn_ = true; }

 private:
  friend class stream_state;
  /// The whole write's deadline, kept in the timer's.
  [[nodiscard]] op_deadline until() const noexcept { return op_deadline::at_point(deadline); }

  // Its place in the stream's line of writers, made only when it waits there (found again by
  // its owner: a pointer to it would cost every write awaiter in every frame 8 bytes).
  struct queued;

  /// Submits the first send once the turn is this write's, or ends the write (the deadline
  /// passed, no memory). False when it ended.
  bool send_first() noexcept;
  /// Waits in the line: false (do not suspend) when a cancellation is due or the deadline
  /// passed.
  bool wait_turn(std::coroutine_handle<> h);
  /// Passes the turn on unless the write keeps it.
  void end_turn() noexcept;
  void leave_line() noexcept;
  void free_place(queued& q) noexcept;
  static void on_turn(turn_waiter& w) noexcept;
  static void on_dropped(turn_waiter& w, int err) noexcept;
  static void on_cancel_queued(wait_node& n) noexcept;
  static void describe_queued(const wait_node& n, std::string& out);
  void prepare_send() noexcept;
  void consume(std::size_t n) noexcept;
  /// From the stream: it is being destroyed or closed under this write. The send in flight
  /// is cancelled and nothing more is sent: the descriptor number may soon name another
  /// connection.
  void detach() noexcept;
  /// The write is over (done, failed, cut off): the stream has no writer, the task resumes.
  void finish() noexcept;
  static void on_sent(io_operation& op, int res, std::uint32_t flags,
                      std::uint32_t buffer) noexcept;
  static void describe_send(const wait_node& n, std::string& out);

  union {
    const std::byte* end_;  // one run: where it ends (the rest is its last left_ bytes)
    parts* parts_;          // gathered
  };
  bool gathered_ = false;
  bool failed_to_continue_ = false;  // no memory to submit a send
  bool timed_out_early_ = false;     // the deadline passed before the first send
  bool detached_ = false;            // the stream was closed under the write
  bool owns_turn_ = false;           // the write holds the stream's write turn
  bool keeps_turn_ = false;          // see keep_turn()
  bool in_line_ = false;             // it waits in the line
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
  stream_close_awaiter(int fd, socket_name peer, std::source_location where) noexcept
      : close_awaiter(fd, &name, where), peer_(std::move(peer)) {}

 private:
  static void name(const close_awaiter& self, std::string& out);

  socket_name peer_;
};

}  // namespace ringo::detail
