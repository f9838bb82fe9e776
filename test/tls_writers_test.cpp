// Several writers on one tls_stream (test/writers_checks.hpp): each write's records go out
// whole, in the order the writes were called; a waiting write that times out or is cancelled
// leaves the line and the stream whole (it can still write); a close ends the waiting ones;
// three writers racing a close never interleave.
#include <ringo/net/tls_stream.hpp>
// (its own header first: proves it stands alone)
#include <ringo/net/tcp_listener.hpp>
#include <ringo/run.hpp>

#include "catch.hpp"
#include "tls_pair.hpp"
#include "writers_checks.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;

namespace {

// Runs `check` on a fresh connected pair of TLS streams.
template <class Check>
void on_tls(Check check) {
  ringo::run([&]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    const auto server_ctx = ringo_test::server_context();
    const auto client_ctx = ringo_test::client_context();
    auto p = co_await ringo_test::connected_tls_pair(l, server_ctx, client_ctx);
    co_await check(p);
  }());
}

// The stream writes on: a write that left the line cut nothing.
template <class Pair>
ringo::task<void> still_writes(Pair& p) {
  co_await p.client.write_all(std::string_view{"after"});
  std::string got(5, '\0');
  co_await p.server.read_exact(got);
  CHECK(got == "after");
}

}  // namespace

TEST_CASE("concurrent TLS writes go out whole, in the order they were called", "[tls]") {
  on_tls([](auto& p) { return ringo_test::check_writes_in_call_order(p); });
}

TEST_CASE("a waiting TLS write that times out leaves the line and the stream whole", "[tls]") {
  on_tls([](auto& p) -> ringo::task<void> {
    co_await ringo_test::check_waiting_writer_leaves_the_line(p, "timeout");
    co_await still_writes(p);  // the timed-out write never touched the stream
  });
}

TEST_CASE("a waiting TLS write that is cancelled leaves the line and the stream whole", "[tls]") {
  on_tls([](auto& p) -> ringo::task<void> {
    co_await ringo_test::check_waiting_writer_leaves_the_line(p, "cancel");
    co_await still_writes(p);
  });
}

TEST_CASE("a waiting TLS write that loses a when_any sends nothing", "[tls]") {
  on_tls([](auto& p) { return ringo_test::check_waiting_writer_leaves_the_line(p, "when_any"); });
}

TEST_CASE("a TLS close ends the writes waiting their turn with EBADF", "[tls]") {
  on_tls([](auto& p) { return ringo_test::check_close_ends_waiting_writers(p); });
}

TEST_CASE("a TLS shutdown waits its turn behind the writes before it", "[tls]") {
  on_tls([](auto& p) -> ringo::task<void> {
    const auto data = ringo_test::bytes_of_value('a', 4 * ringo_test::mib);
    auto writing = ringo::spawn(ringo_test::write_task(p.client, data));
    auto closing = ringo::spawn(p.client.shutdown());
    const ringo_test::runs got = co_await ringo_test::read_runs(p.server);
    CHECK(got == ringo_test::runs{{'a', 4 * ringo_test::mib}});  // then the close_notify: 0
    co_await writing;
    co_await closing;
  });
}

TEST_CASE("three TLS writers of 1 MiB racing a close never interleave", "[tls]") {
  for (int delay : {1, 2, 3, 5, 8, 13, 40, 100}) {
    on_tls([delay](auto& p) { return ringo_test::check_writers_racing_close(p, delay); });
  }
}

TEST_CASE("many TLS writers with timeouts and cancels lose nothing that was written", "[tls]") {
  for (unsigned seed = 1; seed <= 4; ++seed) {
    on_tls([seed](auto& p) { return ringo_test::check_writers_stress(p, seed); });
  }
}

TEST_CASE("two concurrent TLS reads stay a logic_error", "[tls]") {
  on_tls([](auto& p) { return ringo_test::check_two_readers_refused(p); });
}

TEST_CASE("a TLS write cancelled after its turn came, before it ran, passes the turn on",
          "[tls]") {
  on_tls([](auto& p) -> ringo::task<void> {
    const auto first = ringo_test::bytes_of_value('a', 4 * ringo_test::mib);
    const auto second = ringo_test::bytes_of_value('x', ringo_test::mib);
    const auto third = ringo_test::bytes_of_value('c', ringo_test::mib);
    bool first_done = false;
    auto a = ringo::spawn([](auto& s, const auto& d, bool& done) -> ringo::task<void> {
      co_await s.write_all(d);
      done = true;  // the turn went to b as the write ended: b is queued to run, not yet run
    }(p.client, first, first_done));
    auto b = ringo::spawn(ringo_test::write_task(p.client, second));
    auto c = ringo::spawn(ringo_test::write_task(p.client, third));
    // Ahead of b in the ready queue from turn to turn, this task sees the first write end
    // before b runs, and cancels b then.
    auto canceller = ringo::spawn([](bool& done, ringo::join_handle<void>& h) -> ringo::task<void> {
      while (!done)
        co_await ringo::yield();
      h.cancel();
    }(first_done, b));
    const ringo_test::runs got =
        co_await ringo_test::read_runs(p.server, 4 * ringo_test::mib + ringo_test::mib);
    co_await canceller;
    const ringo_test::outcome ob = co_await ringo_test::outcome_of(b);
    const ringo_test::outcome oa = co_await ringo_test::outcome_of(a);
    const ringo_test::outcome oc = co_await ringo_test::outcome_of(c);
    INFO(ringo_test::describe(got));
    CHECK(oa.ok);
    CHECK(ob.cancelled);
    CHECK(oc.ok);
    CHECK(got == ringo_test::runs{{'a', 4 * ringo_test::mib}, {'c', ringo_test::mib}});
    co_await still_writes(p);
  });
}
