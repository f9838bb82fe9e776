// Thread crossings: submit + get of an empty function, co_await to_thread from a task, and
// io_context::post throughput from one and two threads. Prints medians of several runs.
// Run: build/bench/thread_bench
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <ringo/detail/suspension.hpp>
#include <ringo/run.hpp>
#include <ringo/thread_pool.hpp>
#include <ringo/to_thread.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double submit_get_us(ringo::thread_pool& pool, int n) {
  const auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i)
    pool.submit([] {}).get();
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / n;
}

double to_thread_us(int n) {
  return ringo::run([](int count) -> ringo::task<double> {
    const auto t0 = clock_type::now();
    for (int i = 0; i < count; ++i)
      co_await ringo::to_thread([] {});
    co_return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / count;
  }(n));
}

// A task that waits until `total` posted functions have run; the context counts the wait as
// remote work so it sleeps instead of reporting a deadlock.
struct countdown {
  long left;
  struct awaiter : ringo::detail::suspension {
    countdown& c;
    explicit awaiter(countdown& cd) : suspension(std::source_location::current()), c(cd) {}
    bool await_ready() const noexcept { return c.left == 0; }
    bool await_suspend(std::coroutine_handle<> h) {
      if (!prepare()) return false;
      c.waiter = this;
      context->add_remote_work();
      park(h);
      return true;
    }
    void await_resume() const {}
  };
  awaiter* waiter = nullptr;
  void tick() {
    if (--left == 0 && waiter != nullptr) {
      waiter->context->remove_remote_work();
      waiter->wake();
    }
  }
  awaiter operator co_await() { return awaiter{*this}; }
};

struct post_figures {
  double per_second;
  double wakeups_per_post;  // io_context::wakeups(): posts that had to wake the loop
};

post_figures posts_per_second(int posters, long per_poster) {
  countdown c{posters * per_poster};
  std::vector<std::thread> threads;
  double seconds = 0;
  std::uint64_t wakeups = 0;
  ringo::run([](countdown& cd, std::vector<std::thread>& ts, int n, long each, double& secs,
                std::uint64_t& woken) -> ringo::task<> {
    ringo::io_context& ctx = *ringo::io_context::current();
    const std::uint64_t w0 = ctx.wakeups();
    const auto t0 = clock_type::now();
    for (int t = 0; t < n; ++t) {
      ts.emplace_back([&ctx, &cd, each] {
        for (long i = 0; i < each; ++i)
          ctx.post([&cd] { cd.tick(); });
      });
    }
    co_await cd;
    secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    woken = ctx.wakeups() - w0;
  }(c, threads, posters, per_poster, seconds, wakeups));
  for (auto& t : threads)
    t.join();
  const double posts = static_cast<double>(posters * per_poster);
  return {posts / seconds, static_cast<double>(wakeups) / posts};
}

}  // namespace

int main() {
  constexpr int runs = 7;
  {
    ringo::thread_pool pool{1};
    pool.submit([] {}).get();  // start the worker
    std::vector<double> v;
    for (int r = 0; r < runs; ++r)
      v.push_back(submit_get_us(pool, 20000));
    fmt::print("submit + get of an empty function (1 worker): {:.2f} us (median of {})\n",
               median(v), runs);
  }
  {
    ringo::thread_pool pool{4};
    pool.submit([] {}).get();
    std::vector<double> v;
    for (int r = 0; r < runs; ++r)
      v.push_back(submit_get_us(pool, 20000));
    fmt::print("submit + get of an empty function (4 workers): {:.2f} us (median of {})\n",
               median(v), runs);
  }
  {
    to_thread_us(100);  // make the default pool
    std::vector<double> v;
    for (int r = 0; r < runs; ++r)
      v.push_back(to_thread_us(20000));
    fmt::print("co_await to_thread round trip from a task: {:.2f} us (median of {})\n", median(v),
               runs);
  }
  for (int posters : {1, 2}) {
    std::vector<double> rate;
    std::vector<double> woken;
    for (int r = 0; r < runs; ++r) {
      const post_figures f = posts_per_second(posters, 1'000'000 / posters);
      rate.push_back(f.per_second);
      woken.push_back(f.wakeups_per_post);
    }
    fmt::print(
        "io_context::post from {} thread{}: {:.2f} M posts/s, {:.4f} wake-ups per post "
        "(medians of {})\n",
        posters, posters == 1 ? "" : "s", median(rate) / 1e6, median(woken), runs);
  }
}
