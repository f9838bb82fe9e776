// The standing receive (io_opcode::keep_receiving) through the backend seam, on each backend:
// one completion per arrival, in buffers the backend lends, until the end of the stream, a
// cancel, or no buffer left to lend (-ENOBUFS); a backend told to lend none refuses it.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <source_location>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/detail/suspension.hpp>
#include <ringo/io_context.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include "backend/reactor.hpp"
#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

// A connected pair of Unix stream sockets: the backend receives on `ours`.
struct socket_pair {
  int fds[2] = {-1, -1};
  socket_pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0); }
  ~socket_pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  int ours() const { return fds[0]; }
  void send(const std::string& s) const {
    REQUIRE(::send(fds[1], s.data(), s.size(), 0) == static_cast<ssize_t>(s.size()));
  }
  void shut() const { REQUIRE(::shutdown(fds[1], SHUT_WR) == 0); }
};

// Arms one standing receive on `fd` and gathers its completions until the final one; the
// bytes are copied out of each lent buffer, which goes back at once unless `hold` is set.
// `co_await r.end()` waits for the final completion.
struct standing_receiver {
  struct operation : ringo::detail::io_operation {
    standing_receiver* owner = nullptr;
  } op;
  bool hold = false;
  std::string bytes;
  int arrivals = 0;      // completions that carried bytes
  int more_flags = 0;    // completions that said more would follow
  int final_result = 1;  // the final completion's result
  std::vector<std::uint32_t> held;
  bool ended = false;

  struct end_awaiter : ringo::detail::suspension {
    standing_receiver& r;
    explicit end_awaiter(standing_receiver& owner)
        : suspension(std::source_location::current()), r(owner) {}
    bool await_ready() { return r.ended; }
    bool await_suspend(std::coroutine_handle<> h) {
      if (!prepare()) return false;
      r.waiting = this;
      park(h);
      return true;
    }
    void await_resume() { r.waiting = nullptr; }
  };
  end_awaiter* waiting = nullptr;

  standing_receiver(int fd, bool hold_buffers) : hold(hold_buffers) {
    op.owner = this;
    op.opcode = ringo::detail::io_opcode::keep_receiving;
    op.fd = fd;
    op.on_complete = &on_complete;
  }
  standing_receiver(const standing_receiver&) = delete;

  static ringo::detail::reactor& lender() {
    return ringo::detail::loop_of(*ringo::io_context::current()).io();
  }

  static void on_complete(ringo::detail::io_operation& o, int res, std::uint32_t flags,
                          std::uint32_t buffer) noexcept {
    standing_receiver& self = *static_cast<operation&>(o).owner;
    if ((flags & ringo::detail::more_completions) != 0) ++self.more_flags;
    if ((flags & ringo::detail::has_buffer) != 0) {
      if (res > 0) {
        ++self.arrivals;
        self.bytes.append(reinterpret_cast<const char*>(lender().buffer_data(buffer)),
                          static_cast<std::size_t>(res));
      }
      if (self.hold && res > 0) {
        self.held.push_back(buffer);
      } else {
        lender().recycle_buffer(buffer);
      }
    }
    if ((flags & ringo::detail::more_completions) == 0) {
      self.final_result = res;
      self.ended = true;
      if (self.waiting != nullptr) self.waiting->wake();
    }
  }

  void start() {
    ended = false;
    ringo::detail::loop_of(*ringo::io_context::current()).submit(op);
  }
  void cancel() { ringo::detail::loop_of(*ringo::io_context::current()).cancel_request(op); }
  void give_back() {
    for (const std::uint32_t b : held)
      lender().recycle_buffer(b);
    held.clear();
  }
  end_awaiter end() { return end_awaiter{*this}; }
};

ringo::io_context_options on(ringo::io_backend backend, unsigned buffers = 16,
                             unsigned size = 4096) {
  ringo::io_context_options options;
  options.backend = backend;
  options.buffer_count = buffers;
  options.buffer_size = size;
  return options;
}

}  // namespace

TEST_CASE("a standing receive brings each arrival in a lent buffer, in order, to the end",
          "[reactor]") {
  for (const auto backend : {ringo::io_backend::io_uring, ringo::io_backend::epoll}) {
    ringo::io_context ctx{on(backend)};
    if (!ctx.features().provided_buffers) continue;  // RINGO_DISABLE_FEATURES
    socket_pair p;
    standing_receiver r{p.ours(), false};
    ctx.run([&]() -> ringo::task<void> {
      r.start();
      std::string sent;
      for (int i = 0; i < 5; ++i) {
        const std::string msg = "message " + std::to_string(i) + ";";
        sent += msg;
        p.send(msg);
        co_await ringo::sleep_for(2ms);
      }
      p.shut();
      co_await r.end();
      CHECK(r.bytes == sent);
    }());
    INFO(fmt::format("{}", backend));
    CHECK(r.arrivals >= 5);          // one per message at least (a message may split)
    CHECK(r.more_flags >= r.arrivals);  // every arrival said the request stays armed
    CHECK(r.final_result == 0);      // the end of the stream ended it
    CHECK(ringo::detail::loop_of(ctx).io().in_flight() == 0);
  }
}

TEST_CASE("a cancelled standing receive ends with -ECANCELED after what it brought",
          "[reactor]") {
  for (const auto backend : {ringo::io_backend::io_uring, ringo::io_backend::epoll}) {
    ringo::io_context ctx{on(backend)};
    if (!ctx.features().provided_buffers) continue;
    socket_pair p;
    standing_receiver r{p.ours(), false};
    ctx.run([&]() -> ringo::task<void> {
      r.start();
      p.send("before the cancel");
      co_await ringo::sleep_for(5ms);
      r.cancel();
      co_await r.end();
      CHECK(r.bytes == "before the cancel");
    }());
    INFO(fmt::format("{}", backend));
    CHECK(r.final_result == -ECANCELED);
  }
}

TEST_CASE("a standing receive ends with -ENOBUFS once every buffer is lent", "[reactor]") {
  for (const auto backend : {ringo::io_backend::io_uring, ringo::io_backend::epoll}) {
    ringo::io_context ctx{on(backend, 2, 64)};
    if (!ctx.features().provided_buffers) continue;
    socket_pair p;
    standing_receiver r{p.ours(), true};  // holds every buffer it is lent
    ctx.run([&]() -> ringo::task<void> {
      r.start();
      for (int i = 0; i < 4 && !r.ended; ++i) {
        p.send(std::string(64, static_cast<char>('a' + i)));
        co_await ringo::sleep_for(2ms);
      }
      co_await r.end();
      // io_uring's bundles may end the request with the bytes that took the last buffer:
      // armed again, it finds none at once.
      if (r.final_result > 0) {
        r.start();
        co_await r.end();
      }
      r.give_back();
    }());
    INFO(fmt::format("{}", backend));
    CHECK(r.final_result == -ENOBUFS);
    CHECK(r.bytes == std::string(64, 'a') + std::string(64, 'b'));  // both buffers, in order
  }
}

TEST_CASE("a backend told to lend no buffers refuses a standing receive", "[reactor]") {
  ringo::io_context_options options = on(ringo::io_backend::epoll);
  options.disabled_features = static_cast<unsigned>(ringo::kernel_feature::provided_buffers);
  ringo::io_context ctx{options};
  CHECK_FALSE(ctx.features().provided_buffers);
  socket_pair p;
  standing_receiver r{p.ours(), false};
  ctx.run([&]() -> ringo::task<void> {
    r.start();
    co_await r.end();
  }());
  CHECK(r.final_result == -EOPNOTSUPP);
  CHECK(r.bytes.empty());
}
