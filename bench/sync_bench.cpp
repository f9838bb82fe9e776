// What synchronization between tasks costs: ns per hand-off through ringo::queue<int> and a
// pair of ringo::events, ns per uncontended mutex lock/unlock, and bytes per suspended waiter.
//
// A hand-off is one task making another runnable with a value (or a signal) and the other
// running with it: here two tasks on one context ping-pong, so every hand-off also costs a
// suspension, a turn of the loop (ready queue, io_uring peek) and a resumption. The queue is
// measured both as a ping-pong (two queues of capacity 1: each item waits for its answer) and
// as a stream (one queue of capacity 1: the producer runs ahead until the queue is full).
// Targets: a hand-off at most 25 ns; a yield() at most 10 ns; an uncontended lock/unlock at
// most 5 ns; no heap allocation per wait (the awaiter is the list node, in the waiting frame).
// The comparison is Go's unbuffered channel ping-pong: bench/go/pingpong.go
// (`go run bench/go/pingpong.go`).
//
// Each figure is the best of several runs, measured with std::chrono on this thread.
// Run: ninja -C build bench/sync_bench && build/bench/sync_bench
// For instruction counts (bench/suite.sh, under callgrind): `sync_bench N --only NAME` runs one
// measurement (NAME: queue_pingpong, queue_stream, event_pingpong, lock, try_lock, yield,
// yield_pair) once.
// g++ 12 at -O3 with -fsanitize=address inlines the counting operator new/delete below into
// frame allocation and then reports the malloc/free pair as mismatched (and fmt's buffer code
// as an overflow): false positives of that combination, silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string_view>

#include <fmt/core.h>

#include <ringo/condition_variable.hpp>
#include <ringo/detail/frame_allocator.hpp>
#include <ringo/event.hpp>
#include <ringo/mutex.hpp>
#include <ringo/queue.hpp>
#include <ringo/run.hpp>
#include <ringo/semaphore.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

// Counts heap allocations, to show that the measured loops allocate nothing per wait.
namespace {
std::size_t heap_allocations = 0;
std::size_t last_allocation_size = 0;
}  // namespace
void* operator new(std::size_t n) {
  ++heap_allocations;
  last_allocation_size = n;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

// `sync_bench N` divides the counts by N (for callgrind) and runs each measurement once.
int runs = 5;
std::int64_t handoffs = 1'000'000;
std::int64_t locks = 50'000'000;

struct figure {
  double ns = 1e300;
  std::size_t allocations = 0;
};

template <class Make>
figure best_of(std::int64_t units, Make make) {
  figure f;
  for (int r = 0; r < runs; ++r) {
    const std::size_t before = heap_allocations;
    const auto start = std::chrono::steady_clock::now();
    ringo::run(make());
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    f.ns = std::min(f.ns, took.count() / static_cast<double>(units));
    f.allocations = heap_allocations - before;
  }
  return f;
}

// Queue ping-pong: each value goes out on `ping` and comes back on `pong`.
ringo::task<void> echo(ringo::queue<int>& ping, ringo::queue<int>& pong, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    co_await pong.put(co_await ping.get());
}
ringo::task<void> queue_pingpong(std::int64_t n) {
  ringo::queue<int> ping{1};
  ringo::queue<int> pong{1};
  auto h = ringo::spawn(echo(ping, pong, n));
  for (std::int64_t i = 0; i < n; ++i) {
    co_await ping.put(static_cast<int>(i));
    (void)co_await pong.get();
  }
  co_await h;
}

// Queue stream: a producer and a consumer through one queue of capacity 1.
ringo::task<void> drain(ringo::queue<int>& q, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i)
    sum += co_await q.get();
  if (sum < 0) std::abort();
}
ringo::task<void> queue_stream(std::int64_t n) {
  ringo::queue<int> q{1};
  auto h = ringo::spawn(drain(q, n));
  for (std::int64_t i = 0; i < n; ++i)
    co_await q.put(static_cast<int>(i));
  co_await h;
}

// Event ping-pong: each side sets the other's event and waits for its own.
ringo::task<void> bounce(ringo::event& mine, ringo::event& theirs, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    co_await mine.wait();
    mine.clear();
    theirs.set();
  }
}
ringo::task<void> event_pingpong(std::int64_t n) {
  ringo::event a;
  ringo::event b;
  auto h = ringo::spawn(bounce(b, a, n));
  for (std::int64_t i = 0; i < n; ++i) {
    b.set();
    co_await a.wait();
    a.clear();
  }
  co_await h;
}

// One task alone yielding: with nothing else ready, yield() goes on at once, and every 32nd
// one suspends so that the loop looks at I/O and timers.
ringo::task<void> yields(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    co_await ringo::yield();
}

// Two tasks yielding in turn: every yield() is a trip through the ready queue (a suspension,
// the loop's next pick, a resumption). Counted per yield, of either task.
ringo::task<void> yield_pair(std::int64_t n) {
  auto h = ringo::spawn(yields(n));
  co_await yields(n);
  co_await h;
}

ringo::task<void> uncontended_locks(std::int64_t n) {
  ringo::mutex m;
  for (std::int64_t i = 0; i < n; ++i) {
    auto g = co_await m.lock();
    asm volatile("" ::: "memory");
  }
  co_return;
}

ringo::task<void> uncontended_try_locks(std::int64_t n) {
  ringo::mutex m;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!m.try_lock()) std::abort();
    asm volatile("" ::: "memory");
    m.unlock();
  }
  co_return;
}

// The frame of a task that waits on a queue: measured as the allocation it makes with frame
// recycling off (rounded up to the recycler's 64-byte class).
ringo::task<void> frame_probe(ringo::queue<int>& q) {
  (void)co_await q.get();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    const std::int64_t scale = std::max<std::int64_t>(1, std::atoll(argv[1]));
    handoffs /= scale;
    locks /= scale;
    runs = 1;
  }
  if (argc > 3 && std::string_view{argv[2]} == "--only") {
    const std::string_view only = argv[3];
    if (only == "queue_pingpong")
      ringo::run(queue_pingpong(handoffs));
    else if (only == "queue_stream")
      ringo::run(queue_stream(handoffs));
    else if (only == "event_pingpong")
      ringo::run(event_pingpong(handoffs));
    else if (only == "lock")
      ringo::run(uncontended_locks(locks));
    else if (only == "try_lock")
      ringo::run(uncontended_try_locks(locks));
    else if (only == "yield")
      ringo::run(yields(handoffs));
    else if (only == "yield_pair")
      ringo::run(yield_pair(handoffs));
    else
      return 2;
    fmt::print("{} hand-offs {} locks {}\n", only, handoffs, locks);
    return 0;
  }
  const figure qp = best_of(2 * handoffs, [] { return queue_pingpong(handoffs); });
  const figure qs = best_of(handoffs, [] { return queue_stream(handoffs); });
  const figure ep = best_of(2 * handoffs, [] { return event_pingpong(handoffs); });
  const figure ml = best_of(locks, [] { return uncontended_locks(locks); });
  const figure mt = best_of(locks, [] { return uncontended_try_locks(locks); });
  const figure yi = best_of(handoffs, [] { return yields(handoffs); });
  const figure yp = best_of(2 * handoffs, [] { return yield_pair(handoffs); });

  fmt::print(
      "hand-off, queue<int> ping-pong (capacity 1): {:6.1f} ns  ({} allocations in {} hand-offs)\n",
      qp.ns, qp.allocations, 2 * handoffs);
  fmt::print(
      "item, queue<int> stream (capacity 1):        {:6.1f} ns  ({} allocations in {} items)\n",
      qs.ns, qs.allocations, handoffs);
  fmt::print(
      "hand-off, event pair ping-pong:              {:6.1f} ns  ({} allocations in {} hand-offs)\n",
      ep.ns, ep.allocations, 2 * handoffs);
  fmt::print("uncontended co_await mutex.lock() + unlock:  {:6.1f} ns\n", ml.ns);
  fmt::print("uncontended try_lock() + unlock():           {:6.1f} ns\n", mt.ns);
  fmt::print(
      "co_await yield(), one task alone:            {:6.1f} ns  ({} allocations in {} yields)\n",
      yi.ns, yi.allocations, handoffs);
  fmt::print(
      "co_await yield(), two tasks in turn:         {:6.1f} ns  ({} allocations in {} yields)\n",
      yp.ns, yp.allocations, 2 * handoffs);
  fmt::print("(allocations include each run's io_context and task frames, not per wait)\n\n");

  fmt::print("bytes per suspended waiter (the awaiter, which is the list node):\n");
  fmt::print("  mutex::lock()                {:4} B\n", sizeof(ringo::detail::mutex_lock_awaiter));
  fmt::print("  condition_variable::wait()   {:4} B\n", sizeof(ringo::detail::condition_awaiter));
  fmt::print("  semaphore::acquire()         {:4} B\n",
             sizeof(ringo::detail::semaphore_awaiter<false>));
  fmt::print("  event::wait()                {:4} B\n", sizeof(ringo::detail::event_awaiter));
  using q = ringo::queue<int>;
  fmt::print("  queue<int>::get()            {:4} B\n", sizeof(decltype(std::declval<q&>().get())));
  fmt::print("  queue<int>::put()            {:4} B\n",
             sizeof(decltype(std::declval<q&>().put(0))));
  fmt::print("  of which wait_node+suspension {:3} B, list links {} B\n",
             sizeof(ringo::detail::suspension),
             sizeof(ringo::detail::list_waiter) - sizeof(ringo::detail::suspension));
  fmt::print(
      "primitives: mutex {} B, semaphore {} B, event {} B, condition_variable {} B, "
      "queue<int> {} B\n",
      sizeof(ringo::mutex), sizeof(ringo::semaphore), sizeof(ringo::event),
      sizeof(ringo::condition_variable), sizeof(ringo::queue<int>));

  ringo::detail::this_thread_frames.set_enabled(false);
  std::size_t frame = 0;
  ringo::run([&]() -> ringo::task<void> {
    ringo::queue<int> qu;
    auto t = frame_probe(qu);
    frame = last_allocation_size;
    co_return;
  }());
  fmt::print("frame of a task suspended in co_await q.get(): {} B (64-byte size class)\n", frame);
}
