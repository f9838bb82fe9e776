#pragma once
// What the Unix socket tests share: a directory for socket files, abstract names of this process,
// and a connected pair of unix_streams.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/net/unix_listener.hpp>
#include <ringo/net/unix_stream.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

#include "catch.hpp"
#include "ended_cancelled.hpp"

namespace ringo_test {

// A directory of its own for a test's socket files, removed (with what is left in it) at the
// end of the test.
class socket_dir {
 public:
  socket_dir() {
    char tmpl[] = "/tmp/ringo-unix-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
  }
  socket_dir(const socket_dir&) = delete;
  socket_dir& operator=(const socket_dir&) = delete;
  ~socket_dir() {
    for (const auto& f : made_)
      ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string path(std::string_view name) {
    made_.push_back(fmt::format("{}/{}", dir_, name));
    return made_.back();
  }

 private:
  std::string dir_;
  std::vector<std::string> made_;
};

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

/// An abstract name no other process of the machine uses.
inline std::string abstract_name(std::string_view what) {
  return fmt::format("@ringo-test-{}-{}", ::getpid(), what);
}

inline std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

struct unix_pair {
  ringo::net::unix_stream client;
  ringo::net::unix_stream server;
};

inline ringo::task<ringo::net::unix_stream> accept_one(ringo::net::unix_listener& l) {
  co_return co_await l.accept();
}

/// Connects a client to `l` and accepts it: client and server ends of one connection.
inline ringo::task<unix_pair> connected_pair(ringo::net::unix_listener& l) {
  auto accepting = ringo::spawn(accept_one(l));
  unix_pair p;
  p.client = co_await ringo::net::unix_stream::connect(l.path());
  p.server = co_await accepting;
  co_return p;
}

}  // namespace ringo_test
