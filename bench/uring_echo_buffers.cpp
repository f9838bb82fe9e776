// The set-up of the provided-buffer ring of bench/uring_echo_server (the rest is inline in
// uring_echo_buffers.hpp, where the server's hot path can inline it).

#include "uring_echo_buffers.hpp"

#include <sys/mman.h>

#include <fmt/core.h>

#include <cerrno>
#include <cstring>

std::string buffer_ring::setup(io_uring& ring, unsigned short group, unsigned count, unsigned size,
                               bool incremental) {
  count_ = count;
  size_ = size;
  incremental_ = incremental;
  // Liburing 2.3 has no io_uring_setup_buf_ring: the ring is mapped here.
  void* ring_mem = mmap(nullptr, sizeof(io_uring_buf) * count, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_mem == MAP_FAILED) return fmt::format("mmap of the buffer ring: {}", strerror(errno));
  void* data = mmap(nullptr, std::size_t{count} * size, PROT_READ | PROT_WRITE,
                    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (data == MAP_FAILED) return fmt::format("mmap of the buffers: {}", strerror(errno));
  br_ = static_cast<io_uring_buf_ring*>(ring_mem);
  data_ = static_cast<char*>(data);
  io_uring_buf_ring_init(br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group;
  // Liburing 2.3 ignores the flags argument of io_uring_register_buf_ring; the kernel reads
  // them from the field that liburing 2.3 still calls pad (io_uring_buf_reg::flags since 6.12).
  if (incremental) reg.pad = pbuf_ring_inc;
  if (int rc = io_uring_register_buf_ring(&ring, &reg, 0); rc < 0) {
    if (incremental && rc == -EINVAL) {
      return "the kernel refuses an incrementally consumed buffer ring (IOU_PBUF_RING_INC "
             "needs Linux 6.12); run without --incremental";
    }
    return fmt::format("io_uring_register_buf_ring (needs Linux 5.19): {}", strerror(-rc));
  }
  if (incremental) {
    filled_.assign(count, 0);
    parts_.assign(count, 0);
    kernel_done_.assign(count, false);
  }
  for (unsigned i = 0; i < count; ++i)
    give_back(static_cast<int>(i));
  publish();
  return {};
}
