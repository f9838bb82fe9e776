// The system calls behind the epoll backend's requests.
#include "backend/epoll/system_calls.hpp"

#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ringo::detail {

bool accepts(io_opcode op) noexcept {
  return op == io_opcode::accept || op == io_opcode::keep_accepting;
}

bool reads(io_opcode op) noexcept {
  return op == io_opcode::recv || op == io_opcode::keep_receiving || op == io_opcode::recvmsg ||
         accepts(op) ||
         op == io_opcode::read || op == io_opcode::poll;
}

int result_of(long r) noexcept {
  return r < 0 ? -errno : static_cast<int>(r);
}

int try_request(io_operation& op, bool blocking) noexcept {
  long r = -1;
  switch (op.opcode) {
    case io_opcode::recv:
      r = ::recv(op.fd, op.buf, op.len, op.msg_flags | MSG_DONTWAIT);
      break;
    case io_opcode::send:
      r = ::send(op.fd, op.cbuf, op.len, op.msg_flags | MSG_DONTWAIT);
      break;
    case io_opcode::recvmsg:
      r = ::recvmsg(op.fd, op.msg, op.msg_flags | MSG_DONTWAIT);
      break;
    case io_opcode::sendmsg:
      r = ::sendmsg(op.fd, op.msg, op.msg_flags | MSG_DONTWAIT);
      break;
    case io_opcode::accept:
    case io_opcode::keep_accepting:  // one connection per arming: it ends with its completion
      // A blocking listener would block accept4 itself: the backend makes it non-blocking.
      r = ::accept4(op.fd, op.addr, op.addr_len, op.msg_flags | SOCK_NONBLOCK);
      if (r < 0 && errno == EWOULDBLOCK) errno = EAGAIN;
      break;
    case io_opcode::read:
      r = ::read(op.fd, op.buf, op.len);  // only once the descriptor reported readiness
      break;
    case io_opcode::write:
      // Writable means room for PIPE_BUF bytes: a longer write to a blocking pipe would wait
      // for the reader to make room for the rest, on the loop's thread. So a blocking pipe
      // takes PIPE_BUF at a time (a short write, which the writer continues).
      r = ::write(op.fd, op.cbuf,
                  blocking ? std::min<std::uint32_t>(op.len, PIPE_BUF) : op.len);
      break;
    case io_opcode::poll: {
      pollfd p{op.fd, POLLIN, 0};
      const int n = ::poll(&p, 1, 0);
      if (n < 0) return -errno;
      if ((p.revents & POLLNVAL) != 0) return -EBADF;
      return n == 0 ? -EAGAIN : p.revents;
    }
    case io_opcode::connect: {
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -errno;
      return -err;
    }
    default:
      errno = EINVAL;
      break;
  }
  const int res = result_of(r);
  return res == -EWOULDBLOCK ? -EAGAIN : res;
}

}  // namespace ringo::detail
