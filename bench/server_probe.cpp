#include "server_probe.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace load_client {

server_probe probe_server(int pid) {
  server_probe p;
  if (pid <= 0) return p;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  if (std::FILE* f = std::fopen(path, "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::strncmp(line, "VmRSS:", 6) == 0) p.rss_kib = std::atol(line + 6);
    }
    std::fclose(f);
  }
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (std::FILE* f = std::fopen(path, "re")) {
    char buf[1024];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    std::fclose(f);
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    if (const char* rest = std::strrchr(buf, ')')) {
      unsigned long utime = 0, stime = 0;
      if (std::sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                      &stime) == 2) {
        p.cpu = static_cast<nanos>(utime + stime) * 1'000'000'000 / sysconf(_SC_CLK_TCK);
      }
    }
  }
  std::snprintf(path, sizeof path, "/proc/%d/fd", pid);
  if (DIR* d = opendir(path)) {
    long n = 0;
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    p.fds = n;
  }
  return p;
}

}  // namespace load_client
