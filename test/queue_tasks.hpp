#pragma once
// Tasks that get from a queue and put into one, noting what they got or put, for the queue
// tests: spawned, they wait in the queue while the test looks at it.
#include <vector>

#include <ringo/queue.hpp>
#include <ringo/task.hpp>

namespace ringo_test {

/// Gets one item from `q` and appends it to `got`.
template <class Q>
ringo::task<void> get_and_record(Q& q, std::vector<int>& got) {
  got.push_back(co_await q.get());
}

/// Puts `items` into `q` one by one, appending each to `done` once it is in.
inline ringo::task<void> put_all(ringo::queue<int>& q, std::vector<int> items,
                                 std::vector<int>& done) {
  for (int v : items) {
    co_await q.put(v);
    done.push_back(v);
  }
}

}  // namespace ringo_test
