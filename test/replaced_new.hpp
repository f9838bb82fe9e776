#pragma once
// For tests that replace the global operator new to fail allocations on demand:
// AddressSanitizer brings its own replacement and does not tolerate a second one, so under
// ASan RINGO_TEST_FAILS_ALLOCATIONS is 0 and such a test only runs its scenario.
#if defined(__SANITIZE_ADDRESS__)
#define RINGO_TEST_FAILS_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGO_TEST_FAILS_ALLOCATIONS 0
#endif
#endif
#ifndef RINGO_TEST_FAILS_ALLOCATIONS
#define RINGO_TEST_FAILS_ALLOCATIONS 1
#endif
