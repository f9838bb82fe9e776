// Listeners of every family (TCP, Unix): accept through the ring, with one multishot accept
// kept armed where the kernel has it. Binding is each family's (lib/net/tcp_listener.cpp,
// lib/net/unix.cpp).
#include <ringo/detail/listener_state.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/io_awaiter.hpp>
#include <ringo/io_context.hpp>

namespace ringo::detail {

listener_state::listener_state(int fd_, socket_name local_) noexcept
    : socket_state(nullptr, fd_, &listener_state::on_accept), local(std::move(local_)) {
  opcode = io_opcode::accept;
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
  // The multishot accept ends on an error (EMFILE, ENFILE, ...). It is armed again only when
  // a task calls accept(), so a full descriptor table costs nothing while no one asks. A
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
  // so that a failure to arm it starts nothing. (A limit too long for the clock is no deadline
  // at all.)
  if (limit_.count() > 0 && (deadline = deadline_after(limit_)) != no_deadline) {
    fire = &on_deadline;
    context->add_timer(*this);
  }
  try {
    if (context->features().multishot_accept) {
      if (!s_->armed) s_->arm();
      mode_ = mode::waiting;
    } else {
      mode_ = mode::oneshot;
      on_complete = &on_oneshot;
      opcode = io_opcode::accept;
      multishot = false;
      fd = s_->fd;
      addr = reinterpret_cast<sockaddr*>(&peer_);
      addr_len = &peer_len_;
      msg_flags = SOCK_CLOEXEC;
      cancel_requested = false;
      context->io().submit(*this);
    }
  } catch (...) {
    context->remove_timer(*this);
    throw;
  }
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
  if (mode_ == mode::waiting) {
    context->remove_timer(*this);
    wake();
  } else {
    try {
      context->io().cancel(*this);
    } catch (...) {
    }
  }
}

void accept_awaiter::on_oneshot(io_operation& op, int res, std::uint32_t, std::uint32_t) noexcept {
  auto& self = static_cast<accept_awaiter&>(op);
  self.res_ = res;
  if (self.s_->waiter == &self) self.s_->waiter = nullptr;
  self.context->remove_timer(self);
  self.wake();
}

void accept_awaiter::on_cancel_accept(wait_node& n) noexcept {
  auto& self = static_cast<accept_awaiter&>(n);
  self.cancelled = true;
  if (self.mode_ == mode::waiting) {
    self.s_->waiter = nullptr;  // the multishot accept stays armed, owned by the listener
    self.context->remove_timer(self);
    self.wake();
  } else {
    self.context->io().cancel(self);
  }
}

void accept_awaiter::on_deadline(timer_node& t) noexcept {
  auto& self = static_cast<accept_awaiter&>(t);
  if (self.mode_ == mode::oneshot) {
    // Being cancelled already (the task, or the listener's close): that completion ends it,
    // as that cancel. Else the task resumes when the accept has completed (a connection it
    // took then goes to the queue).
    if (self.cancel_requested) return;
    self.deadline_passed_ = true;
    cancel_for_deadline(*self.context.get(), self, self);
    return;
  }
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
  if (mode_ == mode::oneshot) {
    if (res_ == -ECANCELED) {
      if (cancelled) throw operation_cancelled(what() + ": operation cancelled");
      if (deadline_passed_) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
    }
    if (detached_) {
      if (res_ >= 0) ::close(res_);
      throw_closed();
    }
    if (res_ >= 0) {
      // A connection the kernel accepted before the cancellation reached it, or before this
      // task resumed cancelled (it lost a when_any race): it waits in the listener's queue for
      // the next accept, so a cancelled accept takes nothing.
      if (cancelled || cancelled_since_wake()) {
        s_->push(res_);
        throw operation_cancelled(what() + ": operation cancelled");
      }
      peer_known_ = true;
      return res_;
    }
    if (cancelled) throw operation_cancelled(what() + ": operation cancelled");
    throw_io_error(-res_, what());
  }
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
