#pragma once
// Runs a test's body on a thread with a 256 KiB stack: recursion that grows the stack per
// element or per level, where it must not, overflows it instead of passing unseen.
#include <pthread.h>

#include <exception>

#include "catch.hpp"

namespace ringo_test {

/// Runs `f` there and rethrows what it threw.
template <class F>
void run_on_small_stack(F f) {
  struct context {
    F* f;
    std::exception_ptr error;
  } ctx{&f, nullptr};
  pthread_attr_t attr;
  REQUIRE(pthread_attr_init(&attr) == 0);
  REQUIRE(pthread_attr_setstacksize(&attr, 256 * 1024) == 0);
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    auto* c = static_cast<context*>(arg);
    try {
      (*c->f)();
    } catch (...) {
      c->error = std::current_exception();
    }
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attr, body, &ctx) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  if (ctx.error) std::rethrow_exception(ctx.error);
}

}  // namespace ringo_test
