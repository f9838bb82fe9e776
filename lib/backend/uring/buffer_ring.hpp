#pragma once
// The io_uring backend's provided buffers (private to the library): one buffer ring that the
// kernel picks receive buffers from, and the memory those buffers are carved from.
//
// Two ways the kernel consumes a buffer:
//   - whole: each receive completion takes a buffer for itself, however few bytes it carries;
//     the buffer goes back once its reader gives it back;
//   - incrementally (IOU_PBUF_RING_INC, Linux 6.12): the kernel keeps filling the buffer at
//     the head of the ring from where the last receive stopped, so small messages (of any
//     streams of the context) share one buffer. A completion with IORING_CQE_F_BUF_MORE says
//     the kernel still holds its buffer; the first one without it says the kernel has moved
//     past. The buffer goes back only then, and only once every part of it has been given back.
//
// What crosses the reactor seam is a handle: (offset in the buffer << 16) | buffer id. Whole
// buffers always have offset 0, so the handle is the id; buffers are at most 64 KiB when they
// are consumed incrementally, so every offset fits.
#include <liburing.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

// Liburing 2.3 (Debian 12) predates incremental consumption: the value is the kernel's
// (include/uapi/linux/io_uring.h, Linux 6.12).
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)  // the buffer of this completion is not finished
#endif

namespace ringo::detail {

class uring_buffer_ring {
 public:
  /// The buffer group of every buffer-select request.
  static constexpr std::uint16_t group = 0;
  /// The largest buffer that is consumed incrementally: a part's offset is 16 bits of a handle.
  static constexpr unsigned max_incremental_size = 65536;

  uring_buffer_ring() = default;
  uring_buffer_ring(const uring_buffer_ring&) = delete;
  uring_buffer_ring& operator=(const uring_buffer_ring&) = delete;
  ~uring_buffer_ring();

  /// Maps `count` buffers (a power of two up to 32768: the reactor factory checks) of `size`
  /// bytes (more than 0) and registers them with `ring`, consumed incrementally when
  /// `incremental` is asked, `size` is at most max_incremental_size and the kernel accepts
  /// it (else whole). False when the kernel or the memory refuses the ring altogether (the
  /// backend then receives without provided buffers).
  bool set_up(io_uring& ring, unsigned count, unsigned size, bool incremental);
  [[nodiscard]] bool ready() const noexcept { return ring_ != nullptr; }
  /// Whether the kernel consumes the buffers incrementally.
  [[nodiscard]] bool incremental() const noexcept { return !state_.empty(); }

  /// Which thread gives buffers back straight to the ring (the loop's, once it runs).
  void set_owner(std::thread::id owner) noexcept { owner_ = owner; }

  [[nodiscard]] std::byte* data(std::uint32_t handle) const noexcept {
    return memory_ + std::size_t{handle & id_mask} * size_ + (handle >> offset_shift);
  }
  [[nodiscard]] unsigned size() const noexcept { return size_; }

  /// On the loop's thread, for a completion that names buffer `id` (cqe `flags`) and carries
  /// `bytes` (0 when it carries none): the handle of its part, which the reader gives back.
  [[nodiscard]] std::uint32_t take(std::uint16_t id, int bytes, std::uint32_t flags) noexcept {
    if (state_.empty()) return id;
    // The kernel appended these bytes where the last part of this buffer ended: it commits a
    // buffer's parts in the order it posts their completions (a multishot receive posts each
    // one as it commits it, and only multishot receives select buffers here).
    buffer_state& b = state_[id];
    const std::uint32_t offset = b.filled;
    if (bytes > 0) b.filled += static_cast<std::uint32_t>(bytes);
    ++b.parts;
    // Without IORING_CQE_F_BUF_MORE the kernel has moved past the buffer, but only when the
    // completion carried bytes: one that carries none (end of stream, an error) may name the
    // buffer without the flag while the buffer stays at the ring's head, to be filled on.
    if (bytes > 0 && (flags & IORING_CQE_F_BUF_MORE) == 0) b.kernel_done = true;
    return (offset << offset_shift) | id;
  }

  /// Gives the part `handle` back, from any thread; its buffer goes back to the kernel when
  /// nothing needs it any more. True when the loop must be woken to finish the job (the part
  /// came back on another thread).
  [[nodiscard]] bool give_back(std::uint32_t handle) noexcept {
    const auto id = static_cast<std::uint16_t>(handle & id_mask);
    if (std::this_thread::get_id() != owner_) [[unlikely]] return give_back_later(id);
    release(id, 1);
    return false;
  }
  /// On the loop's thread, each turn: the parts given back on other threads go back.
  void take_back_returned() noexcept {
    // A plain load first: the exchange, a locked instruction, would run on every turn of the
    // loop although buffers almost never come back from other threads. A flag set just after
    // the load is seen on the next turn, which the setter's wake-up brings.
    if (!returned_pending_.load(std::memory_order_relaxed)) return;
    if (!returned_pending_.exchange(false, std::memory_order_acq_rel)) return;
    std::lock_guard lock{returned_mutex_};
    for (const std::uint16_t id : returned_)
      release(id, std::exchange(returned_parts_[id], 0));
    returned_.clear();
  }

  /// The buffer after `id` in a bundle: the kernel takes buffers in ring order, so the
  /// following buffers of a completion are in the ring slots after its first one's. (Whole
  /// buffers only: bundles are not used with incremental consumption.)
  [[nodiscard]] std::uint16_t next_in_bundle(std::uint32_t& slot) const noexcept {
    slot = (slot + 1) & (count_ - 1);
    return ring_->bufs[slot].bid;
  }
  [[nodiscard]] std::uint32_t slot_of(std::uint16_t id) const noexcept { return slot_[id]; }

 private:
  static constexpr std::uint32_t id_mask = 0xffff;
  static constexpr unsigned offset_shift = 16;

  // Incremental consumption, per buffer: the bytes the kernel has filled (the next part's
  // offset), the parts handed out and not given back, and whether the kernel has moved past.
  // Only the loop's thread touches them.
  struct buffer_state {
    std::uint32_t filled = 0;
    std::uint32_t parts = 0;
    bool kernel_done = false;
  };

  // `n` parts of buffer `id` are given back, on the loop's thread.
  void release(std::uint16_t id, std::uint32_t n) noexcept {
    if (state_.empty()) {
      add(id);  // a whole buffer is one part
      return;
    }
    buffer_state& b = state_[id];
    b.parts -= n;
    if (b.parts == 0 && b.kernel_done) {
      b = buffer_state{};
      add(id);
    }
  }

  // Where each buffer goes in the ring is kept, for bundles: a completion names the first
  // buffer it filled, and the others are the ones after it in the ring. The kernel takes
  // buffers in ring order and reports them in that order, and a slot is written again only
  // after every buffer taken before it has been reported, so the slots after a completion's
  // first one still hold its other buffers when it is dispatched.
  void add(std::uint16_t id) noexcept {
    slot_[id] = ring_->tail & (count_ - 1);
    io_uring_buf_ring_add(ring_, memory_ + std::size_t{id} * size_, size_, id,
                          io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(ring_, 1);
  }

  // The ring and the counts belong to the loop's thread (the kernel reads the ring without a
  // lock): a part given back on another thread (a received_buffer handed to a worker) waits in
  // returned_ until the loop's next turn, which the wake-up brings soon. returned_ holds each
  // buffer once, with its count of parts in returned_parts_, so it has room for every buffer
  // and this never allocates. True for the first of a burst: one wake-up for all, as posts do.
  bool give_back_later(std::uint16_t id) noexcept;

  io_uring_buf_ring* ring_ = nullptr;
  std::size_t ring_bytes_ = 0;
  std::byte* memory_ = nullptr;
  unsigned count_ = 0;
  unsigned size_ = 0;
  std::vector<std::uint32_t> slot_;  // buffer id -> its slot in the ring when last added
  std::vector<buffer_state> state_;  // per buffer when consumed incrementally, else empty
  std::thread::id owner_{};
  std::mutex returned_mutex_;
  std::vector<std::uint16_t> returned_;        // buffers with parts given back elsewhere
  std::vector<std::uint32_t> returned_parts_;  // buffer id -> its parts in returned_
  std::atomic<bool> returned_pending_{false};
};

}  // namespace ringo::detail
