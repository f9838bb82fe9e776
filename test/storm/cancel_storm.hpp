#pragma once
// The cancellation storm: many random cancellations (seeded, so a run can be repeated) of
// tasks waiting in reads, writes, accepts, connects, sleeps, mutex locks, semaphore
// acquires, queue gets and puts and event waits, all on one io_context over loopback pairs.
// After the storm it checks that nothing was lost: every byte a write reported as sent was
// read exactly once, in order (a cancelled write cannot say how much of it went out, so its
// stream is read to its end and must hold a prefix of it, and nothing after); every
// connection made was accepted once; every item put was got once and nothing else was got;
// no lock or permit is left held; every task ended; no descriptor is left open.
//
// test/cancel_storm_test.cpp runs a short storm on each backend; bench/cancel_storm runs the
// long one (bench/cancel_storm.sh builds it under ASan and UBSan).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringo_storm {

/// What a cancelled task was waiting in (or about to wait in).
enum class wait_kind : std::uint8_t {
  read,
  write,
  accept,
  connect,
  sleep,
  lock,
  acquire,
  get,
  put,
  event,
};
inline constexpr std::size_t kind_count = 10;
std::string_view name_of(wait_kind k) noexcept;

struct storm_options {
  std::uint64_t cancellations = 100'000;
  std::uint64_t seed = 1;
  /// Tasks alive at once, each waiting in one kind of operation.
  std::size_t population = 48;
};

struct storm_report {
  std::uint64_t cancellations = 0;
  /// Cancellations per wait_kind, and of those how many found the task suspended in that
  /// very operation (the rest hit it between two, at its next suspension).
  std::array<std::uint64_t, kind_count> by_kind{};
  std::array<std::uint64_t, kind_count> while_waiting{};
  std::uint64_t tasks_spawned = 0;
  std::uint64_t tasks_ended = 0;
  std::uint64_t bytes_sent = 0;  // reported as sent by write_all
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_of_cancelled_writes = 0;  // read from writes cut off by a cancellation
  std::uint64_t streams_retired = 0;            // write streams read to their end
  std::uint64_t connections_made = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t items_put = 0;
  std::uint64_t items_got = 0;
  long descriptors_before = -1;
  long descriptors_after = -1;
  std::string backend;
  double seconds = 0;
  /// The first failures found (at most 20); empty when every check held.
  std::vector<std::string> failures;
  std::uint64_t failure_count = 0;

  [[nodiscard]] bool ok() const noexcept { return failure_count == 0; }
  void fail(std::string what);
  /// A few lines for people: the counts and the failures.
  [[nodiscard]] std::string summary() const;
};

/// Runs a storm on a fresh io_context of this thread (ringo::run; RINGO_BACKEND picks the
/// backend) and returns what it found. Throws only if the storm itself cannot start.
storm_report run_cancel_storm(const storm_options& o);

/// How many descriptors this process has open (/proc/self/fd), or -1.
long open_descriptors();

}  // namespace ringo_storm
