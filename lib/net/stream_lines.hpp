#pragma once
// What the line reads of every stream share (read_line, read_until: lib/net/stream_lines.cpp for
// TCP and Unix streams, lib/tls/lines.cpp for TLS): finding the delimiter in bytes that arrive
// in pieces, and their errors.
#include <cstddef>
#include <cstring>
#include <string_view>

#include <ringo/detail/lent_buffers.hpp>

namespace ringo::detail {

inline constexpr std::size_t no_delimiter = std::string_view::npos;

// The size of a stream's own receive buffer when the backend lends none.
inline std::size_t own_buffer_size(lent_buffers& r) {
  const std::size_t n = r.buffer_size();
  return n != 0 ? n : 4096;
}

/// Where the first `delim` in `in` at or after `from` begins, or no_delimiter. A one-byte
/// delimiter (every read_line's) is looked for with memchr alone: std::string_view::find
/// would also memcmp each byte it finds with itself.
inline std::size_t find_delimiter(std::string_view in, std::string_view delim,
                                  std::size_t from = 0) noexcept {
  if (delim.size() != 1) return in.find(delim, from);
  if (from >= in.size()) return no_delimiter;
  const void* at = std::memchr(in.data() + from, delim[0], in.size() - from);
  return at == nullptr ? no_delimiter
                       : static_cast<std::size_t>(static_cast<const char*>(at) - in.data());
}

/// Where the first delimiter in the first `limit` bytes of `held` ends, or no_delimiter; the
/// first `scanned` bytes are known to hold none.
inline std::size_t delimiter_end(std::string_view held, std::size_t scanned, std::string_view delim,
                                 std::size_t limit) noexcept {
  const std::string_view window = held.substr(0, limit);
  const std::size_t from = scanned >= delim.size() ? scanned - (delim.size() - 1) : 0;
  const std::size_t at = find_delimiter(window, delim, from);
  return at == no_delimiter ? no_delimiter : at + delim.size();
}

/// Where the first delimiter of `held` followed by `next` ends, counted in bytes of `next`
/// (a delimiter may begin in held's last bytes), or no_delimiter when none ends in `next`.
/// `held` holds no whole delimiter.
inline std::size_t delimiter_end_in_next(std::string_view held, std::string_view next,
                                         std::string_view delim) noexcept {
  // Beginning in held: its last delim.size() - 1 bytes at most, the earliest first.
  const std::size_t tail = held.size() < delim.size() ? held.size() : delim.size() - 1;
  for (std::size_t i = held.size() - tail; i < held.size(); ++i) {
    const std::size_t in_held = held.size() - i;
    const std::size_t in_next = delim.size() - in_held;
    if (in_next <= next.size() && held.substr(i) == delim.substr(0, in_held) &&
        next.substr(0, in_next) == delim.substr(in_held)) {
      return in_next;
    }
  }
  const std::size_t at = find_delimiter(next, delim);
  return at == no_delimiter ? no_delimiter : at + delim.size();
}

/// The std::length_error of a line read that found no delimiter in its first `limit` bytes;
/// `what` names the read ("recv on 127.0.0.1:9090").
[[noreturn]] void throw_line_too_long(std::string_view what, std::size_t limit);
/// The std::system_error (ENODATA) of read_until at the end of the stream, `held` bytes after
/// the last delimiter.
[[noreturn]] void throw_no_delimiter(std::string_view what, std::size_t held);
/// The std::invalid_argument for an empty delimiter, or a limit it does not fit in.
[[noreturn]] void throw_bad_delimiter(std::string_view op, std::string_view delim,
                                      std::size_t limit);
inline void check_delimiter(std::string_view op, std::string_view delim, std::size_t limit) {
  if (delim.empty() || limit < delim.size()) [[unlikely]]
    throw_bad_delimiter(op, delim, limit);
}

}  // namespace ringo::detail
