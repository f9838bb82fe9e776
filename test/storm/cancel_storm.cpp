// The cancellation storm's driver: sets the fixtures up, keeps a population of tasks waiting,
// cancels one at random again and again (each cancelled task is awaited, its resources
// checked and a new task of a random kind takes its place), then ends everything and checks
// the books. See cancel_storm.hpp for what is checked.
#include "cancel_storm.hpp"

#include <dirent.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/io_context.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>

#include "storm_fixtures.hpp"

using namespace std::chrono_literals;
using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

namespace ringo_storm {

std::string_view name_of(wait_kind k) noexcept {
  static constexpr std::array<std::string_view, kind_count> names{
      "read", "write", "accept", "connect", "sleep", "lock", "acquire", "get", "put", "event"};
  return names[static_cast<std::size_t>(k)];
}

void storm_report::fail(std::string what) {
  if (failures.size() < 20) failures.push_back(std::move(what));
  ++failure_count;
}

std::string storm_report::summary() const {
  std::string out = fmt::format(
      "cancel storm ({} backend): {} cancellations in {:.1f} s, {} tasks spawned, {} ended\n",
      backend, cancellations, seconds, tasks_spawned, tasks_ended);
  out += "  cancelled while waiting in (of all cancellations of that kind):";
  for (std::size_t k = 0; k < kind_count; ++k) {
    out +=
        fmt::format(" {} {}/{}", name_of(static_cast<wait_kind>(k)), while_waiting[k], by_kind[k]);
  }
  out += fmt::format(
      "\n  bytes: {} reported sent, {} read, {} more read from {} writes cut off by a "
      "cancellation\n  connections: {} made, {} accepted; queue items: {} put, {} got\n"
      "  descriptors: {} before, {} after\n",
      bytes_sent, bytes_read, bytes_of_cancelled_writes, streams_retired, connections_made,
      connections_accepted, items_put, items_got, descriptors_before, descriptors_after);
  if (failure_count == 0) {
    out += "  every check held\n";
  } else {
    out += fmt::format("  {} FAILURES, the first {}:\n", failure_count, failures.size());
    for (const auto& f : failures)
      out += fmt::format("    {}\n", f);
  }
  return out;
}

long open_descriptors() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  long n = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // the directory's own descriptor
}

namespace detail {
namespace {

// Awaits a background task that must end by itself (fx.stopping), failing on an exception.
ringo::task<void> join_helper(fixtures& fx, ringo::join_handle<void>& h, std::string_view what) {
  if (!h.valid()) co_return;
  try {
    co_await h;
  } catch (const std::exception& e) {
    fx.report.fail(fmt::format("{} ended with: {}", what, e.what()));
  }
}

// Watches the storm: when it has made no step for 20 s, something waits forever; the task
// listing says what, and the storm fails rather than hang.
ringo::task<void> watchdog(fixtures& fx) {
  std::uint64_t last = ~std::uint64_t{0};
  int still = 0;
  for (;;) {
    co_await ringo::sleep_for(1s);
    if (fx.steps != last) {
      last = fx.steps;
      still = 0;
      continue;
    }
    if (++still == 20) {
      fmt::print(stderr, "cancel storm: no step for 20 s, at: {}\n{}\n", fx.doing,
                 ringo::io_context::current()->dump_tasks());
      std::fflush(stderr);
      std::_Exit(3);
    }
  }
}

// Gives a new worker its kind and what it needs (a channel, the acceptor's place), and starts it.
ringo::task<void> start_worker(fixtures& fx, worker_slot& slot) {
  auto kind = static_cast<wait_kind>(fx.choices.below(kind_count));
  if (kind == wait_kind::accept && fx.acceptor_busy) kind = wait_kind::sleep;  // one at a time
  slot.kind = kind;
  slot.waiting = false;
  slot.channel = nullptr;
  if (kind == wait_kind::read) {
    for (auto& ch : fx.read_channels) {
      if (!ch->busy) {
        slot.channel = ch.get();
        break;
      }
    }
    if (slot.channel == nullptr) {
      fx.read_channels.push_back(co_await make_channel(fx, false));
      slot.channel = fx.read_channels.back().get();
      slot.channel->helper = ringo::spawn(feeder(fx, *slot.channel));
    }
    slot.channel->busy = true;
  } else if (kind == wait_kind::write) {
    fx.write_channels.push_back(co_await make_channel(fx, true));
    slot.channel = fx.write_channels.back().get();
    slot.channel->helper = ringo::spawn(drainer(fx, *slot.channel));
  } else if (kind == wait_kind::accept) {
    fx.acceptor_busy = true;
  }
  slot.task = ringo::spawn(worker(fx, slot));
  ++fx.report.tasks_spawned;
}

// A write channel whose writer has ended: its stream is read to the end, which must hold every
// byte reported as sent and at most the cut-off write's bytes more, then it is closed.
ringo::task<void> retire(fixtures& fx, stream_channel& ch) {
  try {
    ch.tx.shutdown();
  } catch (const std::system_error& e) {
    fx.report.fail(fmt::format("stream {}: shutdown failed: {}", ch.id, e.what()));
  }
  ch.draining = true;
  co_await join_helper(fx, ch.helper, fmt::format("the drainer of stream {}", ch.id));
  if (ch.received < ch.sent || ch.received > ch.sent + ch.in_flight) {
    fx.report.fail(fmt::format(
        "stream {}: {} bytes reported sent and {} more cut off by the cancellation, but {} read",
        ch.id, ch.sent, ch.in_flight, ch.received));
  } else {
    fx.report.bytes_of_cancelled_writes += ch.received - ch.sent;
  }
  ++fx.report.streams_retired;
  std::erase_if(fx.write_channels, [&](const auto& p) { return p.get() == &ch; });
}

// Cancels a worker, waits for its end, checks how it ended and gives back what it held.
ringo::task<void> end_worker(fixtures& fx, worker_slot& slot) {
  ++fx.steps;
  fx.doing = name_of(slot.kind);
  slot.task.cancel();
  bool cancelled = false;
  try {
    co_await slot.task;
  } catch (const ringo::operation_cancelled&) {
    cancelled = true;
  } catch (const std::exception& e) {
    fx.report.fail(fmt::format("a {} task ended with: {}", name_of(slot.kind), e.what()));
  }
  if (!cancelled && fx.report.failure_count == 0) {
    fx.report.fail(fmt::format("a {} task ended without operation_cancelled", name_of(slot.kind)));
  }
  if (slot.task.done()) {
    ++fx.report.tasks_ended;
  } else {
    fx.report.fail(fmt::format("a {} task was awaited but is not done", name_of(slot.kind)));
  }
  slot.task = ringo::join_handle<void>{};
  if (slot.kind == wait_kind::read) slot.channel->busy = false;
  if (slot.kind == wait_kind::write) co_await retire(fx, *slot.channel);
  if (slot.kind == wait_kind::accept) fx.acceptor_busy = false;
}

// A pause before the next cancellation: mostly a few turns of the loop, sometimes long
// enough for operations to reach the kernel and complete.
ringo::task<void> pause(fixtures& fx) {
  const std::uint64_t r = fx.choices.below(16);
  if (r < 8) {
    for (std::uint64_t i = 0; i <= r % 3; ++i)
      co_await ringo::yield();
  } else if (r < 15) {
    co_await ringo::sleep_for(std::chrono::microseconds{fx.choices.below(200)});
  } else {
    co_await ringo::sleep_for(std::chrono::microseconds{fx.choices.below(3000)});
  }
}

// Reads a read channel to its end (the feeder stopped, its end shut down), checking the bytes.
ringo::task<void> read_to_end(fixtures& fx, stream_channel& ch) {
  std::array<std::byte, 4096> buf;
  for (;;) {
    const std::size_t n = co_await ch.rx.read_some(buf, 5s);
    if (n == 0) co_return;
    if (!matches_pattern(ch.id, ch.received, std::span{buf}.first(n))) {
      fx.report.fail(fmt::format("stream {}: the last bytes read are not those written", ch.id));
    }
    ch.received += n;
    fx.report.bytes_read += n;
  }
}

// The end: background tasks stop, read streams are read to their end, the last connections
// accepted, the queue drained; then the books must balance.
ringo::task<void> settle(fixtures& fx) {
  fx.stopping = true;
  fx.doing = "settling";
  co_await join_helper(fx, fx.dialer, "the dialer");
  co_await join_helper(fx, fx.lock_hog, "the mutex hog");
  co_await join_helper(fx, fx.flag_toggler, "the event toggler");
  // Readers first: a feeder may wait for room in a stream nobody read for a while.
  std::vector<ringo::join_handle<void>> readers;
  for (auto& ch : fx.read_channels)
    readers.push_back(ringo::spawn(read_to_end(fx, *ch)));
  for (auto& ch : fx.read_channels) {
    co_await join_helper(fx, ch->helper, fmt::format("the feeder of stream {}", ch->id));
    try {
      ch->tx.shutdown();
    } catch (const std::system_error& e) {
      fx.report.fail(fmt::format("stream {}: shutdown failed: {}", ch->id, e.what()));
    }
  }
  for (std::size_t i = 0; i < readers.size(); ++i) {
    stream_channel& ch = *fx.read_channels[i];
    co_await join_helper(fx, readers[i], fmt::format("the last reader of stream {}", ch.id));
    if (ch.received != ch.sent) {
      fx.report.fail(
          fmt::format("stream {}: {} bytes reported sent, {} read", ch.id, ch.sent, ch.received));
    }
  }
  fx.read_channels.clear();
  if (!fx.write_channels.empty()) fx.report.fail("a write stream was never read to its end");
  try {
    while (fx.report.connections_accepted < fx.report.connections_made) {
      tcp_stream s = co_await fx.accept_listener.accept(5s);
      ++fx.report.connections_accepted;
    }
  } catch (const std::exception& e) {
    fx.report.fail(fmt::format("{} connections made were never accepted ({})",
                               fx.report.connections_made - fx.report.connections_accepted,
                               e.what()));
  }
  while (auto id = fx.items.try_get())
    book_got_item(fx, *id);
  std::uint64_t lost = 0;
  for (const item_state s : fx.item_states)
    lost += s == item_state::put || s == item_state::putting;
  if (lost != 0) fx.report.fail(fmt::format("{} queue items put were never got", lost));
  if (fx.mutex.locked()) fx.report.fail("the mutex is still locked at the end");
  if (fx.permits.available() != 2) {
    fx.report.fail(fmt::format("{} of 2 permits are free at the end", fx.permits.available()));
  }
  if (fx.live_tasks != 0) fx.report.fail(fmt::format("{} tasks never ended", fx.live_tasks));
  fx.dialed.clear();
  fx.full_queue.clear();
  fx.accept_listener.close();
  fx.full_listener.close();
  fx.pair_listener.close();
}

ringo::task<void> cancel_at_random(fixtures& fx, const storm_options& o,
                                   std::vector<worker_slot>& slots) {
  fx.report.backend = std::string{to_string(ringo::io_context::current()->backend())};
  ringo::spawn(watchdog(fx), ringo::daemon);
  fx.doing = "filling the backlog of a listener nobody accepts from";
  fx.pair_listener = tcp_listener::bind(endpoint::loopback_v4(0));
  fx.accept_listener = tcp_listener::bind(endpoint::loopback_v4(0));
  // A listener nobody accepts from, its backlog filled: the next connects hang in the handshake.
  fx.full_listener = tcp_listener::bind(endpoint::loopback_v4(0), 0);
  for (int i = 0; i < 8; ++i) {
    try {
      fx.full_queue.push_back(
          co_await tcp_stream::connect(fx.full_listener.local_endpoint(), 50ms));
    } catch (const ringo::timed_out&) {
      break;
    }
  }
  fx.dialer = ringo::spawn(dialer(fx));
  fx.lock_hog = ringo::spawn(lock_hog(fx));
  fx.flag_toggler = ringo::spawn(flag_toggler(fx));

  fx.doing = "starting the first tasks";
  for (auto& s : slots)
    co_await start_worker(fx, s);
  for (std::uint64_t i = 0; i < o.cancellations; ++i) {
    co_await pause(fx);
    worker_slot& victim = slots[fx.choices.below(slots.size())];
    const auto k = static_cast<std::size_t>(victim.kind);
    ++fx.report.by_kind[k];
    if (victim.waiting) ++fx.report.while_waiting[k];
    co_await end_worker(fx, victim);
    ++fx.report.cancellations;
    co_await start_worker(fx, victim);
  }
}

// The whole storm in one task, whose frame holds the fixtures: everything the storm made ends
// on its context, before run() returns, even when a step fails.
ringo::task<void> storm(storm_report& report, const storm_options& o) {
  fixtures fx{report, o.seed};
  std::vector<worker_slot> slots(std::max<std::size_t>(o.population, 1));
  try {
    co_await cancel_at_random(fx, o, slots);
  } catch (const std::exception& e) {
    report.fail(fmt::format("the storm stopped early: {}", e.what()));
  }
  for (auto& s : slots) {
    if (s.task.valid()) co_await end_worker(fx, s);
  }
  co_await settle(fx);
}

}  // namespace
}  // namespace detail

storm_report run_cancel_storm(const storm_options& o) {
  storm_report report;
  report.descriptors_before = open_descriptors();
  const auto start = std::chrono::steady_clock::now();
  try {
    ringo::run(detail::storm(report, o));
  } catch (const std::exception& e) {
    report.fail(fmt::format("the storm ended with: {}", e.what()));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.descriptors_after = open_descriptors();
  if (report.descriptors_after != report.descriptors_before) {
    report.fail(fmt::format("{} descriptors open before the storm, {} after",
                            report.descriptors_before, report.descriptors_after));
  }
  if (report.tasks_ended != report.tasks_spawned) {
    report.fail(
        fmt::format("{} tasks spawned, {} ended", report.tasks_spawned, report.tasks_ended));
  }
  return report;
}

}  // namespace ringo_storm
