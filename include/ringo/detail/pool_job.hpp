#pragma once
// One unit of work in a thread_pool's queue: the callable, its arguments and the state of the
// future it completes, in one allocation.
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <ringo/detail/future_state.hpp>

namespace ringo::detail {

/// What the pool's queue links. The queue owns a reference to the job (self_) from enqueue
/// until a worker or shutdown takes it out.
struct pool_job {
  pool_job* next = nullptr;
  std::shared_ptr<pool_job> self_;
  /// Runs the work on a worker (unless its future was cancelled) and completes the future.
  void (*execute)(pool_job&) noexcept = nullptr;
  /// Cancels the future (shutdown with cancel_futures); the work never runs.
  void (*drop)(pool_job&) noexcept = nullptr;
};

template <class R, class F, class... A>
class typed_job final : public future_state<R>, public pool_job {
 public:
  template <class G, class... B>
  explicit typed_job(G&& f, B&&... args)
      : work_(std::in_place, std::forward<G>(f), std::forward<B>(args)...) {
    execute = &run_job;
    drop = &drop_job;
  }

 private:
  static void run_job(pool_job& j) noexcept {
    auto& self = static_cast<typed_job&>(j);
    self.run([&]() -> R {
      return std::apply(
          [](auto&& fn, auto&&... args) -> R {
            return std::invoke(std::move(fn), std::move(args)...);
          },
          std::move(*self.work_));
    });
    // Release what the callable holds now, on the worker, as Python drops its references.
    self.work_.reset();
  }
  static void drop_job(pool_job& j) noexcept {
    auto& self = static_cast<typed_job&>(j);
    self.cancel();
    self.work_.reset();
  }

  std::optional<std::tuple<F, A...>> work_;
};

}  // namespace ringo::detail
