// Listeners of every family (TCP, Unix): every accept goes through the listener's standing
// accept request and its queue of connections; the backend decides whether that request takes
// many connections (io_uring's multishot accept) or one per arming. Binding is each family's
// (lib/net/tcp_listener.cpp, lib/net/unix.cpp).
#include <ringo/detail/listener_state.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/io_context.hpp>

namespace ringo::detail {

listener_state::listener_state(int fd_, socket_name local_) noexcept
    : socket_state(nullptr, fd_, &listener_state::on_accept), local(std::move(local_)) {
  opcode = io_opcode::keep_accepting;
  addr = nullptr;      // each connection's peer is read with getpeername: one sockaddr cannot
  addr_len = nullptr;  // serve a stream of completions
  msg_flags = SOCK_CLOEXEC;
}

void listener_state::push(int fd_or_error) noexcept {
  try {
    queue_.push_back(fd_or_error);
  } catch (...) {
    if (fd_or_error >= 0) {
      ::close(fd_or_error);  // no memory to queue it: refuse the connection
    } else if (failure_ == 0) {
      failure_ = fd_or_error;
    }
  }
}

int listener_state::pop() noexcept {
  if (head_ == queue_.size()) return std::exchange(failure_, 0);
  const int v = queue_[head_++];
  if (head_ == queue_.size()) {
    queue_.clear();
    head_ = 0;
  }
  return v;
}

void listener_state::on_accept(io_operation& op, int res, std::uint32_t flags,
                               std::uint32_t) noexcept {
  auto& s = static_cast<listener_state&>(op);
  const bool ours = res == -ECANCELED && (s.pausing || s.orphaned);
  s.note_completion(flags);
  if (s.orphaned) {
    if (res >= 0) ::close(res);
    s.free_if_unused();
    return;
  }
  // The standing accept ends on an error (EMFILE, ENFILE, ...), and wherever the backend ends
  // it (after each connection, without multishot accept). It is armed again only when a task
  // calls accept(), so a full descriptor table costs nothing while no one asks. A
  // cancellation is ours, or the context's as it shuts down: not an error to hand on.
  if (!ours && res != -ECANCELED) s.push(res);
  if (s.pending() >= pause_at) s.pause();
  accept_awaiter* w = s.waiter;
  if (w == nullptr || w->mode_ != accept_awaiter::mode::waiting) return;
  if (s.pending() != 0) {
    w->wake_waiter();
  } else if (!s.armed) {
    try {
      s.arm();  // our pause ended with a task waiting: listen on
    } catch (...) {
      if (s.failure_ == 0) s.failure_ = -ENOMEM;
      w->wake_waiter();
    }
  }
}

void listener_state::orphan() noexcept {
  orphaned = true;
  while (head_ != queue_.size()) {
    const int v = pop();
    if (v >= 0) ::close(v);
  }
  failure_ = 0;
  if (waiter != nullptr) std::exchange(waiter, nullptr)->detach();
  let_go(true);
}

// ---- accept_awaiter ------------------------------------------------------------------------

bool accept_awaiter::await_ready() {
  if (s_->pending() == 0 || s_->handing_over) return false;
  detail::loop* ctx = detail::current_loop();
  task_record* t = ctx != nullptr ? ctx->running_task_or_null() : nullptr;
  return t == nullptr || !t->cancel_pending;
}

void throw_second_context(const listener_state& s) {
  throw std::logic_error(fmt::format(
      "{} on {} accepted from a second io_context: a listener belongs to the context of its "
      "first accept ({}); bind one listener per context{}",
      s.local.kind(true), s.local, fmt::ptr(s.context),
      s.local.is_path() ? "" : " (listen_options::reuse_port)"));
}

bool accept_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (s_->orphaned) throw_closed();  // closed after this accept was made, before it began
  if (!s_->on_owner_thread()) throw_second_context(*s_);
  if (!prepare()) return false;
  if (s_->waiter != nullptr || s_->handing_over) {
    throw std::logic_error(fmt::format(
        "two tasks accept on {} at once: accept in one task and spawn a task per connection",
        s_->local));
  }
  if (s_->pending() != 0) return false;
  describe = [](const wait_node& n, std::string& out) {
    out += static_cast<const accept_awaiter&>(n).what();
  };
  cancel = &on_cancel_accept;
  // The time limit is a timer of the loop's, whichever way the connection comes, armed first
  // so that a failure to arm it starts nothing.
  fire = &on_deadline;
  context->add_timer_after(*this, limit_);
  try {
    if (!s_->armed) s_->arm();
  } catch (...) {
    context->remove_timer(*this);
    throw;
  }
  mode_ = mode::waiting;
  s_->waiter = this;
  park(h);
  return true;
}

void accept_awaiter::wake_waiter() noexcept {
  s_->waiter = nullptr;
  s_->handing_over = true;  // until this task takes the connection
  context->remove_timer(*this);
  wake();
}

void accept_awaiter::detach() noexcept {
  detached_ = true;
  context->remove_timer(*this);
  wake();
}

void accept_awaiter::on_cancel_accept(wait_node& n) noexcept {
  auto& self = static_cast<accept_awaiter&>(n);
  self.cancelled = true;
  self.s_->waiter = nullptr;  // the listener's accept stays armed: it owns that request
  self.context->remove_timer(self);
  self.wake();
}

void accept_awaiter::on_deadline(timer_node& t) noexcept {
  auto& self = static_cast<accept_awaiter&>(t);
  self.deadline_passed_ = true;
  self.s_->waiter = nullptr;
  self.wake();
}

std::string accept_awaiter::what() const {
  return fmt::format("accept on {}", s_->local);
}

void accept_awaiter::throw_closed() const {
  throw std::system_error(EBADF, std::system_category(),
                          what() + ": the listener was closed while this task waited");
}

int accept_awaiter::take_connection() {
  if (mode_ == mode::waiting) s_->handing_over = false;
  // Cancelled while waiting, or after a connection woke it but before it resumed: the
  // connection stays queued for the next accept.
  if (cancelled || (mode_ == mode::waiting && cancelled_since_wake()))
    throw operation_cancelled(mode_ == mode::ready ? "operation cancelled"
                                                   : what() + ": operation cancelled");
  if (detached_ || s_->orphaned) throw_closed();
  // Before the queue is looked at: a task woken by its deadline finds it empty.
  if (deadline_passed_) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
  // Also when the listener went after this task was woken: its queue went with it.
  if (s_->pending() == 0) throw_closed();
  const int fd_or_error = s_->pop();
  if (fd_or_error < 0) throw_io_error(-fd_or_error, what());
  return fd_or_error;
}

}  // namespace ringo::detail
