// The cancellation storm's tasks: one worker per kind of wait, each looping on its operation
// until it is cancelled, and the background tasks that keep those operations going (a feeder
// writes to each read channel, a drainer reads each write channel slowly, a dialer connects
// to the accept listener, a hog keeps the mutex contended, a toggler sets and clears the event).
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/sleep.hpp>

#include "storm_fixtures.hpp"

using namespace std::chrono_literals;
using ringo::net::tcp_stream;

namespace ringo_storm::detail {

void fill_pattern(std::uint64_t id, std::uint64_t offset, std::span<std::byte> out) noexcept {
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = pattern_byte(id, offset + i);
}

bool matches_pattern(std::uint64_t id, std::uint64_t offset,
                     std::span<const std::byte> got) noexcept {
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != pattern_byte(id, offset + i)) return false;
  }
  return true;
}

namespace {

ringo::task<tcp_stream> accept_pair_end(ringo::net::tcp_listener& l) {
  co_return co_await l.accept();
}

// Marks the slot as suspended in its operation for as long as the awaiter is alive.
struct waiting_in {
  explicit waiting_in(worker_slot& s) noexcept : slot(s) { slot.waiting = true; }
  ~waiting_in() { slot.waiting = false; }
  waiting_in(const waiting_in&) = delete;
  waiting_in& operator=(const waiting_in&) = delete;
  worker_slot& slot;
};

// Counts holders of a lock or permit while a guard is held, however the holder ends.
struct holding {
  holding(fixtures& fx, int& holders, int most, const char* what) : n(holders) {
    if (++n > most) fx.report.fail(fmt::format("{} tasks hold the {} at once", n, what));
  }
  ~holding() { --n; }
  holding(const holding&) = delete;
  holding& operator=(const holding&) = delete;
  int& n;
};

// Takes bytes read from a channel into its books, checking them against the pattern.
void book_read(fixtures& fx, stream_channel& ch, std::span<const std::byte> got) {
  if (!matches_pattern(ch.id, ch.received, got)) {
    fx.report.fail(
        fmt::format("stream {}: {} bytes read at offset {} are not the bytes written there", ch.id,
                    got.size(), ch.received));
  }
  ch.received += got.size();
  fx.report.bytes_read += got.size();
}

ringo::task<void> read_worker(fixtures& fx, worker_slot& slot) {
  stream_channel& ch = *slot.channel;
  std::array<std::byte, 2048> buf;
  for (;;) {
    // Three kinds of read: a copy, one buffer of the ring, every queued buffer.
    const std::uint64_t how = fx.random.below(3);
    if (how == 0) {
      std::size_t n = 0;
      {
        waiting_in w{slot};
        n = co_await ch.rx.read_some(std::span{buf}.first(1 + fx.random.below(buf.size())));
      }
      if (n == 0) co_return;
      book_read(fx, ch, std::span{buf}.first(n));
    } else if (how == 1) {
      ringo::net::received_buffer b;
      {
        waiting_in w{slot};
        b = co_await ch.rx.receive();
      }
      if (b.empty()) co_return;
      book_read(fx, ch, b.bytes());
    } else {
      ringo::net::received_buffers bs;
      {
        waiting_in w{slot};
        bs = co_await ch.rx.receive_some();
      }
      if (bs.empty()) co_return;
      for (std::size_t i = 0; i < bs.size(); ++i)
        book_read(fx, ch, bs[i]);
    }
  }
}

ringo::task<void> write_worker(fixtures& fx, worker_slot& slot) {
  stream_channel& ch = *slot.channel;
  std::vector<std::byte> chunk;
  for (;;) {
    chunk.resize(1 + fx.random.below(256 * 1024));
    fill_pattern(ch.id, ch.sent, chunk);
    ch.in_flight = chunk.size();
    {
      waiting_in w{slot};
      co_await ch.tx.write_all(chunk);
    }
    ch.in_flight = 0;
    ch.sent += chunk.size();
    fx.report.bytes_sent += chunk.size();
  }
}

ringo::task<void> accept_worker(fixtures& fx, worker_slot& slot) {
  for (;;) {
    tcp_stream s;
    {
      waiting_in w{slot};
      s = co_await fx.accept_listener.accept();
    }
    ++fx.report.connections_accepted;
  }
}

ringo::task<void> connect_worker(fixtures& fx, worker_slot& slot) {
  const auto to = fx.full_listener.local_endpoint();
  for (;;) {
    tcp_stream s;
    {
      waiting_in w{slot};
      s = co_await tcp_stream::connect(to);
    }
    // The kernel let one more through: keep it, so the backlog stays full.
    if (fx.full_queue.size() < 16) fx.full_queue.push_back(std::move(s));
  }
}

ringo::task<void> sleep_worker(fixtures& fx, worker_slot& slot) {
  for (;;) {
    waiting_in w{slot};
    co_await ringo::sleep_for(std::chrono::microseconds{100 + fx.random.below(50'000)});
  }
}

ringo::task<void> lock_worker(fixtures& fx, worker_slot& slot) {
  for (;;) {
    ringo::mutex::guard g = co_await [&]() -> ringo::task<ringo::mutex::guard> {
      waiting_in w{slot};
      co_return co_await fx.mutex.lock();
    }();
    holding h{fx, fx.lock_holders, 1, "mutex"};
    co_await ringo::sleep_for(std::chrono::microseconds{fx.random.below(300)});
  }
}

ringo::task<void> acquire_worker(fixtures& fx, worker_slot& slot) {
  for (;;) {
    auto g = co_await [&]() -> ringo::task<ringo::semaphore::guard> {
      waiting_in w{slot};
      co_return co_await fx.permits.scoped_acquire();
    }();
    holding h{fx, fx.permit_holders, 2, "semaphore's 2 permits"};
    co_await ringo::sleep_for(std::chrono::microseconds{fx.random.below(300)});
  }
}

ringo::task<void> put_worker(fixtures& fx, worker_slot& slot) {
  for (;;) {
    const std::uint64_t id = fx.item_states.size();
    fx.item_states.push_back(item_state::putting);
    try {
      waiting_in w{slot};
      co_await fx.items.put(id);
    } catch (const ringo::operation_cancelled&) {
      if (fx.item_states[id] == item_state::got) {
        fx.report.fail(
            fmt::format("item {}: its put threw operation_cancelled, yet it was got", id));
      }
      fx.item_states[id] = item_state::put_cancelled;
      throw;
    }
    ++fx.report.items_put;
    if (fx.item_states[id] == item_state::putting) fx.item_states[id] = item_state::put;
    if (fx.random.below(4) == 0) co_await ringo::sleep_for(std::chrono::microseconds{50});
  }
}

ringo::task<void> get_worker(fixtures& fx, worker_slot& slot) {
  for (;;) {
    std::uint64_t id = 0;
    {
      waiting_in w{slot};
      id = co_await fx.items.get();
    }
    book_got_item(fx, id);
    if (fx.random.below(4) == 0) co_await ringo::sleep_for(std::chrono::microseconds{50});
  }
}

ringo::task<void> event_worker(fixtures& fx, worker_slot& slot) {
  for (;;) {
    {
      waiting_in w{slot};
      co_await fx.flag.wait();
    }
    // Woken (or the flag was up): let the toggler lower it before waiting again.
    co_await ringo::sleep_for(std::chrono::microseconds{100 + fx.random.below(400)});
  }
}

}  // namespace

void book_got_item(fixtures& fx, std::uint64_t id) {
  if (id >= fx.item_states.size()) {
    fx.report.fail(fmt::format("got item {}, which no put ever held", id));
    return;
  }
  item_state& s = fx.item_states[id];
  if (s == item_state::got) fx.report.fail(fmt::format("item {} was got twice", id));
  if (s == item_state::put_cancelled) {
    fx.report.fail(fmt::format("item {} was got, yet its put threw operation_cancelled", id));
  }
  s = item_state::got;
  ++fx.report.items_got;
}

ringo::task<std::unique_ptr<stream_channel>> make_channel(fixtures& fx, bool small_buffers) {
  auto ch = std::make_unique<stream_channel>();
  ch->id = fx.next_stream_id++;
  auto accepting = ringo::spawn(accept_pair_end(fx.pair_listener));
  ch->tx = co_await tcp_stream::connect(fx.pair_listener.local_endpoint());
  ch->rx = co_await accepting;
  if (small_buffers) {
    // Fixed buffers (no autotuning): a writer waits for its slow reader after a few hundred
    // KiB, and what is left in flight at a cancellation stays small. (Much smaller ones shrink
    // the window until each step waits for a delayed ACK.)
    const int size = 64 * 1024;
    for (int fd : {ch->tx.native_handle(), ch->rx.native_handle()}) {
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  }
  co_return ch;
}

ringo::task<void> worker(fixtures& fx, worker_slot& slot) {
  live_task alive{fx};
  switch (slot.kind) {
    case wait_kind::read:
      co_await read_worker(fx, slot);
      break;
    case wait_kind::write:
      co_await write_worker(fx, slot);
      break;
    case wait_kind::accept:
      co_await accept_worker(fx, slot);
      break;
    case wait_kind::connect:
      co_await connect_worker(fx, slot);
      break;
    case wait_kind::sleep:
      co_await sleep_worker(fx, slot);
      break;
    case wait_kind::lock:
      co_await lock_worker(fx, slot);
      break;
    case wait_kind::acquire:
      co_await acquire_worker(fx, slot);
      break;
    case wait_kind::get:
      co_await get_worker(fx, slot);
      break;
    case wait_kind::put:
      co_await put_worker(fx, slot);
      break;
    case wait_kind::event:
      co_await event_worker(fx, slot);
      break;
  }
}

ringo::task<void> feeder(fixtures& fx, stream_channel& ch) {
  live_task alive{fx};
  std::vector<std::byte> chunk;
  while (!fx.stopping) {
    co_await ringo::sleep_for(std::chrono::microseconds{fx.random.below(2000)});
    if (fx.stopping) break;
    chunk.resize(1 + fx.random.below(3000));
    fill_pattern(ch.id, ch.sent, chunk);
    co_await ch.tx.write_all(chunk);
    ch.sent += chunk.size();
    fx.report.bytes_sent += chunk.size();
  }
}

ringo::task<void> drainer(fixtures& fx, stream_channel& ch) {
  live_task alive{fx};
  std::array<std::byte, 4096> buf;
  for (;;) {
    if (!ch.draining) co_await ringo::sleep_for(std::chrono::microseconds{fx.random.below(3000)});
    const std::size_t n = co_await ch.rx.read_some(buf);
    if (n == 0) co_return;  // the writer's end, after a cancelled write
    book_read(fx, ch, std::span{buf}.first(n));
  }
}

ringo::task<void> dialer(fixtures& fx) {
  live_task alive{fx};
  const auto to = fx.accept_listener.local_endpoint();
  while (!fx.stopping) {
    co_await ringo::sleep_for(std::chrono::microseconds{fx.random.below(2000)});
    fx.dialed.push_back(co_await tcp_stream::connect(to, 5s));
    ++fx.report.connections_made;
    if (fx.dialed.size() > 8) fx.dialed.pop_front();
  }
}

ringo::task<void> lock_hog(fixtures& fx) {
  live_task alive{fx};
  while (!fx.stopping) {
    {
      auto g = co_await fx.mutex.lock();
      holding h{fx, fx.lock_holders, 1, "mutex"};
      co_await ringo::sleep_for(std::chrono::microseconds{fx.random.below(1000)});
    }
    co_await ringo::sleep_for(std::chrono::microseconds{fx.random.below(1000)});
  }
}

ringo::task<void> flag_toggler(fixtures& fx) {
  live_task alive{fx};
  while (!fx.stopping) {
    co_await ringo::sleep_for(std::chrono::microseconds{fx.random.below(2000)});
    fx.flag.set();
    co_await ringo::yield();
    fx.flag.clear();
  }
}

}  // namespace ringo_storm::detail
