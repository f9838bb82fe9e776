#pragma once
// RINGO_TEST_UNDER_ASAN: 1 when the test is built with AddressSanitizer (the sanitizer
// configuration of scripts/test, which adds UBSan), whose runtime replaces operator new and
// needs descriptors of its own.
#if defined(__SANITIZE_ADDRESS__)
#define RINGO_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGO_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef RINGO_TEST_UNDER_ASAN
#define RINGO_TEST_UNDER_ASAN 0
#endif
