#pragma once
// Bytes read as text, and text made to a pattern, for the stream tests: what arrives compares
// with what was sent as strings, and a pattern shows a byte out of place or order.
#include <cstddef>
#include <span>
#include <string>

namespace ringo_test {

/// The bytes as a string, unchanged.
inline std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// `n` letters in a pattern that does not repeat for 26 bytes; `seed` shifts it.
inline std::string pattern(std::size_t n, std::size_t seed = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

}  // namespace ringo_test
