// demo/queues.cpp: seed block 5 (queue.Queue, LifoQueue, PriorityQueue, JoinableQueue) with
// ringo::queue, lifo_queue and priority_queue.
//
// What it shows:
//  1. The seed's LifoQueue(4): four puts, then four gets in last-in, first-out order.
//  2. The seed's PriorityQueue: (priority, name) pairs come out smallest first.
//  3. put_nowait/get_nowait/full/empty/qsize: try_put, try_get, full(), empty(), size().
//  4. A bounded producer/consumer: a queue of 2 makes the producer wait for the consumer.
//  5. task_done/join (JoinableQueue): the producer waits until every item was processed.
//
// Run: build/demo/queues
#include <cstdio>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include <ringo/queue.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

namespace {

/// Python spells its booleans True and False.
const char* py(bool b) {
  return b ? "True" : "False";
}

using item = std::variant<int, std::string>;  // the seed puts both 123 and 'abc'

std::string str(const item& v) {
  return std::visit([](const auto& x) { return fmt::format("{}", x); }, v);
}

ringo::task<void> lifo() {
  ringo::lifo_queue<item> lq{4};
  co_await lq.put(123);
  co_await lq.put(456);
  co_await lq.put(std::string{"abc"});
  co_await lq.put(std::string{"abc"});
  fmt::print("<ringo::lifo_queue object at {}>\n", fmt::ptr(&lq));  // print(lq)
  for (int i = 0; i < 4; ++i)
    fmt::print("{}\n", str(co_await lq.get()));
}

ringo::task<void> priority() {
  ringo::priority_queue<std::pair<int, std::string>> pq;
  co_await pq.put({10, "aaa"});
  co_await pq.put({5, "bbb"});
  co_await pq.put({100, "ccc"});
  co_await pq.put({20, "ddd"});
  for (int i = 0; i < 4; ++i) {
    const auto [priority, name] = co_await pq.get();
    fmt::print("({}, '{}')\n", priority, name);  // Python prints the tuple
  }
}

ringo::task<void> nowait() {
  ringo::queue<int> q{2};
  fmt::print("empty: {}, qsize: {}\n", py(q.empty()), q.size());
  fmt::print("put_nowait(1): {}\n", py(q.try_put(1)));
  fmt::print("put_nowait(2): {}\n", py(q.try_put(2)));
  fmt::print("full: {}, qsize: {}\n", py(q.full()), q.size());
  fmt::print("put_nowait(3): {} (queue.Full in Python)\n", py(q.try_put(3)));
  while (auto v = q.try_get())
    fmt::print("get_nowait(): {}\n", *v);
  fmt::print("get_nowait() on an empty queue: nothing (queue.Empty in Python)\n");
  co_return;
}

ringo::task<void> producer(ringo::queue<int>& q) {
  for (int i = 0; i < 5; ++i) {
    co_await q.put(i);  // waits while the queue holds 2
    fmt::print("produced {} (qsize {})\n", i, q.size());
  }
  co_await q.join();  // until the consumer called task_done for each
  fmt::print("producer: every item was processed\n");
  q.close();
}

ringo::task<void> consumer(ringo::queue<int>& q) {
  try {
    for (;;) {
      const int v = co_await q.get();
      co_await ringo::yield();  // the work
      fmt::print("consumed {}\n", v);
      q.task_done();
    }
  } catch (const ringo::queue_closed&) {
    fmt::print("consumer: the queue is closed\n");
  }
}

ringo::task<void> pipeline() {
  ringo::queue<int> q{2};
  auto c = ringo::spawn(consumer(q));
  auto p = ringo::spawn(producer(q));
  co_await p;
  co_await c;
}

}  // namespace

constexpr demo::usage cli{"queues",
                          "usage: queues\n"
                          "Seed block 5 (queues): ringo::queue, lifo_queue and priority_queue.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  ringo::run(lifo());
  ringo::run(priority());
  ringo::run(nowait());
  ringo::run(pipeline());
  std::fflush(stdout);
} catch (const std::exception& e) {
  return demo::failed("queues", e);
}
