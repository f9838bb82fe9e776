// The part of a socket's state that streams and listeners share: owner, standing request,
// lifetime (include/ringo/detail/socket_state.hpp).
#include <ringo/detail/socket_state.hpp>

#include <unistd.h>

#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/listener_state.hpp>
#include <ringo/detail/stream_state.hpp>
#include <ringo/io_context.hpp>

#include "backend/reactor.hpp"

namespace ringo::detail {

void throw_foreign_context(std::string_view what, const io_context* owner) {
  throw std::logic_error(fmt::format(
      "{} from a thread that does not run its io_context ({}): a socket belongs to the context "
      "it was made on (for a listener: of its first accept); use it from a task of that "
      "context, or hand the work to it with io_context::post",
      what, fmt::ptr(owner)));
}

template <class Derived>
socket_state<Derived>::socket_state(io_context* ctx, int fd_, complete_fn on_standing) noexcept
    : context(ctx), backend(ctx != nullptr ? &loop_of(*ctx).io() : nullptr) {
  on_complete = on_standing;
  fd = fd_;
}

template <class Derived>
bool socket_state<Derived>::on_owner_thread() noexcept {
  io_context* here = io_context::current();
  if (context == nullptr && here != nullptr) {
    context = here;
    backend = &loop_of(*here).io();
  }
  return here != nullptr && here == context;
}

template <class Derived>
void socket_state<Derived>::arm() {
  cancel_requested = false;
  reactor_of(*backend).submit(*this);
  armed = true;
}

template <class Derived>
void socket_state<Derived>::pause() noexcept {
  if (!armed || pausing) return;
  reactor_of(*backend).cancel(*this);
  pausing = true;
}

template <class Derived>
bool socket_state<Derived>::note_completion(std::uint32_t flags) noexcept {
  if ((flags & more_completions) != 0) return true;
  armed = false;
  pausing = false;
  if (orphaned) loop_of(*context).remove_orphan();  // the kernel has let go of the state
  return false;
}

template <class Derived>
void socket_state<Derived>::let_go(bool close_fd) noexcept {
  pause();
  if (close_fd) {
    if (backend == nullptr) {
      ::close(fd);  // never used on a loop: nothing can be queued for it
    } else {
      // Through the backend, behind the cancels just queued and any request not yet submitted:
      // closed at once, such a request could meet another socket under the same number.
      reactor_of(*backend).close_later(fd);
      if (io_context::current() != context) reactor_of(*backend).flush();  // the loop is not turning
    }
  }
  // While the backend still holds the standing request, the context keeps reaping for it.
  if (armed) loop_of(*context).add_orphan();
  free_if_unused();
}

template class socket_state<stream_state>;
template class socket_state<listener_state>;

}  // namespace ringo::detail
