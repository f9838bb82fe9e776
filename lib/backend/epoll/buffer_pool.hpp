#pragma once
// The epoll backend's lent buffers (private to the library): where a standing receive puts
// what a readable socket holds, as io_uring's provided buffers do, so that idle streams hold
// no buffer and a stream's reader takes its bytes from a queue whichever backend brought them.
//
// The pool lends up to `count` buffers of `size` bytes, made a chunk at a time as the load
// asks for them (an idle loop maps nothing). A buffer's handle is its index. Only the loop's
// thread takes buffers; any thread gives them back (a received_buffer handed to a worker):
// those wait in a list the loop empties at its next turn, which the giver's wake-up brings.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ringo::detail {

class epoll_buffer_pool {
 public:
  static constexpr std::uint32_t none = ~std::uint32_t{0};

  /// `count` buffers at most (a power of two: the reactor factory checks), of `size` bytes.
  /// Throws std::bad_alloc; the buffers themselves are made later.
  epoll_buffer_pool(unsigned count, std::size_t size);
  epoll_buffer_pool(const epoll_buffer_pool&) = delete;
  epoll_buffer_pool& operator=(const epoll_buffer_pool&) = delete;

  /// Which thread takes buffers and gives them back straight to the pool (the loop's).
  void set_owner(std::thread::id owner) noexcept { owner_ = owner; }

  /// On the loop's thread: a free buffer, or `none` when every one is lent (or no memory is
  /// left for another chunk).
  [[nodiscard]] std::uint32_t take() noexcept;
  [[nodiscard]] std::byte* data(std::uint32_t id) const noexcept {
    return chunks_[id / per_chunk_].get() + std::size_t{id % per_chunk_} * size_;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Gives buffer `id` back, from any thread. True when the loop must be woken to take it
  /// (the first buffer given back on another thread since the loop last looked).
  [[nodiscard]] bool give_back(std::uint32_t id) noexcept;
  /// On the loop's thread, each turn: the buffers given back on other threads are free again.
  void take_back_returned() noexcept;

 private:
  std::size_t size_;
  unsigned count_;
  unsigned per_chunk_;
  unsigned made_ = 0;  // buffers made so far, all chunks together
  // Sized for every chunk and every buffer up front: nothing here grows once lending starts.
  std::unique_ptr<std::unique_ptr<std::byte[]>[]> chunks_;
  std::vector<std::uint32_t> free_;
  std::thread::id owner_{};
  std::mutex returned_mutex_;
  std::vector<std::uint32_t> returned_;
  std::atomic<bool> returned_pending_{false};
};

}  // namespace ringo::detail
