// TCP listeners: socket/bind/listen as plain calls (they do not block), accept through the
// ring, with one multishot accept kept armed where the kernel has it.
#include <ringo/net/tcp_listener.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include <fmt/format.h>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/io_context.hpp>

namespace ringo::detail {

listener_state::listener_state(int fd_, const net::endpoint& local_) noexcept
    : socket_state(nullptr, fd_, &listener_state::on_accept), local(local_) {
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
                               std::uint16_t) noexcept {
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
  io_context* ctx = io_context::current();
  task_record* t = ctx != nullptr ? ctx->running_task_or_null() : nullptr;
  return t == nullptr || !t->cancel_pending;
}

namespace {

[[noreturn]] void throw_second_context(const listener_state& s) {
  throw std::logic_error(fmt::format(
      "tcp_listener on {} accepted from a second io_context: a listener belongs to the "
      "context of its first accept ({}); bind one listener per context "
      "(listen_options::reuse_port)",
      s.local, fmt::ptr(s.context)));
}

}  // namespace

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
  if (context->features().multishot_accept) {
    if (!s_->armed) s_->arm();
    mode_ = mode::waiting;
    if (limit_.count() > 0) {
      deadline = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit_);
      fire = &on_deadline;
      context->add_timer(*this);
    }
  } else {
    mode_ = mode::oneshot;
    on_complete = &on_oneshot;
    opcode = io_opcode::accept;
    multishot = false;
    fd = s_->fd;
    addr = reinterpret_cast<sockaddr*>(&peer_);
    addr_len = &peer_len_;
    msg_flags = SOCK_CLOEXEC;
    timeout = limit_;
    timed_out = false;
    cancel_requested = false;
    context->io().submit(*this);
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

void accept_awaiter::on_oneshot(io_operation& op, int res, std::uint32_t, std::uint16_t) noexcept {
  auto& self = static_cast<accept_awaiter&>(op);
  self.res_ = res;
  if (self.s_->waiter == &self) self.s_->waiter = nullptr;
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

net::tcp_stream accept_awaiter::await_resume() {
  int fd_or_error = 0;
  if (mode_ == mode::oneshot) {
    if (res_ == -ECANCELED) {
      if (cancelled) throw operation_cancelled(what() + ": operation cancelled");
      if (timed_out) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
    }
    if (detached_) {
      if (res_ >= 0) ::close(res_);
      throw_closed();
    }
    if (cancelled) task->cancel_pending = true;  // a connection arrived anyway: keep it
    fd_or_error = res_;
    if (fd_or_error >= 0) {
      net::endpoint peer;
      try {
        peer = net::endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer_), peer_len_);
      } catch (const std::invalid_argument&) {
      }
      return net::tcp_stream::adopt(fd_or_error, peer);
    }
  } else {
    if (mode_ == mode::waiting) s_->handing_over = false;
    if (cancelled)
      throw operation_cancelled(mode_ == mode::ready ? "operation cancelled"
                                                     : what() + ": operation cancelled");
    if (detached_ || s_->orphaned) throw_closed();
    // Before the queue is looked at: a deadline passes with no connection queued.
    if (deadline_passed_) throw_io_error(ETIMEDOUT, what() + ": deadline passed");
    // Woken with the queue empty: the listener went after this task was woken.
    if (s_->pending() == 0) throw_closed();
    fd_or_error = s_->pop();
    if (fd_or_error >= 0) {
      sockaddr_storage ss{};
      socklen_t n = sizeof ss;
      net::endpoint peer;
      if (::getpeername(fd_or_error, reinterpret_cast<sockaddr*>(&ss), &n) == 0) {
        try {
          peer = net::endpoint::from_sockaddr(ss);
        } catch (const std::invalid_argument&) {
        }
      }
      return net::tcp_stream::adopt(fd_or_error, peer);
    }
  }
  throw_io_error(-fd_or_error, what());
}

}  // namespace ringo::detail

namespace ringo::net {

tcp_listener tcp_listener::bind(const endpoint& local, int backlog, listen_options options) {
  const int fd = ::socket(local.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) detail::throw_io_error(errno, fmt::format("socket for listening on {}", local));
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    detail::throw_io_error(err, fmt::format("{} {}", what, local));
  };
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    fail("setsockopt(SO_REUSEADDR) for");
  }
  if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    fail("setsockopt(SO_REUSEPORT) for");
  }
  if (::bind(fd, local.data(), local.size()) != 0) fail("bind to");
  if (::listen(fd, backlog) != 0) fail("listen on");
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &n) != 0) fail("getsockname for");
  tcp_listener l;
  l.s_ = new detail::listener_state(fd, endpoint::from_sockaddr(ss));
  return l;
}

detail::accept_awaiter tcp_listener::accept(std::chrono::nanoseconds timeout,
                                            std::source_location where) {
  if (s_ == nullptr) {
    throw std::logic_error(
        "tcp_listener::accept on an empty listener (closed or moved from): bind one first");
  }
  if (io_context::current() == nullptr) detail::throw_outside_loop();
  if (!s_->on_owner_thread()) detail::throw_second_context(*s_);
  return detail::accept_awaiter{*s_, timeout, where};
}

endpoint tcp_listener::local_endpoint() const {
  if (s_ == nullptr) {
    throw std::logic_error("tcp_listener::local_endpoint on an empty listener: bind one first");
  }
  return s_->local;
}

}  // namespace ringo::net
