// The reaper thread (lib/process/reaper.hpp).
#include "process/reaper.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "process/thread_signals.hpp"

namespace ringo::detail {
namespace {

// True once the child behind `pidfd` is reaped (or was reaped by someone else).
bool reap_now(int pidfd, bool block) noexcept {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | (block ? 0 : WNOHANG)) == 0) {
      return info.si_pid != 0;
    }
    if (errno != EINTR) return true;  // ECHILD: nothing left to reap
  }
}

// Lives for the whole program (never destroyed): its thread may still be polling at exit.
class reaper {
 public:
  // Throws std::system_error when the eventfd or the thread cannot be made.
  reaper() {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw std::system_error(errno, std::system_category(), "eventfd");
    const new_threads_block_signals blocked;
    std::thread{[this] { run(); }}.detach();
  }

  void add(int pidfd) {
    {
      std::lock_guard lock{mutex_};
      incoming_.push_back(pidfd);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

 private:
  [[noreturn]] void run() noexcept {
    std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
    for (;;) {
      for (auto& p : fds)
        p.revents = 0;
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
      if ((fds[0].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] auto n = ::read(wake_fd_, &count, sizeof count);
        std::lock_guard lock{mutex_};
        try {
          for (const int fd : incoming_)
            fds.push_back({fd, POLLIN, 0});
          incoming_.clear();
        } catch (...) {
          // No memory for one more: the rest waits for the next wake-up, which the next add
          // brings.
        }
      }
      for (std::size_t i = 1; i < fds.size();) {
        if (fds[i].revents != 0 && reap_now(fds[i].fd, false)) {
          ::close(fds[i].fd);
          fds[i] = fds.back();
          fds.pop_back();
        } else {
          ++i;
        }
      }
    }
  }

  int wake_fd_ = -1;
  std::mutex mutex_;
  std::vector<int> incoming_;
};

}  // namespace

void reap_in_background(int pidfd) noexcept {
  static reaper* the_reaper = []() -> reaper* {
    try {
      return new reaper;
    } catch (...) {
      return nullptr;
    }
  }();
  if (the_reaper != nullptr) {
    try {
      the_reaper->add(pidfd);
      return;
    } catch (...) {
    }
  }
  // No thread to hand it to: wait here, which a killed child makes short.
  reap_now(pidfd, true);
  ::close(pidfd);
}

}  // namespace ringo::detail
