#pragma once
// The buffers that the streams' reads and writes take besides std::span<std::byte>: any
// contiguous range of one-byte elements (std::string, std::vector<unsigned char>,
// std::array<char, N>, char[N], std::span<char>), viewed as bytes.
#include <cstddef>
#include <ranges>
#include <span>
#include <type_traits>

namespace ringo::detail {

/// A contiguous, sized range of trivially copyable one-byte elements.
template <class R>
concept byte_range = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                         sizeof(std::ranges::range_value_t<R>) == 1 &&
                     std::is_trivially_copyable_v<std::ranges::range_value_t<R>>;

/// One whose bytes can be written (a read's buffer).
template <class R>
concept writable_byte_range =
    byte_range<R> && !std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>;

/// A string literal, or another array of const char: written as text, without the '\0' that
/// ends it (write_all's string_view overload takes it).
template <class R>
concept const_char_array = std::is_array_v<std::remove_reference_t<R>> &&
                           std::is_same_v < std::remove_extent_t<std::remove_reference_t<R>>,
const char > ;

/// A range to write: any byte range but a string literal.
template <class R>
concept written_byte_range = byte_range<R> && !const_char_array<R>;

template <class R>
std::span<std::byte> writable_bytes_of(R&& r) noexcept {
  return std::as_writable_bytes(std::span{std::ranges::data(r), std::ranges::size(r)});
}

template <class R>
std::span<const std::byte> bytes_of(R&& r) noexcept {
  return std::as_bytes(std::span{std::ranges::data(r), std::ranges::size(r)});
}

}  // namespace ringo::detail
