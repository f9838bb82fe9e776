#pragma once
// Turning a caller's duration into a point on the loop's clock, without overflow: every
// timeout and delay goes through here. A duration too long for the clock to add (a sleep for
// nanoseconds::max(), a timeout of seconds::max()) means "never": the deadline is
// time_point::max(), which the loop's timers read as no deadline at all. A zero or
// negative duration means "already due".
#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>
#include <utility>

namespace ringo::detail {

using deadline_clock = std::chrono::steady_clock;

/// The deadline that stands for "never".
inline constexpr deadline_clock::time_point no_deadline = deadline_clock::time_point::max();

/// `d` in the clock's units, rounded up; durations beyond the clock's range become its
/// duration::max() (or min()) instead of overflowing, whatever their type.
template <class Rep, class Period>
constexpr deadline_clock::duration saturating_duration(
    std::chrono::duration<Rep, Period> d) noexcept {
  using target = deadline_clock::duration;
  using per_tick = std::ratio_divide<Period, target::period>;  // clock ticks in one unit of d
  if constexpr (!std::is_floating_point_v<Rep> && per_tick::den == 1) {
    // Whole ticks per unit (ns, us, ms, s, min, h): an exact bound in d's own units.
    constexpr std::intmax_t hi = std::numeric_limits<target::rep>::max() / per_tick::num;
    constexpr std::intmax_t lo = std::numeric_limits<target::rep>::min() / per_tick::num;
    if (std::cmp_greater(d.count(), hi)) return target::max();
    if (std::cmp_less(d.count(), lo)) return target::min();
    return std::chrono::ceil<target>(d);
  } else {
    // Floating counts, and units that are not whole ticks: a long double decides whether the
    // count fits, with a margin (2^-40 of the range, a few milliseconds in 292 years) for its
    // rounding; a NaN means never too.
    constexpr long double limit =
        static_cast<long double>(std::numeric_limits<target::rep>::max()) * (1.0L - 0x1p-40L);
    const long double ticks = static_cast<long double>(d.count()) *
                              static_cast<long double>(per_tick::num) /
                              static_cast<long double>(per_tick::den);
    if (ticks >= limit || ticks != ticks) return target::max();
    if (ticks <= -limit) return target::min();
    return std::chrono::ceil<target>(std::chrono::duration<long double, target::period>{ticks});
  }
}

/// `d` from `now`: no_deadline when that is beyond the clock, `now` itself when `d` is zero or
/// negative (already due).
inline deadline_clock::time_point deadline_after(deadline_clock::duration d,
                                                 deadline_clock::time_point now) noexcept {
  if (d <= deadline_clock::duration::zero()) return now;
  if (d >= no_deadline - now) return no_deadline;
  return now + d;
}

/// `d` from now on the loop's clock, saturating as above.
template <class Rep, class Period>
deadline_clock::time_point deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  return deadline_after(saturating_duration(d), deadline_clock::now());
}

/// What is left until `at`: zero once it has passed, duration::max() for no_deadline.
inline deadline_clock::duration time_until(deadline_clock::time_point at,
                                           deadline_clock::time_point now) noexcept {
  if (at == no_deadline) return deadline_clock::duration::max();
  if (at <= now) return deadline_clock::duration::zero();
  return at - now;
}

/// The deadline of an operation made of several steps (a write continued after short writes, a
/// TLS call's socket reads and writes, a write waiting its turn), from the timeout its caller
/// gave: zero or negative is none. One time point, as small as the clock's.
class op_deadline {
 public:
  op_deadline() noexcept = default;
  explicit op_deadline(std::chrono::nanoseconds timeout) noexcept
      : at_(timeout.count() > 0 ? deadline_after(timeout) : deadline_clock::time_point{}) {}

  /// The deadline `at` (the default time point: none), as at() returned it.
  [[nodiscard]] static op_deadline at_point(deadline_clock::time_point at) noexcept {
    op_deadline d;
    d.at_ = at;
    return d;
  }

  [[nodiscard]] bool none() const noexcept { return at_ == deadline_clock::time_point{}; }
  /// The deadline on the loop's clock: the default time point for none, no_deadline for a
  /// timeout too long for the clock.
  [[nodiscard]] deadline_clock::time_point at() const noexcept { return at_; }
  /// Whether it has passed (never, without one).
  [[nodiscard]] bool passed() const noexcept {
    return !none() && at_ <= deadline_clock::now();
  }
  /// The timeout to give the next step: zero (none) without a deadline, nanoseconds::max()
  /// (none: too long for the clock) for no_deadline, and at least a nanosecond once it has passed, so
  /// that the step times out at once rather than wait without a limit.
  [[nodiscard]] std::chrono::nanoseconds remaining() const noexcept {
    if (none()) return std::chrono::nanoseconds{0};
    const deadline_clock::duration left = time_until(at_, deadline_clock::now());
    if (left == deadline_clock::duration::max()) return std::chrono::nanoseconds::max();
    if (left <= deadline_clock::duration::zero()) return std::chrono::nanoseconds{1};
    return std::chrono::duration_cast<std::chrono::nanoseconds>(left);
  }

 private:
  deadline_clock::time_point at_{};
};

}  // namespace ringo::detail
