// Lines and delimiters on TCP and Unix streams (read_line, read_until), and the unread area that
// makes them mix with every other read.
//
// A line is cut from the bytes where they already are: from the front buffer of the receive
// queue (a lent buffer: one copy, into the returned string) while the line ends in it, else
// from the stream's unread area, where the bytes of a line that spans several receives gather.
// Those gathered bytes belong to the stream, not to the call: a read that ends without its
// line (the limit, the deadline, a cancellation, the end of the stream) leaves them there, and
// the next read of any kind takes them first.
//
// The awaiter (detail/delimited_read_awaiter.hpp) finds a line that is already there itself,
// the common case inline; only a read that must wait runs read_delimited, a task.
#include <ringo/net/tcp_stream.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/io_context.hpp>

#include "net/stream_lines.hpp"

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

void throw_bad_delimiter(std::string_view op, std::string_view delim, std::size_t limit) {
  if (delim.empty()) {
    throw std::invalid_argument(fmt::format("{}: an empty delimiter ends nothing", op));
  }
  throw std::invalid_argument(
      fmt::format("{}: a limit of {} bytes holds no {}-byte delimiter", op, limit, delim.size()));
}

std::unique_ptr<std::byte[]> stream_read_awaiter::take_unread(std::size_t& size) {
  unread_area& u = s_->unread();
  size = std::min<std::size_t>(u.size(), UINT32_MAX);
  // Kept as the stream's spare receive buffer when it comes back: at least that size.
  const std::size_t own = own_buffer_size(*s_->backend);
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

/// Delivers a cancellation that is due: a read_line cancelled takes nothing (what it gathered
/// stays in the unread area).
void deliver_cancellation(const stream_state& s) {
  if (cancellation_due() && current_loop()->running_task().take_cancellation()) {
    throw operation_cancelled(fmt::format("recv on {}: operation cancelled", s.peer));
  }
}

/// Finds the next line in what the stream holds, without waiting: in its unread area first,
/// then in the buffers queued by the standing receive while no other reader waits for them.
/// Only the bytes of a line that goes on past the front buffer are copied, into the unread
/// area. When none is found, more bytes must come: those looked at are in the unread area,
/// the first `scanned` of them known to hold no delimiter. Throws std::length_error when
/// `limit` bytes hold none (all of them in the unread area).
held_line find_held(stream_state& s, std::string_view delim, std::size_t limit,
                    std::size_t& scanned) {
  for (;;) {
    std::string_view held;
    if (s.has_unread()) {
      held = chars(s.unread().bytes());
      const std::size_t end = delimiter_end(held, scanned, delim, limit);
      if (end != no_delimiter) return {end, nullptr, 0};
      if (held.size() >= limit) throw_line_too_long(fmt::format("recv on {}", s.peer), limit);
      scanned = held.size();
    }
    if (!front_is_free(s)) return {};
    const recv_event& ev = s.front();
    const std::string_view next{
        reinterpret_cast<const char*>(s.backend->buffer_data(ev.buffer)) + s.front_offset,
        std::min<std::size_t>(static_cast<std::size_t>(ev.result) - s.front_offset,
                              limit - held.size())};
    const std::size_t end = delimiter_end_in_next(held, next, delim);
    if (end != no_delimiter) return {held.size(), next.data(), end};
    s.unread().append(std::as_bytes(std::span{next.data(), next.size()}));
    take_from_front(s, next.size());
    scanned = held.size() + next.size();  // none in `next`, nor across its seam with `held`
  }
}

// The part of a line read that waits: it goes on from where await_ready stopped (`scanned`).
task<std::string> read_delimited(state_hold<stream_state> s, std::string delim, std::size_t limit,
                                 std::chrono::nanoseconds timeout, std::source_location where,
                                 bool line, std::size_t scanned) {
  const deadline_clock::time_point until =
      timeout.count() > 0 ? deadline_after(timeout) : no_deadline;
  std::byte one{};
  for (;;) {
    deliver_cancellation(*s);
    const held_line at = find_held(*s, delim, limit, scanned);
    if (at.found()) co_return take_line(*s, at);
    // Wait for more: an error queued, the end of the stream, the deadline and a cancellation
    // come through the read as they do for read_some.
    std::chrono::nanoseconds left{0};
    if (until != no_deadline) {
      left = std::max(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          time_until(until, deadline_clock::now())),
                      std::chrono::nanoseconds{1});
    }
    // A one-shot receive goes into the free end of the unread area. A stream that waits for
    // its standing receive needs no room (an idle connection holds none): should the ring run
    // dry under it, its one-shot receive takes a single byte, into `one`.
    const bool standing = s->reads_standing();
    std::span<std::byte> into =
        standing ? std::span{&one, 1} : s->unread().space(own_buffer_size(*s->backend));
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
    co_return take_line(*s, {rest, nullptr, 0});
  }
}

}  // namespace

void delimited_read_awaiter::throw_awaited_twice() {
  throw std::logic_error(
      "a read_line or read_until awaited twice or after being moved from: it reads once, so "
      "await it once (call it again for the next line)");
}

void delimited_read_awaiter::throw_no_room() {
  throw_bad_delimiter("read_line", "\n", 0);
}

bool delimited_read_awaiter::find_held() {
  at_ = detail::find_held(*s_, delimiter(), limit_, scanned_);
  return at_.found();
}

std::string take_gathered(stream_state& s, const held_line& at) {
  std::string out;
  out.reserve(at.from_unread + at.from_front);
  out.assign(chars(s.unread().bytes().first(at.from_unread)));
  if (at.from_front != 0) out.append(at.front, at.from_front);
  // Taken only once the string is made: a std::bad_alloc leaves every byte in the stream.
  s.unread().consume(at.from_unread);
  if (at.from_front != 0) take_from_front(s, at.from_front);
  return out;
}

std::coroutine_handle<> delimited_read_awaiter::await_suspend(std::coroutine_handle<> h) {
  task<std::string> rest = read_delimited(state_hold{*s_}, std::string{delimiter()}, limit_,
                                          timeout_, where_, line_, scanned_);
  waiting_.emplace(task_access::release(rest));
  return waiting_->await_suspend(h);
}

}  // namespace ringo::detail

namespace ringo::net {

detail::delimited_read_awaiter stream_socket::read_until(std::string_view delimiter,
                                                         std::size_t limit,
                                                         std::chrono::nanoseconds timeout,
                                                         std::source_location where) {
  detail::stream_state& s = state("read_until");
  detail::check_delimiter("read_until", delimiter, limit);
  return detail::delimited_read_awaiter{s, delimiter, limit, timeout, where};
}

}  // namespace ringo::net
