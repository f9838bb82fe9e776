// The signal mask of ringo's own threads (lib/process/thread_signals.hpp).
#include "process/thread_signals.hpp"

#include <pthread.h>

#include <initializer_list>

namespace ringo::detail {

sigset_t async_signals() noexcept {
  sigset_t set;
  sigfillset(&set);
  for (const int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS})
    sigdelset(&set, sig);
  return set;
}

new_threads_block_signals::new_threads_block_signals() noexcept {
  const sigset_t set = async_signals();
  // Fails only for a bad argument (EINVAL), which this is not.
  pthread_sigmask(SIG_BLOCK, &set, &old_);
}

new_threads_block_signals::~new_threads_block_signals() {
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace ringo::detail
