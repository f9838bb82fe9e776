// Lines and delimiters on TLS streams (read_line, read_until). The plaintext is decrypted into
// the stream's unread area and the line cut from there; what follows the line, and the bytes
// of a line that a read did not finish (the limit, the deadline, a cancellation, the end of
// the stream), stay in it for the next read of any kind (tls_read_some takes them first).
#include <ringo/net/tls_stream.hpp>

#include <string>

#include <fmt/format.h>

#include <ringo/detail/suspension.hpp>

#include "net/stream_lines.hpp"
#include "tls/state.hpp"

namespace ringo::detail {
namespace {

// Decrypted into the unread area at a time: a whole record.
constexpr std::size_t plain_chunk = 16 * 1024;

std::string_view chars(std::span<const std::byte> b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

task<std::string> tls_read_delimited(std::shared_ptr<tls_state> s, std::string delim,
                                     std::size_t limit, std::chrono::nanoseconds timeout,
                                     std::source_location where, bool line) {
  tls_in_progress reading{s->reading, line ? "read_line" : "read_until"};
  const op_deadline deadline{timeout};
  unread_area& area = s->plain;
  std::size_t scanned = 0;  // bytes of the area known to hold no delimiter
  for (;;) {
    // A cancellation that is due is delivered here, before a line is taken from the area:
    // the loser of a when_any takes nothing.
    if (cancellation_due() && current_loop()->running_task().take_cancellation()) {
      throw operation_cancelled(fmt::format("TLS read from {}: operation cancelled", s->peer));
    }
    const std::string_view held = chars(area.bytes());
    const std::size_t end = delimiter_end(held, scanned, delim, limit);
    if (end != no_delimiter) {
      std::string out{held.substr(0, end)};
      area.consume(end);
      co_return out;
    }
    if (held.size() >= limit) {
      throw_line_too_long(fmt::format("TLS read from {}", s->peer), limit);
    }
    scanned = held.size();
    // The decrypted bytes join the area only once the read returns: one that throws took
    // none, and those gathered before stay.
    const std::span<std::byte> into = area.space(plain_chunk);
    const std::size_t got = co_await tls_read_plain(*s, into.first(plain_chunk), deadline, where);
    if (got != 0) {
      area.commit(got);
      continue;
    }
    if (!line) throw_no_delimiter(fmt::format("TLS read from {}", s->peer), area.size());
    std::string out{chars(area.bytes())};
    area.consume(area.size());
    co_return out;
  }
}

}  // namespace
}  // namespace ringo::detail

namespace ringo::net {

task<std::string> tls_stream::read_line(std::size_t limit, std::chrono::nanoseconds timeout,
                                        std::source_location where) {
  state("read_line");
  detail::check_delimiter("tls_stream::read_line", "\n", limit);
  return detail::tls_read_delimited(s_, "\n", limit, timeout, where, true);
}

task<std::string> tls_stream::read_until(std::string_view delimiter, std::size_t limit,
                                         std::chrono::nanoseconds timeout,
                                         std::source_location where) {
  state("read_until");
  detail::check_delimiter("tls_stream::read_until", delimiter, limit);
  return detail::tls_read_delimited(s_, std::string{delimiter}, limit, timeout, where, false);
}

}  // namespace ringo::net
