#pragma once
// What the generator tests share: small generators, draining one, the message of what a call
// throws, a destructor counter, and a thread with a small stack to catch deep recursion.
#include <pthread.h>

#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ringo/elements_of.hpp>
#include <ringo/generator.hpp>

#include "catch.hpp"

namespace generator_testing {

using ringo::elements_of;
using ringo::generator;

inline generator<int> count_to(int n) {
  for (int i = 0; i < n; ++i)
    co_yield i;
}

inline generator<long> naturals() {
  for (long i = 0;; ++i)
    co_yield i;
}

template <class G>
std::vector<typename G::value_type> drain(G& g) {
  std::vector<typename G::value_type> out;
  while (auto v = g.next())
    out.push_back(std::move(*v));
  return out;
}

inline std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

struct destructor_counter {
  int* count;
  explicit destructor_counter(int* c) : count(c) {}
  destructor_counter(const destructor_counter&) = delete;
  destructor_counter& operator=(const destructor_counter&) = delete;
  ~destructor_counter() { ++*count; }
};

// Runs `f` on a thread with a 256 KiB stack: deep recursion anywhere in it would overflow.
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

// A chain of `depth` + 1 generators, each delegating to the next, each counting its frame's end.
inline generator<int> counted_chain(int depth, int* destroyed) {
  destructor_counter local{destroyed};
  co_yield depth;
  if (depth > 0) co_yield elements_of(counted_chain(depth - 1, destroyed));
  co_yield -depth;
}

}  // namespace generator_testing
