#include "storm/cancel_storm.hpp"
// (its own header first: proves it stands alone)
#include <fmt/format.h>

#include "catch.hpp"

// A short cancellation storm (bench/cancel_storm runs the long one): 3,000 random
// cancellations of tasks waiting in reads, writes, accepts, connects, sleeps, locks,
// semaphore acquires, queue gets and puts and event waits on one io_context. The storm checks
// that nothing was lost (bytes, connections, queue items, locks, permits), that every task
// ended and that no descriptor is left open; test/meson.build runs it on both backends and
// under ASan in scripts/test.
TEST_CASE("three thousand random cancellations lose no byte, item or connection",
          "[cancel_storm]") {
  ringo_storm::storm_options o;
  o.cancellations = 3000;
  o.seed = 20261201;
  const ringo_storm::storm_report r = ringo_storm::run_cancel_storm(o);
  INFO(r.summary());
  CHECK(r.failures.empty());
  CHECK(r.cancellations == o.cancellations);
  CHECK(r.tasks_ended == r.tasks_spawned);
  CHECK(r.descriptors_after == r.descriptors_before);
  // The storm reached every kind of wait, and mostly while the task was suspended in it.
  for (std::size_t k = 0; k < ringo_storm::kind_count; ++k) {
    INFO(fmt::format("kind {}", ringo_storm::name_of(static_cast<ringo_storm::wait_kind>(k))));
    CHECK(r.by_kind[k] > 0);
  }
  CHECK(r.bytes_read >= r.bytes_sent);
  CHECK(r.connections_accepted == r.connections_made);
  CHECK(r.items_got <=
        r.items_put + r.by_kind[static_cast<std::size_t>(ringo_storm::wait_kind::put)]);
}

TEST_CASE("the same seed gives the same storm", "[cancel_storm]") {
  ringo_storm::storm_options o;
  o.cancellations = 200;
  o.seed = 7;
  const auto a = ringo_storm::run_cancel_storm(o);
  const auto b = ringo_storm::run_cancel_storm(o);
  INFO(a.summary() + b.summary());
  CHECK(a.ok());
  CHECK(b.ok());
  CHECK(a.by_kind == b.by_kind);
}
