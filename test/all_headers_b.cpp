// With all_headers_a.cpp: every public header in two translation units of one program, so a
// function that a header defines without `inline` breaks the link with a duplicate symbol.
#include <ringo/ringo.hpp>

#include <cstdio>
#include <string_view>

int all_headers_a();

namespace {
ringo::task<int> six() { co_return 6; }
}  // namespace

int main() {
  const int product = all_headers_a() * ringo::sync_wait(six());
  if (product != 42 || ringo::version() != std::string_view{RINGO_VERSION}) {
    std::printf("all_headers: expected 42 and version %s, got %d and %.*s\n", RINGO_VERSION,
                product, static_cast<int>(ringo::version().size()), ringo::version().data());
    return 1;
  }
  return 0;
}
