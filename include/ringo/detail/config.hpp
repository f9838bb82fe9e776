#pragma once
// Compile-time switches shared by the headers.

// Coroutine frames are recycled unless the build asks otherwise or AddressSanitizer runs:
// sanitizers must see every frame's allocation and release.
#ifndef RINGO_FRAME_RECYCLING
#if defined(__SANITIZE_ADDRESS__)
#define RINGO_FRAME_RECYCLING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGO_FRAME_RECYCLING 0
#endif
#endif
#endif
#ifndef RINGO_FRAME_RECYCLING
#define RINGO_FRAME_RECYCLING 1
#endif

// Symmetric transfer (await_suspend returning the next handle) only keeps the stack flat when
// the compiler emits the resumption as a tail call. Clang always does; g++ 12 does only when
// optimizing, so g++ builds use a resumption loop (a trampoline) instead, at every level.
#ifndef RINGO_SYMMETRIC_TRANSFER
#if defined(__clang__)
#define RINGO_SYMMETRIC_TRANSFER 1
#else
#define RINGO_SYMMETRIC_TRANSFER 0
#endif
#endif
