#include "backend/uring/buffer_ring.hpp"

#include <sys/mman.h>

#include <cerrno>

namespace ringo::detail {
namespace {

// IOU_PBUF_RING_INC (Linux 6.12), newer than liburing 2.3's header, which also ignores the
// flags argument of io_uring_register_buf_ring: the kernel reads the flags from the field
// that liburing 2.3 still calls `pad` (io_uring_buf_reg::flags since 6.12).
constexpr std::uint16_t pbuf_ring_inc = 2;

}  // namespace

uring_buffer_ring::~uring_buffer_ring() {
  if (ring_ != nullptr) ::munmap(ring_, ring_bytes_);
  if (memory_ != nullptr) ::munmap(memory_, std::size_t{count_} * size_);
}

bool uring_buffer_ring::set_up(io_uring& ring, unsigned count, unsigned size, bool incremental) {
  incremental = incremental && size <= max_incremental_size;
  // (What may throw, before anything is mapped.)
  slot_.resize(count);
  returned_.reserve(count);
  returned_parts_.assign(count, 0);
  if (incremental) state_.resize(count);
  const std::size_t ring_bytes = sizeof(io_uring_buf) * count;
  void* ring_memory =
      ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_memory == MAP_FAILED) {
    state_.clear();
    return false;
  }
  void* memory = ::mmap(nullptr, std::size_t{count} * size, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (memory == MAP_FAILED) {
    state_.clear();
    ::munmap(ring_memory, ring_bytes);
    return false;
  }
  auto* buffer_ring = static_cast<io_uring_buf_ring*>(ring_memory);
  io_uring_buf_ring_init(buffer_ring);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(buffer_ring);
  reg.ring_entries = count;
  reg.bgid = group;
  reg.pad = incremental ? pbuf_ring_inc : 0;
  int rc = io_uring_register_buf_ring(&ring, &reg, 0);
  if (rc == -EINVAL && incremental) {
    // A kernel before 6.12 knows no flags here: the buffers are consumed whole.
    state_.clear();
    state_.shrink_to_fit();
    reg.pad = 0;
    rc = io_uring_register_buf_ring(&ring, &reg, 0);
  }
  if (rc != 0) {
    state_.clear();
    ::munmap(ring_memory, ring_bytes);
    ::munmap(memory, std::size_t{count} * size);
    return false;
  }
  ring_ = buffer_ring;
  ring_bytes_ = ring_bytes;
  memory_ = static_cast<std::byte*>(memory);
  count_ = count;
  size_ = size;
  for (unsigned i = 0; i < count; ++i)
    add(static_cast<std::uint16_t>(i));
  return true;
}

bool uring_buffer_ring::give_back_later(std::uint16_t id) noexcept {
  {
    std::lock_guard lock{returned_mutex_};
    if (returned_parts_[id]++ == 0) returned_.push_back(id);  // room for every buffer
  }
  return !returned_pending_.exchange(true, std::memory_order_acq_rel);
}

}  // namespace ringo::detail
