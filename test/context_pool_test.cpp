#include <ringo/context_pool.hpp>
// (its own header first: proves it stands alone)
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/task_group.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

ringo::task<void> sleep_forever() {
  for (;;) co_await ringo::sleep_for(1h);
}

}  // namespace

TEST_CASE("each context runs its own main task on its own thread", "[context_pool]") {
  ringo::context_pool pool{3};
  REQUIRE(pool.size() == 3);
  std::array<std::thread::id, 3> ids{};
  std::array<int, 3> values{};
  pool.run(
      [&](unsigned i) -> ringo::task<void> {
        co_await ringo::sleep_for(1ms);
        ids[i] = std::this_thread::get_id();
        values[i] = static_cast<int>(i) * 10;
      },
      false);
  CHECK(values == std::array<int, 3>{0, 10, 20});
  CHECK(std::set<std::thread::id>(ids.begin(), ids.end()).size() == 3);
  CHECK(ids[0] != std::this_thread::get_id());
}

TEST_CASE("stop() from another thread cancels every main task", "[context_pool]") {
  ringo::context_pool pool{2};
  std::atomic<int> unwound{0};
  std::thread stopper{[&] {
    std::this_thread::sleep_for(50ms);
    pool.stop();
  }};
  pool.run(
      [&](unsigned) -> ringo::task<void> {
        try {
          co_await sleep_forever();
        } catch (const ringo::operation_cancelled&) {
          ++unwound;
          throw;
        }
      },
      false);
  stopper.join();
  CHECK(unwound == 2);
  CHECK(pool.stopping());
}

TEST_CASE("SIGINT and SIGTERM stop the pool cleanly", "[context_pool]") {
  for (int sig : {SIGINT, SIGTERM}) {
    ringo::context_pool pool{2};
    std::atomic<int> started{0};
    std::thread signaller{[&] {
      // Started before run() blocked the signals: block them here too, or the kernel could
      // deliver the signal to this thread instead of the pool's waiter.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      while (started.load() < 2) std::this_thread::sleep_for(1ms);
      ::kill(::getpid(), sig);
    }};
    pool.run([&](unsigned) -> ringo::task<void> {
      ++started;
      co_await sleep_forever();
    });
    signaller.join();
    CHECK(pool.stopping());
  }
}

TEST_CASE("the pool's threads block every asynchronous signal, and run() puts the mask back",
          "[context_pool]") {
  auto blocked_here = [](int sig) {
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, nullptr, &now);
    return sigismember(&now, sig) == 1;
  };
  REQUIRE_FALSE(blocked_here(SIGINT));
  for (const bool on_signals : {false, true}) {
    ringo::context_pool pool{2};
    std::array<bool, 2> blocked{};
    std::array<bool, 2> segv_open{};
    // (With stop_on_signals, the pool also ends by itself when its mains return.)
    pool.run(
        [&](unsigned i) -> ringo::task<void> {
          co_await ringo::sleep_for(1ms);
          blocked[i] = blocked_here(SIGINT) && blocked_here(SIGTERM) && blocked_here(SIGUSR1) &&
                       blocked_here(SIGHUP) && blocked_here(SIGCHLD);
          segv_open[i] = !blocked_here(SIGSEGV);
        },
        on_signals);
    CHECK(blocked == std::array<bool, 2>{true, true});
    CHECK(segv_open == std::array<bool, 2>{true, true});
    CHECK_FALSE(pool.stopping());
    CHECK_FALSE(blocked_here(SIGINT));
    CHECK_FALSE(blocked_here(SIGTERM));
  }
}

TEST_CASE("a failing main stops the others and its exception is rethrown", "[context_pool]") {
  ringo::context_pool pool{2};
  CHECK_THROWS_WITH(pool.run(
                        [](unsigned i) -> ringo::task<void> {
                          if (i == 1) {
                            co_await ringo::sleep_for(5ms);
                            throw std::runtime_error("context 1 failed");
                          }
                          co_await sleep_forever();
                        },
                        false),
                    "context 1 failed");
}

TEST_CASE("the multi-core server serves from every thread over SO_REUSEPORT",
          "[context_pool]") {
  constexpr unsigned threads = 2;
  ringo::context_pool pool{threads};
  // Pick a free port, then let each context bind its own listener to it.
  const std::uint16_t port = [] {
    auto probe = ringo::net::tcp_listener::bind(ringo::net::endpoint{"127.0.0.1", 0});
    return probe.local_endpoint().port();
  }();
  std::array<std::atomic<int>, threads> served{};
  std::atomic<unsigned> listening{0};
  std::atomic<int> echoed{0};
  std::thread clients{[&] {
    while (listening.load() < threads) std::this_thread::sleep_for(1ms);
    ringo::run([&]() -> ringo::task<void> {
      ringo::task_group g;
      for (int c = 0; c < 64; ++c) {
        g.spawn([](std::uint16_t p, std::atomic<int>& count) -> ringo::task<void> {
          auto s = co_await ringo::net::tcp_stream::connect(ringo::net::endpoint{"127.0.0.1", p});
          co_await s.write_all(std::string_view{"ping"});
          std::array<std::byte, 4> reply{};
          co_await s.read_exact(reply);
          if (std::memcmp(reply.data(), "ping", 4) == 0) ++count;
        }(port, echoed));
      }
      co_await g.join();
    }());
    pool.stop();
  }};
  pool.run(
      [&](unsigned i) -> ringo::task<void> {
        ringo::net::listen_options options;
        options.reuse_port = true;
        auto listener =
            ringo::net::tcp_listener::bind(ringo::net::endpoint{"127.0.0.1", port}, 128, options);
        ++listening;
        ringo::task_group connections;
        try {
          for (;;) {
            auto stream = co_await listener.accept();
            ++served[i];
            connections.spawn([](ringo::net::tcp_stream s) -> ringo::task<void> {
              std::array<std::byte, 64> buf{};
              while (std::size_t n = co_await s.read_some(buf)) {
                co_await s.write_all(std::span<const std::byte>(buf.data(), n));
              }
            }(std::move(stream)));
          }
        } catch (const ringo::operation_cancelled&) {
          connections.cancel();
        }
        co_await connections.join();
      },
      false);
  clients.join();
  CHECK(echoed == 64);
  CHECK(served[0] + served[1] == 64);
  // The kernel spreads connections by a hash of the peer: with 64 of them both get some.
  CHECK(served[0] > 0);
  CHECK(served[1] > 0);
}

TEST_CASE("what contexts post to one that has finished is destroyed with the pool, not leaked",
          "[context_pool]") {
  std::vector<std::weak_ptr<int>> posted;  // touched by context 1's thread, then by this one
  std::atomic<int> ran{0};
  {
    ringo::context_pool pool{2};
    pool.run(
        [&](unsigned i) -> ringo::task<void> {
          if (i == 0) co_await sleep_forever();  // ends as soon as stop() reaches it
          ringo::io_context& first = pool.context(0);
          auto post_one = [&] {
            auto token = std::make_shared<int>(1);
            posted.push_back(token);
            first.post([&ran, token] { ran += *token; });
          };
          // Posts before, during and after stop(): the last ones land on a context whose
          // run() has returned, and stay queued there until the pool destroys it.
          for (int n = 0; n < 10; ++n) {
            post_one();
            co_await ringo::sleep_for(1ms);
          }
          pool.stop();
          try {
            co_await sleep_forever();
          } catch (const ringo::operation_cancelled&) {
          }
          for (int n = 0; n < 20; ++n) {
            post_one();
            co_await ringo::sleep_for(1ms);
          }
        },
        false);
    CHECK(ran >= 10);
  }
  REQUIRE(posted.size() == 30);
  for (const auto& p : posted)
    CHECK(p.expired());
}

TEST_CASE("stop() after run() has returned is harmless", "[context_pool]") {
  ringo::context_pool pool{2};
  pool.run([](unsigned) -> ringo::task<void> { co_return; }, false);
  pool.stop();  // queued on contexts that no longer run: destroyed with the pool
  CHECK(pool.stopping());
}
