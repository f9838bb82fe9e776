// test/fuzz/scenario.cpp: the operations of the scenario fuzzer, play() that runs a script of
// them and winds everything down, and the invariants it checks then (see scenario_fuzz.cpp).
// The tasks the steps start are in scenario_tasks.cpp.
#include "scenario.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/net/endpoint.hpp>
#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/queue.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "scenario_world.hpp"

namespace fuzz {

namespace {

enum class op : std::uint8_t {
  sleeper,       // a task that sleeps (arg % 8) * 25 us
  cancel,        // cancels task arg % count
  main_waits,    // the script yields (odd arg) or sleeps (arg % 4) * 25 us
  locker,        // a task that holds the mutex across a yield or a sleep
  try_lock,      // the script takes the mutex if it is free
  putter,        // a task that puts the next item
  getter,        // a task that gets an item
  try_queue,     // the script's try_put (odd arg) or try_get
  close_queue,   // closes the queue
  event_waiter,  // a task that waits for the event
  event_set,     // sets the event
  event_clear,   // clears it
  race,          // a task racing a get (or an event wait) against a sleep with when_any
  group,         // a task_group of 1-3 children, one of which may fail
  writer,        // a task that writes a chunk on the pair (short, or big enough to block)
  reader,        // a task that reads 1-3 times with a small or big buffer
  acceptor,      // a task that accepts one connection
  connector,     // a task that connects to the listener
  cancel_io,     // cancels the newest reader, writer or acceptor (in the middle of its I/O)
  receiver,      // a task that takes 1-3 received buffers (receive or receive_some) without copying
  gathered,      // a task that writes a chunk in 1-32 parts with gathered sends
  count
};

ringo::task<tcp_stream> accept_pair_end(tcp_listener& l) {
  co_return co_await l.accept();
}

// The bytes read must be, chunk after chunk, all of a chunk whose write returned and a prefix
// (perhaps empty) of one that was cancelled or timed out.
void check_bytes(const world& w) {
  std::size_t at = 0;
  for (std::size_t k = 0; k < w.chunks.size(); ++k) {
    std::size_t n = 0;
    while (n < w.chunks[k].size && at + n < w.received.size() &&
           w.received[at + n] == chunk_byte(k, n)) {
      ++n;
    }
    if (w.chunks[k].whole && n != w.chunks[k].size) {
      violated(
          fmt::format("chunk {} was written whole ({} bytes) but {} of them were read "
                      "in place (at byte {} of {} read)",
                      k, w.chunks[k].size, n, at, w.received.size()));
    }
    at += n;
  }
  if (at != w.received.size()) {
    violated(
        fmt::format("{} bytes read, but only {} of them fit the chunks written (byte {} "
                    "is {:#04x})",
                    w.received.size(), at, at, w.received[at]));
  }
}

void check_items(world& w) {
  std::vector<int> put = w.put;
  std::vector<int> got = w.got;
  std::sort(put.begin(), put.end());
  std::sort(got.begin(), got.end());
  if (std::adjacent_find(got.begin(), got.end()) != got.end()) {
    violated("an item was delivered twice");
  }
  if (put != got) {
    violated(fmt::format(
        "{} items put, {} got (and left in the queue): {} lost or made up", put.size(), got.size(),
        put.size() > got.size() ? put.size() - got.size() : got.size() - put.size()));
  }
}

}  // namespace

ringo::task<void> play(const script& s) {
  world w{s.queue_capacity};
  w.listener = tcp_listener::bind(ringo::net::endpoint::loopback_v4(0), 64);
  {
    auto accepting = ringo::spawn(accept_pair_end(w.listener));
    w.client = co_await tcp_stream::connect(w.listener.local_endpoint());
    w.server = co_await accepting;
  }

  for (const step& st : s.ops) {
    const unsigned arg = st.arg;
    switch (static_cast<op>(st.op % static_cast<unsigned>(op::count))) {
      case op::sleeper:
        start(w, sleep_a_little(arg));
        break;
      case op::cancel:
        if (!w.tasks.empty()) w.tasks[arg % w.tasks.size()].cancel();
        break;
      case op::main_waits:
        if (arg & 1) {
          co_await ringo::yield();
        } else {
          co_await ringo::sleep_for(micros(arg % 4 * 25));
        }
        break;
      case op::locker:
        start(w, hold_lock(w, arg));
        break;
      case op::try_lock:
        if (w.lock.try_lock()) {
          if (w.holders != 0) violated("try_lock took a mutex that a task holds");
          w.lock.unlock();
        }
        break;
      case op::putter:
        start(w, put_next(w));
        break;
      case op::getter:
        start(w, get_one(w));
        break;
      case op::try_queue:
        try {
          if (arg & 1) {
            const int item = w.next_item++;
            if (w.items.try_put(int{item})) w.put.push_back(item);
          } else if (auto item = w.items.try_get()) {
            w.got.push_back(*item);
          }
        } catch (const ringo::queue_closed&) {
        }
        break;
      case op::close_queue:
        w.items.close();
        break;
      case op::event_waiter:
        start(w, wait_flag(w));
        break;
      case op::event_set:
        w.flag.set();
        break;
      case op::event_clear:
        w.flag.clear();
        break;
      case op::race:
        start(w, race(w, arg));
        break;
      case op::group:
        start(w, group(w, arg));
        break;
      case op::writer:
        w.io_tasks.push_back(start(w, write_chunk(w, arg)));
        break;
      case op::reader:
        w.io_tasks.push_back(start(w, read_some(w, arg)));
        w.readers_and_acceptors.push_back(w.io_tasks.back());
        break;
      case op::acceptor:
        w.io_tasks.push_back(start(w, accept_one(w, arg)));
        w.readers_and_acceptors.push_back(w.io_tasks.back());
        break;
      case op::connector:
        start(w, connect_one(w, arg));
        break;
      case op::cancel_io:
        if (!w.io_tasks.empty()) w.tasks[w.io_tasks.back()].cancel();
        break;
      case op::receiver:
        w.io_tasks.push_back(start(w, receive_buffers(w, arg)));
        w.readers_and_acceptors.push_back(w.io_tasks.back());
        break;
      case op::gathered:
        w.io_tasks.push_back(start(w, write_gathered(w, arg)));
        break;
      case op::count:
        break;
    }
  }

  // Wind down: wake what waits on the queue and the event, stop the tasks that would wait for
  // bytes or connections that never come, read what the writers still send, join them all.
  w.items.close();
  w.flag.set();
  for (const std::size_t i : w.readers_and_acceptors)
    w.tasks[i].cancel();
  auto drain = ringo::spawn(read_to_end(w));
  for (std::size_t i = 0; i < w.tasks.size(); ++i) {
    try {
      co_await w.tasks[i];
    } catch (const ringo::operation_cancelled&) {
      if (w.finished[i]) violated(fmt::format("task {} ran to its end, then was cancelled", i));
      w.finished[i] = true;  // cancelled before it first ran
    }
    if (!w.tasks[i].done() || !w.finished[i]) violated(fmt::format("task {} did not end", i));
  }
  w.client.shutdown();
  co_await drain;
  co_await w.client.close();
  co_await w.server.close();
  w.listener = tcp_listener{};
  for (;;) {
    try {
      auto item = w.items.try_get();
      if (!item) violated("try_get on a closed queue returned nothing instead of throwing");
      w.got.push_back(*item);
    } catch (const ringo::queue_closed&) {
      break;
    }
  }

  if (!w.surprises.empty()) {
    violated(fmt::format("{} unexpected: {}", w.surprises.size(), w.surprises.front()));
  }
  if (w.holders != 0 || w.lock.locked()) violated("the mutex is still held");
  check_items(w);
  check_bytes(w);
}

}  // namespace fuzz
