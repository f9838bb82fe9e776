#include <ringo/process.hpp>
// (its own header first: proves it stands alone)
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/signal_set.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/with_timeout.hpp>

#include "catch.hpp"

using namespace std::chrono_literals;

namespace {

// The state letter of process `pid` in /proc ('S' sleeping, 'Z' zombie, ...), or nothing once
// it is gone (reaped).
std::optional<char> proc_state(pid_t pid) {
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  const auto close = line.rfind(") ");
  if (close == std::string::npos || close + 2 >= line.size()) return std::nullopt;
  return line[close + 2];
}

// Waits (blocking, in the test only) until `pid` is gone from /proc; false after `limit`.
bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (!proc_state(pid)) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

std::string spawn_error(std::vector<std::string> argv, ringo::process_options options = {}) {
  try {
    ringo::process p = ringo::process::spawn(std::move(argv), std::move(options));
  } catch (const std::system_error& e) {
    return e.what();
  }
  return "";
}

ringo::process_options piped_out() {
  ringo::process_options o;
  o.pipe_stdout = true;
  return o;
}

ringo::task<int> wait_for(ringo::process& p) {
  co_return co_await p.wait();
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  return s;
}

}  // namespace

TEST_CASE("wait returns the exit code", "[process]") {
  ringo::run([]() -> ringo::task<void> {
    auto zero = ringo::process::spawn({"true"});
    auto three = ringo::process::spawn({"/bin/sh", "-c", "exit 3"});
    CHECK(zero.pid() > 0);
    CHECK(three.program() == "/bin/sh");
    CHECK_FALSE(three.returncode().has_value());
    const int a = co_await three.wait();
    const int b = co_await zero.wait();
    CHECK(a == 3);
    CHECK(b == 0);
    // Seen once, the status stays.
    const int again = co_await three.wait();
    CHECK(again == 3);
    CHECK(three.returncode() == 3);
  }());
}

TEST_CASE("a child ended by a signal gives minus its number", "[process]") {
  ringo::run([]() -> ringo::task<void> {
    auto self_killed = ringo::process::spawn({"/bin/sh", "-c", "kill -9 $$"});
    const int status = co_await self_killed.wait();
    CHECK(status == -SIGKILL);

    // kill() sends SIGTERM by default. A signal_set for SIGTERM here does not block it in
    // the child: a child starts with no signal blocked.
    ringo::signal_set here{SIGTERM};
    auto sleeper = ringo::process::spawn({"sleep", "10"});
    sleeper.kill();
    const int terminated = co_await sleeper.wait();
    CHECK(terminated == -SIGTERM);
    sleeper.kill();  // after the end: nothing to do, no error

    auto other = ringo::process::spawn({"sleep", "10"});
    other.kill(SIGKILL);
    const int killed = co_await other.wait();
    CHECK(killed == -SIGKILL);
  }());
}

TEST_CASE("a program that cannot start is an error naming it", "[process]") {
  CHECK(spawn_error({"/no/such/program", "x"}) ==
        "spawn /no/such/program: No such file or directory");
  CHECK(spawn_error({"ringo-no-such-program-on-the-path"}) ==
        "spawn ringo-no-such-program-on-the-path: No such file or directory");
  ringo::process_options bad_cwd;
  bad_cwd.cwd = "/no/such/dir";
  CHECK(spawn_error({"/bin/pwd"}, bad_cwd) ==
        "spawn /bin/pwd in /no/such/dir: No such file or directory");
  try {
    (void)ringo::process::spawn({"/no/such/program"});
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::error_code(ENOENT, std::system_category()));
  }
  CHECK_THROWS_AS(ringo::process::spawn({}), std::invalid_argument);
  CHECK_THROWS_AS(ringo::process::spawn({""}), std::invalid_argument);
}

TEST_CASE("the working directory and the environment reach the child", "[process]") {
  ::setenv("RINGO_PROCESS_TEST_INHERITED", "from the parent", 1);
  ringo::run([]() -> ringo::task<void> {
    auto options = piped_out();
    options.cwd = "/";
    auto pwd = ringo::process::spawn({"pwd"}, options);
    const auto where = co_await pwd.communicate();
    CHECK(where.out == "/\n");
    CHECK(where.status == 0);

    auto with_env = piped_out();
    with_env.env = {"RINGO_A=42", "RINGO_B=two words"};
    auto env = ringo::process::spawn({"/usr/bin/env"}, with_env);
    const auto listed = co_await env.communicate();
    CHECK(listed.out == "RINGO_A=42\nRINGO_B=two words\n");

    auto inherit = ringo::process::spawn(
        {"/bin/sh", "-c", "printf %s \"$RINGO_PROCESS_TEST_INHERITED\""}, piped_out());
    const auto inherited = co_await inherit.communicate();
    CHECK(inherited.out == "from the parent");
  }());
  ::unsetenv("RINGO_PROCESS_TEST_INHERITED");
}

TEST_CASE("communicate writes 1 MiB while reading 1 MiB from stdout and from stderr", "[process]") {
  ringo::run([]() -> ringo::task<void> {
    const std::string input = pattern(1 << 20);
    ringo::process_options all;
    all.pipe_stdin = all.pipe_stdout = all.pipe_stderr = true;
    // tee fills both output pipes as it reads: a parent that wrote everything first, or read
    // one pipe to its end before the other, would deadlock with it.
    auto tee = ringo::process::spawn({"/bin/sh", "-c", "tee /dev/stderr"}, all);
    const auto got = co_await tee.communicate(input);
    CHECK(got.status == 0);
    CHECK(got.out.size() == input.size());
    CHECK(got.out == input);
    CHECK(got.err == input);
  }());
}

TEST_CASE("communicate with a child that reads nothing, and without pipes", "[process]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::process_options in;
    in.pipe_stdin = true;
    auto deaf = ringo::process::spawn({"true"}, in);
    const auto r = co_await deaf.communicate(pattern(4 << 20));  // EPIPE, or sooner
    CHECK(r.status == 0);
    CHECK(r.out.empty());

    auto echo = ringo::process::spawn({"/bin/echo", "hello", "world"}, piped_out());
    const auto said = co_await echo.communicate();
    CHECK(said.out == "hello world\n");
    CHECK(said.err.empty());

    auto no_stdin = ringo::process::spawn({"true"});
    std::string refusal;
    try {
      (void)co_await no_stdin.communicate("input");
    } catch (const std::logic_error& e) {
      refusal = e.what();
    }
    CHECK(refusal ==
          "ringo::process::communicate: input given, but true's stdin is not piped; spawn it "
          "with process_options::pipe_stdin and call communicate once");
    const int status = co_await no_stdin.wait();
    CHECK(status == 0);
  }());
}

TEST_CASE("the pipes are files: written, closed and read to their end", "[process]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::process_options both;
    both.pipe_stdin = both.pipe_stdout = true;
    auto sort = ringo::process::spawn({"sort"}, both);
    CHECK((::fcntl(sort.stdin_pipe().native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(sort.stdout_pipe().native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(sort.stdin_pipe().path() == fmt::format("stdin of sort (pid {})", sort.pid()));
    co_await sort.stdin_pipe().write_all("pear\napple\nfig\n");
    const auto n = co_await sort.stdin_pipe().write_some(
        std::as_bytes(std::span{std::string_view{"banana\n"}}));
    CHECK(n == 7);
    co_await sort.stdin_pipe().close();
    std::string out;
    std::array<std::byte, 3> buf{};  // small: several reads
    for (;;) {
      const auto got = co_await sort.stdout_pipe().read_some(buf);
      if (got == 0) break;
      out.append(reinterpret_cast<const char*>(buf.data()), got);
    }
    CHECK(out == "apple\nbanana\nfig\npear\n");
    const int status = co_await sort.wait();
    CHECK(status == 0);

    std::string refusal;
    try {
      (void)sort.stderr_pipe();
    } catch (const std::logic_error& e) {
      refusal = e.what();
    }
    CHECK(refusal ==
          "ringo::process::stderr_pipe: the process was spawned without a pipe for stderr; set "
          "process_options::pipe_stderr");
  }());
}

TEST_CASE("a cancelled wait leaves the child running, and a later wait sees its end", "[process]") {
  ringo::run([]() -> ringo::task<void> {
    auto sleeper = ringo::process::spawn({"sleep", "10"});
    auto waiter = ringo::spawn(wait_for(sleeper));
    co_await ringo::sleep_for(20ms);
    waiter.cancel();
    bool cancelled = false;
    try {
      (void)co_await waiter;
    } catch (const ringo::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    bool timed_out = false;
    try {
      (void)co_await ringo::with_timeout(20ms, sleeper.wait());
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    CHECK_FALSE(sleeper.returncode().has_value());
    const auto state = proc_state(sleeper.pid());
    CHECK((state.has_value() && *state != 'Z'));  // still running, not reaped

    // Two waits at once both see the end.
    auto first = ringo::spawn(wait_for(sleeper));
    auto second = ringo::spawn(wait_for(sleeper));
    co_await ringo::sleep_for(5ms);
    sleeper.kill();
    const int a = co_await first;
    const int b = co_await second;
    CHECK(a == -SIGTERM);
    CHECK(b == -SIGTERM);
  }());
}

TEST_CASE("a process destroyed before its end is killed and reaped: no zombie", "[process]") {
  pid_t running = 0;
  pid_t ended = 0;
  ringo::run([&]() -> ringo::task<void> {
    {
      auto sleeper = ringo::process::spawn({"sleep", "10"});
      running = sleeper.pid();
    }
    auto quick = ringo::process::spawn({"true"});
    ended = quick.pid();
    // Ended but not waited for: a zombie until the destructor reaps it.
    for (int i = 0; i < 500 && proc_state(ended) != 'Z'; ++i)
      co_await ringo::sleep_for(2ms);
    CHECK(proc_state(ended) == 'Z');
    quick = ringo::process{};
    CHECK_FALSE(proc_state(ended).has_value());  // reaped at once
  }());
  CHECK(gone_within(running, 5000ms));
}

TEST_CASE("misuse and bad input are errors that say what to do", "[process]") {
  ringo::process empty;
  CHECK(empty.pid() == 0);
  CHECK_THROWS_WITH(empty.kill(),
                    "ringo::process::kill on an empty process (default-made or moved from): "
                    "assign one from process::spawn first");
  CHECK_THROWS_AS(empty.stdout_pipe(), std::logic_error);
  ringo::run([]() -> ringo::task<void> {
    auto sleeper = ringo::process::spawn({"sleep", "10"});
    CHECK_THROWS_WITH(sleeper.kill(65),
                      "ringo::process::kill: 65 is not a signal number (0 to 64)");
    CHECK_THROWS_AS(sleeper.kill(-1), std::invalid_argument);
    sleeper.kill(0);  // the existence check: no signal sent
    CHECK_FALSE(sleeper.returncode().has_value());
    auto moved = std::move(sleeper);
    CHECK_THROWS_AS(sleeper.wait(), std::logic_error);
    moved.kill(SIGKILL);
    const int status = co_await moved.wait();
    CHECK(status == -SIGKILL);
  }());
}

TEST_CASE("a child does not inherit the parent's blocked signals", "[process]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::signal_set here{SIGUSR1, SIGINT};
    auto grep = ringo::process::spawn({"grep", "^SigBlk", "/proc/self/status"}, piped_out());
    const auto r = co_await grep.communicate();
    CHECK(r.out == "SigBlk:\t0000000000000000\n");
  }());
}

TEST_CASE("a cancelled communicate leaves the child running, and a wait still sees its end",
          "[process]") {
  ringo::run([]() -> ringo::task<void> {
    ringo::process_options all;
    all.pipe_stdin = all.pipe_stdout = all.pipe_stderr = true;
    auto child = ringo::process::spawn({"/bin/sh", "-c", "echo started; exec sleep 10"}, all);
    bool timed_out = false;
    try {
      (void)co_await ringo::with_timeout(100ms, child.communicate("some input"));
    } catch (const ringo::timed_out&) {
      timed_out = true;
    }
    CHECK(timed_out);
    CHECK_FALSE(child.returncode().has_value());
    child.kill();
    const int status = co_await child.wait();
    CHECK(status == -SIGTERM);
  }());
}
