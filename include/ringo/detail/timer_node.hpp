#pragma once
// A timer that lives in the awaiter's frame and sits in its context's timer heap.
#include <chrono>
#include <cstddef>

namespace ringo::detail {

struct timer_node {
  static constexpr std::size_t not_queued = static_cast<std::size_t>(-1);
  std::chrono::steady_clock::time_point deadline{};
  std::size_t heap_index = not_queued;
  /// Called on the context's thread once the deadline has passed; the node is already out of
  /// the heap.
  void (*fire)(timer_node&) noexcept = nullptr;
};

/// A unit of work handed to a context from any thread; lives wherever its poster keeps it.
struct remote_node {
  remote_node* next = nullptr;
  /// Runs on the context's thread.
  void (*run)(remote_node&) noexcept = nullptr;
  /// Called instead of run when the context is destroyed with the node still queued (posted
  /// after the context's last run() returned); null when there is nothing to free.
  void (*discard)(remote_node&) noexcept = nullptr;
};

}  // namespace ringo::detail
