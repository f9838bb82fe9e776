#pragma once
/// \file
/// ringo::elements_of: `co_yield ringo::elements_of(r)` yields every element of `r` from a
/// ringo::generator, Python's `yield from`.
#include <type_traits>

namespace ringo {

/// Wraps a generator or a range for `co_yield ringo::elements_of(r)` inside a ringo::generator.
///
/// The wrapper holds `r` by reference: `r` (a named object, or a temporary of the co_yield
/// full-expression) outlives the delegation, which ends inside that expression. Delegating to a
/// generator of the same Y and S passes sends and raises through to it; any other input range
/// is iterated, each element converted to Y.
template <class R>
struct elements_of {
  static_assert(std::is_reference_v<R>, "elements_of holds its range by reference");

  /// Wraps `r`; use the deduction guide, `elements_of(r)`, rather than naming R.
  constexpr explicit elements_of(R r) noexcept : range(static_cast<R>(r)) {}

  /// The wrapped range or generator.
  R range;
};

/// Deduces a reference to the argument, lvalue or rvalue: nothing is copied or moved.
template <class R>
elements_of(R&&) -> elements_of<R&&>;

}  // namespace ringo
