// Seed block 1: daemon threads. A daemon ends only after the main task *and every
// non-daemon task* have ended: ringo::run waits for the others, then cancels the daemon.
// Also the seed's "object-oriented thread": the body moves from a function into a run()
// member of a class.
//
//   build/release/demo/daemon
#include <chrono>
#include <string>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "demo_main.hpp"

using namespace std::chrono_literals;

// threading.Thread subclass with run(): the state lives in the object, the work in run().
class worker {
 public:
  explicit worker(std::string name) : name_(std::move(name)) {}
  ringo::task<void> run() {
    fmt::print("{} starts\n", name_);
    co_await ringo::sleep_for(1s);
    fmt::print("{} ends\n", name_);
  }

 private:
  std::string name_;
};

ringo::task<void> heartbeat() {
  try {
    for (int beat = 1;; ++beat) {
      fmt::print("daemon: beat {}\n", beat);
      co_await ringo::sleep_for(300ms);
    }
  } catch (const ringo::operation_cancelled&) {
    fmt::print("daemon: stopped, every other task has ended\n");
    throw;
  }
}

ringo::task<void> main_task() {
  ringo::spawn(heartbeat(), ringo::daemon);  // t.daemon = True; t.start()
  static worker child{"child"};              // outlives the task that runs it
  ringo::spawn(child.run());                 // a non-daemon: run() waits for it
  fmt::print("main ends\n");
  co_return;
}

constexpr demo::usage cli{
    "daemon",
    "usage: daemon\n"
    "Seed block 1 (daemon threads): ringo::run waits for every other task, then cancels\n"
    "the daemons.\n"};

int main(int argc, char** argv) try {
  cli.no_arguments(argc, argv);
  ringo::run(main_task());
  fmt::print("run() returned\n");
} catch (const std::exception& e) {
  return demo::failed("daemon", e);
}
