#pragma once
// Several writers on one stream, whatever the stream (tcp_stream, unix_stream, tls_stream): the
// checks shared by test/stream_writers_test.cpp and test/tls_writers_test.cpp. Each takes a
// connected pair (`client` writes, `server` reads) made by the caller.
//
// The writers are spawned one after the other and each calls write_all as its first step, so
// the order they run in (the loop's ready queue is FIFO) is the order of the calls. A write of
// `big` bytes to a peer that does not read fills the socket's buffers and holds the stream
// until the peer reads: the writes spawned after it wait their turn.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>
#include <ringo/when_any.hpp>

#include "catch.hpp"

namespace ringo_test {

inline constexpr std::size_t mib = std::size_t{1} << 20;
/// Larger than any loopback socket's buffers: a write of this size waits for the reader.
inline constexpr std::size_t big = 32 * mib;

/// `n` bytes of value `b`.
inline std::vector<std::byte> bytes_of_value(char b, std::size_t n) {
  return std::vector<std::byte>(n, static_cast<std::byte>(b));
}

/// What a stream received, as runs of equal bytes: ("a", 1048576), ("b", 1048576), ...
using runs = std::vector<std::pair<char, std::size_t>>;

/// Reads `s` until end of stream or an error (a close under a write may end it either way) or
/// until `limit` bytes came, and returns what came as runs.
template <class Stream>
ringo::task<runs> read_runs(Stream& s, std::size_t limit = static_cast<std::size_t>(-1)) {
  runs got;
  std::vector<std::byte> buf(1 << 16);
  std::size_t total = 0;
  while (total < limit) {
    std::size_t n = 0;
    try {
      n = co_await s.read_some(buf);
    } catch (const std::system_error&) {
      break;  // reset, or a TLS stream cut without close_notify
    }
    if (n == 0) break;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = static_cast<char>(buf[i]);
      if (got.empty() || got.back().first != c) {
        got.emplace_back(c, 1);
      } else {
        ++got.back().second;
      }
    }
    total += n;
  }
  co_return got;
}

inline std::string describe(const runs& r) {
  std::string out;
  for (const auto& [c, n] : r)
    out += fmt::format("{}x{} ", c, n);
  return out;
}

/// Reads and drops what the reading end sends the writing end until the writing end is closed:
/// a TLS server sends session tickets after its handshake, and a socket closed with bytes it
/// never read sends a reset, which would throw away what the peer has not read yet.
template <class Stream>
ringo::task<void> drain(Stream& s) {
  std::vector<std::byte> buf(4096);
  try {
    while (co_await s.read_some(buf) != 0) {
    }
  } catch (const std::exception&) {
    // closed under the read: done
  }
}

/// A task writing `data` to `s`, as a spawned writer does.
template <class Stream>
ringo::task<void> write_task(Stream& s, const std::vector<std::byte>& data,
                             std::chrono::nanoseconds timeout = {}) {
  co_await s.write_all(data, timeout);
}

/// The outcome of a writer's join: "ok", or the exception's kind and errno.
struct outcome {
  bool ok = false;
  bool timed_out = false;
  bool cancelled = false;
  int errc = 0;  // a std::system_error's value
  std::string what;
};

inline ringo::task<outcome> outcome_of(ringo::join_handle<void>& h) {
  outcome o;
  try {
    co_await h;
    o.ok = true;
  } catch (const ringo::timed_out& e) {
    o.timed_out = true;
    o.what = e.what();
  } catch (const ringo::operation_cancelled& e) {
    o.cancelled = true;
    o.what = e.what();
  } catch (const std::system_error& e) {
    o.errc = e.code().value();
    o.what = e.what();
  }
  co_return o;
}

/// Three writes of 1 MiB each, and a fourth of `parts` where the stream has that overload, all
/// at once: the reader gets each one's bytes whole, in the order they were called.
template <class Pair>
ringo::task<void> check_writes_in_call_order(Pair& p) {
  const auto a = bytes_of_value('a', mib);
  const auto b = bytes_of_value('b', mib);
  const auto c = bytes_of_value('c', mib);
  std::vector<ringo::join_handle<void>> writers;
  writers.push_back(ringo::spawn(write_task(p.client, a)));
  writers.push_back(ringo::spawn(write_task(p.client, b)));
  writers.push_back(ringo::spawn(write_task(p.client, c)));
  const auto d = bytes_of_value('d', mib / 4);
  const auto e = bytes_of_value('e', mib / 4);
  const std::vector<std::span<const std::byte>> parts{d, e, d, e};
  bool gathered = false;
  if constexpr (requires { p.client.write_all(std::span{parts}); }) {
    gathered = true;
    writers.push_back(ringo::spawn([](auto& s, const auto& ps) -> ringo::task<void> {
      co_await s.write_all(std::span{ps});
    }(p.client, parts)));
  }
  runs expected{{'a', mib}, {'b', mib}, {'c', mib}};
  if (gathered) {
    for (char x : {'d', 'e', 'd', 'e'})
      expected.emplace_back(x, mib / 4);
  }
  std::size_t total = 0;
  for (const auto& [ch, n] : expected)
    total += n;
  const runs got = co_await read_runs(p.server, total);
  for (auto& w : writers) {
    const outcome o = co_await outcome_of(w);
    CHECK(o.ok);
  }
  INFO(describe(got));
  CHECK(got == expected);
}

/// A write waiting its turn that times out, or is cancelled (by join_handle::cancel or as the
/// loser of a when_any), leaves the line: none of its bytes is sent, and the writes before and
/// after it go out whole.
template <class Pair>
ringo::task<void> check_waiting_writer_leaves_the_line(Pair& p, const char* how) {
  const auto first = bytes_of_value('a', big);
  const auto left = bytes_of_value('x', mib);
  const auto last = bytes_of_value('c', mib);
  auto a = ringo::spawn(write_task(p.client, first));
  const std::string_view mode{how};
  std::optional<ringo::join_handle<void>> c;
  if (mode == "timeout") {
    auto b = ringo::spawn(write_task(p.client, left, std::chrono::milliseconds{50}));
    c.emplace(ringo::spawn(write_task(p.client, last)));
    const outcome o = co_await outcome_of(b);
    CHECK(o.timed_out);
    CHECK(o.what.find("deadline passed") != std::string::npos);
  } else if (mode == "cancel") {
    auto b = ringo::spawn(write_task(p.client, left));
    c.emplace(ringo::spawn(write_task(p.client, last)));
    co_await ringo::yield();  // all three have called write_all: b waits its turn
    b.cancel();
    const outcome o = co_await outcome_of(b);
    CHECK(o.cancelled);
  } else {  // "when_any": the write loses to a timer and is cancelled while it waits
    co_await ringo::yield();  // a holds the stream
    const auto won = co_await ringo::when_any(p.client.write_all(left),
                                              ringo::sleep_for(std::chrono::milliseconds{20}));
    CHECK(won.index() == 1);
    c.emplace(ringo::spawn(write_task(p.client, last)));
  }
  const runs got = co_await read_runs(p.server, big + mib);
  INFO(describe(got));
  CHECK(got == runs{{'a', big}, {'c', mib}});
  const outcome oa = co_await outcome_of(a);
  const outcome oc = co_await outcome_of(*c);
  CHECK(oa.ok);
  CHECK(oc.ok);
}

/// close() while one write is in flight and two wait their turn: the waiting ones end with
/// EBADF at once, none of their bytes sent; the peer gets a part of the first write at most.
template <class Pair>
ringo::task<void> check_close_ends_waiting_writers(Pair& p) {
  const auto first = bytes_of_value('a', big);
  const auto second = bytes_of_value('b', mib);
  const auto third = bytes_of_value('c', mib);
  auto a = ringo::spawn(write_task(p.client, first));
  auto b = ringo::spawn(write_task(p.client, second));
  auto c = ringo::spawn(write_task(p.client, third));
  co_await ringo::yield();  // all three have called write_all
  try {
    co_await p.client.close();
  } catch (const std::system_error&) {
    // A TLS close that could not send its close_notify still closes: not what is checked here.
  }
  for (auto* h : {&b, &c}) {
    const outcome o = co_await outcome_of(*h);
    CHECK(o.errc == EBADF);
    CHECK(o.what.find("closed") != std::string::npos);
  }
  const outcome oa = co_await outcome_of(a);
  CHECK_FALSE(oa.ok);
  const runs got = co_await read_runs(p.server);
  INFO(describe(got));
  CHECK(got.size() <= 1);
  if (!got.empty()) {
    CHECK(got[0].first == 'a');
    CHECK(got[0].second < big);
  }
}

/// Three writers of 1 MiB each race a close() that comes after `delay` (at least 1: by then
/// every writer has called write_all) turns of the loop,
/// while the peer reads. Whatever the timing, the peer gets the writes that succeeded whole and
/// in order, then at most a part of the first one that failed, and every write after a failed
/// one failed too: nothing interleaves and nothing comes out of order.
template <class Pair>
ringo::task<void> check_writers_racing_close(Pair& p, int delay) {
  const std::vector<std::vector<std::byte>> data{bytes_of_value('a', mib), bytes_of_value('b', mib),
                                                 bytes_of_value('c', mib)};
  auto draining = ringo::spawn(drain(p.client));
  std::vector<ringo::join_handle<void>> writers;
  for (const auto& d : data)
    writers.push_back(ringo::spawn(write_task(p.client, d)));
  auto reading = ringo::spawn(read_runs(p.server));
  for (int i = 0; i < delay; ++i)
    co_await ringo::yield();
  try {
    co_await p.client.close();
  } catch (const std::system_error&) {
  }
  std::vector<outcome> results;
  for (auto& w : writers)
    results.push_back(co_await outcome_of(w));
  co_await draining;
  const runs got = co_await reading;
  INFO("close after " << delay << " turns; received " << describe(got));
  std::size_t next = 0;  // the run of `got` to match
  bool failed = false;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const char value = static_cast<char>('a' + i);
    INFO("writer " << i << ": " << (results[i].ok ? "ok" : results[i].what));
    if (failed) {
      CHECK_FALSE(results[i].ok);  // queued behind a write the close cut: ended too
      continue;
    }
    if (results[i].ok) {
      REQUIRE(next < got.size());
      CHECK(got[next] == std::pair{value, mib});
      ++next;
      continue;
    }
    failed = true;
    if (next < got.size()) {  // a part of the write the close cut
      CHECK(got[next].first == value);
      CHECK(got[next].second < mib);
      ++next;
    }
  }
  CHECK(next == got.size());  // nothing after
}

/// Writers may be several, readers not: a second read while one waits (read_some, then
/// read_line) is a std::logic_error, and the first read still gets its bytes.
template <class Pair>
ringo::task<void> check_two_readers_refused(Pair& p) {
  auto first = ringo::spawn([](auto& s) -> ringo::task<std::size_t> {
    std::vector<std::byte> buf(16);
    co_return co_await s.read_some(buf);
  }(p.server));
  co_await ringo::yield();  // the first read waits for bytes
  int refused = 0;
  std::vector<std::byte> buf(16);
  try {
    (void)co_await p.server.read_some(buf);
  } catch (const std::logic_error&) {
    ++refused;
  }
  try {
    (void)co_await p.server.read_line();
  } catch (const std::logic_error&) {
    ++refused;
  }
  CHECK(refused == 2);
  co_await p.client.write_all(std::string_view{"hello"});
  const std::size_t n = co_await first;
  CHECK(n == 5);
}

/// Many writers of mixed sizes at once, some with short timeouts, some cancelled, while the
/// peer reads in small steps; then a close. Writer k writes bytes of value k. The peer must get,
/// writer after writer in call order, every byte of each write that returned and a prefix
/// (perhaps empty) of each one that failed: nothing lost from a write that succeeded, nothing
/// out of order, nothing interleaved.
template <class Pair>
ringo::task<void> check_writers_stress(Pair& p, unsigned seed) {
  constexpr std::size_t writers = 60;
  std::uint32_t state = seed * 2654435761u + 1;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  };
  auto draining = ringo::spawn(drain(p.client));
  std::vector<std::vector<std::byte>> data;
  std::vector<ringo::join_handle<void>> handles;
  for (std::size_t k = 0; k < writers; ++k) {
    const std::uint32_t r = next();
    const std::size_t size = (r & 3) == 0 ? 1 + r % 200000 : 1 + r % 3000;
    data.push_back(bytes_of_value(static_cast<char>(k + 1), size));
  }
  for (std::size_t k = 0; k < writers; ++k) {
    const std::uint32_t r = next();
    const std::chrono::nanoseconds timeout = (r & 7) == 1   ? std::chrono::microseconds{1}
                                             : (r & 7) == 2 ? std::chrono::microseconds{300}
                                                            : std::chrono::nanoseconds{0};
    handles.push_back(ringo::spawn(write_task(p.client, data[k], timeout)));
  }
  auto reading = ringo::spawn([](auto& s) -> ringo::task<std::vector<std::byte>> {
    std::vector<std::byte> all;
    std::vector<std::byte> buf(4096);
    for (;;) {
      std::size_t n = 0;
      try {
        n = co_await s.read_some(buf);
      } catch (const std::system_error& e) {
        break;
      }
      if (n == 0) break;
      all.insert(all.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    }
    co_return all;
  }(p.server));
  for (std::size_t k = 0; k < writers; ++k) {
    if (next() % 6 == 0) handles[k].cancel();
    if (next() % 4 == 0) co_await ringo::yield();
  }
  std::vector<outcome> results;
  for (auto& h : handles)
    results.push_back(co_await outcome_of(h));
  try {
    co_await p.client.close();
  } catch (const std::system_error&) {
  }
  co_await draining;
  const std::vector<std::byte> got = co_await reading;
  std::size_t at = 0;
  std::size_t whole = 0;
  for (std::size_t k = 0; k < writers; ++k) {
    std::size_t n = 0;
    while (n < data[k].size() && at + n < got.size() && got[at + n] == data[k][0])
      ++n;
    INFO("writer " << k << " of " << data[k].size()
                   << " bytes: " << (results[k].ok ? std::string{"ok"} : results[k].what) << "; "
                   << n << " bytes in place at " << at);
    if (results[k].ok) {
      CHECK(n == data[k].size());
      ++whole;
    } else {
      CHECK_FALSE((results[k].errc == 0 && !results[k].timed_out && !results[k].cancelled));
    }
    at += n;
  }
  INFO(whole << " writes whole");
  CHECK(at == got.size());
}

}  // namespace ringo_test
