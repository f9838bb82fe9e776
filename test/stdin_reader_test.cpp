// ringo::stdin_reader: lines and bytes from descriptor 0 (a pipe here), one reader at a time,
// and a read that was cancelled or failed letting the next one in.
#include <ringo/stdin_reader.hpp>
// (its own header first: proves it stands alone)
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"

namespace {

std::string second_reader_message(std::string_view what) {
  return fmt::format(
      "ringo::stdin_reader: {} is already being read by another task; read it from one task "
      "and hand what it reads to the others through a ringo::queue",
      what);
}

// What a read started while another is in flight ends with: the message of the logic_error
// it must throw at once, or "" if it was let in. The deadline only bounds a read let in, which
// would wait for data too.
template <class T>
ringo::task<std::string> refusal_of(ringo::task<T> read) {
  try {
    (void)co_await ringo::with_timeout(std::chrono::milliseconds(200), std::move(read));
  } catch (const std::logic_error& e) {
    co_return e.what();
  } catch (const ringo::timed_out&) {
  }
  co_return "";
}

void write_all(int fd, std::string_view s) {
  REQUIRE(::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size()));
}

}  // namespace

TEST_CASE("stdin_reader reads lines from a pipe on descriptor 0 until end of input", "[file]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved = ::dup(0);
  REQUIRE(::dup2(fds[0], 0) == 0);
  ::close(fds[0]);
  const std::string input = "first\nsecond\r\n\nlast without newline";
  REQUIRE(::write(fds[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  ::close(fds[1]);

  std::vector<std::string> lines;
  ringo::run([&]() -> ringo::task<void> {
    ringo::stdin_reader in;
    while (auto line = co_await in.read_line())
      lines.push_back(*line);
    const auto again = co_await in.read_line();
    CHECK_FALSE(again.has_value());
  }());
  ::dup2(saved, 0);
  ::close(saved);
  CHECK(lines == std::vector<std::string>{"first", "second", "", "last without newline"});
}

TEST_CASE("stdin_reader read_some serves buffered bytes first", "[file]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const std::string input = "line\nrest";
  REQUIRE(::write(fds[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  ::close(fds[1]);
  ringo::run([&]() -> ringo::task<void> {
    ringo::stdin_reader in{fds[0]};
    const auto line = co_await in.read_line();
    CHECK(line == std::optional<std::string>{"line"});
    std::array<std::byte, 16> buf{};
    const auto n = co_await in.read_some(buf);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), n) == "rest");
    const auto end = co_await in.read_some(buf);
    CHECK(end == 0);
  }());
  ::close(fds[0]);
}

TEST_CASE(
    "a second task reading a stdin_reader while a read is in flight gets std::logic_error, "
    "and the first read completes with the data",
    "[file]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ringo::run([&]() -> ringo::task<void> {
    ringo::stdin_reader in{fds[0]};
    auto first = ringo::spawn(in.read_line());
    co_await ringo::yield();  // the first reader is waiting for the pipe now
    const std::string expected = second_reader_message(fmt::format("fd {}", fds[0]));
    // (Results are taken out of CHECK: g++ 12 also runs a co_await in the macro's dead branch.)
    const std::string by_read_line = co_await refusal_of(in.read_line());
    CHECK(by_read_line == expected);
    std::array<std::byte, 8> buf{};
    const std::string by_read_some = co_await refusal_of(in.read_some(buf));
    CHECK(by_read_some == expected);
    write_all(fds[1], "hello\nworld\n");
    ::close(fds[1]);
    const auto line = co_await first;
    CHECK(line == std::optional<std::string>{"hello"});
    // The first read is over: the reader is free again, and kept what followed the line.
    const auto next = co_await in.read_line();
    CHECK(next == std::optional<std::string>{"world"});
    const auto end = co_await in.read_line();
    CHECK_FALSE(end.has_value());
  }());
  ::close(fds[0]);
}

TEST_CASE("a cancelled stdin_reader read lets the next read in", "[file]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved = ::dup(0);
  REQUIRE(::dup2(fds[0], 0) == 0);
  ::close(fds[0]);
  ringo::run([&]() -> ringo::task<void> {
    ringo::stdin_reader in;
    std::array<std::byte, 8> buf{};
    auto first = ringo::spawn(in.read_some(buf));
    co_await ringo::yield();
    const std::string refusal = co_await refusal_of(in.read_line());
    CHECK(refusal == second_reader_message("stdin"));
    first.cancel();
    bool cancelled = false;
    try {
      (void)co_await first;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    write_all(fds[1], "after\n");
    ::close(fds[1]);
    const auto line = co_await in.read_line();
    CHECK(line == std::optional<std::string>{"after"});
    const auto end = co_await in.read_line();
    CHECK_FALSE(end.has_value());
  }());
  ::dup2(saved, 0);
  ::close(saved);
}

TEST_CASE("a stdin_reader read that failed lets the next read in", "[file]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ringo::run([&]() -> ringo::task<void> {
    ringo::stdin_reader in{fds[1]};  // the write end: every read fails with EBADF
    for (int i = 0; i < 2; ++i) {
      int error = 0;
      try {
        (void)co_await in.read_line();
      } catch (const std::system_error& e) {
        error = e.code().value();
      } catch (const std::logic_error&) {
        error = -1;  // the failed read kept the reader
      }
      CHECK(error == EBADF);
    }
  }());
  ::close(fds[0]);
  ::close(fds[1]);
}
