// What a coroutine costs: ns per generator element, per elements_of level, per task co_await.
//
// Each figure is the best of several runs of many repetitions, measured with std::chrono on
// this thread. The baselines are a loop calling a function that cannot be inlined (the least
// a generator element could cost) and a task frame from plain operator new (what the
// recycling allocator saves). Targets: a generator element within 3x the plain call; a task
// co_await with recycled frames within half the cost with plain new.
//
// Run: ninja -C build bench/coro_bench && build/bench/coro_bench
// For instruction counts (bench/suite.sh, under callgrind): `coro_bench --only NAME N` runs
// one loop once with N units (NAME: call, generator, elements_of_1, elements_of_100,
// task_await, task_await_new).
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <fmt/core.h>

#include <ringo/detail/frame_allocator.hpp>
#include <ringo/generator.hpp>
#include <ringo/sync_wait.hpp>
#include <ringo/task.hpp>

namespace {

constexpr int runs = 7;
constexpr std::int64_t elements = 20'000'000;
constexpr std::int64_t awaits = 5'000'000;

volatile std::int64_t sink;  // keeps every result alive

// Best of `runs` timings of f(n), in ns per unit of n.
template <class F>
double best_ns_per(std::int64_t n, F f) {
  double best = 1e300;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    sink = f(n);
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    if (took.count() / static_cast<double>(n) < best) best = took.count() / static_cast<double>(n);
  }
  return best;
}

// The baseline: a call per element that the optimizer can neither inline nor drop.
[[gnu::noinline]] int produce(int i) {
  asm volatile("" ::: "memory");
  return i;
}

std::int64_t hand_written(std::int64_t n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i)
    sum += produce(i);
  return sum;
}

ringo::generator<int> ints(std::int64_t n) {
  for (int i = 0; i < n; ++i)
    co_yield i;
}

std::int64_t generator_sum(std::int64_t n) {
  std::int64_t sum = 0;
  for (int v : ints(n))
    sum += v;
  return sum;
}

// `depth` generators delegating, each to the next, to one that yields n values.
ringo::generator<int> nested(int depth, std::int64_t n) {
  if (depth == 0) {
    for (int i = 0; i < n; ++i)
      co_yield i;
  } else {
    co_yield ringo::elements_of(nested(depth - 1, n));
  }
}

template <int Depth>
std::int64_t nested_sum(std::int64_t n) {
  std::int64_t sum = 0;
  for (int v : nested(Depth, n))
    sum += v;
  return sum;
}

ringo::task<int> at_once(int i) {
  co_return i;
}

ringo::task<std::int64_t> await_loop(std::int64_t n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i)
    sum += co_await at_once(i);
  co_return sum;
}

std::int64_t task_awaits(std::int64_t n) {
  return ringo::sync_wait(await_loop(n));
}

// `--only NAME N`: one loop, once, N units; prints nothing else.
int run_only(std::string_view name, std::int64_t n) {
  if (name == "task_await_new") ringo::detail::this_thread_frames.set_enabled(false);
  if (name == "call")
    sink = hand_written(n);
  else if (name == "generator")
    sink = generator_sum(n);
  else if (name == "elements_of_1")
    sink = nested_sum<1>(n);
  else if (name == "elements_of_100")
    sink = nested_sum<100>(n);
  else if (name == "task_await" || name == "task_await_new")
    sink = task_awaits(n);
  else
    return 2;
  fmt::print("{} {}\n", name, n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string_view{argv[1]} == "--only")
    return run_only(argv[2], std::atoll(argv[3]));
  const double call = best_ns_per(elements, hand_written);
  const double element = best_ns_per(elements, generator_sum);
  const double depth1 = best_ns_per(elements, nested_sum<1>);
  const double depth100 = best_ns_per(elements, nested_sum<100>);
  const double recycled = best_ns_per(awaits, task_awaits);
  ringo::detail::this_thread_frames.set_enabled(false);
  const double plain_new = best_ns_per(awaits, task_awaits);
  ringo::detail::this_thread_frames.set_enabled(true);

  fmt::print("{:<48} {:>10}\n", "operation", "ns");
  fmt::print("{:<48} {:>10.2f}\n", "hand-written loop, non-inlined call per element", call);
  fmt::print("{:<48} {:>10.2f}\n", "generator<int> element", element);
  fmt::print("{:<48} {:>10.2f}\n", "element through 1 level of elements_of", depth1);
  fmt::print("{:<48} {:>10.2f}\n", "element through 100 levels of elements_of", depth100);
  fmt::print("{:<48} {:>10.2f}\n", "task co_await, recycled frames", recycled);
  fmt::print("{:<48} {:>10.2f}\n", "task co_await, plain new", plain_new);
#if !RINGO_FRAME_RECYCLING
  fmt::print("(frame recycling is compiled out in this build: both task rows use new)\n");
#endif
  fmt::print("\n{:<48} {:>10}\n", "ratio", "target");
  fmt::print("{:<48} {:>5.2f}x {:>5}\n", "generator element / hand-written call", element / call,
             "<= 3x");
  fmt::print("{:<48} {:>5.2f}x {:>5}\n", "task co_await recycled / plain new", recycled / plain_new,
             "<= 0.5x");
}
