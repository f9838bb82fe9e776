#pragma once
// The io_uring backend's provided buffers (private to the library): one buffer ring that the
// kernel picks receive buffers from, and the memory those buffers are carved from.
#include <liburing.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace ringo::detail {

class uring_buffer_ring {
 public:
  /// The buffer group of every buffer-select request.
  static constexpr std::uint16_t group = 0;

  uring_buffer_ring() = default;
  uring_buffer_ring(const uring_buffer_ring&) = delete;
  uring_buffer_ring& operator=(const uring_buffer_ring&) = delete;
  ~uring_buffer_ring();

  /// Maps `count` buffers of `size` bytes (a power of two up to 32768, and more than 0: the
  /// reactor factory checks) and registers them with `ring`; false when the kernel or the
  /// memory refuses (the backend then receives without provided buffers).
  bool set_up(io_uring& ring, unsigned count, unsigned size);
  [[nodiscard]] bool ready() const noexcept { return ring_ != nullptr; }

  /// Which thread gives buffers back straight to the ring (the loop's, once it runs).
  void set_owner(std::thread::id owner) noexcept { owner_ = owner; }

  [[nodiscard]] std::byte* data(std::uint16_t id) const noexcept {
    return memory_ + std::size_t{id} * size_;
  }
  [[nodiscard]] unsigned size() const noexcept { return size_; }

  /// Makes buffer `id` available to the kernel again, from any thread; true when the loop
  /// must be woken to finish the job (the buffer came back on another thread).
  [[nodiscard]] bool give_back(std::uint16_t id) noexcept {
    if (std::this_thread::get_id() != owner_) [[unlikely]] return give_back_later(id);
    add(id);
    return false;
  }
  /// On the loop's thread, each turn: the buffers given back on other threads go back.
  void take_back_returned() noexcept {
    // A plain load first: the exchange, a locked instruction, would run on every turn of the
    // loop although buffers almost never come back from other threads. A flag set just after
    // the load is seen on the next turn, which the setter's wake-up brings.
    if (!returned_pending_.load(std::memory_order_relaxed)) return;
    if (!returned_pending_.exchange(false, std::memory_order_acq_rel)) return;
    std::lock_guard lock{returned_mutex_};
    for (const std::uint16_t id : returned_)
      add(id);
    returned_.clear();
  }

  /// The buffer after `id` in a bundle: the kernel takes buffers in ring order, so the
  /// following buffers of a completion are in the ring slots after its first one's.
  [[nodiscard]] std::uint16_t next_in_bundle(std::uint32_t& slot) const noexcept {
    slot = (slot + 1) & (count_ - 1);
    return ring_->bufs[slot].bid;
  }
  [[nodiscard]] std::uint32_t slot_of(std::uint16_t id) const noexcept { return slot_[id]; }

 private:
  // Where each buffer goes in the ring is kept, for bundles: a completion names the first
  // buffer it filled, and the others are the ones after it in the ring. The kernel takes
  // buffers in ring order and reports them in that order, and a slot is written again only
  // after every buffer taken before it has been reported, so the slots after a completion's
  // first one still hold its other buffers when it is dispatched.
  void add(std::uint16_t id) noexcept {
    slot_[id] = ring_->tail & (count_ - 1);
    io_uring_buf_ring_add(ring_, data(id), size_, id, io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(ring_, 1);
  }

  // The ring belongs to the loop's thread (the kernel reads it without a lock): a buffer given
  // back on another thread (a received_buffer handed to a worker) waits in returned_ until the
  // loop's next turn, which the wake-up brings soon. returned_ has room for every buffer, so
  // this never allocates. True for the first of a burst: one wake-up for all, as posts do.
  bool give_back_later(std::uint16_t id) noexcept;

  io_uring_buf_ring* ring_ = nullptr;
  std::size_t ring_bytes_ = 0;
  std::byte* memory_ = nullptr;
  unsigned count_ = 0;
  unsigned size_ = 0;
  std::vector<std::uint32_t> slot_;  // buffer id -> its slot in the ring when last added
  std::thread::id owner_{};
  std::mutex returned_mutex_;
  std::vector<std::uint16_t> returned_;  // buffers given back on other threads
  std::atomic<bool> returned_pending_{false};
};

}  // namespace ringo::detail
