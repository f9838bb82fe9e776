#pragma once
// The signal mask of the threads ringo starts (private to the library).
//
// A signal sent to the process goes to any one thread that does not block it. ringo's own
// threads (thread_pool and to_thread workers, context_pool threads, the epoll backend's file
// threads, the child reaper) block every asynchronous signal, so that a signal_set on a loop
// thread, which blocks its signals there and reads them from a signalfd, is the one to get
// them. Synchronous signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) stay open: a
// fault in a blocked one kills the process without running a handler (a sanitizer's report).
#include <signal.h>

namespace ringo::detail {

/// The asynchronous signals: every signal but the synchronous ones above.
sigset_t async_signals() noexcept;

/// While alive, the calling thread blocks every asynchronous signal, so that a thread it starts
/// begins with them blocked (a new thread inherits its creator's mask). The mask it had comes
/// back at the end. Wrap every std::thread that ringo starts in one.
class new_threads_block_signals {
 public:
  new_threads_block_signals() noexcept;
  ~new_threads_block_signals();
  new_threads_block_signals(const new_threads_block_signals&) = delete;
  new_threads_block_signals& operator=(const new_threads_block_signals&) = delete;

 private:
  sigset_t old_{};
};

}  // namespace ringo::detail
