// test/fuzz/scenario_fuzz.cpp: libFuzzer target that reads its input as a script of
// operations on one io_context and checks, after the script and an orderly wind-down, what
// ringo promises whatever the interleaving:
//   - every task ended (run() returned, so none waits forever; each handle is done, each body
//     ran to its end or was cancelled before it started) and none ended with an exception the
//     script did not ask for;
//   - no queue item was lost or delivered twice: the items whose put returned are exactly the
//     items gets returned (or that were left in the queue), cancelled puts and gets included;
//   - two tasks never held the mutex at once;
//   - every byte written on the loopback pair (plain and gathered writes) is read once, in
//     order: completed writes arrive whole, cancelled or timed-out ones as a prefix, nothing
//     else, through cancelled and timed-out reads of every size, copied or taken as received
//     buffers;
//   - no descriptor is left open once the context is gone (/proc/self/fd counted before and
//     after), and AddressSanitizer sees no bad access or leak.
// Input: byte 0 sets the context up (bit 0: epoll backend, bit 1: every io_uring feature off,
// bits 2-3: queue capacity 0-3, bit 4: two provided buffers of 512 bytes instead of 16 of 4
// KiB, so that receives run out of them); then pairs of bytes, an operation and its argument
// (scenario.hpp), at most max_ops of them. Sleeps last tens of microseconds, so an input
// runs in milliseconds.
#include <dirent.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ringo/io_context_options.hpp>
#include <ringo/run.hpp>

#include "scenario.hpp"

namespace fuzz {

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "scenario_fuzz: invariant violated: %s\n", what.c_str());
  std::abort();
}

}  // namespace fuzz

namespace {

// Open descriptors of this process (the directory's own descriptor counts each time alike).
int open_descriptors() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) fuzz::violated("cannot list /proc/self/fd");
  int n = 0;
  while (::readdir(d) != nullptr)
    ++n;
  ::closedir(d);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t setup = bytes[0];
  ringo::io_context_options options;
  options.backend = (setup & 1) != 0 ? ringo::io_backend::epoll : ringo::io_backend::io_uring;
  if ((setup & 2) != 0) options.disabled_features = ~0u;
  options.ring_entries = 64;
  options.buffer_count = (setup & 16) != 0 ? 2 : 16;
  options.buffer_size = (setup & 16) != 0 ? 512 : 4096;
  fuzz::script script;
  script.queue_capacity = (setup >> 2) & 3;
  for (std::size_t i = 1; i + 1 < size && script.ops.size() < fuzz::max_ops; i += 2) {
    script.ops.push_back({bytes[i], bytes[i + 1]});
  }

  const int before = open_descriptors();
  {
    // play() checks what it can see inside the run; run() throwing (a deadlock, an
    // exception escaping a task) is a finding too.
    try {
      ringo::run(fuzz::play(script), options);
    } catch (const std::exception& e) {
      fuzz::violated(fmt::format("run() threw: {}", e.what()));
    }
  }
  const int after = open_descriptors();
  if (after != before) {
    fuzz::violated(fmt::format("{} descriptors open before the run, {} after", before, after));
  }
  return 0;
}
