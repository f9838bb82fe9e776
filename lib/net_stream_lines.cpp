// Lines and delimiters on TCP and Unix streams (read_line, read_until), and the unread area that
// makes them mix with every other read.
//
// A line is cut from the bytes where they already are: from the front buffer of the receive
// queue (a provided buffer: one copy, into the returned string) while the line ends in it, else
// from the stream's unread area, where the bytes of a line that spans several receives gather.
// Those gathered bytes belong to the stream, not to the call: a read that ends without its
// line (the limit, the deadline, a cancellation, the end of the stream) leaves them there, and
// the next read of any kind takes them first.
#include <ringo/net/tcp_stream.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/io_context.hpp>

#include "stream_lines.hpp"

namespace ringo::detail {

void throw_line_too_long(std::string_view what, std::size_t limit) {
  throw std::length_error(
      fmt::format("{}: no delimiter in the first {} bytes (the limit); they stay in the stream "
                  "for the next read",
                  what, limit));
}

void throw_no_delimiter(std::string_view what, std::size_t held) {
  throw std::system_error(
      ENODATA, std::system_category(),
      fmt::format("{}: end of stream after {} bytes, before the delimiter", what, held));
}

void check_delimiter(std::string_view op, std::string_view delim, std::size_t limit) {
  if (delim.empty()) {
    throw std::invalid_argument(fmt::format("{}: an empty delimiter ends nothing", op));
  }
  if (limit < delim.size()) {
    throw std::invalid_argument(
        fmt::format("{}: a limit of {} bytes holds no {}-byte delimiter", op, limit, delim.size()));
  }
}

std::unique_ptr<std::byte[]> stream_read_awaiter::take_unread(std::size_t& size) {
  unread_area& u = s_->unread();
  size = std::min<std::size_t>(u.size(), UINT32_MAX);
  // Kept as the stream's spare receive buffer when it comes back: at least that size.
  const std::size_t own = own_buffer_size(*s_->ring);
  std::unique_ptr<std::byte[]> b = size <= own ? s_->take_spare() : nullptr;
  if (!b) b = std::make_unique_for_overwrite<std::byte[]>(std::max(size, own));
  u.take({b.get(), size});
  ++s_->lent;
  return b;
}

std::size_t stream_read_awaiter::take_fill() {
  if (check_outcome()) return static_cast<std::size_t>(res_);
  if (at_end_of_queue()) return 0;
  return fill_awaiter::queued_bytes;
}

namespace {

std::string_view chars(std::span<const std::byte> b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Takes `n` bytes of the queue's front buffer, giving it back once it is all read.
void advance_front(stream_state& s, std::size_t n) noexcept {
  const recv_event& ev = s.front();
  s.front_offset += static_cast<std::uint32_t>(n);
  if (s.front_offset == static_cast<std::uint32_t>(ev.result)) {
    s.ring->recycle_buffer(ev.buffer);
    s.front_offset = 0;
    s.pop();
  }
}

/// Delivers a cancellation that is due: a read_line cancelled takes nothing (what it gathered
/// stays in the unread area).
void deliver_cancellation(const stream_state& s) {
  if (cancellation_due() && current_loop()->running_task().take_cancellation()) {
    throw operation_cancelled(fmt::format("recv on {}: operation cancelled", s.peer));
  }
}

task<std::string> read_delimited(state_hold<stream_state> s, std::string delim, std::size_t limit,
                                 std::chrono::nanoseconds timeout, std::source_location where,
                                 bool line) {
  const deadline_clock::time_point until =
      timeout.count() > 0 ? deadline_after(timeout) : no_deadline;
  std::size_t scanned = 0;  // bytes of the unread area known to hold no delimiter
  std::byte one{};
  for (;;) {
    deliver_cancellation(*s);
    std::string_view held;
    if (s->has_unread()) {
      held = chars(s->unread().bytes());
      const std::size_t end = delimiter_end(held, scanned, delim, limit);
      if (end != no_delimiter) {
        std::string out{held.substr(0, end)};
        s->unread().consume(end);
        co_return out;
      }
      if (held.size() >= limit) throw_line_too_long(fmt::format("recv on {}", s->peer), limit);
      scanned = held.size();
    }
    // Bytes queued, and no other reader: the line is looked for in the front buffer itself,
    // and only the bytes of a line that goes on past it are copied into the unread area.
    if (!s->orphaned && s->reader == nullptr && !s->handing_over && s->has_event() &&
        s->front().result > 0) {
      const recv_event& ev = s->front();
      const std::string_view next{
          reinterpret_cast<const char*>(s->ring->buffer_data(ev.buffer)) + s->front_offset,
          std::min<std::size_t>(static_cast<std::size_t>(ev.result) - s->front_offset,
                                limit - held.size())};
      const std::size_t end = delimiter_end_in_next(held, next, delim);
      if (end != no_delimiter) {
        std::string out;
        out.reserve(held.size() + end);
        out.append(held).append(next.substr(0, end));
        if (!held.empty()) s->unread().consume(held.size());
        advance_front(*s, end);
        co_return out;
      }
      s->unread().append(std::as_bytes(std::span{next.data(), next.size()}));
      advance_front(*s, next.size());
      continue;
    }
    // Wait for more: an error queued, the end of the stream, the deadline and a cancellation
    // come through the read as they do for read_some.
    std::chrono::nanoseconds left{0};
    if (until != no_deadline) {
      left = std::max(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          time_until(until, deadline_clock::now())),
                      std::chrono::nanoseconds{1});
    }
    // A one-shot receive goes into the free end of the unread area. A stream that waits for
    // its multishot receive needs no room (an idle connection holds none): should the ring run
    // dry under it, its one-shot receive takes a single byte, into `one`.
    const bool multishot =
        s->context->features().provided_buffers && !s->starved && !s->exact_reads;
    std::span<std::byte> into =
        multishot ? std::span{&one, 1} : s->unread().space(own_buffer_size(*s->ring));
    const std::size_t got = co_await fill_awaiter{*s, into, left, where};
    if (got == fill_awaiter::queued_bytes) continue;
    if (got != 0) {
      if (into.data() == &one) {
        s->unread().append(into.first(1));
      } else {
        s->unread().commit(got);
      }
      continue;
    }
    const std::size_t rest = s->has_unread() ? s->unread().size() : 0;
    if (!line) throw_no_delimiter(fmt::format("recv on {}", s->peer), rest);
    if (rest == 0) co_return std::string{};
    std::string out{chars(s->unread().bytes())};
    s->unread().consume(rest);
    co_return out;
  }
}

}  // namespace
}  // namespace ringo::detail

namespace ringo::net {

task<std::string> stream_socket::read_line(std::size_t limit, std::chrono::nanoseconds timeout,
                                           std::source_location where) {
  detail::stream_state& s = state("read_line");
  detail::check_delimiter("read_line", "\n", limit);
  return detail::read_delimited(detail::state_hold{s}, "\n", limit, timeout, where, true);
}

task<std::string> stream_socket::read_until(std::string_view delimiter, std::size_t limit,
                                            std::chrono::nanoseconds timeout,
                                            std::source_location where) {
  detail::stream_state& s = state("read_until");
  detail::check_delimiter("read_until", delimiter, limit);
  return detail::read_delimited(detail::state_hold{s}, std::string{delimiter}, limit, timeout,
                                where, false);
}

}  // namespace ringo::net
