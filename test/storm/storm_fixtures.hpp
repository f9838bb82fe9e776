#pragma once
// What the cancellation storm's tasks share: the loopback streams, listeners and
// synchronization objects they wait on, and the bookkeeping that the checks read. Internal to
// test/storm/ (cancel_storm.cpp drives the storm, storm_workers.cpp holds the tasks).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <ringo/event.hpp>
#include <ringo/mutex.hpp>
#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/queue.hpp>
#include <ringo/semaphore.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include "cancel_storm.hpp"

namespace ringo_storm::detail {

/// splitmix64: small, seeded, the same sequence on every machine.
struct random_source {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
};

/// The byte at `offset` of stream `id`: cheap, and different for a shifted, repeated or
/// foreign stream, so a lost, duplicated or reordered byte shows.
inline std::byte pattern_byte(std::uint64_t id, std::uint64_t offset) noexcept {
  return static_cast<std::byte>((offset ^ (offset >> 8) ^ (offset >> 16) ^ (id * 131)) & 0xff);
}
void fill_pattern(std::uint64_t id, std::uint64_t offset, std::span<std::byte> out) noexcept;
/// Whether `got` is stream `id`'s bytes from `offset` on.
bool matches_pattern(std::uint64_t id, std::uint64_t offset,
                     std::span<const std::byte> got) noexcept;

/// A connected pair: bytes go from tx to rx. `sent` counts what write_all reported as sent,
/// `received` what was read from rx (and checked against the pattern).
struct stream_channel {
  std::uint64_t id = 0;
  ringo::net::tcp_stream tx;
  ringo::net::tcp_stream rx;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::size_t in_flight = 0;        // bytes of the write_all in progress (a write channel's)
  bool busy = false;                // a read worker (read channel) owns it
  bool draining = false;            // a write channel's end: its drainer reads at full speed
  ringo::join_handle<void> helper;  // the feeder (read channel) or drainer (write channel)
};

/// One task of the storm and what it waits in.
struct worker_slot {
  wait_kind kind = wait_kind::sleep;
  bool waiting = false;  // suspended in its operation right now
  stream_channel* channel = nullptr;
  ringo::join_handle<void> task;
};

/// A queue item's life, for the exactly-once check.
enum class item_state : std::uint8_t { putting, put, put_cancelled, got };

struct fixtures {
  explicit fixtures(storm_report& r, std::uint64_t seed)
      : report(r), choices{seed}, random{seed ^ 0x5deece66dull} {}

  storm_report& report;
  /// The storm's own choices (pauses, victims, new kinds): drawn by one task in a fixed order,
  /// so a seed repeats the same sequence of cancellations on any machine and backend.
  random_source choices;
  /// What the tasks draw (sizes, delays); their order follows the timing of the run.
  random_source random;
  bool stopping = false;        // the background tasks end their loops
  std::uint64_t steps = 0;      // for the watchdog: the storm goes on
  std::string_view doing = "";  // what the storm waits for now
  std::uint64_t live_tasks = 0;
  std::uint64_t next_stream_id = 1;

  ringo::net::tcp_listener pair_listener;  // makes the channels' pairs
  std::vector<std::unique_ptr<stream_channel>> read_channels;
  std::vector<std::unique_ptr<stream_channel>> write_channels;

  ringo::net::tcp_listener accept_listener;  // one acceptor worker at a time; a dialer feeds it
  bool acceptor_busy = false;
  std::deque<ringo::net::tcp_stream> dialed;  // the dialer's last connections, kept open a while
  ringo::join_handle<void> dialer;

  ringo::net::tcp_listener full_listener;  // backlog full: connects to it hang
  std::vector<ringo::net::tcp_stream> full_queue;

  ringo::mutex mutex;
  int lock_holders = 0;
  ringo::join_handle<void> lock_hog;
  ringo::semaphore permits{2};
  int permit_holders = 0;
  ringo::queue<std::uint64_t> items{4};
  std::vector<item_state> item_states;
  ringo::event flag;
  ringo::join_handle<void> flag_toggler;
};

/// Counts a task alive from its first run to its end, however it ends.
struct live_task {
  explicit live_task(fixtures& f) noexcept : fx(f) { ++fx.live_tasks; }
  ~live_task() { --fx.live_tasks; }
  live_task(const live_task&) = delete;
  live_task& operator=(const live_task&) = delete;
  fixtures& fx;
};

/// Makes a connected pair on fx.pair_listener; `small_buffers` shrinks both sockets'
/// buffers so that a writer soon waits for its reader.
ringo::task<std::unique_ptr<stream_channel>> make_channel(fixtures& fx, bool small_buffers);

/// The task that waits in `slot.kind`'s operation, again and again, until cancelled.
ringo::task<void> worker(fixtures& fx, worker_slot& slot);

/// Background tasks, ended by fx.stopping: a read channel's feeder, a write channel's
/// drainer, the accept listener's dialer, the mutex's hog, the event's toggler.
ringo::task<void> feeder(fixtures& fx, stream_channel& ch);
ringo::task<void> drainer(fixtures& fx, stream_channel& ch);
ringo::task<void> dialer(fixtures& fx);
ringo::task<void> lock_hog(fixtures& fx);
ringo::task<void> flag_toggler(fixtures& fx);

/// Takes a got queue item into the books (failing a duplicate or a cancelled put's item).
void book_got_item(fixtures& fx, std::uint64_t id);

}  // namespace ringo_storm::detail
