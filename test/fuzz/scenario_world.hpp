#pragma once
// test/fuzz/scenario_world.hpp: what the scenario's steps act on (the world: a mutex, a queue,
// an event, a connected pair of TCP streams, and what each recorded) and the tasks they start,
// shared by play() (test/fuzz/scenario.cpp) and the tasks (test/fuzz/scenario_tasks.cpp).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <ringo/event.hpp>
#include <ringo/mutex.hpp>
#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/queue.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

namespace fuzz {

using ringo::net::tcp_listener;
using ringo::net::tcp_stream;

// Every write is a chunk whose bytes carry its number in their high nibble and their offset
// in the low one, so that the bytes read say which chunk, and where in it, they came from.
inline constexpr std::size_t max_chunks = 16;
inline std::uint8_t chunk_byte(std::size_t chunk, std::size_t offset) {
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

inline std::chrono::microseconds micros(unsigned n) {
  return std::chrono::microseconds{n};
}

// The tasks the steps start (test/fuzz/scenario_tasks.cpp); `arg` is the step's byte.
ringo::task<void> sleep_a_little(unsigned arg);
ringo::task<void> hold_lock(world& w, unsigned arg);
ringo::task<void> put_next(world& w);
ringo::task<void> get_one(world& w);
ringo::task<void> wait_flag(world& w);
ringo::task<void> race(world& w, unsigned arg);
ringo::task<void> group(world& w, unsigned arg);
ringo::task<void> write_chunk(world& w, unsigned arg);
ringo::task<void> read_some(world& w, unsigned arg);
ringo::task<void> receive_buffers(world& w, unsigned arg);
ringo::task<void> write_gathered(world& w, unsigned arg);
ringo::task<void> read_to_end(world& w);
ringo::task<void> accept_one(world& w, unsigned arg);
ringo::task<void> connect_one(world& w, unsigned arg);

/// Spawns `body` as the next task of `w`, which catches what its step may legitimately end
/// with and records anything else as a surprise; returns its index in w.tasks.
std::size_t start(world& w, ringo::task<void> body);

}  // namespace fuzz
