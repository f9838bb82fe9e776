#pragma once
// Requests made straight through the reactor seam, for the reactor tests: no-ops awaited by
// tasks, and reads (or polls) of a pipe with a deadline for the request.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <vector>

#include <ringo/detail/io_awaiter.hpp>
#include "backend/reactor.hpp"
#include <ringo/detail/suspension.hpp>
#include <ringo/io_context.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include "catch.hpp"

namespace ringo_test {

// One no-op request through the reactor seam, awaited by a task.
struct nop_awaiter : ringo::detail::suspension {
  struct operation : ringo::detail::io_operation {
    nop_awaiter* owner = nullptr;
  } op;
  int result = -1;

  nop_awaiter() : suspension(std::source_location::current()) {}
  bool await_ready() { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    op.owner = this;
    op.opcode = ringo::detail::io_opcode::nop;
    op.on_complete = [](ringo::detail::io_operation& o, int res, std::uint32_t,
                        std::uint32_t) noexcept {
      nop_awaiter& self = *static_cast<operation&>(o).owner;
      self.result = res;
      self.wake();
    };
    context->io().submit(op);
    park(h);
    return true;
  }
  int await_resume() { return result; }
};

inline ringo::task<int> one_nop() {
  co_return co_await nop_awaiter{};
}

// A read (or poll) of a pipe through the seam, with a time limit: an io_awaiter, whose limit
// is a timer of the loop's that cancels the request when it fires.
struct outcome {
  int result = 0;
  bool timed_out = false;
};

struct read_awaiter : ringo::detail::io_awaiter {
  char byte = 0;
  std::chrono::nanoseconds limit;

  read_awaiter(int fd, std::chrono::nanoseconds timeout,
               ringo::detail::io_opcode opcode = ringo::detail::io_opcode::read)
      : io_awaiter(std::source_location::current()), limit(timeout) {
    this->opcode = opcode;
    this->fd = fd;
    buf = &byte;
    len = 1;
    offset = static_cast<std::uint64_t>(-1);
  }
  bool await_ready() { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return start(h, limit); }
  outcome await_resume() {
    return {res_, res_ == -ECANCELED && deadline_passed_ && !cancelled};
  }
};

struct pipe_pair {
  int fds[2] = {-1, -1};
  pipe_pair() { REQUIRE(::pipe(fds) == 0); }
  ~pipe_pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  int read_end() const { return fds[0]; }
  void put(char c) const { REQUIRE(::write(fds[1], &c, 1) == 1); }
};

inline ringo::task<int> many_nops(int count) {
  std::vector<ringo::join_handle<int>> handles;
  handles.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i)
    handles.push_back(ringo::spawn(one_nop()));
  int completed = 0;
  for (auto& h : handles)
    completed += (co_await h) == 0 ? 1 : 0;
  co_return completed;
}

}  // namespace ringo_test
