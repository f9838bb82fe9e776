// Several writers on one tcp_stream or unix_stream (test/writers_checks.hpp): served whole, in
// the order they called; a waiting write that times out or is cancelled leaves the line; a
// close ends the waiting ones; three writers racing a close never interleave.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)
#include <string>
#include <string_view>

#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/unix_listener.hpp>
#include <ringo/net/unix_stream.hpp>
#include <ringo/run.hpp>

#include "catch.hpp"
#include "tcp_pair.hpp"
#include "unix_pair.hpp"
#include "writers_checks.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::unix_listener;

namespace {

// Runs `check` on a fresh connected pair of each family.
template <class Check>
void on_both_families(Check check) {
  ringo::run([&]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await ringo_test::connected_pair(l);
    co_await check(p);
  }());
  ringo::run([&]() -> ringo::task<void> {
    auto l = unix_listener::bind(ringo_test::abstract_name("writers"));
    auto p = co_await ringo_test::connected_pair(l);
    co_await check(p);
  }());
}

}  // namespace

TEST_CASE("concurrent writes go out whole, in the order they were called", "[writers]") {
  on_both_families([](auto& p) { return ringo_test::check_writes_in_call_order(p); });
}

TEST_CASE("a waiting write that times out leaves the line, the others go on", "[writers]") {
  on_both_families(
      [](auto& p) { return ringo_test::check_waiting_writer_leaves_the_line(p, "timeout"); });
}

TEST_CASE("a waiting write that is cancelled leaves the line, the others go on", "[writers]") {
  on_both_families(
      [](auto& p) { return ringo_test::check_waiting_writer_leaves_the_line(p, "cancel"); });
}

TEST_CASE("a waiting write that loses a when_any sends nothing", "[writers]") {
  on_both_families(
      [](auto& p) { return ringo_test::check_waiting_writer_leaves_the_line(p, "when_any"); });
}

TEST_CASE("close ends the writes waiting their turn with EBADF", "[writers]") {
  on_both_families([](auto& p) { return ringo_test::check_close_ends_waiting_writers(p); });
}

TEST_CASE("three writers of 1 MiB racing a close never interleave", "[writers]") {
  for (int delay : {1, 2, 3, 5, 8, 13, 40, 100}) {
    on_both_families([delay](auto& p) { return ringo_test::check_writers_racing_close(p, delay); });
  }
}

TEST_CASE("many writers with timeouts and cancels lose nothing that was written", "[writers]") {
  for (unsigned seed = 1; seed <= 6; ++seed) {
    on_both_families([seed](auto& p) { return ringo_test::check_writers_stress(p, seed); });
  }
}

TEST_CASE("two concurrent reads stay a logic_error", "[writers]") {
  on_both_families([](auto& p) { return ringo_test::check_two_readers_refused(p); });
}
