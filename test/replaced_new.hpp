#pragma once
// For tests that replace the global operator new to fail allocations on demand:
// AddressSanitizer brings its own replacement and does not tolerate a second one, so under
// ASan RINGO_TEST_FAILS_ALLOCATIONS is 0 and such a test only runs its scenario.
#include "sanitizers.hpp"

#if RINGO_TEST_UNDER_ASAN
#define RINGO_TEST_FAILS_ALLOCATIONS 0
#endif
#ifndef RINGO_TEST_FAILS_ALLOCATIONS
#define RINGO_TEST_FAILS_ALLOCATIONS 1
#endif
