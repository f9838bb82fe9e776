#include <ringo/file.hpp>
// (its own header first: proves it stands alone)
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <ringo/run.hpp>
#include <ringo/stdin_reader.hpp>

#include "catch.hpp"

namespace {

std::string temp_path() {
  const char* dir = std::getenv("TMPDIR");
  return fmt::format("{}/ringo_file_test_{}", dir != nullptr ? dir : "/tmp", ::getpid());
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span{s.data(), s.size()});
}

}  // namespace

TEST_CASE("a file is written, sized, read back at offsets and closed", "[file]") {
  const std::string path = temp_path();
  ringo::run([&]() -> ringo::task<void> {
    auto f = co_await ringo::file::open(
        path, ringo::open_mode::read_write | ringo::open_mode::create | ringo::open_mode::truncate);
    CHECK(f.path() == path);
    CHECK(co_await f.write_at(bytes_of("hello, world"), 0) == 12);
    CHECK(co_await f.write_at(bytes_of("W"), 7) == 1);
    CHECK(f.size() == 12);
    std::array<std::byte, 32> buf{};
    const auto n = co_await f.read_at(buf, 7);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), n) == "World");
    CHECK(co_await f.read_at(buf, 100) == 0);
    co_await f.close();
    CHECK_FALSE(f.is_open());

    auto g = co_await ringo::file::open(path);
    const auto m = co_await g.read_at(buf, 0);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), m) == "hello, World");
  }());
  ::unlink(path.c_str());
}

TEST_CASE("opening a missing file names the path", "[file]") {
  ringo::run([]() -> ringo::task<void> {
    try {
      (void)co_await ringo::file::open("/nonexistent/ringo/file");
      FAIL("opened");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == ENOENT);
      CHECK(std::string{e.what()} ==
            fmt::format("open /nonexistent/ringo/file: {}", std::strerror(ENOENT)));
    }
    try {
      (void)co_await ringo::file::open(temp_path() + "_x", ringo::open_mode::write |
                                                               ringo::open_mode::create |
                                                               ringo::open_mode::exclusive);
      (void)co_await ringo::file::open(temp_path() + "_x", ringo::open_mode::write |
                                                               ringo::open_mode::create |
                                                               ringo::open_mode::exclusive);
      FAIL("opened twice exclusively");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == EEXIST);
    }
    ::unlink((temp_path() + "_x").c_str());
  }());
}

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
