// The command line of bench/uring_echo_server (see uring_echo_options.hpp).

#include "uring_echo_options.hpp"

#include <fmt/core.h>

#include <cstdlib>
#include <string_view>

namespace {

[[noreturn]] void usage(std::string_view problem) {
  fmt::print(stderr,
             "uring_echo_server: {}\n"
             "usage: uring_echo_server [--host H] [--port P] [--greeting TEXT] "
             "[--setup defer|coop|plain] [--no-ring-fd] [--buffers N] [--buffer-size B] "
             "[--direct] [--incremental]\n",
             problem);
  std::exit(2);
}

}  // namespace

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--host") {
      o.host = value();
    } else if (arg == "--port") {
      o.port = value();
    } else if (arg == "--greeting") {
      o.greeting = value();
      if (!o.greeting.empty() && o.greeting.back() != '\n') o.greeting += '\n';
    } else if (arg == "--setup") {
      std::string m = value();
      const char* const modes[] = {"defer", "coop", "plain"};
      o.setup = -1;
      for (int k = 0; k < 3; ++k) {
        if (m == modes[k]) o.setup = k;
      }
      if (o.setup < 0) usage("--setup is defer, coop or plain");
    } else if (arg == "--no-ring-fd") {
      o.ring_fd = false;
    } else if (arg == "--buffers") {
      o.buffers = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
      if (o.buffers == 0 || o.buffers > 32768 || (o.buffers & (o.buffers - 1)) != 0)
        usage("--buffers takes a power of two up to 32768");
    } else if (arg == "--buffer-size") {
      o.buffer_size = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
      if (o.buffer_size == 0 || o.buffer_size > (1u << 20)) usage("--buffer-size takes 1 to 1 MiB");
    } else if (arg == "--direct") {
      o.direct = true;
    } else if (arg == "--incremental") {
      o.incremental = true;
    } else if (arg == "--help" || arg == "-h") {
      usage("an echo server on raw io_uring");
    } else {
      usage(fmt::format("unknown argument {}", arg));
    }
  }
  return o;
}
