#pragma once
// What the tests that count or exhaust descriptors share: the number open now, and the
// descriptor limit put back however a test ends.
#include <dirent.h>
#include <sys/resource.h>

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

/// Holds RLIMIT_NOFILE as it was, and restores it when destroyed.
struct descriptor_limit_restorer {
  rlimit old{};
  descriptor_limit_restorer() { REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0); }
  descriptor_limit_restorer(const descriptor_limit_restorer&) = delete;
  descriptor_limit_restorer& operator=(const descriptor_limit_restorer&) = delete;
  ~descriptor_limit_restorer() { ::setrlimit(RLIMIT_NOFILE, &old); }
};

}  // namespace ringo_test
