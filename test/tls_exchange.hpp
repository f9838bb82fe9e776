#pragma once
// Bulk transfers for the TLS tests: a pattern written one way while the other is read, each
// side ending its writing with a close_notify, so that both ends know every byte came in order.
#include <ringo/net/tls_stream.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

namespace ringo_test {

using ringo::net::tls_stream;
using namespace std::chrono_literals;

inline std::byte pattern(std::size_t i, unsigned salt) {
  return static_cast<std::byte>((i * 131 + (i >> 12) + salt) & 0xff);
}

inline ringo::task<void> write_pattern(tls_stream& s, std::size_t total, unsigned salt) {
  std::vector<std::byte> chunk(200 * 1024);  // not a multiple of the record size
  std::size_t done = 0;
  while (done < total) {
    const std::size_t n = std::min(chunk.size(), total - done);
    for (std::size_t i = 0; i < n; ++i)
      chunk[i] = pattern(done + i, salt);
    co_await s.write_all(std::span{chunk.data(), n}, 20s);
    done += n;
  }
}

// Reads until the peer's close_notify; returns how many bytes matched the pattern in order.
inline ringo::task<std::size_t> read_pattern(tls_stream& s, unsigned salt) {
  std::vector<std::byte> buf(48 * 1024);
  std::size_t total = 0;
  bool in_order = true;
  while (const std::size_t n = co_await s.read_some(buf, 20s)) {
    for (std::size_t i = 0; i < n && in_order; ++i)
      in_order = buf[i] == pattern(total + i, salt);
    total += n;
  }
  co_return in_order ? total : 0;
}

/// Writes `total` bytes of pattern `out_salt` while reading the peer's (of `in_salt`) until its
/// close_notify; how many bytes came in order.
inline ringo::task<std::size_t> exchange(tls_stream& s, std::size_t total, unsigned out_salt,
                                         unsigned in_salt) {
  auto reader = ringo::spawn(read_pattern(s, in_salt));
  co_await write_pattern(s, total, out_salt);
  co_await s.shutdown();                    // the peer's reader ends on our close_notify...
  const std::size_t got = co_await reader;  // ...and ours on the peer's
  co_await s.close();
  co_return got;
}

}  // namespace ringo_test
