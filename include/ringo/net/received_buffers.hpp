#pragma once
/// \file
/// ringo::net::received_buffers: every buffer a stream had received, taken at once
/// (tcp_stream::receive_some) and given back together, without copying the bytes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <utility>

#include <ringo/detail/lent_buffers.hpp>
#include <ringo/net/received_buffer.hpp>

namespace ringo::net {

/// A move-only batch of received bytes in up to `capacity` buffers, in the order they arrived
/// (tcp_stream::receive_some). With provided buffers the bytes sit in buffers the backend lends
/// (io_uring's shared ring, or the epoll backend's pool), which go back when the batch is
/// destroyed or release()d; without them, in one buffer of the stream's own. Empty at end of
/// stream. Must not outlive the io_context; may be released on any thread, as a
/// received_buffer. Write it back out with tcp_stream::write_all(bufs): one gathered send.
class received_buffers {
 public:
  /// The most buffers one batch holds; receive_some leaves the rest queued for the next call.
  static constexpr std::size_t capacity = 8;

  received_buffers() noexcept = default;
  received_buffers(received_buffers&& o) noexcept { take(o); }
  received_buffers& operator=(received_buffers&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  received_buffers(const received_buffers&) = delete;
  received_buffers& operator=(const received_buffers&) = delete;
  ~received_buffers() { release(); }

  /// How many buffers (0 at end of stream, and after release or a move).
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  /// True at end of stream (and after release or a move).
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  /// The bytes of buffer `i` (i < size()).
  [[nodiscard]] std::span<const std::byte> operator[](std::size_t i) const noexcept {
    return {data_of(i), sizes_[i]};
  }
  /// The bytes of buffer `i`; throws std::out_of_range when i >= size().
  [[nodiscard]] std::span<const std::byte> at(std::size_t i) const {
    if (i >= count_) {
      throw std::out_of_range(
          "received_buffers::at: index past the last buffer; check size() first");
    }
    return (*this)[i];
  }
  /// The bytes in all buffers together.
  [[nodiscard]] std::size_t total_size() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count_; ++i)
      n += sizes_[i];
    return n;
  }

  /// Gives every buffer back now; the batch becomes empty.
  void release() noexcept {
    if (ring_ != nullptr) {
      for (std::size_t i = 0; i < count_; ++i)
        ring_->recycle_buffer(ids_[i]);
      ring_ = nullptr;
    } else if (home_ != nullptr) {
      detail::return_spare_buffer(*std::exchange(home_, nullptr), std::move(owned_));
    }
    owned_.reset();
    count_ = 0;
    first_offset_ = 0;
  }

  // ---- made by ringo's streams ----
  /// Adds provided buffer `id` of `ring` holding `size` bytes from `offset` (only the first
  /// buffer may start past its beginning). The batch must be empty or hold `ring`'s buffers,
  /// and not be full.
  void add_ring_buffer(detail::lent_buffers& ring, std::uint32_t id, std::uint32_t offset,
                       std::uint32_t size) noexcept {
    ring_ = &ring;
    if (count_ == 0) first_offset_ = offset;
    sizes_[count_] = size;
    ids_[count_++] = id;
  }
  /// Makes an empty batch the view of `size` bytes of a stream's own buffer, given back to
  /// `home` on release.
  void set_own_buffer(detail::stream_state& home, std::unique_ptr<std::byte[]> buffer,
                      std::uint32_t size) noexcept {
    home_ = &home;
    owned_ = std::move(buffer);
    sizes_[0] = size;
    ids_[0] = 0;
    count_ = 1;
  }
  [[nodiscard]] bool full() const noexcept { return count_ == capacity; }

 private:
  const std::byte* data_of(std::size_t i) const noexcept {
    if (ring_ == nullptr) return owned_.get();
    return ring_->buffer_data(ids_[i]) + (i == 0 ? first_offset_ : 0);
  }
  void take(received_buffers& o) noexcept {
    ring_ = std::exchange(o.ring_, nullptr);
    home_ = std::exchange(o.home_, nullptr);
    owned_ = std::move(o.owned_);
    count_ = std::exchange(o.count_, 0);
    for (std::size_t i = 0; i < count_; ++i) {
      sizes_[i] = o.sizes_[i];
      ids_[i] = o.ids_[i];
    }
    first_offset_ = std::exchange(o.first_offset_, 0);
  }

  detail::lent_buffers* ring_ = nullptr;
  detail::stream_state* home_ = nullptr;
  std::unique_ptr<std::byte[]> owned_;
  // The first count_ of each are set (a batch lives in the frame of every task that
  // receives, so it stays small).
  std::array<std::uint32_t, capacity> sizes_;
  std::array<std::uint32_t, capacity> ids_;  // the provided buffers (the backend's handles)
  std::uint32_t count_ = 0;
  std::uint32_t first_offset_ = 0;
};

}  // namespace ringo::net
