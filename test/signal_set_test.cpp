#include <ringo/signal_set.hpp>
// (its own header first: proves it stands alone)
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/file.hpp>
#include <ringo/io_context.hpp>
#include <ringo/process.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/thread_pool.hpp>
#include <ringo/to_thread.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

bool blocked_here(int sig) {
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, sig) == 1;
}

// The signals every thread that ringo starts must block, and one it must leave open.
struct thread_mask {
  bool async_blocked = true;
  bool segv_open = true;
};
thread_mask mask_of_this_thread() {
  thread_mask m;
  for (const int sig :
       {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM, SIGPIPE, SIGWINCH}) {
    if (!blocked_here(sig)) m.async_blocked = false;
  }
  m.segv_open = !blocked_here(SIGSEGV);
  return m;
}

void send_to_process(int sig) {
  REQUIRE(::kill(::getpid(), sig) == 0);
}

// Sends `sig` to the process after `delay`, from the loop, while the caller waits.
ringo::task<void> send_later(std::chrono::milliseconds delay, int sig) {
  co_await ringo::sleep_for(delay);
  send_to_process(sig);
}

ringo::task<int> wait_once(ringo::signal_set& s) {
  co_return co_await s.wait();
}

// The next signal of `s` within `limit`, or 0 when none comes.
ringo::task<int> next_within(ringo::signal_set& s, std::chrono::milliseconds limit) {
  try {
    co_return co_await ringo::with_timeout(limit, s.wait());
  } catch (const ringo::timed_out&) {
  }
  co_return 0;
}

std::string invalid_argument_of(std::initializer_list<int> signals) {
  try {
    ringo::signal_set s{signals};
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a signal sent while a task waits is its result", "[signal_set]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::signal_set s{SIGUSR1, SIGUSR2};
    CHECK(s.names() == "SIGUSR1, SIGUSR2");
    auto sender = ringo::spawn(send_later(20ms, SIGUSR2));
    const int first = co_await s.wait();
    CHECK(first == SIGUSR2);
    co_await sender;
    auto again = ringo::spawn(send_later(5ms, SIGUSR1));
    const int second = co_await s.wait();
    CHECK(second == SIGUSR1);
    co_await again;
  }());
}

TEST_CASE("signals that arrive while no wait is pending are delivered to the next waits",
          "[signal_set]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::signal_set s{SIGUSR1, SIGUSR2, SIGTERM};
    send_to_process(SIGTERM);
    ::raise(SIGUSR2);  // to this thread rather than the process: also kept for the set
    co_await ringo::sleep_for(10ms);
    std::set<int> got;
    got.insert(co_await s.wait());
    // Between two waits, with the loop busy elsewhere.
    send_to_process(SIGUSR1);
    co_await ringo::sleep_for(10ms);
    got.insert(co_await s.wait());
    got.insert(co_await s.wait());
    CHECK(got == std::set<int>{SIGUSR1, SIGUSR2, SIGTERM});
    const int more = co_await next_within(s, 50ms);
    CHECK(more == 0);
  }());
}

TEST_CASE("a standard signal sent twice before a wait is delivered once; a real-time one twice",
          "[signal_set]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::signal_set s{SIGUSR1, SIGRTMIN};
    send_to_process(SIGUSR1);
    send_to_process(SIGUSR1);
    const int once = co_await s.wait();
    CHECK(once == SIGUSR1);
    const int coalesced = co_await next_within(s, 50ms);
    CHECK(coalesced == 0);  // the kernel kept one pending instance

    send_to_process(SIGRTMIN);
    send_to_process(SIGRTMIN);
    const int first = co_await s.wait();
    const int second = co_await next_within(s, 1000ms);
    CHECK(first == SIGRTMIN);
    CHECK(second == SIGRTMIN);  // real-time signals queue
  }());
}

TEST_CASE("a cancelled signal wait takes nothing, and the next wait gets the signal",
          "[signal_set]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::signal_set s{SIGUSR1};
    auto waiter = ringo::spawn(wait_once(s));
    co_await ringo::sleep_for(10ms);  // it is in its wait now
    waiter.cancel();
    bool cancelled = false;
    try {
      (void)co_await waiter;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    send_to_process(SIGUSR1);
    co_await ringo::sleep_for(5ms);
    const int got = co_await s.wait();
    CHECK(got == SIGUSR1);

    // A deadline ends another wait in the middle; the next wait still gets what comes after.
    const int none = co_await next_within(s, 20ms);
    CHECK(none == 0);
    send_to_process(SIGUSR1);
    const int after_timeout = co_await s.wait();
    CHECK(after_timeout == SIGUSR1);
  }());
}

TEST_CASE("two tasks wait on one set and each signal goes to one of them", "[signal_set]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::signal_set s{SIGUSR1, SIGUSR2};
    auto a = ringo::spawn(wait_once(s));
    auto b = ringo::spawn(wait_once(s));
    co_await ringo::sleep_for(10ms);
    send_to_process(SIGUSR1);
    for (int i = 0; i < 400 && !a.done() && !b.done(); ++i)
      co_await ringo::sleep_for(5ms);
    co_await ringo::sleep_for(10ms);  // time for the other to take it too, if it could
    CHECK(a.done() != b.done());      // exactly one of them took it
    send_to_process(SIGUSR2);
    const int ra = co_await a;
    const int rb = co_await b;
    CHECK(std::set<int>{ra, rb} == std::set<int>{SIGUSR1, SIGUSR2});
  }());
}

TEST_CASE("the set blocks its signals and the last set for a signal unblocks it", "[signal_set]") {
  REQUIRE_FALSE(blocked_here(SIGUSR1));
  REQUIRE_FALSE(blocked_here(SIGUSR2));
  {
    ringo::signal_set a{SIGUSR1};
    CHECK(blocked_here(SIGUSR1));
    CHECK_FALSE(blocked_here(SIGUSR2));
    {
      ringo::signal_set b{SIGUSR1, SIGUSR2};
      CHECK(blocked_here(SIGUSR2));
    }
    CHECK(blocked_here(SIGUSR1));  // a still uses it
    CHECK_FALSE(blocked_here(SIGUSR2));
    // Pending when the last set goes: discarded, not delivered (its default action would end
    // this program).
    send_to_process(SIGUSR1);
  }
  CHECK_FALSE(blocked_here(SIGUSR1));
  sigset_t pending;
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGUSR1) == 0);

  // A signal that was blocked before the first set stays blocked after the last.
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &hup, nullptr);
  { ringo::signal_set s{SIGHUP}; }
  CHECK(blocked_here(SIGHUP));
  pthread_sigmask(SIG_UNBLOCK, &hup, nullptr);
}

TEST_CASE("each thread's sets restore that thread's mask only", "[signal_set]") {
  ringo::signal_set here{SIGUSR2};
  bool blocked_there = false;
  bool unblocked_there_after = false;
  std::thread other{[&] {
    // (It began with this thread's mask, SIGUSR2 blocked by `here`: open it first.)
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &usr2, nullptr);
    {
      ringo::signal_set there{SIGUSR2};
      blocked_there = blocked_here(SIGUSR2);
    }
    unblocked_there_after = !blocked_here(SIGUSR2);
  }};
  other.join();
  CHECK(blocked_there);
  CHECK(unblocked_there_after);
  CHECK(blocked_here(SIGUSR2));  // this thread's set is alive

  // A set destroyed on another thread than its own leaves both masks alone.
  std::optional<ringo::signal_set> moved_away;
  std::thread maker{[&] { moved_away.emplace(std::initializer_list<int>{SIGUSR1}); }};
  maker.join();
  CHECK_FALSE(blocked_here(SIGUSR1));
  moved_away.reset();
  CHECK_FALSE(blocked_here(SIGUSR1));
}

TEST_CASE("bad signal numbers are refused with the number named", "[signal_set]") {
  CHECK(invalid_argument_of({0}) ==
        "ringo::signal_set: 0 is not a signal number (they run from 1 to 64)");
  CHECK(invalid_argument_of({SIGINT, 65}) ==
        "ringo::signal_set: 65 is not a signal number (they run from 1 to 64)");
  CHECK(invalid_argument_of({-3}) ==
        "ringo::signal_set: -3 is not a signal number (they run from 1 to 64)");
  CHECK(invalid_argument_of({SIGKILL}) ==
        "ringo::signal_set: SIGKILL (9) can be neither caught nor blocked, so no set can wait "
        "for it");
  CHECK(invalid_argument_of({SIGSTOP}).find("SIGSTOP (19)") != std::string::npos);
  CHECK(invalid_argument_of({32}).find("signal 32 is reserved") != std::string::npos);
  CHECK(invalid_argument_of({}).find("at least one signal") != std::string::npos);
  // Nothing was left blocked by the refused sets.
  CHECK_FALSE(blocked_here(SIGINT));
}

TEST_CASE("ringo's worker threads block every asynchronous signal", "[signal_set]") {
  ringo::thread_pool pool{2};
  const thread_mask worker = pool.submit(mask_of_this_thread).get();
  CHECK(worker.async_blocked);
  CHECK(worker.segv_open);
  const thread_mask to_thread_worker = ringo::run([]() -> ringo::task<thread_mask> {
    co_return co_await ringo::to_thread(mask_of_this_thread);
  }());
  CHECK(to_thread_worker.async_blocked);
  CHECK(to_thread_worker.segv_open);
  // The thread that started them is as it was.
  CHECK_FALSE(blocked_here(SIGUSR1));
}

TEST_CASE("a signal sent while a thread_pool's workers exist reaches the set", "[signal_set]") {
  // The workers start before the set blocks SIGUSR1 on this thread. Had they left it open,
  // the kernel would pick one of them, and SIGUSR1's default action would end the program.
  ringo::thread_pool pool{4};
  std::vector<ringo::future<int>> started;
  for (int i = 0; i < 4; ++i)
    started.push_back(pool.submit([i] { return i; }));
  for (auto& f : started)
    (void)f.get();
  constexpr int rounds = 20;
  std::atomic<int> waiting{-1};  // the round whose wait the loop is in
  ringo::run([&]() -> ringo::task<void> {
    ringo::signal_set s{SIGUSR1};
    // The sender is a thread of this test's own: it blocks the signal itself, as signal_set.hpp
    // asks. It sends while the loop sleeps in its wait, so the loop does not take the signal
    // on its way back from kill().
    std::thread sender{[&] {
      sigset_t usr1;
      sigemptyset(&usr1);
      sigaddset(&usr1, SIGUSR1);
      pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
      for (int i = 0; i < rounds; ++i) {
        while (waiting.load() != i)
          std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(2ms);
        ::kill(::getpid(), SIGUSR1);
      }
    }};
    int received = 0;
    for (int i = 0; i < rounds; ++i) {
      waiting.store(i);
      const int got = co_await next_within(s, 2000ms);
      if (got == SIGUSR1) ++received;
    }
    sender.join();
    CHECK(received == rounds);
  }());
}

namespace {

// The blocked-signal mask of every other thread of this process, from /proc.
std::vector<std::uint64_t> masks_of_other_threads() {
  std::vector<std::uint64_t> masks;
  const long self = ::syscall(SYS_gettid);
  DIR* dir = ::opendir("/proc/self/task");
  REQUIRE(dir != nullptr);
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.' || std::stol(e->d_name) == self) continue;
    std::ifstream status{std::string{"/proc/self/task/"} + e->d_name + "/status"};
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("SigBlk:", 0) == 0) masks.push_back(std::stoull(line.substr(7), nullptr, 16));
    }
  }
  ::closedir(dir);
  return masks;
}

ringo::task<void> read_a_file_on_epoll() {
  auto f = co_await ringo::file::open("/proc/self/stat");  // through the file threads
  std::array<std::byte, 64> buf{};
  (void)co_await f.read_at(buf, 0);
}

}  // namespace

TEST_CASE("every thread that ringo starts blocks the asynchronous signals", "[signal_set]") {
  // Start them all: pool and to_thread workers, the epoll backend's file threads, the reaper
  // of dropped children.
  ringo::thread_pool pool{2};
  (void)pool.submit([] { return 0; }).get();
  ringo::run([]() -> ringo::task<void> { co_await ringo::to_thread([] {}); }());
  ringo::io_context_options epoll;
  epoll.backend = ringo::io_backend::epoll;
  ringo::io_context on_epoll{epoll};  // its file threads live as long as it does
  on_epoll.run(read_a_file_on_epoll());
  ringo::run([]() -> ringo::task<void> {
    auto dropped = ringo::process::spawn({"sleep", "10"});
    co_return;
  }());
  const auto masks = masks_of_other_threads();
  CHECK(masks.size() >= 5);  // 1 + 1 + 2 + 1, and any other of ringo's (io_uring's workers)
  for (const std::uint64_t mask : masks) {
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD}) {
      CHECK((mask >> (sig - 1) & 1u) == 1u);
    }
  }
}
