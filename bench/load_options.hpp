#pragma once
// bench/load_client's command line (its usage is at the top of load_client.cpp).
#include <cstddef>
#include <string>

namespace load_client {

struct options {
  std::string host = "127.0.0.1";
  std::string port = "9090";
  int connections = 50;
  std::size_t size = 64;
  double seconds = 5;
  double warmup = 1;
  int pipeline = 1;
  double rate = 0;  // 0: closed loop
  bool greeting = true;
  bool churn = false;
  bool json = false;
  int connect_retries = 50;
  std::string samples;  // --samples FILE: per-second CSV
  int watch_pid = 0;    // --watch-pid: the server whose /proc entries the samples read
};

/// Reads the command line; on a bad argument prints the problem and the usage, and exits 2.
options parse(int argc, char** argv);

}  // namespace load_client
