// The epoll backend taking requests in: each tried at once, parked on its descriptor when it
// must wait for readiness, or handed to the file threads; and taking them back (a cancel, a
// close).
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "backend/epoll/reactor.hpp"
#include "backend/epoll/system_calls.hpp"

namespace ringo::detail {

void epoll_reactor::submit(io_operation& op) {
  const bool may_wait = op.opcode != io_opcode::nop && op.opcode != io_opcode::close &&
                        op.opcode != io_opcode::openat;
  reserve_one(may_wait ? op.fd : -1);
  op.cancel_requested = false;
  switch (op.opcode) {
    case io_opcode::openat:
      to_workers(op);  // the only part that may throw after the reservation
      break;
    case io_opcode::read:
    case io_opcode::write:
      // A descriptor epoll cannot wait for (a regular file, /dev/null) goes to the file
      // threads; any other may be blocking: it waits for readiness first, then one call.
      if (!pollable(op.fd)) {
        to_workers(op);
        break;
      }
      if (const int err = access_error(op); err != 0) {
        complete_later(op, -err);  // as the call itself would fail, at once
        break;
      }
      wait_for(op, true);
      break;
    case io_opcode::poll:
      // (A descriptor epoll cannot wait for fails when it is armed, with EPERM.)
      if (op.fd < 0) {
        complete_later(op, -EBADF);
      } else if (const int r = try_request(op, fds_[static_cast<std::size_t>(op.fd)].blocking);
                 r == -EAGAIN) {
        wait_for(op, true);
      } else {
        complete_later(op, r);
      }
      break;
    case io_opcode::nop:
      complete_later(op, 0);
      break;
    case io_opcode::close:
      forget(op.fd);
      complete_later(op, result_of(::close(op.fd)));
      break;
    case io_opcode::connect:
      start_connect(op);
      break;
    case io_opcode::keep_receiving: {
      if (buffers_ == nullptr) {
        complete_later(op, -EOPNOTSUPP);  // not offered (features().provided_buffers)
        break;
      }
      // It waits on the socket for good; what the socket already holds comes now, unless a
      // short read found it empty since its last edge.
      wait_for(op, false);
      fd_state& s = fds_[static_cast<std::size_t>(op.fd)];
      if (op.backend_slot == on_fd && (!s.drained || s.hung_up) && receive_standing(s, op)) {
        take_off_fd(op);
      }
      break;
    }
    default: {
      fd_state& s = fds_[static_cast<std::size_t>(op.fd)];
      if (accepts(op.opcode)) make_nonblocking(op.fd);  // accept4 would block
      // A socket that a short read found empty has nothing until its next edge, which the
      // registration reports: no need to try (and fail with EAGAIN) first.
      const bool skip = op.opcode == io_opcode::recv && s.registered && s.drained && !s.hung_up;
      const int r = skip ? -EAGAIN : try_request(op, s.blocking);
      note_read(s, op, r);
      if (r == -EAGAIN) {
        wait_for(op, false);
      } else {
        complete_later(op, r);
      }
    }
  }
  ++in_flight_;
}

void epoll_reactor::cancel(io_operation& op) noexcept {
  // Nothing to queue: the completion's room in done_ was reserved when it was submitted.
  if (op.cancel_requested) return;
  op.cancel_requested = true;
  take_back(op);
}

void epoll_reactor::close_later(int fd) noexcept {
  // Nothing is queued here that could reach the descriptor later: requests run at once or
  // wait in this backend's own lists, which the socket emptied (cancelled) before.
  forget(fd);
  ::close(fd);
}

void epoll_reactor::reserve_one(int fd) {
  if (done_.capacity() < in_flight_ + 1) done_.reserve(std::max(in_flight_ + 1, 2 * done_.capacity()));
  if (fd >= 0) {
    fd_state& s = state_of(fd);
    if (s.readers.size() == s.readers.capacity()) s.readers.reserve(s.readers.size() + 4);
    if (s.writers.size() == s.writers.capacity()) s.writers.reserve(s.writers.size() + 4);
  }
}

// Whether epoll can wait for `fd`: not for regular files, nor for some devices (/dev/null).
bool epoll_reactor::pollable(int fd) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return true;  // the call itself reports the error
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return false;
  if (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode)) return true;
  fd_state& s = fds_[static_cast<std::size_t>(fd)];
  if (s.oneshot) return true;  // registered before
  epoll_event ev{};
  ev.events = EPOLLONESHOT;  // armed for nothing yet
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST) {
    s.oneshot = true;
    return true;
  }
  return false;  // EPERM: a device without poll
}

// EBADF for a read of a descriptor open only for writing (or the other way round), which
// would otherwise wait for a readiness that never comes. Notes whether it blocks.
int epoll_reactor::access_error(const io_operation& op) noexcept {
  const int flags = ::fcntl(op.fd, F_GETFL);
  if (flags < 0) return errno;
  fds_[static_cast<std::size_t>(op.fd)].blocking = (flags & O_NONBLOCK) == 0;
  const int mode = flags & O_ACCMODE;
  const bool ok = op.opcode == io_opcode::read ? mode != O_WRONLY : mode != O_RDONLY;
  return ok ? 0 : EBADF;
}

void epoll_reactor::make_nonblocking(int fd) noexcept {
  fd_state& s = fds_[static_cast<std::size_t>(fd)];
  if (s.nonblocking) return;
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  s.nonblocking = true;
}

void epoll_reactor::start_connect(io_operation& op) noexcept {
  forget(op.fd);  // a new socket: whatever had this number before is gone
  const int flags = ::fcntl(op.fd, F_GETFL);
  if (flags >= 0) ::fcntl(op.fd, F_SETFL, flags | O_NONBLOCK);
  const int r = result_of(::connect(op.fd, op.addr, op.len));
  if (r == -EINPROGRESS) {
    wait_for(op, false);
  } else {
    complete_later(op, r);
  }
}

// Cancels `op` where it waits; a request already done keeps its result. One running on a
// file thread is abandoned there (see file_workers.hpp): the task need not wait for a call
// that may never return.
void epoll_reactor::take_back(io_operation& op) noexcept {
  if (op.backend_slot == on_fd) {
    take_off_fd(op);
    complete_later(op, -ECANCELED);
  } else if (op.backend_slot == on_workers && workers_->cancel(op)) {
    op.backend_slot = nowhere;
    complete_later(op, -ECANCELED);
  }
}

void epoll_reactor::to_workers(io_operation& op) {
  if (workers_ == nullptr) {
    workers_ = std::make_unique<file_workers>(
        [](void* self) noexcept { static_cast<epoll_reactor*>(self)->wake(); }, this);
  }
  workers_->push(op);  // on a throw nothing was queued
  op.backend_slot = on_workers;
}

}  // namespace ringo::detail
