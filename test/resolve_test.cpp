#include <ringo/net/resolve.hpp>
// (its own header first: proves it stands alone)
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/to_thread.hpp>

#include "catch.hpp"
#include "ended_cancelled.hpp"

using namespace std::chrono_literals;
using ringo_test::ended_cancelled;
using ringo::net::endpoint;
using ringo::net::resolve;

namespace {

bool is_loopback(const endpoint& e) {
  return e.address() == "127.0.0.1" || e.address() == "::1";
}

// Whether awaiting `t` suspended the calling task: a task spawned before it runs only once the
// caller suspends.
ringo::task<std::pair<std::vector<endpoint>, bool>> resolve_noting_suspension(std::string host,
                                                                              std::uint16_t port) {
  bool other_ran = false;
  auto other = ringo::spawn([](bool& ran) -> ringo::task<void> {
    ran = true;
    co_return;
  }(other_ran));
  auto found = co_await resolve(std::move(host), port);
  const bool suspended = other_ran;
  co_await other;
  co_return std::pair{std::move(found), suspended};
}

// A lookup held in the middle until the test lets it go, standing in for a slow DNS server.
std::atomic<bool> lookup_started{false};
std::atomic<bool> lookup_released{false};
std::atomic<bool> lookup_finished{false};

ringo::detail::lookup_result held_lookup(const std::string&, std::uint16_t port) {
  lookup_started = true;
  while (!lookup_released)
    std::this_thread::sleep_for(1ms);
  lookup_finished = true;
  return {{endpoint::loopback_v4(port)}, {}};
}

// A lookup that takes its time, noting how often and on which thread it ran.
std::atomic<int> lookup_calls{0};
std::thread::id lookup_thread;

ringo::detail::lookup_result counting_lookup(const std::string&, std::uint16_t port) {
  lookup_thread = std::this_thread::get_id();
  ++lookup_calls;
  std::this_thread::sleep_for(20ms);
  return {{endpoint::loopback_v4(port)}, {}};
}

ringo::detail::lookup_result failing_lookup(const std::string&, std::uint16_t) {
  return {{}, std::error_code{EAI_AGAIN, ringo::net::resolver_category()}};
}

// Puts the real lookup back at the end of a test, whatever happens in it.
struct lookup_swap {
  explicit lookup_swap(ringo::detail::name_lookup f)
      : before(ringo::detail::replace_name_lookup(f)) {}
  ~lookup_swap() { ringo::detail::replace_name_lookup(before); }
  ringo::detail::name_lookup before;
};

}  // namespace

TEST_CASE("localhost resolves to the loopback addresses with the port", "[resolve]") {
  ringo::run([]() -> ringo::task<void> {
    const auto found = co_await resolve("localhost", 8080);
    REQUIRE_FALSE(found.empty());
    for (const endpoint& e : found) {
      CHECK(is_loopback(e));
      CHECK(e.port() == 8080);
    }
    // No address twice (getaddrinfo gives one per socket type unless asked for one type).
    auto sorted = found;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  }());
}

TEST_CASE("resolve keeps the resolver's order", "[resolve]") {
  // What getaddrinfo itself says for localhost, in its order.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  REQUIRE(::getaddrinfo("localhost", nullptr, &hints, &list) == 0);
  std::vector<std::string> expected;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    sockaddr_storage ss{};
    std::memcpy(&ss, a->ai_addr, a->ai_addrlen);
    const std::string address = endpoint::from_sockaddr(ss).address();
    if (std::find(expected.begin(), expected.end(), address) == expected.end())
      expected.push_back(address);
  }
  ::freeaddrinfo(list);
  ringo::run([&]() -> ringo::task<void> {
    const auto found = co_await resolve("localhost", 1);
    std::vector<std::string> got;
    for (const endpoint& e : found)
      got.push_back(e.address());
    CHECK(got == expected);
  }());
}

TEST_CASE("a numeric address is answered at once, without a thread or a suspension", "[resolve]") {
  lookup_calls = 0;
  lookup_swap swap{&counting_lookup};
  ringo::run([]() -> ringo::task<void> {
    auto [v4, v4_suspended] = co_await resolve_noting_suspension("127.0.0.1", 80);
    REQUIRE(v4.size() == 1);
    CHECK(v4[0] == endpoint::loopback_v4(80));
    CHECK_FALSE(v4_suspended);
    auto [v6, v6_suspended] = co_await resolve_noting_suspension("::1", 443);
    REQUIRE(v6.size() == 1);
    CHECK(v6[0] == endpoint::loopback_v6(443));
    CHECK_FALSE(v6_suspended);
    auto [bracketed, b_suspended] = co_await resolve_noting_suspension("[2001:db8::7]", 9);
    REQUIRE(bracketed.size() == 1);
    CHECK(bracketed[0].to_string() == "[2001:db8::7]:9");
    CHECK_FALSE(b_suspended);
    CHECK(lookup_calls == 0);
    // A name goes to a pool thread: the task suspends meanwhile, and the loop serves the others.
    const auto loop_thread = std::this_thread::get_id();
    auto [named, named_suspended] = co_await resolve_noting_suspension("slow.example", 80);
    CHECK(named == std::vector{endpoint::loopback_v4(80)});
    CHECK(named_suspended);
    CHECK(lookup_calls == 1);
    CHECK(lookup_thread != loop_thread);
  }());
}

TEST_CASE("a name that does not exist fails naming the host, in the resolver's category",
          "[resolve]") {
  ringo::run([]() -> ringo::task<void> {
    std::string what;
    std::error_code code;
    try {
      (void)co_await resolve("no-such-host.invalid", 80);
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    // Without DNS the resolver says EAI_NONAME; a network whose DNS server fails says
    // EAI_AGAIN or EAI_FAIL: any is the resolver failing for this host.
    INFO(what);
    CHECK(what.starts_with("resolve no-such-host.invalid: "));
    if (code.category() == ringo::net::resolver_category()) {
      CHECK((code.value() == EAI_NONAME || code.value() == EAI_AGAIN || code.value() == EAI_FAIL ||
             code.value() == EAI_NODATA));
    } else {
      CHECK(code.category() == std::system_category());  // EAI_SYSTEM: the errno
    }
    CHECK(what.ends_with(code.message()));
  }());
}

TEST_CASE("the resolver's category names its codes with the system's text", "[resolve]") {
  const auto& cat = ringo::net::resolver_category();
  CHECK(std::string_view{cat.name()} == "resolver");
  CHECK(cat.message(EAI_NONAME) == "Name or service not known");
  const std::error_code code{EAI_AGAIN, cat};
  CHECK(code.message() == ::gai_strerror(EAI_AGAIN));
  CHECK(code != std::error_code(EAI_AGAIN, std::system_category()));
}

TEST_CASE("an empty host or one with a NUL byte is an invalid_argument", "[resolve]") {
  ringo::run([]() -> ringo::task<void> {
    std::string empty_what;
    try {
      (void)co_await resolve("", 80);
    } catch (const std::invalid_argument& e) {
      empty_what = e.what();
    }
    CHECK(empty_what.find("empty host name") != std::string::npos);
    std::string nul_what;
    try {
      (void)co_await resolve(std::string("local\0host", 10), 80);
    } catch (const std::invalid_argument& e) {
      nul_what = e.what();
    }
    CHECK(nul_what.find("'local'") != std::string::npos);
  }());
}

TEST_CASE("the lookup's error reaches the awaiting task, naming the host", "[resolve]") {
  lookup_swap swap{&failing_lookup};
  ringo::run([]() -> ringo::task<void> {
    std::string what;
    std::error_code code;
    try {
      (void)co_await resolve("flaky.example", 80);
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code();
    }
    CHECK(code == std::error_code(EAI_AGAIN, ringo::net::resolver_category()));
    CHECK(what == fmt::format("resolve flaky.example: {}", ::gai_strerror(EAI_AGAIN)));
  }());
}

TEST_CASE(
    "a resolve cancelled in the middle of its lookup ends at once; the lookup finishes "
    "later on its thread",
    "[resolve]") {
  lookup_started = false;
  lookup_released = false;
  lookup_finished = false;
  lookup_swap swap{&held_lookup};
  ringo::run([]() -> ringo::task<void> {
    auto h = ringo::spawn(resolve("slow.example", 80));
    for (int i = 0; i < 2000 && !lookup_started; ++i)
      co_await ringo::sleep_for(1ms);
    REQUIRE(lookup_started);
    co_await ringo::sleep_for(5ms);  // the loop turns while the lookup blocks its thread
    CHECK_FALSE(h.done());
    const auto cancelled_at = std::chrono::steady_clock::now();
    h.cancel();
    const bool cancelled = co_await ended_cancelled(h);
    CHECK(cancelled);
    CHECK(std::chrono::steady_clock::now() - cancelled_at < 500ms);
    CHECK_FALSE(lookup_finished);  // still blocked on its thread, holding nothing of ours
    lookup_released = true;
    for (int i = 0; i < 2000 && !lookup_finished; ++i)
      co_await ringo::sleep_for(1ms);
    CHECK(lookup_finished);
  }());
}

TEST_CASE("a resolve cancelled before its lookup runs does not run it", "[resolve]") {
  lookup_started = false;
  lookup_released = false;
  lookup_finished = false;
  lookup_swap swap{&held_lookup};
  ringo::run([]() -> ringo::task<void> {
    // Every worker of to_thread's pool busy: the lookup's job waits in the queue.
    const std::size_t workers = ringo::detail::default_thread_pool().size();
    std::atomic<std::size_t> busy{0};
    std::atomic<bool> go{false};
    std::vector<ringo::future<void>> blockers;
    for (std::size_t i = 0; i < workers; ++i) {
      blockers.push_back(ringo::to_thread([&busy, &go] {
        ++busy;
        while (!go)
          std::this_thread::sleep_for(1ms);
      }));
    }
    for (int i = 0; i < 2000 && busy < workers; ++i)
      co_await ringo::sleep_for(1ms);
    REQUIRE(busy == workers);
    auto queued = ringo::spawn(resolve("queued.example", 80));
    co_await ringo::sleep_for(5ms);
    queued.cancel();
    const bool queued_cancelled = co_await ended_cancelled(queued);
    CHECK(queued_cancelled);
    // Cancelled before it first ran: it submits its job and withdraws it at once.
    auto early = ringo::spawn(resolve("early.example", 80));
    early.cancel();
    const bool early_cancelled = co_await ended_cancelled(early);
    CHECK(early_cancelled);
    go = true;
    for (auto& b : blockers)
      co_await b;
    co_await ringo::sleep_for(20ms);
    CHECK_FALSE(lookup_started);  // neither lookup ran
  }());
}
