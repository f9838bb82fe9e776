#pragma once
// Bytes a stream read from its peer that no caller has taken yet: what read_line and read_until
// gathered past their delimiter, or while they looked for it (a line cut short by the limit, a
// timeout, a cancellation, the end of the stream). Every read of the stream takes them first.
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>

namespace ringo::detail {

class unread_area {
 public:
  /// The bytes waiting, oldest first.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return {data_.get() + begin_, end_ - begin_};
  }
  [[nodiscard]] bool empty() const noexcept { return begin_ == end_; }
  [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }

  /// Takes the first `n` bytes (n <= size()).
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
      // A long line's room goes; a working size stays for the next lines.
      if (capacity_ > keep_at_most) {
        data_.reset();
        capacity_ = 0;
      }
    }
  }
  /// Copies up to out.size() of the first bytes into `out` and takes them; returns how many.
  std::size_t take(std::span<std::byte> out) noexcept {
    const std::size_t n = out.size() < size() ? out.size() : size();
    if (n != 0) std::memcpy(out.data(), data_.get() + begin_, n);
    consume(n);
    return n;
  }

  /// Room for at least `n` more bytes after the waiting ones (moved to the front, or to a
  /// larger block); throws std::bad_alloc, leaving the bytes as they were.
  std::span<std::byte> space(std::size_t n) {
    if (capacity_ - end_ < n) {
      const std::size_t held = size();
      if (capacity_ - held >= n && begin_ != 0) {
        std::memmove(data_.get(), data_.get() + begin_, held);
      } else {
        std::size_t cap = capacity_ != 0 ? capacity_ : 4096;
        while (cap - held < n)
          cap *= 2;
        auto grown = std::make_unique_for_overwrite<std::byte[]>(cap);
        if (held != 0) std::memcpy(grown.get(), data_.get() + begin_, held);
        data_ = std::move(grown);
        capacity_ = cap;
      }
      begin_ = 0;
      end_ = held;
    }
    return {data_.get() + end_, capacity_ - end_};
  }
  /// Adds the `n` bytes written at the start of the last space().
  void commit(std::size_t n) noexcept { end_ += n; }
  /// Adds `b` after the waiting bytes; throws std::bad_alloc, adding nothing.
  void append(std::span<const std::byte> b) {
    if (b.empty()) return;
    std::memcpy(space(b.size()).data(), b.data(), b.size());
    commit(b.size());
  }

 private:
  static constexpr std::size_t keep_at_most = 64 * 1024;
  std::unique_ptr<std::byte[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace ringo::detail
