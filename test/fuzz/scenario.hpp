#pragma once
// test/fuzz/scenario.hpp: the script that scenario_fuzz.cpp reads from its input, and play(),
// which runs it on the current io_context and checks the invariants (test/fuzz/scenario.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ringo/task.hpp>

namespace fuzz {

/// One step of a script: what to do (op % the number of operations) and a byte that says
/// which task, how long, how many bytes.
struct step {
  std::uint8_t op;
  std::uint8_t arg;
};

/// Steps beyond this are ignored, so that every input runs in milliseconds.
inline constexpr std::size_t max_ops = 48;

struct script {
  std::size_t queue_capacity = 0;  ///< 0: unbounded
  std::vector<step> ops;
};

/// Runs `s`, winds everything down (the queue closed, the event set, the readers cancelled,
/// the bytes in flight read to the end, every task joined, the sockets closed), then checks
/// the invariants; calls violated() on the first that does not hold.
ringo::task<void> play(const script& s);

/// Reports a broken invariant and aborts, so that libFuzzer saves the input.
[[noreturn]] void violated(const std::string& what);

}  // namespace fuzz
