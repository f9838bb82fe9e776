#pragma once
// What bench/load_client --watch-pid reads of a server process.
#include "latency_histogram.hpp"

namespace load_client {

/// What --watch-pid reads of the server: resident set, CPU time (all its threads) and open
/// descriptors, from /proc/PID. Fields are -1 when the process is gone.
struct server_probe {
  long rss_kib = -1;
  nanos cpu = -1;
  long fds = -1;
};

server_probe probe_server(int pid);

}  // namespace load_client
