#pragma once
// What the tests that count or exhaust descriptors share: the number open now, and the
// descriptor limit put back however a test ends, and whether a thread is inside a given call.
#include <dirent.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>

#include "catch.hpp"

namespace ringo_test {

/// Entries of /proc/self/fd (the directory's own descriptor included: compare counts).
inline int open_descriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  REQUIRE(d != nullptr);
  while (::readdir(d) != nullptr)
    ++n;
  ::closedir(d);
  return n;
}

/// Whether a thread of this process is inside system call `nr` (SYS_openat): blocked in it, or
/// on its way through (/proc/self/task/TID/syscall starts with the number then).
inline bool a_thread_is_in(long nr) {
  DIR* d = ::opendir("/proc/self/task");
  REQUIRE(d != nullptr);
  bool found = false;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = std::string{"/proc/self/task/"} + e->d_name + "/syscall";
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      long n = -1;
      if (std::fscanf(f, "%ld", &n) == 1 && n == nr) found = true;
      std::fclose(f);
    }
  }
  ::closedir(d);
  return found;
}

/// Holds RLIMIT_NOFILE as it was, and restores it when destroyed.
struct descriptor_limit_restorer {
  rlimit old{};
  descriptor_limit_restorer() { REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0); }
  descriptor_limit_restorer(const descriptor_limit_restorer&) = delete;
  descriptor_limit_restorer& operator=(const descriptor_limit_restorer&) = delete;
  ~descriptor_limit_restorer() { ::setrlimit(RLIMIT_NOFILE, &old); }
};

}  // namespace ringo_test
