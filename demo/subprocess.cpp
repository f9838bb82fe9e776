// subprocess: child processes run from a task (asyncio.create_subprocess_exec). The loop
// waits for a child through a pidfd and feeds and reads its pipes as I/O, so other tasks run
// meanwhile, and communicate() writes the input while it reads both outputs, so a child that
// fills one pipe cannot stall the exchange.
//
//   build/release/demo/subprocess
#include <signal.h>

#include <chrono>
#include <string>

#include <fmt/format.h>

#include <ringo/process.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;

namespace {

ringo::task<void> demo_main() {
  // Output only: proc = await create_subprocess_exec("echo", ..., stdout=PIPE)
  ringo::process_options out;
  out.pipe_stdout = true;
  auto echo = ringo::process::spawn({"/bin/echo", "hello", "from", "a", "child"}, out);
  const ringo::process_output said = co_await echo.communicate();
  fmt::print("echo wrote {:?} and exited with {}\n", said.out, said.status);

  // Input and output: sort reads everything, then writes.
  ringo::process_options both;
  both.pipe_stdin = both.pipe_stdout = true;
  auto sort = ringo::process::spawn({"sort", "-r"}, both);
  const auto sorted = co_await sort.communicate("pear\napple\nfig\n");
  fmt::print("sort -r gave {:?}\n", sorted.out);

  // The environment and the working directory, and standard error.
  ringo::process_options shell;
  shell.pipe_stdout = shell.pipe_stderr = true;
  shell.cwd = "/";
  shell.env = {"GREETING=hi"};
  auto sh = ringo::process::spawn(
      {"/bin/sh", "-c", "echo $GREETING from $(pwd); echo oops >&2; exit 3"}, shell);
  const auto r = co_await sh.communicate();
  fmt::print("sh wrote {:?}, {:?} on stderr, and exited with {}\n", r.out, r.err, r.status);

  // A child that runs too long: killed, and its status says by which signal.
  auto sleeper = ringo::process::spawn({"sleep", "60"});
  co_await ringo::sleep_for(100ms);
  sleeper.kill();
  const int status = co_await sleeper.wait();
  fmt::print("sleep 60 was stopped: status {} (minus SIGTERM, {})\n", status, SIGTERM);

  // A program that is not there is an error naming it.
  try {
    (void)ringo::process::spawn({"no-such-program"});
  } catch (const std::system_error& e) {
    fmt::print("error: {}\n", e.what());
  }
}

}  // namespace

constexpr demo::usage cli{
    "subprocess",
    "usage: subprocess\n"
    "Child processes run from a task: their pipes and exits as I/O of the loop.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  ringo::run(demo_main());
  return 0;
} catch (const std::exception& e) {
  return demo::failed("subprocess", e);
}
