// The epoll backend's lent buffers: made a chunk at a time, lent on the loop's thread, given
// back from any.
#include "backend/epoll/buffer_pool.hpp"

#include <algorithm>
#include <new>

namespace ringo::detail {
namespace {

// Buffers made at once when the pool runs dry: a burst of readable streams costs one
// allocation per sixteen buffers, and a loop serving a few streams maps a few buffers.
constexpr unsigned chunk_buffers = 16;

}  // namespace

epoll_buffer_pool::epoll_buffer_pool(unsigned count, std::size_t size)
    : size_(size),
      count_(count),
      per_chunk_(std::min(count, chunk_buffers)),
      chunks_(std::make_unique<std::unique_ptr<std::byte[]>[]>(count / per_chunk_)) {
  free_.reserve(count);
  returned_.reserve(count);
}

std::uint32_t epoll_buffer_pool::take() noexcept {
  if (free_.empty()) {
    if (made_ == count_) return none;
    auto chunk = std::unique_ptr<std::byte[]>(new (std::nothrow) std::byte[per_chunk_ * size_]);
    if (!chunk) return none;
    chunks_[made_ / per_chunk_] = std::move(chunk);
    // Lent from the lowest id up, as they were made.
    for (unsigned i = per_chunk_; i > 0; --i) free_.push_back(made_ + i - 1);
    made_ += per_chunk_;
  }
  const std::uint32_t id = free_.back();
  free_.pop_back();
  return id;
}

bool epoll_buffer_pool::give_back(std::uint32_t id) noexcept {
  if (std::this_thread::get_id() == owner_) [[likely]] {
    free_.push_back(id);  // room for every buffer
    return false;
  }
  {
    std::lock_guard lock{returned_mutex_};
    returned_.push_back(id);  // room for every buffer
  }
  return !returned_pending_.exchange(true, std::memory_order_acq_rel);
}

void epoll_buffer_pool::take_back_returned() noexcept {
  // A plain load first: buffers almost never come back from other threads, and the exchange
  // is a locked instruction. A flag set just after the load is seen at the next turn, which
  // the giver's wake-up brings.
  if (!returned_pending_.load(std::memory_order_relaxed)) return;
  if (!returned_pending_.exchange(false, std::memory_order_acq_rel)) return;
  std::lock_guard lock{returned_mutex_};
  free_.insert(free_.end(), returned_.begin(), returned_.end());
  returned_.clear();
}

}  // namespace ringo::detail
