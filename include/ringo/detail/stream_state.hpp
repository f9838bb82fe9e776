#pragma once
// What a connected stream (TCP or Unix) keeps on the heap (a socket_state): its peer, the one
// standing receive that stays armed with lent buffers and the completions that arrived
// while no one was reading, the reader and writer in flight, and the line of writers waiting
// their turn. One allocation per connection, none per read. An idle connection costs this
// state (192 bytes) and its task's frame: the awaiters keep a pointer to the state rather
// than copies of the peer, and name it only when they fail.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <ringo/detail/io_operation.hpp>
#include <ringo/detail/socket_name.hpp>
#include <ringo/detail/socket_state.hpp>
#include <ringo/detail/unread_area.hpp>
#include <ringo/detail/write_turn.hpp>

namespace ringo {
class io_context;
}

namespace ringo::detail {

class stream_read_awaiter;
class stream_send_awaiter;

/// One completion of the standing receive waiting to be read.
struct recv_event {
  int result;            // > 0: bytes in `buffer`; 0: end of stream; < 0: -errno
  std::uint32_t buffer;  // the lent buffer holding the bytes (the backend's handle)
};
static_assert(sizeof(recv_event) == 8, "a queued completion stays two words of an idle stream");

class stream_state final : public socket_state<stream_state> {
 public:
  stream_state(io_context& ctx, int fd, socket_name peer) noexcept;

  /// Called when the stream lets go (destroyed, or closing): gives queued buffers back, lets
  /// the reader and the writer in flight go (their requests are cancelled: no part of a write
  /// goes out once the descriptor number may be reused), cancels the standing receive, and
  /// frees the state now or when the last thing that refers to it is done. Closes the
  /// descriptor when `close_fd`.
  void orphan(bool close_fd) noexcept;

  // ---- the receive queue: events in arrival order, then a failure, if one happened ----
  [[nodiscard]] bool has_event() const noexcept { return queued() != 0; }
  [[nodiscard]] std::size_t queued() const noexcept {
    return queued_events() + (failure_.result != 0 ? 1 : 0);
  }
  [[nodiscard]] recv_event& front() noexcept {
    if (ring_count_ != 0) return ring_[ring_head_];
    return overflowed() != 0 ? extras_->overflow[extras_->overflow_head] : failure_;
  }
  void pop() noexcept;
  /// Queues an event; false when no memory was left for it (nothing was queued).
  [[nodiscard]] bool push(recv_event e) noexcept;
  /// Ends the queue with error `err` (-errno): what comes after is dropped, the reader takes
  /// the error once the events before it are read. Allocates nothing.
  void fail(int err) noexcept {
    if (failure_.result == 0) failure_ = {err, 0};
    pause();
  }

  // ---- how a read gets its bytes ----
  /// Whether the next read waits for the standing receive (the backend lends buffers, has not
  /// run dry under this stream, and reads are not exact), rather than take a one-shot receive
  /// into the reader's buffer (or the stream's own).
  [[nodiscard]] bool reads_standing() const noexcept {
    return lent_buffers_ && !starved && !exact_reads_;
  }
  /// From now on, reads take one-shot receives of the size asked for, so that no byte past
  /// what was asked leaves the socket (a TLS handshake that will hand its keys to the kernel
  /// reads record by record). False, and nothing changes, when the stream has read ahead
  /// already: its standing receive is armed, or bytes or the end wait in its queue.
  [[nodiscard]] bool begin_exact_reads() noexcept {
    if (armed || has_event() || eof) return false;
    exact_reads_ = true;
    return true;
  }
  void end_exact_reads() noexcept { exact_reads_ = false; }
  /// Whether the queue's front holds bytes a read takes without waiting (not an end of the
  /// stream or an error, which a read meets after the bytes before it).
  [[nodiscard]] bool bytes_queued() noexcept { return has_event() && front().result > 0; }

  socket_name peer;      // the peer's endpoint (TCP) or the socket's path (Unix), for messages
  bool starved = false;  // the standing receive ended with -ENOBUFS: no buffer to lend
  bool eof = false;      // end of stream was read

 private:
  bool lent_buffers_;         // the backend offers the standing receive (provided_buffers)
  bool exact_reads_ = false;  // see begin_exact_reads

 public:
  std::uint32_t front_offset = 0;  // bytes of the front event already read
  /// The task reading: waiting for the standing receive's next completion, or for a one-shot
  /// receive in this state's request record (then until that completes, even once orphaned).
  stream_read_awaiter* reader = nullptr;
  /// The send in flight (of the write holding the turn).
  stream_send_awaiter* writer = nullptr;
  /// The writers: the one holding the turn, and those waiting their turn in call order.
  write_turn turn;

  /// The receive() buffer without lent buffers, kept for the next one-shot receive: taken
  /// (empty if none is kept), and given back (kept if none is, else freed; also freed when no
  /// memory is left to keep it: it is only a cache).
  [[nodiscard]] std::unique_ptr<std::byte[]> take_spare() noexcept {
    return extras_ ? std::move(extras_->spare) : nullptr;
  }
  void keep_spare(std::unique_ptr<std::byte[]> buffer) noexcept;

  /// Whether bytes wait in the unread area (what read_line or read_until gathered and left):
  /// every read takes them before the queue's.
  [[nodiscard]] bool has_unread() const noexcept { return extras_ && !extras_->unread.empty(); }
  /// The unread area, made on first use (std::bad_alloc when it cannot be).
  [[nodiscard]] unread_area& unread() {
    if (!extras_) extras_ = std::make_unique<extras>();
    return extras_->unread;
  }

  /// Completions queued past this many pause the standing receive, so that a stream no one
  /// reads leaves its bytes in the socket (and TCP's window) rather than in the shared ring.
  static constexpr std::size_t pause_at = 8;

 private:
  friend class socket_state<stream_state>;
  friend class stream_read_awaiter;
  friend void return_spare_buffer(stream_state&, std::unique_ptr<std::byte[]>) noexcept;

  /// Completions queued, the failure aside.
  [[nodiscard]] std::size_t queued_events() const noexcept {
    return ring_count_ + overflowed();
  }
  [[nodiscard]] std::size_t overflowed() const noexcept {
    return extras_ ? extras_->overflow.size() - extras_->overflow_head : 0;
  }
  /// Makes the request record the standing receive's again after a one-shot receive.
  void restore_standing() noexcept;
  static void on_recv(io_operation& op, int res, std::uint32_t flags,
                      std::uint32_t buffer) noexcept;
  // A reader usually takes each completion in the loop turn it arrives in, and receive_some
  // takes all queued ones at once: four inline entries cover that, and the overflow takes a
  // burst (up to pause_at and what races the pause) without costing every connection 16 slots.
  static constexpr std::uint8_t inline_capacity = 4;
  std::array<recv_event, inline_capacity> ring_{};
  std::uint8_t ring_head_ = 0;
  std::uint8_t ring_count_ = 0;
  // What most connections never need, behind one pointer made on first use, so that they pay
  // 8 bytes for it: the completions that found the inline ring full (grown on demand, kept for
  // the next burst; every event in the ring is older than every event in the overflow), and
  // the spare receive() buffer of a stream without lent buffers, and the unread area of
  // a stream read by lines.
  struct extras {
    std::vector<recv_event> overflow;
    std::size_t overflow_head = 0;  // the first overflow event not yet read
    std::unique_ptr<std::byte[]> spare;
    unread_area unread;
  };
  std::unique_ptr<extras> extras_;
  recv_event failure_{0, 0};  // result < 0 once the queue ended with an error
};

}  // namespace ringo::detail
