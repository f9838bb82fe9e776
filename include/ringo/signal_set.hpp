#pragma once
/// \file
/// ringo::signal_set: POSIX signals awaited by a task (asyncio's loop.add_signal_handler), read
/// from a signalfd on the loop instead of run in a handler that may interrupt anything.
#include <signal.h>  // SIGINT, SIGTERM ... for the set's users

#include <initializer_list>
#include <source_location>
#include <string>

#include <ringo/task.hpp>

namespace ringo {

/// A set of signals that tasks wait for: `signal_set s{SIGINT, SIGTERM};` then
/// `int sig = co_await s.wait();`.
///
/// The constructor blocks the signals on the calling thread (pthread_sigmask), so that the
/// kernel keeps them pending for the set's signalfd instead of running their handler or their
/// default action (for SIGINT and SIGTERM: ending the process). A signal sent to the process
/// goes to one thread that does not block it, so every thread must block them:
/// - ringo's own threads (thread_pool and to_thread workers, context_pool threads, the epoll
///   backend's file threads, the thread that reaps dropped child processes) start with every
///   asynchronous signal blocked;
/// - a thread of your own must block them too: make the signal_set before starting the thread
///   (a new thread inherits its creator's mask), or call pthread_sigmask(SIG_BLOCK, ...) in it;
///   a thread that leaves them open may take a signal the set never sees.
///
/// Make the set on the thread whose loop waits on it, and destroy it there: signal masks
/// belong to threads (a set destroyed on another thread leaves every mask as it is). A signal
/// sent while no wait is pending stays pending and is delivered to the next wait, so nothing
/// is lost between two waits. The kernel keeps one pending instance of a standard signal: the
/// same signal sent twice before a wait reads it is delivered once. Real-time signals
/// (SIGRTMIN and above) queue, each sending delivered by its own wait.
///
/// The destructor, for each of its signals that no other live signal_set of the thread uses,
/// discards the instances still pending and puts back the mask that the thread had for it
/// before the first set took it (blocked or not). Neither copyable nor movable; it must
/// outlive its waits.
class signal_set {
 public:
  /// Blocks `signals` on the calling thread and opens a signalfd for them. Throws
  /// std::invalid_argument naming the first bad number (0, negative, above 64, SIGKILL and
  /// SIGSTOP, which cannot be caught, and 32 and 33, which the C library keeps for itself),
  /// or for an empty list; std::system_error if the kernel refuses ("signalfd for SIGINT,
  /// SIGTERM: ..."), and then the mask is as it was.
  signal_set(std::initializer_list<int> signals);
  ~signal_set();
  signal_set(const signal_set&) = delete;
  signal_set& operator=(const signal_set&) = delete;

  /// Waits until one of the signals is pending and takes it; returns its number. Resumes the
  /// awaiting task on its own context; several tasks may wait at once, and each signal goes
  /// to one of them. Cancellation (operation_cancelled) takes nothing: a signal that arrives
  /// afterwards goes to the next wait. Throws std::system_error if reading the signalfd fails.
  task<int> wait(std::source_location where = std::source_location::current());

  /// Whether `sig` is one of the set's signals.
  [[nodiscard]] bool contains(int sig) const noexcept;
  /// The signals by name, in numeric order: "SIGINT, SIGTERM".
  [[nodiscard]] const std::string& names() const noexcept { return names_; }
  /// The signalfd.
  [[nodiscard]] int native_handle() const noexcept { return fd_; }

 private:
  unsigned long long mask_ = 0;  // bit (n - 1) for signal n
  int fd_ = -1;
  const void* owner_ = nullptr;  // the bookkeeping of the thread that made it
  std::string names_;
  std::string waiting_;  // "wait for SIGINT, SIGTERM", for task listings
};

}  // namespace ringo
