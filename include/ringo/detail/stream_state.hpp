#pragma once
// What a connected TCP stream keeps on the heap: its descriptor, its peer, and, with provided
// buffers, the one multishot receive that stays armed and the completions that arrived while
// no one was reading. One allocation per connection, none per read; the stream object itself
// only holds a pointer, so it can move while the kernel writes into the state. An idle
// connection costs this state (about 220 bytes) and its task's frame: the awaiters keep a
// pointer to the state rather than copies of the peer, and name it only when they fail.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <ringo/detail/reactor.hpp>
#include <ringo/net/endpoint.hpp>

namespace ringo {
class io_context;
}

namespace ringo::detail {

class stream_read_awaiter;

/// One completion of the multishot receive waiting to be read.
struct recv_event {
  int result;            // > 0: bytes in `buffer`; 0: end of stream; < 0: -errno
  std::uint16_t buffer;  // the provided buffer holding the bytes
};

class stream_state final : public io_operation {
 public:
  stream_state(io_context& ctx, int fd, const net::endpoint& peer) noexcept;
  stream_state(const stream_state&) = delete;
  stream_state& operator=(const stream_state&) = delete;

  /// Called when the stream lets go (destroyed, or closing): gives queued buffers back, fails a
  /// waiting reader, cancels the multishot receive, and frees the state now or at the
  /// receive's final completion. Closes the descriptor when `close_fd`.
  void orphan(bool close_fd) noexcept;

  // ---- the receive queue ----
  [[nodiscard]] bool has_event() const noexcept { return queued() != 0; }
  [[nodiscard]] std::size_t queued() const noexcept {
    return ring_count_ + (overflow_.size() - overflow_head_);
  }
  [[nodiscard]] recv_event& front() noexcept {
    return ring_count_ != 0 ? ring_[ring_head_] : overflow_[overflow_head_];
  }
  void pop() noexcept;
  void push(recv_event e);

  /// Arms the multishot receive.
  void arm();
  /// Frees the state if nothing holds it any more.
  void free_if_unused() noexcept;

  /// An awaiter (read, write) that refers to the state takes a hold for its lifetime, so that
  /// the peer is still there for its error message after the stream let go.
  void hold() noexcept { ++users; }
  void unhold() noexcept {
    --users;
    free_if_unused();
  }

  // The descriptor is io_operation::fd.
  io_context* context;
  reactor* ring;  // the context's backend: completions may arrive while the context winds down
  net::endpoint peer;
  bool armed = false;              // the multishot receive is in the kernel
  bool pausing = false;            // we cancelled it to stop taking buffers while nobody reads
  bool starved = false;            // its last run ended because the ring had no buffer
  bool eof = false;                // end of stream was read
  bool orphaned = false;           // no stream refers to the state any more
  std::uint32_t front_offset = 0;  // bytes of the front event already read
  unsigned lent = 0;               // own receive buffers out in received_buffers
  unsigned users = 0;              // awaiters that hold the state (hold/unhold)
  stream_read_awaiter* reader = nullptr;
  std::unique_ptr<std::byte[]> spare;  // the receive() buffer without provided buffers

  /// Completions queued past this many pause the multishot receive, so that a stream no one
  /// reads leaves its bytes in the socket (and TCP's window) rather than in the shared ring.
  static constexpr std::size_t pause_at = 8;

 private:
  static void on_recv(io_operation& op, int res, std::uint32_t flags,
                      std::uint16_t buffer) noexcept;
  // A reader usually takes each completion in the loop turn it arrives in, and receive_some
  // takes all queued ones at once: four inline entries cover that, and the overflow takes a
  // burst (up to pause_at and what races the pause) without costing every connection 16 slots.
  static constexpr std::uint8_t inline_capacity = 4;
  std::array<recv_event, inline_capacity> ring_{};
  std::uint8_t ring_head_ = 0;
  std::uint8_t ring_count_ = 0;
  std::uint32_t overflow_head_ = 0;
  // Completions that found the inline ring full: grown on demand, kept for the next burst.
  // Every event in the ring is older than every event in the overflow.
  std::vector<recv_event> overflow_;
};

}  // namespace ringo::detail
