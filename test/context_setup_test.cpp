// A context that cannot be set up: bad sizes in its options are refused on every backend
// before anything is opened, and a set-up that fails half way gives back what it had opened.
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <ringo/io_context.hpp>

#include "catch.hpp"
#include "descriptors.hpp"
#include "sanitizers.hpp"

namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

TEST_CASE("buffer sizes that no ring can take are refused on every backend, opening nothing",
          "[context]") {
  struct bad {
    unsigned count, size;
    const char* got;
  };
  const bad cases[] = {
      {3, 4096, "(got 3 and 4096)"},
      {0, 4096, "(got 0 and 4096)"},
      {65536, 4096, "(got 65536 and 4096)"},
      {1024, 0, "(got 1024 and 0)"},
  };
  for (const auto backend : {ringo::io_backend::io_uring, ringo::io_backend::epoll,
                             ringo::io_backend::automatic}) {
    for (const bad& b : cases) {
      INFO("backend " << ringo::to_string(backend) << ", " << b.got);
      ringo::io_context_options options;
      options.backend = backend;
      options.buffer_count = b.count;
      options.buffer_size = b.size;
      const int before = ringo_test::open_descriptors();
      std::string message;
      try {
        ringo::io_context ctx{options};
      } catch (const std::invalid_argument& e) {
        message = e.what();
      }
      CHECK(contains(message, "buffer_count must be a power of two up to 32768"));
      CHECK(contains(message, b.got));
      CHECK(ringo_test::open_descriptors() == before);
    }
  }
  // The limits themselves are taken.
  ringo::io_context_options options;
  options.buffer_count = 1;
  options.buffer_size = 1;
  ringo::io_context smallest{options};
  options.buffer_count = 32768;
  options.buffer_size = 64;
  ringo::io_context largest{options};
  CHECK(smallest.backend() == largest.backend());
}

TEST_CASE("an io_uring context that finds no descriptor for its wake-up closes its ring",
          "[context]") {
  // The sanitizers' runtime needs descriptors of its own (it checks memory through a pipe):
  // with none left it reports errors that are not there.
  if (RINGO_TEST_UNDER_ASAN) {
    WARN("not under the sanitizers, which need descriptors of their own");
    return;
  }
  ringo_test::descriptor_limit_restorer limit;
  // Every descriptor below the limit taken but one: the ring gets it, the eventfd none.
  std::vector<int> fill;
  rlimit low = limit.old;
  low.rlim_cur = 64;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  for (int fd; (fd = ::dup(0)) >= 0;)
    fill.push_back(fd);
  REQUIRE(errno == EMFILE);
  REQUIRE(!fill.empty());
  ::close(fill.back());
  fill.pop_back();

  ringo::io_context_options options;
  options.backend = ringo::io_backend::io_uring;
  int error = 0;
  std::string message;
  try {
    ringo::io_context ctx{options};
  } catch (const std::system_error& e) {
    error = e.code().value();
    message = e.what();
  }
  CHECK(error == EMFILE);
  CHECK(contains(message, "eventfd"));
  // The one free descriptor is free again.
  const int again = ::dup(0);
  CHECK(again >= 0);
  if (again >= 0) ::close(again);
  for (const int fd : fill)
    ::close(fd);
}
