#pragma once
// The move-only guard that ringo::mutex, recursive_mutex and semaphore hand out.
#include <stdexcept>
#include <string>
#include <utility>

namespace ringo {
class condition_variable;
}

namespace ringo::detail {

/// Owns one unit of `Owner` (a lock, a recursion level, a permit) and gives it back when
/// destroyed or on unlock(). `Owner` provides `void release_from_guard() noexcept` and
/// `static constexpr const char* guard_name`.
template <class Owner>
class scoped_release {
 public:
  /// A guard that owns nothing.
  scoped_release() noexcept = default;
  /// Adopts one unit of `owner` that the caller has acquired.
  explicit scoped_release(Owner& owner) noexcept : owner_(&owner), owns_(true) {}
  scoped_release(scoped_release&& o) noexcept
      : owner_(std::exchange(o.owner_, nullptr)), owns_(std::exchange(o.owns_, false)) {}
  scoped_release& operator=(scoped_release&& o) noexcept {
    if (this != &o) {
      reset();
      owner_ = std::exchange(o.owner_, nullptr);
      owns_ = std::exchange(o.owns_, false);
    }
    return *this;
  }
  scoped_release(const scoped_release&) = delete;
  scoped_release& operator=(const scoped_release&) = delete;
  ~scoped_release() { reset(); }

  /// Gives the unit back now (early release). Throws std::logic_error if the guard owns
  /// nothing (moved from, or already unlocked).
  void unlock() {
    if (!owns_) {
      throw std::logic_error(std::string(Owner::guard_name) +
                             ": unlock() on a guard that owns nothing (moved from or already "
                             "unlocked); check owns_lock() first");
    }
    reset();
  }
  /// Whether the guard still owns its unit.
  [[nodiscard]] bool owns_lock() const noexcept { return owns_; }
  explicit operator bool() const noexcept { return owns_; }
  /// The primitive the guard belongs to (nullptr for an empty guard).
  [[nodiscard]] Owner* owner() const noexcept { return owner_; }

 private:
  // condition_variable hands the lock away while it waits and takes it back on return.
  friend class ::ringo::condition_variable;
  void disown() noexcept { owns_ = false; }
  void adopt() noexcept { owns_ = true; }

  void reset() noexcept {
    if (owns_) {
      owns_ = false;
      owner_->release_from_guard();
    }
  }
  Owner* owner_ = nullptr;
  bool owns_ = false;
};

}  // namespace ringo::detail
