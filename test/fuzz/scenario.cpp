// test/fuzz/scenario.cpp: the operations of the scenario fuzzer and the invariants it checks
// (see scenario_fuzz.cpp). Every task a step starts catches what its step may legitimately
// end with (operation_cancelled, queue_closed, timed_out, the failure a task-group child was
// told to throw) and records anything else, so a surprise fails the check, not the run.
#include "scenario.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/event.hpp>
#include <ringo/mutex.hpp>
#include <ringo/net/endpoint.hpp>
#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/queue.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task_group.hpp>
#include <ringo/when_any.hpp>

namespace fuzz {

namespace {

using namespace std::chrono_literals;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

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

// Every write is a chunk whose bytes carry its number in their high nibble and their offset
// in the low one, so that the bytes read say which chunk, and where in it, they came from.
constexpr std::size_t max_chunks = 16;
std::uint8_t chunk_byte(std::size_t chunk, std::size_t offset) {
  return static_cast<std::uint8_t>(chunk << 4 | (offset & 15));
}

struct chunk {
  std::size_t size;
  bool whole = false;  // write_all returned: every byte must arrive
};

struct world {
  explicit world(std::size_t capacity) : items(capacity) {}

  ringo::mutex lock;
  int holders = 0;  // tasks inside the mutex (never above 1)
  ringo::queue<int> items;
  int next_item = 0;
  std::vector<int> put;  // items whose put returned
  std::vector<int> got;  // items a get returned
  ringo::event flag;

  tcp_listener listener;
  tcp_stream client;  // the writers' end
  tcp_stream server;  // the readers' end
  ringo::mutex read_turn;
  ringo::mutex accept_turn;  // one task accepts at a time
  std::vector<chunk> chunks;  // in the order they were written
  std::vector<std::uint8_t> received;

  std::vector<ringo::join_handle<void>> tasks;
  std::vector<bool> finished;  // per task: its body ran to its end
  std::vector<std::size_t> io_tasks;
  std::vector<std::size_t> readers_and_acceptors;
  std::vector<std::string> surprises;  // exceptions nothing asked for
};

// The failure a task-group child throws when the script says so.
struct planned_failure : std::runtime_error {
  planned_failure() : std::runtime_error("planned failure") {}
};

// Runs `body` as task `index` of `w`, turning the exceptions a step may end with into nothing
// and the others into surprises.
ringo::task<void> guarded(world& w, std::size_t index, ringo::task<void> body) {
  try {
    co_await std::move(body);
  } catch (const ringo::operation_cancelled&) {
  } catch (const ringo::queue_closed&) {
  } catch (const ringo::timed_out&) {
  } catch (const planned_failure&) {
  } catch (const std::exception& e) {
    w.surprises.push_back(fmt::format("task {}: {}", index, e.what()));
  }
  w.finished[index] = true;
}

std::size_t start(world& w, ringo::task<void> body) {
  const std::size_t index = w.tasks.size();
  w.finished.push_back(false);
  w.tasks.push_back(ringo::spawn(guarded(w, index, std::move(body))));
  return index;
}

std::chrono::microseconds micros(unsigned n) {
  return std::chrono::microseconds{n};
}

ringo::task<void> sleep_a_little(unsigned arg) {
  co_await ringo::sleep_for(micros(arg % 8 * 25));
}

// Keeps `holders` right however the holder leaves (a cancelled sleep included).
struct holding {
  explicit holding(world& w) : w_(w) {
    if (++w_.holders != 1) w_.surprises.push_back("two tasks hold the mutex");
  }
  ~holding() { --w_.holders; }
  holding(const holding&) = delete;
  holding& operator=(const holding&) = delete;

 private:
  world& w_;
};

ringo::task<void> hold_lock(world& w, unsigned arg) {
  auto guard = co_await w.lock.lock();
  holding h{w};
  if (arg & 1) {
    co_await ringo::yield();
  } else {
    co_await ringo::sleep_for(micros(arg % 4 * 25));
  }
}

ringo::task<void> put_next(world& w) {
  const int item = w.next_item++;
  co_await w.items.put(int{item});
  w.put.push_back(item);
}

ringo::task<void> get_one(world& w) {
  const int item = co_await w.items.get();
  w.got.push_back(item);
}

ringo::task<void> wait_flag(world& w) {
  co_await w.flag.wait();
}

ringo::task<void> race(world& w, unsigned arg) {
  // The get records its item itself: a racer that loses after its get returned would
  // otherwise drop the item with its result.
  if (arg & 1) {
    co_await ringo::when_any(get_one(w), sleep_a_little(arg >> 1));
  } else {
    co_await ringo::when_any(wait_flag(w), sleep_a_little(arg >> 1));
  }
}

ringo::task<void> fail_after(unsigned arg) {
  co_await ringo::sleep_for(micros(arg % 4 * 25));
  throw planned_failure{};
}

ringo::task<void> group(world& w, unsigned arg) {
  ringo::task_group g;
  const unsigned children = 1 + arg % 3;
  for (unsigned i = 0; i < children; ++i) {
    switch ((arg >> (2 + 2 * i)) & 3) {
      case 0:
        g.spawn(sleep_a_little(arg + i));
        break;
      case 1:
        g.spawn(hold_lock(w, arg + i));
        break;
      case 2:
        g.spawn(get_one(w));
        break;
      default:
        g.spawn(fail_after(arg + i));
        break;
    }
  }
  co_await g.join();
}

// Writers race each other: the stream serves them in the order they called write_all, which
// is the order of `chunks` (nothing suspends between the push_back and the call).
ringo::task<void> write_chunk(world& w, unsigned arg) {
  if (w.chunks.size() == max_chunks) co_return;
  const std::size_t index = w.chunks.size();
  // Short writes, or big ones that fill the socket buffers and wait for the readers.
  const std::size_t size = (arg & 0x40) != 0 ? (arg & 0x3f) * 4096 + 1 : 1 + (arg & 0x3f);
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<std::byte>(chunk_byte(index, i));
  w.chunks.push_back({size});
  co_await w.client.write_all(std::span<const std::byte>{bytes}, (arg & 0x80) != 0 ? 100us : 0us);
  w.chunks[index].whole = true;
}

ringo::task<void> read_some(world& w, unsigned arg) {
  auto turn = co_await w.read_turn.lock();
  std::vector<std::byte> buf((arg & 0x40) != 0 ? 4096 : 1 + (arg & 0xf));
  for (unsigned i = 0; i <= (arg >> 4) % 3; ++i) {
    const std::size_t n =
        co_await w.server.read_some(buf, (arg & 0x80) != 0 ? std::chrono::microseconds{50} : 0us);
    if (n == 0) throw std::runtime_error("end of stream before the writer shut down");
    for (std::size_t j = 0; j < n; ++j)
      w.received.push_back(static_cast<std::uint8_t>(buf[j]));
  }
}

// Takes buffers as they are (receive, or receive_some's batches), holding each across a yield
// when the script says so, which keeps a provided buffer out of the ring a while longer.
ringo::task<void> receive_buffers(world& w, unsigned arg) {
  auto turn = co_await w.read_turn.lock();
  const auto deadline = (arg & 0x80) != 0 ? std::chrono::microseconds{50} : 0us;
  for (unsigned i = 0; i <= (arg >> 4) % 3; ++i) {
    if (arg & 1) {
      auto batch = co_await w.server.receive_some(deadline);
      if (batch.empty()) throw std::runtime_error("end of stream before the writer shut down");
      for (std::size_t b = 0; b < batch.size(); ++b) {
        for (const std::byte x : batch[b])
          w.received.push_back(static_cast<std::uint8_t>(x));
      }
      if (arg & 0x40) co_await ringo::yield();  // noted first: a cancel may come here
    } else {
      auto buf = co_await w.server.receive(deadline);
      if (buf.empty()) throw std::runtime_error("end of stream before the writer shut down");
      for (const std::byte x : buf.bytes())
        w.received.push_back(static_cast<std::uint8_t>(x));
      if (arg & 0x40) co_await ringo::yield();
    }
  }
}

// A chunk sent in parts (more than one sendmsg's worth when there are over 16).
ringo::task<void> write_gathered(world& w, unsigned arg) {
  if (w.chunks.size() == max_chunks) co_return;
  const std::size_t index = w.chunks.size();
  const std::size_t parts = 1 + (arg & 0x1f);
  const std::size_t part_size = (arg & 0x20) != 0 ? 4096 : 1 + arg % 7;
  std::vector<std::byte> bytes(parts * part_size);
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<std::byte>(chunk_byte(index, i));
  std::vector<std::span<const std::byte>> views;
  for (std::size_t p = 0; p < parts; ++p)
    views.push_back(std::span<const std::byte>{bytes}.subspan(p * part_size, part_size));
  w.chunks.push_back({bytes.size()});
  co_await w.client.write_all(std::span<const std::span<const std::byte>>{views},
                              (arg & 0x80) != 0 ? 100us : 0us);
  w.chunks[index].whole = true;
}

ringo::task<void> read_to_end(world& w) {
  auto turn = co_await w.read_turn.lock();
  std::vector<std::byte> buf(65536);
  for (;;) {
    const std::size_t n = co_await w.server.read_some(buf);
    if (n == 0) co_return;
    for (std::size_t j = 0; j < n; ++j)
      w.received.push_back(static_cast<std::uint8_t>(buf[j]));
  }
}

ringo::task<void> accept_one(world& w, unsigned arg) {
  auto turn = co_await w.accept_turn.lock();
  tcp_stream s = co_await w.listener.accept((arg & 0x80) != 0 ? 50us : 0us);
  if (arg & 1) co_await s.close();  // else dropped: closed through the loop
}

ringo::task<void> connect_one(world& w, unsigned arg) {
  tcp_stream s = co_await tcp_stream::connect(w.listener.local_endpoint());
  if (arg & 2) co_await ringo::sleep_for(micros(arg % 4 * 25));
  if (arg & 1) co_await s.close();
}

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
