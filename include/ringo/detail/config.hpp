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

// Whether the library was built with TLS (net::tls_context, net::tls_stream on OpenSSL 3: the
// meson option `tls`). The build defines it to 1 through ringo's dependency, its pkg-config
// file and its CMake package; without it the TLS headers may be included but not linked.
#ifndef RINGO_HAS_TLS
#define RINGO_HAS_TLS 0
#endif

// Symmetric transfer (await_suspend returning the next handle) only keeps the stack flat when
// the compiler emits the resumption as a tail call. Clang always does; g++ 12 does only with
// -foptimize-sibling-calls and without AddressSanitizer, which no macro reveals, so g++ builds
// bound the nesting with a resumption loop (detail/resume.hpp) at every level.
#ifndef RINGO_SYMMETRIC_TRANSFER
#if defined(__clang__)
#define RINGO_SYMMETRIC_TRANSFER 1
#else
#define RINGO_SYMMETRIC_TRANSFER 0
#endif
#endif

// The resumption loop's per-thread slots (detail/resume.hpp) are read on every resumption,
// in the library's run loop too. In a shared library the default TLS model reaches them
// through a __tls_get_addr call (11 instructions); initial-exec makes each access one
// %fs-relative load. The cost: libringo.so takes a few bytes of the static TLS block, which
// glibc reserves with room to spare even for a library loaded with dlopen. (In a program's own
// code, which would use local-exec, it costs a GOT load; the current context is read mostly in
// the library, so it is initial-exec too.)
#if defined(__GNUC__) || defined(__clang__)
#define RINGO_TLS_INITIAL_EXEC [[gnu::tls_model("initial-exec")]]
#else
#define RINGO_TLS_INITIAL_EXEC
#endif
