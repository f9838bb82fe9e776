#pragma once
// The orders a ringo queue keeps its items in (first in first out, last in first out, smallest
// first), each a Store for detail::basic_queue, and the circular buffer beneath the first.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace ringo::detail {

/// A growable circular buffer: once it has grown to the queue's working size, pushing and
/// popping allocate nothing (a std::deque allocates and frees a block every few hundred items
/// even at a steady size).
template <class T>
class ring_buffer {
 public:
  ring_buffer() noexcept = default;
  ring_buffer(ring_buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        capacity_(std::exchange(o.capacity_, 0)),
        head_(std::exchange(o.head_, 0)),
        size_(std::exchange(o.size_, 0)) {}
  ring_buffer(const ring_buffer&) = delete;
  ring_buffer& operator=(const ring_buffer&) = delete;
  ring_buffer& operator=(ring_buffer&&) = delete;
  ~ring_buffer() {
    while (size_ != 0)
      pop_front();
    if (data_ != nullptr) std::allocator<T>{}.deallocate(data_, capacity_);
  }

  void push_back(T&& v) {
    if (size_ == capacity_) grow();
    std::construct_at(data_ + ((head_ + size_) & (capacity_ - 1)), std::move(v));
    ++size_;
  }
  /// Puts `v` before the first item (what was taken and comes back).
  void push_front(T&& v) {
    if (size_ == capacity_) grow();
    const std::size_t before = (head_ + capacity_ - 1) & (capacity_ - 1);
    std::construct_at(data_ + before, std::move(v));
    head_ = before;
    ++size_;
  }
  T& front() noexcept { return data_[head_]; }
  void pop_front() noexcept {
    std::destroy_at(data_ + head_);
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  void grow() {
    const std::size_t bigger = capacity_ == 0 ? 8 : capacity_ * 2;  // a power of two
    T* fresh = std::allocator<T>{}.allocate(bigger);
    std::size_t moved = 0;
    try {
      for (; moved < size_; ++moved) {
        std::construct_at(fresh + moved,
                          std::move_if_noexcept(data_[(head_ + moved) & (capacity_ - 1)]));
      }
    } catch (...) {
      std::destroy_n(fresh, moved);
      std::allocator<T>{}.deallocate(fresh, bigger);
      throw;
    }
    for (std::size_t i = 0; i < size_; ++i)
      std::destroy_at(data_ + ((head_ + i) & (capacity_ - 1)));
    if (data_ != nullptr) std::allocator<T>{}.deallocate(data_, capacity_);
    data_ = fresh;
    capacity_ = bigger;
    head_ = 0;
  }

  T* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

/// First in, first out.
template <class T>
class fifo_store {
 public:
  static constexpr const char* name = "queue";
  void push(T&& v) { items_.push_back(std::move(v)); }
  /// An item taken and given back: it leaves first again.
  void push_first(T&& v) { items_.push_front(std::move(v)); }
  T pop() {
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }

 private:
  ring_buffer<T> items_;
};

/// Last in, first out.
template <class T>
class lifo_store {
 public:
  static constexpr const char* name = "lifo_queue";
  void push(T&& v) { items_.push_back(std::move(v)); }
  void push_first(T&& v) { items_.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }

 private:
  std::vector<T> items_;
};

/// Smallest first by `Compare` (a binary heap); equal items leave in the order they came.
template <class T, class Compare>
class priority_store {
 public:
  static constexpr const char* name = "priority_queue";
  explicit priority_store(Compare cmp = Compare{}) : cmp_(std::move(cmp)) {}
  // (Room first: the item moves only once nothing can fail, so a put that finds no memory
  // keeps its item.)
  void push(T&& v) {
    items_.reserve(items_.size() + 1);
    items_.push_back(entry{std::move(v), next_seq_++});
    std::push_heap(items_.begin(), items_.end(), later{&cmp_});
  }
  /// An item taken and given back: first among its equals again (it was put before them).
  void push_first(T&& v) {
    items_.reserve(items_.size() + 1);
    items_.push_back(entry{std::move(v), first_seq_--});
    std::push_heap(items_.begin(), items_.end(), later{&cmp_});
  }
  T pop() {
    std::pop_heap(items_.begin(), items_.end(), later{&cmp_});
    T v = std::move(items_.back().value);
    items_.pop_back();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }

 private:
  struct entry {
    T value;
    std::uint64_t seq;
  };
  // The heap keeps its "largest" on top, so "larger" here means "leaves first".
  struct later {
    const Compare* cmp;
    bool operator()(const entry& a, const entry& b) const {
      if ((*cmp)(b.value, a.value)) return true;
      if ((*cmp)(a.value, b.value)) return false;
      return a.seq > b.seq;
    }
  };
  std::vector<entry> items_;
  // Items put count up from the middle of the range, items given back down from it.
  std::uint64_t next_seq_ = std::uint64_t{1} << 63;
  std::uint64_t first_seq_ = (std::uint64_t{1} << 63) - 1;
  Compare cmp_;
};

}  // namespace ringo::detail
