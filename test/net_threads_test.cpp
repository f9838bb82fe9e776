// Sockets and received buffers meet other threads: a socket refuses to be used from a thread
// that does not run its context, before anything is submitted; a received buffer may be
// released anywhere and goes back to its own ring. Also run under ThreadSanitizer.
#include <ringo/net/tcp_stream.hpp>
// (its own header first: proves it stands alone)
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tcp_pair.hpp"

using ringo::net::endpoint;
using ringo::net::tcp_listener;
using ringo::net::tcp_stream;
using ringo_test::connected_pair;

namespace {

// Runs `f` on a new thread and returns the message of the std::logic_error it threw ("" if none).
template <class F>
std::string logic_error_on_other_thread(F f) {
  std::string what;
  std::thread([&] {
    try {
      f();
    } catch (const std::logic_error& e) {
      what = e.what();
    }
  }).join();
  return what;
}

}  // namespace

TEST_CASE("a stream used from a thread that does not run its context is a logic_error",
          "[tcp]") {
  ringo::run([]() -> ringo::task<void> {
    auto l = tcp_listener::bind(endpoint::loopback_v4(0));
    auto p = co_await connected_pair(l);
    std::array<std::byte, 8> buf{};
    const std::string read = logic_error_on_other_thread([&] { (void)p.server.read_some(buf); });
    CHECK(read.starts_with(fmt::format("tcp_stream::read_some on the stream connected to {} from "
                                       "a thread that does not run its io_context",
                                       p.server.remote_endpoint())));
    const std::string write = logic_error_on_other_thread(
        [&] { (void)p.client.write_all(std::string_view{"lost"}); });
    CHECK(write.starts_with("tcp_stream::write_all on the stream"));
    CHECK_FALSE(logic_error_on_other_thread([&] { (void)p.client.close(); }).empty());
    CHECK_FALSE(logic_error_on_other_thread([&] { (void)p.client.receive(); }).empty());
    // Nothing was submitted or closed: the stream works on its own thread.
    CHECK(p.client.is_open());
    co_await p.client.write_all(std::string_view{"ok"});
    std::array<std::byte, 2> two{};
    co_await p.server.read_exact(two);
    CHECK(std::string_view{reinterpret_cast<const char*>(two.data()), 2} == "ok");
  }());
}

TEST_CASE("a listener accepted from a second context is a logic_error", "[tcp]") {
  ringo::io_context first;  // outlives the listener, which its first accept ties to it
  auto l = tcp_listener::bind(endpoint::loopback_v4(0));
  first.run([&]() -> ringo::task<void> {
    auto c = ringo::spawn(tcp_stream::connect(l.local_endpoint()));
    auto s = co_await l.accept();
    (void)co_await c;
  }());
  std::string what;
  std::thread([&] {
    ringo::run([&]() -> ringo::task<void> {
      try {
        (void)co_await l.accept();
      } catch (const std::logic_error& e) {
        what = e.what();
      }
    }());
  }).join();
  CHECK(what.find("accepted from a second io_context") != std::string::npos);
  l.close();
  first.run([]() -> ringo::task<void> { co_return; }());  // hands back the cancelled accept
}

TEST_CASE("received buffers released on another thread go back to their own ring", "[tcp]") {
  ringo::io_context_options options;
  options.buffer_count = 4;  // a lost buffer would soon starve the ring
  options.buffer_size = 64;
  ringo::run(
      []() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto p = co_await connected_pair(l);
        std::string got;
        for (int i = 0; i < 200; ++i) {
          const std::string msg = fmt::format("{:03}", i);
          co_await p.client.write_all(std::string_view{msg});
          auto buf = co_await p.server.receive();
          got += buf.text();
          std::thread([b = std::move(buf)]() mutable { b.release(); }).join();
          if (i % 2 == 0) {
            co_await p.client.write_all(std::string_view{"-"});
            auto batch = co_await p.server.receive_some();
            for (std::size_t k = 0; k < batch.size(); ++k)
              got.append(reinterpret_cast<const char*>(batch[k].data()), batch[k].size());
            std::thread([b = std::move(batch)]() mutable { b.release(); }).join();
          }
        }
        std::string want;
        for (int i = 0; i < 200; ++i)
          want += fmt::format("{:03}", i) + (i % 2 == 0 ? "-" : "");
        CHECK(got == want);
      }(),
      options);
}

TEST_CASE("parts of one shared buffer released together on another thread all go back",
          "[tcp]") {
  ringo::io_context_options options;
  options.buffer_count = 2;  // a part lost on the way back would take a buffer out for good
  options.buffer_size = 64;
  ringo::run(
      []() -> ringo::task<void> {
        auto l = tcp_listener::bind(endpoint::loopback_v4(0));
        auto p = co_await connected_pair(l);
        std::string got;
        std::string want;
        const std::byte* ring = nullptr;  // the first buffer's start: the first bytes received
        int shared = 0;                   // parts that follow the one before in its buffer
        std::array<int, 2> late_use{};    // parts in each buffer over the last rounds
        for (int round = 0; round < 100; ++round) {
          std::vector<ringo::net::received_buffer> parts;
          for (int k = 0; k < 6; ++k) {
            const std::string msg = fmt::format("{:02}.{}", round, k);
            want += msg;
            co_await p.client.write_all(std::string_view{msg});
            std::size_t n = 0;
            while (n < msg.size()) {
              auto b = co_await p.server.receive(std::chrono::seconds{5});
              REQUIRE_FALSE(b.empty());
              if (ring == nullptr) ring = b.bytes().data();
              if (!parts.empty() && parts.back().bytes().data() + parts.back().size() ==
                                        b.bytes().data()) {
                ++shared;
              }
              const auto at = reinterpret_cast<std::uintptr_t>(b.bytes().data());
              const auto base = reinterpret_cast<std::uintptr_t>(ring);
              if (round >= 80 && at >= base && at < base + 128) ++late_use[(at - base) / 64];
              n += b.size();
              got += b.text();
              parts.push_back(std::move(b));
            }
          }
          // All six at once, on a thread that does not run the context.
          std::thread([ps = std::move(parts)]() mutable { ps.clear(); }).join();
        }
        CHECK(got == want);
        const auto& f = ringo::io_context::current()->features();
        if (f.incremental_buffers) CHECK(shared > 100);
        if (f.provided_buffers) {
          // Both buffers still go round: neither was kept out by a part that did not come back.
          CHECK(late_use[0] > 0);
          CHECK(late_use[1] > 0);
        }
      }(),
      options);
}
