#pragma once
// What the generator tests share: small generators, draining one, the message of what a call
// throws, a destructor counter, and (from small_stack.hpp) a thread with a small stack.
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ringo/elements_of.hpp>
#include <ringo/generator.hpp>

#include "catch.hpp"
#include "small_stack.hpp"

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

using ringo_test::run_on_small_stack;

// A chain of `depth` + 1 generators, each delegating to the next, each counting its frame's end.
inline generator<int> counted_chain(int depth, int* destroyed) {
  destructor_counter local{destroyed};
  co_yield depth;
  if (depth > 0) co_yield elements_of(counted_chain(depth - 1, destroyed));
  co_yield -depth;
}

}  // namespace generator_testing
