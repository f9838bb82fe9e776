#include "load_options.hpp"

#include <fmt/core.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace load_client {
namespace {

[[noreturn]] void usage(std::string_view problem) {
  fmt::print(
      stderr,
      "load_client: {}\n"
      "usage: load_client [--host H] [--port P] [--connections N] [--size M] "
      "[--seconds T] [--warmup W] [--pipeline K | --rate R | --churn] [--no-greeting] [--json] "
      "[--connect-retries N] [--samples FILE] [--watch-pid PID]\n",
      problem);
  std::exit(2);
}

}  // namespace

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto text = [&]() -> std::string {
      if (i + 1 >= argc) usage(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    auto number = [&](double lo, double hi) {
      std::string s = text();
      char* end = nullptr;
      double v = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0' || !(v >= lo && v <= hi)) {
        usage(fmt::format("{} takes a number from {} to {}, not '{}'", arg, lo, hi, s));
      }
      return v;
    };
    if (arg == "--host") {
      o.host = text();
    } else if (arg == "--port") {
      o.port = text();
    } else if (arg == "--connections") {
      o.connections = static_cast<int>(number(1, 100000));
    } else if (arg == "--size") {
      o.size = static_cast<std::size_t>(number(1, 1 << 20));
    } else if (arg == "--seconds") {
      o.seconds = number(0.1, 86400);
    } else if (arg == "--warmup") {
      o.warmup = number(0, 3600);
    } else if (arg == "--pipeline") {
      o.pipeline = static_cast<int>(number(1, 4096));
    } else if (arg == "--rate") {
      o.rate = number(1, 1e9);
    } else if (arg == "--no-greeting") {
      o.greeting = false;
    } else if (arg == "--churn") {
      o.churn = true;
    } else if (arg == "--json") {
      o.json = true;
    } else if (arg == "--connect-retries") {
      o.connect_retries = static_cast<int>(number(1, 100000));
    } else if (arg == "--samples") {
      o.samples = text();
    } else if (arg == "--watch-pid") {
      o.watch_pid = static_cast<int>(number(1, 1 << 30));
    } else if (arg == "--help" || arg == "-h") {
      usage("an echo load generator");
    } else {
      usage(fmt::format("unknown argument {}", arg));
    }
  }
  if (o.rate > 0 && o.pipeline > 1) usage("--rate and --pipeline exclude each other");
  if (o.churn && (o.rate > 0 || o.pipeline > 1)) usage("--churn excludes --rate and --pipeline");
  if (o.size * static_cast<std::size_t>(o.pipeline) > (64u << 20)) {
    usage("--size times --pipeline must stay under 64 MiB");
  }
  return o;
}

}  // namespace load_client
