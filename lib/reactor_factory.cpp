// Picks a context's I/O backend and translates the public options into the backend's own, so
// that nothing above the reactor seam knows a backend's sizes or flags.
#include "reactor_factory.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "uring_reactor.hpp"

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
      for (const auto& n : feature_names) fmt::format_to(std::back_inserter(names), "{}, ", n.name);
      throw std::invalid_argument(fmt::format(
          "RINGO_DISABLE_FEATURES names an unknown feature '{}' (known: {}all)", word, names));
    }
  }
  return mask;
}

uring_options uring_options_from(const io_context_options& options) {
  const unsigned off = options.disabled_features | features_from_environment();
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
  return u;
}

}  // namespace

std::unique_ptr<reactor> make_reactor(const io_context_options& options) {
  return make_uring_reactor(uring_options_from(options));
}

}  // namespace ringo::detail
