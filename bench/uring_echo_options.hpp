// The command line of bench/uring_echo_server (its header comment documents the options).
#pragma once

#include <string>

/// What the command line asked for.
struct options {
  std::string host = "127.0.0.1";
  std::string port = "9090";
  std::string greeting = "hello from ringo\n";
  int setup = 0;  // index of the first set-up to try (0 defer, 1 coop, 2 plain)
  bool ring_fd = true;
  unsigned buffers = 1024;
  unsigned buffer_size = 16384;
  bool direct = false;
  bool incremental = false;
};

/// Reads the command line; on a bad argument prints the usage and exits 2.
options parse(int argc, char** argv);
