// Picks a context's I/O backend and translates the public options into the backend's own, so
// that nothing above the reactor seam knows a backend's sizes or flags.
#include "backend/reactor_factory.hpp"

#include <cstdlib>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "backend/epoll/make_reactor.hpp"
#include "backend/uring/make_reactor.hpp"

namespace ringo::detail {
namespace {

struct named_feature {
  std::string_view name;
  kernel_feature bit;
};

constexpr named_feature feature_names[] = {
    {"single_issuer", kernel_feature::single_issuer},
    {"defer_taskrun", kernel_feature::defer_taskrun},
    {"coop_taskrun", kernel_feature::coop_taskrun},
    {"multishot_accept", kernel_feature::multishot_accept},
    {"provided_buffers", kernel_feature::provided_buffers},
    {"send_zc", kernel_feature::send_zc},
    {"cancel_any", kernel_feature::cancel_any},
    {"registered_ring", kernel_feature::registered_ring},
    {"recv_bundle", kernel_feature::recv_bundle},
    {"incremental_buffers", kernel_feature::incremental_buffers},
    {"kernel_tls", kernel_feature::kernel_tls},
};

// RINGO_DISABLE_FEATURES: a comma-separated list of feature names, or "all".
unsigned features_from_environment() {
  const char* env = std::getenv("RINGO_DISABLE_FEATURES");
  if (env == nullptr) return 0;
  unsigned mask = 0;
  std::string_view rest{env};
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view word = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (word.empty()) continue;
    if (word == "all") {
      mask = ~0u;
      continue;
    }
    bool known = false;
    for (const auto& n : feature_names) {
      if (n.name == word) {
        mask |= static_cast<unsigned>(n.bit);
        known = true;
      }
    }
    if (!known) {
      std::string names;
      for (const auto& n : feature_names)
        fmt::format_to(std::back_inserter(names), "{}, ", n.name);
      throw std::invalid_argument(fmt::format(
          "RINGO_DISABLE_FEATURES names an unknown feature '{}' (known: {}all)", word, names));
    }
  }
  return mask;
}

// `off`: the features to do without (the options' and the environment's).
uring_options uring_options_from(const io_context_options& options, unsigned off) {
  auto allowed = [off](kernel_feature f) { return (off & static_cast<unsigned>(f)) == 0; };
  uring_options u;
  u.ring_entries = options.ring_entries;
  u.buffer_count = options.buffer_count;
  u.buffer_size = options.buffer_size;
  u.single_issuer = allowed(kernel_feature::single_issuer);
  u.defer_taskrun = allowed(kernel_feature::defer_taskrun);
  u.coop_taskrun = allowed(kernel_feature::coop_taskrun);
  u.multishot_accept = allowed(kernel_feature::multishot_accept);
  u.provided_buffers = allowed(kernel_feature::provided_buffers);
  u.send_zc = allowed(kernel_feature::send_zc);
  u.cancel_any = allowed(kernel_feature::cancel_any);
  u.registered_ring = allowed(kernel_feature::registered_ring);
  u.recv_bundle = allowed(kernel_feature::recv_bundle);
  u.incremental_buffers = allowed(kernel_feature::incremental_buffers);
  u.kernel_tls = allowed(kernel_feature::kernel_tls);
  return u;
}

// RINGO_BACKEND decides where the options leave the choice to ringo.
io_backend backend_wanted(io_backend asked) {
  if (asked != io_backend::automatic) return asked;
  const char* env = std::getenv("RINGO_BACKEND");
  if (env == nullptr) return io_backend::automatic;
  const std::string_view v{env};
  if (v == "io_uring") return io_backend::io_uring;
  if (v == "epoll") return io_backend::epoll;
  if (v == "auto" || v == "automatic" || v.empty()) return io_backend::automatic;
  throw std::invalid_argument(
      fmt::format("RINGO_BACKEND is '{}': it takes io_uring, epoll or auto", v));
}

epoll_options epoll_options_from(const io_context_options& options, unsigned off) {
  epoll_options e;
  e.buffer_size = options.buffer_size;
  e.buffer_count = options.buffer_count;
  e.lend_buffers = (off & static_cast<unsigned>(kernel_feature::provided_buffers)) == 0;
  e.kernel_tls = (off & static_cast<unsigned>(kernel_feature::kernel_tls)) == 0;
  return e;
}

// The sizes are checked whichever backend is taken (both lend buffer_count buffers of
// buffer_size), so that options one machine accepts are not refused on another.
void check_sizes(const io_context_options& options) {
  const unsigned count = options.buffer_count;
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768 || options.buffer_size == 0) {
    throw std::invalid_argument(fmt::format(
        "io_context_options: buffer_count must be a power of two up to 32768 and buffer_size "
        "positive (got {} and {})",
        count, options.buffer_size));
  }
}

}  // namespace

made_reactor make_reactor(const io_context_options& options) {
  check_sizes(options);
  // Read (and checked) whichever backend is taken, so that a bad name is always an error.
  const unsigned off = options.disabled_features | features_from_environment();
  const uring_options uring = uring_options_from(options, off);
  switch (backend_wanted(options.backend)) {
    case io_backend::io_uring:
      return {make_uring_reactor(uring), io_backend::io_uring, {}};
    case io_backend::epoll:
      return {make_epoll_reactor(epoll_options_from(options, off)), io_backend::epoll, {}};
    case io_backend::automatic:
      break;
  }
  std::string reason;
  try {
    return {make_uring_reactor(uring), io_backend::io_uring, {}};
  } catch (const std::system_error& e) {
    reason = e.what();  // the sentence an explicit io_uring request throws
  }
  // Said once per process: a server that makes a context per thread says it once.
  static std::once_flag said;
  std::call_once(said, [&] {
    try {
      fmt::print(stderr, "ringo: io_uring unavailable ({}); using epoll\n", reason);
    } catch (...) {
    }
  });
  return {make_epoll_reactor(epoll_options_from(options, off)), io_backend::epoll, std::move(reason)};
}

}  // namespace ringo::detail
