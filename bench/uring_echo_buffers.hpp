// The provided-buffer ring of bench/uring_echo_server: the buffers a multishot receive picks
// from, and the bookkeeping that says when a buffer may go back to the kernel.
//
// Two ways to consume a buffer:
//   - whole (the default): each receive completion takes one buffer for itself, however few
//     bytes it carries; the buffer goes back once those bytes are sent;
//   - incremental (IOU_PBUF_RING_INC, Linux 6.12): the kernel keeps filling the buffer at the
//     head of the ring from where the last receive stopped, so small messages from many
//     connections share one buffer. A completion with IORING_CQE_F_BUF_MORE says the kernel
//     still holds its buffer; the first one without it says the kernel has moved past. A
//     buffer goes back only then, and only once every part of it has been sent.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// Liburing 2.3 (Debian 12) predates incremental consumption: the values below are the
// kernel's (include/uapi/linux/io_uring.h, Linux 6.12).
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)  // the buffer of this completion is not finished
#endif
constexpr std::uint16_t pbuf_ring_inc = 2;  // IOU_PBUF_RING_INC, io_uring_buf_reg::flags

/// Where a receive put its bytes: in provided buffer `bid`, from `data` on.
struct buffer_part {
  char* data;
  unsigned len;
  int bid;
};

class buffer_ring {
 public:
  /// Maps `count` buffers of `size` bytes and registers them as buffer group `group` on
  /// `ring`, incrementally consumed when `incremental`. Returns "" or what failed.
  std::string setup(io_uring& ring, unsigned short group, unsigned count, unsigned size,
                    bool incremental);

  /// The bytes of a receive completion that carried `res` > 0 bytes and a buffer in `flags`.
  buffer_part take(int res, unsigned flags) {
    const int bid = static_cast<int>(flags >> IORING_CQE_BUFFER_SHIFT);
    const auto len = static_cast<unsigned>(res);
    if (!incremental_) {
      --in_ring_;
      return {buffer(bid), len, bid};
    }
    // The kernel appended these bytes where the last part of this buffer ended.
    buffer_part part{buffer(bid) + filled_[bid], len, bid};
    filled_[bid] += len;
    ++parts_[bid];
    if (!(flags & IORING_CQE_F_BUF_MORE)) {
      kernel_done_[bid] = true;
      --in_ring_;
    }
    return part;
  }

  /// A part taken earlier is sent (or dropped): its buffer goes back once nothing needs it.
  void release(int bid) {
    if (!incremental_) {
      give_back(bid);
    } else if (--parts_[bid] == 0 && kernel_done_[bid]) {
      filled_[bid] = 0;
      kernel_done_[bid] = false;
      give_back(bid);
    }
  }

  /// Lets the kernel see the buffers given back since the last call.
  void publish() {
    if (returned_ == 0) return;
    io_uring_buf_ring_advance(br_, returned_);
    in_ring_ += static_cast<unsigned>(returned_);
    returned_ = 0;
  }

  /// Whether the kernel has no buffer left to receive into.
  bool empty() const { return in_ring_ == 0; }

 private:
  char* buffer(int bid) const { return data_ + std::size_t(bid) * size_; }

  // The buffer goes back whole; the kernel sees it at the next publish().
  void give_back(int bid) {
    io_uring_buf_ring_add(br_, buffer(bid), size_, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(count_), returned_++);
  }

  io_uring_buf_ring* br_ = nullptr;
  char* data_ = nullptr;
  unsigned count_ = 0;
  unsigned size_ = 0;
  bool incremental_ = false;
  int returned_ = 0;      // buffers given back since the last publish()
  unsigned in_ring_ = 0;  // buffers the kernel may still receive into
  // Incremental consumption, per buffer: bytes the kernel has filled, parts not yet
  // released, and whether the kernel has moved past it.
  std::vector<unsigned> filled_;
  std::vector<unsigned> parts_;
  std::vector<bool> kernel_done_;
};
