#pragma once
// A gate that holds a worker thread until the test opens it.
#include <condition_variable>
#include <mutex>

namespace ringo_test {

class gate {
 public:
  void open() {
    {
      std::lock_guard lock{m_};
      open_ = true;
    }
    cv_.notify_all();
  }
  /// Blocks the calling thread until open() was called.
  void pass() {
    std::unique_lock lock{m_};
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace ringo_test
