#pragma once
// The receive buffers a backend lends to standing receives (io_opcode::keep_receiving): a
// completion with has_buffer names one, the reader reads its bytes where buffer_data says and
// gives it back with recycle_buffer once it has consumed them, exactly once per completion and
// from any thread. A backend that lends none never completes with has_buffer.
#include <cstddef>
#include <cstdint>

namespace ringo::detail {

class lent_buffers {
 public:
  virtual std::byte* buffer_data(std::uint32_t buffer) noexcept = 0;
  /// The most bytes one completion can bring.
  virtual std::size_t buffer_size() const noexcept = 0;
  virtual void recycle_buffer(std::uint32_t buffer) noexcept = 0;

 protected:
  ~lent_buffers() = default;
};

}  // namespace ringo::detail
