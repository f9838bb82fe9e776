// With all_headers_b.cpp: every public header in two translation units of one program, so a
// function that a header defines without `inline` breaks the link with a duplicate symbol.
#include <ringo/ringo.hpp>

int all_headers_a();

namespace {
ringo::task<int> seven() { co_return 7; }
}  // namespace

int all_headers_a() { return ringo::sync_wait(seven()); }
