// Signals read from a signalfd on the loop (include/ringo/signal_set.hpp).
//
// A wait polls the signalfd through the reactor seam (one poll request, on io_uring and on
// epoll alike) and then reads it without blocking. Polling rather than reading through the
// ring keeps a cancelled wait from taking anything: the signal stays pending in the kernel
// until a read takes it, and a read that finds nothing (another waiter, or another reader of
// the same signals, was first) just polls again.
#include <ringo/signal_set.hpp>

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include <ringo/detail/waiter_list.hpp>

#include "process/readable_awaiter.hpp"

namespace ringo {
namespace {

constexpr int highest_signal = 64;

// Which signals the live sets made on this thread use, and whether the thread had a signal
// blocked already when the first of them took it: the last set to go puts that back. Per
// thread, as signal masks are.
struct signal_users {
  unsigned count[highest_signal + 1] = {};
  bool was_blocked[highest_signal + 1] = {};
};

signal_users& users_of_this_thread() noexcept {
  thread_local signal_users u;
  return u;
}

std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    return sig == SIGRTMIN ? "SIGRTMIN" : fmt::format("SIGRTMIN+{}", sig - SIGRTMIN);
  }
  if (const char* abbrev = ::sigabbrev_np(sig)) return fmt::format("SIG{}", abbrev);
  return fmt::format("signal {}", sig);
}

void check_signal(int sig) {
  if (sig < 1 || sig > highest_signal) {
    throw std::invalid_argument(
        fmt::format("ringo::signal_set: {} is not a signal number (they run from 1 to {})", sig,
                    highest_signal));
  }
  if (sig == SIGKILL || sig == SIGSTOP) {
    throw std::invalid_argument(fmt::format(
        "ringo::signal_set: {} ({}) can be neither caught nor blocked, so no set can wait for it",
        signal_name(sig), sig));
  }
  if (sig < SIGRTMIN && sig > 31) {
    throw std::invalid_argument(fmt::format(
        "ringo::signal_set: signal {} is reserved by the C library's threads; real-time signals "
        "for programs start at SIGRTMIN ({})",
        sig, SIGRTMIN));
  }
}

sigset_t to_sigset(unsigned long long mask) noexcept {
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig <= highest_signal; ++sig) {
    if ((mask >> (sig - 1) & 1u) != 0) sigaddset(&set, sig);
  }
  return set;
}

}  // namespace

signal_set::signal_set(std::initializer_list<int> signals) {
  if (signals.size() == 0) {
    throw std::invalid_argument(
        "ringo::signal_set needs at least one signal: signal_set s{SIGINT, SIGTERM}");
  }
  for (const int sig : signals) {
    check_signal(sig);
    mask_ |= 1ull << (sig - 1);
  }
  for (int sig = 1; sig <= highest_signal; ++sig) {
    if (!contains(sig)) continue;
    if (!names_.empty()) names_ += ", ";
    names_ += signal_name(sig);
  }
  waiting_ = fmt::format("wait for {}", names_);

  const sigset_t set = to_sigset(mask_);
  signal_users& u = users_of_this_thread();
  sigset_t old;
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set, &old); rc != 0) {
    throw std::system_error(rc, std::system_category(),
                            fmt::format("pthread_sigmask to block {}", names_));
  }
  fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd_ < 0) {
    const int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw std::system_error(err, std::system_category(), fmt::format("signalfd for {}", names_));
  }
  for (int sig = 1; sig <= highest_signal; ++sig) {
    if (contains(sig) && u.count[sig]++ == 0) u.was_blocked[sig] = sigismember(&old, sig) == 1;
  }
  owner_ = &u;
}

signal_set::~signal_set() {
  signal_users& u = users_of_this_thread();
  if (owner_ != &u) {
    // Destroyed on another thread than the one it blocked its signals on: that thread's mask
    // is beyond reach from here, and this one's is not the set's to change.
    ::close(fd_);
    return;
  }
  unsigned long long released = 0;  // signals no live set uses any more, open before
  for (int sig = 1; sig <= highest_signal; ++sig) {
    if (!contains(sig) || u.count[sig] == 0) continue;  // (0: a thread gone, its slot reused)
    if (--u.count[sig] == 0 && !u.was_blocked[sig]) released |= 1ull << (sig - 1);
  }
  if (released != 0) {
    // A pending instance would be delivered the moment it is unblocked, to its handler or its
    // default action (ending the process, for most): nobody waits for it any more, so it goes.
    const sigset_t set = to_sigset(released);
    const timespec now{0, 0};
    while (::sigtimedwait(&set, nullptr, &now) > 0) {
    }
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  }
  ::close(fd_);
}

bool signal_set::contains(int sig) const noexcept {
  return sig >= 1 && sig <= highest_signal && (mask_ >> (sig - 1) & 1u) != 0;
}

task<int> signal_set::wait(std::source_location where) {
  // A task with a cancellation due takes no pending signal: it leaves it for the next wait.
  if (detail::task_record* t = detail::current_task(); t != nullptr && t->take_cancellation())
    throw operation_cancelled(waiting_ + ": operation cancelled");
  for (;;) {
    signalfd_siginfo info{};
    const ssize_t n = ::read(fd_, &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) co_return static_cast<int>(info.ssi_signo);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      throw std::system_error(errno, std::system_category(),
                              fmt::format("read of the signalfd for {}", names_));
    }
    co_await detail::readable_awaiter{fd_, waiting_, where};
  }
}

}  // namespace ringo
