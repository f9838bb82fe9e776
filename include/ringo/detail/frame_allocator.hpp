#pragma once
// The per-thread recycling allocator for coroutine frames.
//
// Frames are rounded up to size classes of 16k+8 bytes, the sizes for which glibc's malloc
// wastes nothing (its chunks are the request plus an 8-byte header, in 16-byte steps); a freed
// frame goes onto its thread's list for that class and the next frame of the class reuses it,
// so a task or generator that is created and finished in a loop allocates nothing after the
// first round. Frames larger than the biggest class, and every frame when recycling is off,
// go straight to operator new.
// A frame may be freed on another thread than the one that allocated it: it then joins the
// freeing thread's cache, which is fine since every block comes from the same operator new.
#include <cstddef>
#include <cstdint>
#include <new>

#include <ringo/detail/config.hpp>

namespace ringo::detail {

class frame_pool {
 public:
  static constexpr std::size_t granule = 16;
  static constexpr std::size_t classes = 128;  // frames up to 2 KiB (less 8 B) are recycled
  /// The class of a frame of `size` bytes, and the block size of a class.
  static constexpr std::size_t class_of(std::size_t size) noexcept { return (size + 7) / granule; }
  static constexpr std::size_t class_size(std::size_t cls) noexcept { return cls * granule + 8; }
  static constexpr std::uint32_t cache_limit = 4096;  // blocks kept per class and thread

  constexpr frame_pool() noexcept = default;
  frame_pool(const frame_pool&) = delete;
  frame_pool& operator=(const frame_pool&) = delete;
  // Trivially destructible on purpose: a thread_local with a destructor makes every access
  // call the TLS init function. The cached blocks are freed by a separate thread-exit hook
  // that only the slow path (a new block from operator new) registers.

  /// Frees every cached block; later frees go straight to operator delete.
  void release_all() noexcept {
    for (auto& head : free_) {
      while (head != nullptr) {
        node* n = head;
        head = n->next;
        ::operator delete(n);
      }
    }
    dead_ = true;
  }

  void* allocate(std::size_t size) {
    const std::size_t cls = class_of(size);
    if (cls >= classes || !enabled_ || dead_) return ::operator new(round(size, cls));
    if (node* n = free_[cls]) {
      free_[cls] = n->next;
      --count_[cls];
      return n;
    }
    arm_thread_exit_hook();
    return ::operator new(class_size(cls));
  }

  void deallocate(void* p, std::size_t size) noexcept {
    const std::size_t cls = class_of(size);
    if (cls >= classes || dead_ || count_[cls] >= cache_limit) {
      ::operator delete(p);
      return;
    }
    auto* n = static_cast<node*>(p);
    n->next = free_[cls];
    free_[cls] = n;
    ++count_[cls];
  }

  /// Turns recycling on or off for new frames of this thread (benchmarks compare both).
  void set_enabled(bool on) noexcept { enabled_ = on; }

 private:
  struct node {
    node* next;
  };
  static std::size_t round(std::size_t size, std::size_t cls) noexcept {
    // Blocks are always allocated at their class size, so a frame made while recycling was
    // off can join a class list later.
    return cls < classes ? class_size(cls) : size;
  }

  inline void arm_thread_exit_hook() noexcept;

  node* free_[classes] = {};
  std::uint32_t count_[classes] = {};
  bool enabled_ = true;
  bool dead_ = false;  // set at thread exit: later frees go straight to operator delete
};

inline constinit thread_local frame_pool this_thread_frames;

inline void frame_pool::arm_thread_exit_hook() noexcept {
  struct hook {
    ~hook() { this_thread_frames.release_all(); }
  };
  // Touching it registers its destructor for this thread's exit (once per thread).
  static thread_local hook at_exit;
  (void)at_exit;
}

inline void* allocate_frame(std::size_t size) {
#if RINGO_FRAME_RECYCLING
  return this_thread_frames.allocate(size);
#else
  return ::operator new(size);
#endif
}

inline void deallocate_frame(void* p, std::size_t size) noexcept {
#if RINGO_FRAME_RECYCLING
  this_thread_frames.deallocate(p, size);
#else
  (void)size;
  ::operator delete(p);
#endif
}

/// Base of every ringo promise type: routes the frame through the recycling allocator.
struct recycled_frame {
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* p, std::size_t size) noexcept { deallocate_frame(p, size); }
};

}  // namespace ringo::detail
