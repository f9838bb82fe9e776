// test/fuzz/scenario_tasks.cpp: the tasks the scenario's steps start. Every one runs guarded:
// it catches what its step may legitimately end with (operation_cancelled, queue_closed,
// timed_out, the failure a task-group child was told to throw) and records anything else, so
// a surprise fails the check, not the run.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task_group.hpp>
#include <ringo/when_any.hpp>

#include "scenario_world.hpp"

namespace fuzz {

using namespace std::chrono_literals;

namespace {

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

ringo::task<void> fail_after(unsigned arg) {
  co_await ringo::sleep_for(micros(arg % 4 * 25));
  throw planned_failure{};
}

}  // namespace

std::size_t start(world& w, ringo::task<void> body) {
  const std::size_t index = w.tasks.size();
  w.finished.push_back(false);
  w.tasks.push_back(ringo::spawn(guarded(w, index, std::move(body))));
  return index;
}

ringo::task<void> sleep_a_little(unsigned arg) {
  co_await ringo::sleep_for(micros(arg % 8 * 25));
}

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

}  // namespace fuzz
