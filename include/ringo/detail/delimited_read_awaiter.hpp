#pragma once
// What read_line and read_until of a TCP or Unix stream return (net/stream_socket.hpp). A line
// the stream already holds (in its unread area, or in the buffers its standing receive
// queued) is found by await_ready and copied out by await_resume: no coroutine frame, no
// suspension, one copy into the returned string. That is the common case of a reader keeping
// up with short lines, and it costs little more than a read_some. A read that must wait for
// more bytes runs a task (lib/net/stream_lines.cpp) that goes on from where await_ready
// stopped.
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <utility>

#include <ringo/detail/awaitable_task.hpp>
#include <ringo/detail/stream_state.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/io_context.hpp>
#include <ringo/task.hpp>

namespace ringo::detail {

/// Takes the first `n` bytes of the stream's queued front buffer (there are that many), giving
/// the buffer back to the backend once it is all read.
inline void take_from_front(stream_state& s, std::size_t n) noexcept {
  const recv_event& ev = s.front();
  s.front_offset += static_cast<std::uint32_t>(n);
  if (s.front_offset == static_cast<std::uint32_t>(ev.result)) {
    s.backend->recycle_buffer(ev.buffer);
    s.front_offset = 0;
    s.pop();
  }
}

/// Whether a line read may look for its line in the queue's front buffer: there are bytes
/// there, and no other reader waits for them or was woken to take them.
inline bool front_is_free(stream_state& s) noexcept {
  return !s.orphaned && s.reader == nullptr && !s.handing_over && s.has_event() &&
         s.front().result > 0;
}

/// Where the next line lies in what a stream holds, found but not yet taken: its first
/// `from_unread` bytes in the stream's unread area, then `from_front` bytes at `front`, in the
/// queue's front buffer.
struct held_line {
  std::size_t from_unread = 0;
  const char* front = nullptr;
  std::size_t from_front = 0;
  /// Every line has a byte at least (its delimiter, or the last byte before the end).
  [[nodiscard]] bool found() const noexcept { return from_unread + from_front != 0; }
};

/// The line at `at` copied into a string, and its bytes taken from the unread area and the
/// queue, once the string is made: a std::bad_alloc takes nothing (lib/net/stream_lines.cpp).
std::string take_gathered(stream_state& s, const held_line& at);

/// take_gathered, with its common case inline: the whole line in the front buffer.
inline std::string take_line(stream_state& s, const held_line& at) {
  if (at.from_unread != 0) return take_gathered(s, at);
  std::string out{at.front, at.from_front};
  take_from_front(s, at.from_front);
  return out;
}

/// `s` if a read may use it here: not null, and the calling thread runs its context. These are
/// stream_socket::state()'s checks, made inline by read_line (the call cost it a tenth of a
/// line's time); state() still makes the errors for the rest. Else nullptr.
inline stream_state* usable_here(stream_state* s) noexcept {
  return s != nullptr && s->context == io_context::current() ? s : nullptr;
}

/// A lazy read of the next line (or of the bytes up to a delimiter) of a stream: nothing is
/// read until it is awaited, once. It holds the stream's state from the call on, as the task it
/// stands for would; it can be moved until it is awaited (when_any, when_all and with_timeout
/// move it into a task of their own), and converts to that task<std::string>.
class [[nodiscard]] delimited_read_awaiter {
 public:
  /// read_line's: the delimiter "\n"; at the end of the stream what is left, then "".
  /// Throws std::invalid_argument for a limit of 0.
  delimited_read_awaiter(stream_state& s, std::size_t limit, std::chrono::nanoseconds timeout,
                         std::source_location where)
      : s_(&s), limit_(limit), timeout_(timeout), where_(where), line_(true) {
    if (limit == 0) [[unlikely]]
      throw_no_room();
    s.hold();
  }
  /// read_until's: `delim` (not empty, and no longer than `limit`: the caller checks) is
  /// copied, since the caller's may go before the read is awaited; ENODATA at the end of the
  /// stream.
  delimited_read_awaiter(stream_state& s, std::string_view delim, std::size_t limit,
                         std::chrono::nanoseconds timeout, std::source_location where)
      : s_(&s), delim_(delim), limit_(limit), timeout_(timeout), where_(where), line_(false) {
    s.hold();
  }
  delimited_read_awaiter(delimited_read_awaiter&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)),
        delim_(std::move(o.delim_)),
        limit_(o.limit_),
        timeout_(o.timeout_),
        where_(o.where_),
        line_(o.line_),
        awaited_(o.awaited_) {}
  delimited_read_awaiter(const delimited_read_awaiter&) = delete;
  delimited_read_awaiter& operator=(const delimited_read_awaiter&) = delete;
  delimited_read_awaiter& operator=(delimited_read_awaiter&&) = delete;
  ~delimited_read_awaiter() {
    if (s_ != nullptr) s_->unhold();
  }

  /// True when the line was found in what the stream holds. Throws std::logic_error when
  /// awaited twice or after a move, std::length_error at the limit (nothing taken).
  bool await_ready() {
    if (s_ == nullptr || awaited_) [[unlikely]]
      throw_awaited_twice();
    awaited_ = true;
    // A cancellation that is due goes through the task, which delivers it before taking
    // anything: the loser of a when_any takes no line.
    if (cancellation_due()) return false;
    return find_in_front() || find_held();
  }
  /// Starts the task that waits for the rest of the line, and passes control to it.
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h);
  std::string await_resume() {
    if (waiting_) return waiting_->await_resume();
    return take_line(*s_, at_);
  }

  /// The read as the task<std::string> it was before it became an awaiter of its own.
  operator task<std::string>() && { return as_task(std::move(*this)); }

 private:
  [[nodiscard]] std::string_view delimiter() const noexcept {
    return line_ ? std::string_view{"\n"} : std::string_view{delim_};
  }
  // The common case, inline: nothing gathered, a one-byte delimiter (every read_line's), and
  // the line ends in the queue's front buffer, with no other reader waiting for it. True with
  // the line's place in at_, the queue untouched.
  bool find_in_front() noexcept {
    stream_state& s = *s_;
    if ((!line_ && delim_.size() != 1) || s.has_unread() || !front_is_free(s)) return false;
    const recv_event& ev = s.front();
    const char* at =
        reinterpret_cast<const char*>(s.backend->buffer_data(ev.buffer)) + s.front_offset;
    const std::size_t avail = static_cast<std::size_t>(ev.result) - s.front_offset;
    const void* end = std::memchr(at, line_ ? '\n' : delim_[0], avail < limit_ ? avail : limit_);
    if (end == nullptr) return false;
    at_ = {0, at, static_cast<std::size_t>(static_cast<const char*>(end) - at) + 1};
    return true;
  }
  /// Every other case (lib/net/stream_lines.cpp): a line in the unread area, or one that
  /// spans several buffers, or a longer delimiter. True with the line's place in at_; false
  /// when more bytes must come (those looked at kept in the stream's unread area).
  bool find_held();
  [[noreturn]] static void throw_awaited_twice();
  [[noreturn]] static void throw_no_room();  // read_line's limit of 0

  stream_state* s_;    // held; null once moved from
  std::string delim_;  // read_until's
  std::size_t limit_;
  std::chrono::nanoseconds timeout_;
  std::source_location where_;
  held_line at_;             // where await_ready found the line
  std::size_t scanned_ = 0;  // bytes of the unread area that await_ready found no delimiter in
  std::optional<task<std::string>::awaiter> waiting_;
  bool line_;
  bool awaited_ = false;
};

}  // namespace ringo::detail
