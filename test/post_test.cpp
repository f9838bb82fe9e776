// io_context::post: the one thread-safe entry into a loop.
#include <ringo/io_context.hpp>
// (its own header first: proves it stands alone)
#include <atomic>
#include <chrono>
#include <coroutine>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ringo/detail/suspension.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

// A task waits here until a function posted from another thread calls signal(); the context
// counts the wait as remote work, so it sleeps in the kernel instead of reporting a deadlock.
class posted_signal {
 public:
  class awaiter : ringo::detail::suspension {
   public:
    explicit awaiter(posted_signal& s) : suspension(std::source_location::current()), s_(s) {}
    bool await_ready() const noexcept { return s_.signalled_; }
    bool await_suspend(std::coroutine_handle<> h) {
      if (!prepare()) return false;
      describe = [](const ringo::detail::wait_node&, std::string& out) { out += "a post"; };
      s_.waiter_ = this;
      context->add_remote_work();
      park(h);
      return true;
    }
    void await_resume() const { throw_if_cancelled(); }

   private:
    friend class posted_signal;
    posted_signal& s_;
  };

  awaiter operator co_await() { return awaiter{*this}; }

  // On the loop's thread (from a posted function).
  void signal() {
    signalled_ = true;
    if (awaiter* w = std::exchange(waiter_, nullptr)) {
      w->context->remove_remote_work();
      w->wake();
    }
  }

 private:
  bool signalled_ = false;
  awaiter* waiter_ = nullptr;
};

}  // namespace

TEST_CASE("a post from another thread wakes a loop that sleeps with nothing else to do", "[post]") {
  posted_signal sig;
  std::thread poster;
  auto main = [&]() -> ringo::task<std::thread::id> {
    ringo::io_context& ctx = *ringo::io_context::current();
    std::thread::id ran_on{};
    poster = std::thread{[&] {
      std::this_thread::sleep_for(20ms);  // the loop is asleep in the kernel by now
      ctx.post([&] {
        ran_on = std::this_thread::get_id();
        sig.signal();
      });
    }};
    co_await sig;
    co_return ran_on;
  };
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(ringo::run(main()) == std::this_thread::get_id());
  poster.join();
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("post storms from many threads lose nothing and run in each poster's order", "[post]") {
  constexpr int threads = 8;
  constexpr int per_thread = 5000;
  posted_signal all_in;
  std::vector<std::thread> posters;
  auto main = [&]() -> ringo::task<bool> {
    ringo::io_context& ctx = *ringo::io_context::current();
    int total = 0;  // touched only on the loop's thread
    std::vector<int> last(threads, -1);
    bool in_order = true;
    for (int t = 0; t < threads; ++t) {
      posters.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          ctx.post([&, t, i] {
            if (last[t] != i - 1) in_order = false;
            last[t] = i;
            if (++total == threads * per_thread) all_in.signal();
          });
        }
      });
    }
    // Keep the loop busy with timers meanwhile, so posts land while it runs and while it
    // sleeps.
    auto ticker = ringo::spawn([]() -> ringo::task<> {
      for (int i = 0; i < 5; ++i)
        co_await ringo::sleep_for(1ms);
    }());
    co_await all_in;
    co_await ticker;
    CHECK(total == threads * per_thread);
    // Posts that land while a wake-up is pending ride on it: 40,000 posts, far fewer wakes.
    CHECK(ctx.wakeups() >= 1);
    CHECK(ctx.wakeups() < static_cast<std::uint64_t>(threads * per_thread));
    co_return in_order;
  };
  CHECK(ringo::run(main()));
  for (auto& t : posters)
    t.join();
}

TEST_CASE("a posted function that throws is reported and the loop goes on", "[post]") {
  posted_signal sig;
  auto main = [&]() -> ringo::task<int> {
    ringo::io_context& ctx = *ringo::io_context::current();
    std::thread poster{[&] {
      ctx.post([] { throw std::runtime_error("posted failure (expected in this test)"); });
      ctx.post([&] { sig.signal(); });
    }};
    co_await sig;
    poster.join();
    co_return 1;
  };
  CHECK(ringo::run(main()) == 1);
}

TEST_CASE("two loops post to each other", "[post]") {
  // Ping-pong: each loop answers the other's post with a post of its own.
  constexpr int rounds = 2000;
  std::atomic<ringo::io_context*> ctx_a{nullptr};
  std::atomic<ringo::io_context*> ctx_b{nullptr};
  posted_signal done_a;
  posted_signal done_b;
  int count_a = 0;
  int count_b = 0;
  std::function<void()> ping_a;
  std::function<void()> ping_b;
  ping_a = [&] {
    if (++count_a == rounds) {
      done_a.signal();
      ctx_b.load()->post([&] { done_b.signal(); });
      return;
    }
    ctx_b.load()->post(ping_b);
  };
  ping_b = [&] {
    ++count_b;
    ctx_a.load()->post(ping_a);
  };
  std::thread b{[&] {
    ringo::run([&]() -> ringo::task<> {
      ctx_b = ringo::io_context::current();
      co_await done_b;
    }());
  }};
  ringo::run([&]() -> ringo::task<> {
    ctx_a = ringo::io_context::current();
    while (ctx_b.load() == nullptr)
      co_await ringo::sleep_for(1ms);
    ctx_b.load()->post(ping_b);
    co_await done_a;
  }());
  b.join();
  CHECK(count_a == rounds);
  CHECK(count_b == rounds);
}

TEST_CASE("a post to a context whose run() returned runs at its next run()", "[post]") {
  ringo::io_context ctx;
  ctx.run([]() -> ringo::task<> { co_return; }());
  int ran = 0;
  std::thread poster{[&] { ctx.post([&] { ++ran; }); }};
  poster.join();
  CHECK(ran == 0);  // nothing runs it until the context runs again
  ctx.run([]() -> ringo::task<> { co_return; }());
  CHECK(ran == 1);
}

TEST_CASE("what is still posted when a finished context is destroyed is destroyed with it",
          "[post]") {
  auto held = std::make_shared<int>(1);
  const std::weak_ptr<int> watch = held;
  bool ran = false;
  {
    ringo::io_context ctx;
    ctx.run([]() -> ringo::task<> { co_return; }());
    std::thread poster{[&, keep = std::move(held)]() mutable {
      ctx.post([&ran, keep = std::move(keep)] { ran = *keep == 1; });
    }};
    poster.join();
    CHECK_FALSE(watch.expired());  // the context holds the function it has not run
  }
  CHECK_FALSE(ran);
  CHECK(watch.expired());  // and let it go with itself: neither run nor leaked
}
