// The epoll backend's descriptors: the requests parked on each until it is ready, its
// registration (edge-triggered for good for a socket, one-shot for anything else), the retries
// at each readiness report, and what is forgotten when the descriptor is closed or its number
// comes back from accept.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <vector>

#include "backend/epoll/reactor.hpp"
#include "backend/epoll/system_calls.hpp"

namespace ringo::detail {

void epoll_reactor::note_read(fd_state& s, const io_operation& op, int r) noexcept {
  // (Not at end of stream, nor on an error: those stay, and raise no new edge.)
  if (op.opcode == io_opcode::recv &&
      (r == -EAGAIN || (r > 0 && static_cast<std::uint32_t>(r) < op.len))) {
    s.drained = true;
  }
}

epoll_reactor::fd_state& epoll_reactor::state_of(int fd) {
  const auto i = static_cast<std::size_t>(fd);
  if (i >= fds_.size()) {
    fds_.resize(std::max(i + 1, fds_.size() * 2));
    pending_.reserve(fds_.size());
    retrying_.reserve(fds_.size());
  }
  return fds_[i];
}

void epoll_reactor::wait_for(io_operation& op, bool oneshot) noexcept {
  fd_state& s = fds_[static_cast<std::size_t>(op.fd)];
  (reads(op.opcode) ? s.readers : s.writers).push_back(&op);
  op.backend_slot = on_fd;
  s.oneshot = oneshot;
  const int err = oneshot ? arm_oneshot(op.fd, s) : register_socket(op.fd, s);
  if (err != 0) {
    take_off_fd(op);
    complete_later(op, -err);
  }
}

int epoll_reactor::register_socket(int fd, fd_state& s) noexcept {
  if (s.registered) return 0;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) return errno;
  s.registered = true;
  return 0;
}

int epoll_reactor::arm_oneshot(int fd, fd_state& s) noexcept {
  epoll_event ev{};
  ev.events = EPOLLONESHOT | (s.readers.empty() ? 0u : EPOLLIN) | (s.writers.empty() ? 0u : EPOLLOUT);
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  if (errno == ENOENT && ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  return errno;
}

void epoll_reactor::on_ready(int fd, std::uint32_t events) noexcept {
  if (static_cast<std::size_t>(fd) >= fds_.size()) return;
  fd_state& s = fds_[static_cast<std::size_t>(fd)];
  const bool failed = (events & (EPOLLERR | EPOLLHUP)) != 0;
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) s.hung_up = true;
  if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 || failed) {
    s.drained = false;  // an edge: something came
    retry(s, s.readers, s.oneshot);
  }
  if ((events & EPOLLOUT) != 0 || failed) retry(s, s.writers, s.oneshot);
  if (s.oneshot && (!s.readers.empty() || !s.writers.empty())) {
    const int err = arm_oneshot(fd, s);
    if (err != 0) fail_all(s, -err);
  }
}

// Retries the waiting requests in order until one must wait again; a descriptor that
// reported readiness once (one-shot) gets one call.
void epoll_reactor::retry(fd_state& s, std::vector<io_operation*>& waiting, bool once) noexcept {
  std::size_t done = 0;
  while (done < waiting.size()) {
    io_operation& op = *waiting[done];
    if (op.opcode == io_opcode::keep_receiving) {
      if (!receive_standing(s, op)) break;  // it stays, and waits for the next edge
      ++done;
      op.backend_slot = nowhere;
      continue;
    }
    const int r = try_request(op, s.blocking);
    note_read(s, op, r);
    if (r == -EAGAIN) break;
    ++done;
    op.backend_slot = nowhere;
    complete_later(op, r);
    if (once) break;
  }
  waiting.erase(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(done));
}

// At most this many receives per edge: a socket that a fast peer keeps full must not hold
// the loop (nor every lent buffer); it gets another turn at the next wait().
constexpr int standing_burst = 16;

bool epoll_reactor::receive_standing(fd_state& s, io_operation& op) noexcept {
  for (int n = 0;; ++n) {
    if (n == standing_burst || !room_for_more()) {
      if (!s.pending) {
        s.pending = true;
        pending_.push_back(op.fd);  // room for every descriptor
      }
      return false;
    }
    const std::uint32_t id = buffers_->take();
    if (id == epoll_buffer_pool::none) {
      complete_later(op, -ENOBUFS);  // the request ends; its owner reads another way
      return true;
    }
    const long r = ::recv(op.fd, buffers_->data(id), buffer_size_, op.msg_flags | MSG_DONTWAIT);
    if (r > 0) {
      complete_later(op, static_cast<int>(r), more_completions | has_buffer, id);
      // A short read emptied the socket: the next bytes raise an edge. (Not once the peer
      // has closed: the end of the stream raises none, so it is read now.)
      if (static_cast<std::size_t>(r) < buffer_size_ && !s.hung_up) {
        s.drained = true;
        return false;
      }
      continue;
    }
    const int err = r == 0 ? 0 : errno;
    (void)buffers_->give_back(id);  // on the loop's thread: never asks for a wake-up
    if (err == EAGAIN || err == EWOULDBLOCK) {
      s.drained = true;
      return false;
    }
    complete_later(op, -err);  // the end of the stream (0) or an error ends it
    return true;
  }
}

// The sockets whose standing receive stopped short at the last turn.
void epoll_reactor::retry_pending() noexcept {
  retrying_.swap(pending_);  // those that stop short again go back to pending_
  for (const int fd : retrying_) {
    fd_state& s = fds_[static_cast<std::size_t>(fd)];
    s.pending = false;
    retry(s, s.readers, false);
  }
  retrying_.clear();
}

void epoll_reactor::fail_all(fd_state& s, int res) noexcept {
  for (auto* list : {&s.readers, &s.writers}) {
    for (io_operation* op : *list) {
      op->backend_slot = nowhere;
      complete_later(*op, res);
    }
    list->clear();
  }
}

// The descriptor is closed: requests still waiting on it fail, its registration is gone.
void epoll_reactor::forget(int fd) noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
  fd_state& s = fds_[static_cast<std::size_t>(fd)];
  if (s.oneshot || s.registered) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  fail_all(s, -EBADF);
  s.registered = false;
  s.oneshot = false;
  s.nonblocking = false;
  s.drained = false;
  s.hung_up = false;
  s.blocking = false;
}

// A descriptor that accept just made: nothing the backend knew of its number applies.
void epoll_reactor::fresh(int fd) noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
  fd_state& s = fds_[static_cast<std::size_t>(fd)];
  fail_all(s, -EBADF);  // (nothing should wait on a number that was closed)
  s.registered = false;
  s.oneshot = false;
  s.nonblocking = false;
  s.drained = false;
  s.hung_up = false;
  s.blocking = false;
}

void epoll_reactor::take_off_fd(io_operation& op) noexcept {
  fd_state& s = fds_[static_cast<std::size_t>(op.fd)];
  for (auto* list : {&s.readers, &s.writers}) {
    const auto it = std::find(list->begin(), list->end(), &op);
    if (it != list->end()) list->erase(it);
  }
  op.backend_slot = nowhere;
}

}  // namespace ringo::detail
