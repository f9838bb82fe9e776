#include <ringo/file.hpp>
// (its own header first: proves it stands alone)
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"
#include "descriptors.hpp"

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
    const auto written = co_await f.write_at(bytes_of("hello, world"), 0);
    CHECK(written == 12);
    const auto patched = co_await f.write_at(bytes_of("W"), 7);
    CHECK(patched == 1);
    CHECK(f.size() == 12);
    std::array<std::byte, 32> buf{};
    const auto n = co_await f.read_at(buf, 7);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), n) == "World");
    const auto past_end = co_await f.read_at(buf, 100);
    CHECK(past_end == 0);
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

namespace {

// A pipe whose two ends are files; the write end first.
std::pair<ringo::file, ringo::file> file_pipe() {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  return {ringo::file::adopt(fds[1], "the pipe's write end"),
          ringo::file::adopt(fds[0], "the pipe's read end")};
}

ringo::task<std::string> read_to_end(const ringo::file& f) {
  std::string out;
  std::array<std::byte, 4096> buf{};
  for (;;) {
    const auto n = co_await f.read_some(buf);
    if (n == 0) co_return out;
    out.append(reinterpret_cast<const char*>(buf.data()), n);
  }
}

ringo::task<void> write_and_close(ringo::file& f, const std::string& data) {
  co_await f.write_all(data);
  co_await f.close();
}

std::string byte_pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 31 + i / 4096);
  return s;
}

}  // namespace

TEST_CASE("write_all sends more than a pipe holds, in order, to a reader reading meanwhile",
          "[file]") {
  ringo::run([]() -> ringo::task<void> {
    auto [out, in] = file_pipe();
    const std::string data = byte_pattern(300 * 1024);  // several times a pipe's 64 KiB
    auto writer = ringo::spawn(write_and_close(out, data));
    const std::string got = co_await read_to_end(in);
    co_await writer;
    CHECK(got.size() == data.size());
    CHECK(got == data);
  }());
}

TEST_CASE("write_some writes at the current position and returns how much", "[file]") {
  const std::string path = temp_path() + "_append";
  ringo::run([&]() -> ringo::task<void> {
    auto f = co_await ringo::file::open(path, ringo::open_mode::write | ringo::open_mode::create |
                                                  ringo::open_mode::truncate);
    const auto n = co_await f.write_some(bytes_of("one "));
    CHECK(n == 4);
    co_await f.write_all("two three");  // after the first: the position moved
    co_await f.close();
    auto g = co_await ringo::file::open(path);
    std::array<std::byte, 64> buf{};
    const auto m = co_await g.read_at(buf, 0);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), m) == "one two three");
    ringo::file empty;
    std::string refusal;
    try {
      (void)co_await empty.write_some(bytes_of("x"));
    } catch (const std::logic_error& e) {
      refusal = e.what();
    }
    CHECK(refusal == "ringo::file used while empty (closed or moved from): open one first");
  }());
  ::unlink(path.c_str());
}

TEST_CASE("write_all to a pipe without a reader fails with EPIPE naming the file", "[file]") {
  struct sigaction ignore {}, old{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  ringo::run([]() -> ringo::task<void> {
    auto [out, in] = file_pipe();
    in = ringo::file{};  // no reader any more
    std::string error;
    try {
      co_await out.write_all("nobody reads this");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::error_code(EPIPE, std::system_category()));
      error = e.what();
    }
    CHECK(error == fmt::format("write on the pipe's write end: {}", std::strerror(EPIPE)));
  }());
  ::sigaction(SIGPIPE, &old, nullptr);
}

TEST_CASE("a write_all cancelled while the pipe is full keeps what it wrote, in order",
          "[file]") {
  ringo::run([]() -> ringo::task<void> {
    auto [out, in] = file_pipe();
    const std::string data = byte_pattern(1 << 20);  // far more than the pipe takes
    bool timed_out = false;
    try {
      co_await ringo::with_timeout(std::chrono::milliseconds(50), out.write_all(data));
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    // The pipe holds a prefix of the data; the file still works for the rest.
    auto reader = ringo::spawn(read_to_end(in));
    co_await out.write_all("END");
    co_await out.close();
    const std::string got = co_await reader;
    REQUIRE(got.size() > 3);
    const std::size_t prefix = got.size() - 3;
    CHECK(prefix < data.size());
    CHECK(got.compare(0, prefix, data, 0, prefix) == 0);
    CHECK(got.substr(prefix) == "END");
  }());
}

TEST_CASE("an open of a FIFO without a writer ends at its deadline and leaks no descriptor",
          "[file]") {
  const std::string fifo = temp_path() + "_fifo";
  ::unlink(fifo.c_str());
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int before = ringo_test::open_descriptors();
  bool timed_out = false;
  bool opened = false;
  bool on_epoll = false;
  // The open blocks until a writer comes; the deadline must end the wait on every backend,
  // and run() must return though no writer ever comes while it runs. (io_uring first tries
  // the open without blocking, and a FIFO opens for reading at once that way: there it may
  // simply succeed.)
  ringo::run([&]() -> ringo::task<void> {
    on_epoll = ringo::io_context::current()->backend() == ringo::io_backend::epoll;
    try {
      auto f = co_await ringo::with_timeout(std::chrono::milliseconds(100),
                                            ringo::file::open(fifo, ringo::open_mode::read));
      opened = f.is_open();
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
  }());
  CHECK((timed_out || opened));
  if (on_epoll) CHECK(timed_out);
  // Now a writer comes: an open still blocked somewhere completes, and the descriptor it makes
  // must be closed, not leaked. (With no reader left, the open fails with ENXIO instead.)
  // The writer's open succeeds only while the blocked open is there to meet it. That open's
  // descriptor exists once its thread has left the call (the kernel installs it before the
  // call returns), and is closed a moment later: so the count is looked at only once no
  // thread is in open any more, else it could be read between those two moments.
  const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  const int expected = before + (writer >= 0 ? 1 : 0);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto settled = [&] {
    return (writer < 0 || !ringo_test::a_thread_is_in(SYS_openat)) &&
           ringo_test::open_descriptors() == expected;
  };
  while (!settled() && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(ringo_test::open_descriptors() == expected);
  if (writer >= 0) ::close(writer);
  ::unlink(fifo.c_str());
}

TEST_CASE("spawn takes a file's close as a task of its own, which closes it once", "[file]") {
  const std::string path = temp_path();
  ringo::run([&]() -> ringo::task<void> {
    auto f = co_await ringo::file::open(path, ringo::open_mode::write | ringo::open_mode::create);
    const int fd = f.native_handle();
    auto closing = ringo::spawn(f.close());
    CHECK_FALSE(f.is_open());
    co_await closing;
    CHECK(::fcntl(fd, F_GETFD) == -1);
  }());
  ::unlink(path.c_str());
}
