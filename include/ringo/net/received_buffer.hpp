#pragma once
/// \file
/// ringo::net::received_buffer: bytes received into a buffer the stream does not own, handed
/// to the reader without a copy and given back when the reader drops it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

namespace ringo::detail {
class lent_buffers;
class stream_state;
/// Gives a fallback receive buffer back to the stream it came from (lib/).
void return_spare_buffer(stream_state& home, std::unique_ptr<std::byte[]> buffer) noexcept;
}  // namespace ringo::detail

namespace ringo::net {

/// A move-only view of received bytes (tcp_stream::receive). With provided buffers the bytes sit
/// in a buffer the backend lends (io_uring's shared ring, or the epoll backend's pool), which
/// goes back when this is destroyed or release()d (where small receives share one buffer, once
/// every view into it has gone); without them, in the stream's own receive buffer. Empty at end of
/// stream. Must not outlive the io_context (nor, without provided buffers, reading again from
/// the stream while an earlier one is alive costs a new buffer). May be released on any thread
/// (handed to a thread_pool job, say): a buffer given back on a thread that does not run its
/// context returns to it in the loop's next turn.
class received_buffer {
 public:
  received_buffer() noexcept = default;
  received_buffer(received_buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        ring_(std::exchange(o.ring_, nullptr)),
        id_(o.id_),
        home_(std::exchange(o.home_, nullptr)),
        owned_(std::move(o.owned_)) {}
  received_buffer& operator=(received_buffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      ring_ = std::exchange(o.ring_, nullptr);
      id_ = o.id_;
      home_ = std::exchange(o.home_, nullptr);
      owned_ = std::move(o.owned_);
    }
    return *this;
  }
  received_buffer(const received_buffer&) = delete;
  received_buffer& operator=(const received_buffer&) = delete;
  ~received_buffer() { release(); }

  /// The received bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  /// The received bytes as characters.
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(data_), size_};
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// True at end of stream (and after release or a move).
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  /// Gives the buffer back now; the view becomes empty.
  void release() noexcept;

  // ---- made by ringo's streams ----
  /// A view of part of lent buffer `id` of `ring` (the handle its completion carried).
  received_buffer(detail::lent_buffers& ring, std::uint32_t id, const std::byte* data,
                  std::size_t size) noexcept
      : data_(data), size_(size), ring_(&ring), id_(id) {}
  /// A view of a stream's own buffer, given back to `home` on release.
  received_buffer(detail::stream_state& home, std::unique_ptr<std::byte[]> buffer,
                  std::size_t size) noexcept
      : data_(buffer.get()), size_(size), home_(&home), owned_(std::move(buffer)) {}

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  detail::lent_buffers* ring_ = nullptr;
  std::uint32_t id_ = 0;
  detail::stream_state* home_ = nullptr;
  std::unique_ptr<std::byte[]> owned_;
};

}  // namespace ringo::net
