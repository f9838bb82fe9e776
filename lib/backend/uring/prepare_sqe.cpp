// How each request of the reactor seam is written as an io_uring submission entry.
#include "backend/uring/prepare_sqe.hpp"

#include <poll.h>

#include "backend/uring/buffer_ring.hpp"

namespace ringo::detail {
namespace {

// IORING_RECVSEND_BUNDLE (Linux 6.10), newer than liburing 2.3's header.
constexpr unsigned recvsend_bundle = 1u << 4;

}  // namespace

void prepare_sqe(io_uring_sqe* sqe, const io_operation& op,
                 const reactor_features& features) noexcept {
  switch (op.opcode) {
    case io_opcode::nop:
      io_uring_prep_nop(sqe);
      break;
    case io_opcode::read:
      io_uring_prep_read(sqe, op.fd, op.buf, op.len, op.offset);
      break;
    case io_opcode::write:
      io_uring_prep_write(sqe, op.fd, op.cbuf, op.len, op.offset);
      break;
    case io_opcode::recv:
      io_uring_prep_recv(sqe, op.fd, op.buf, op.len, op.msg_flags);
      break;
    case io_opcode::keep_receiving:
      // A multishot receive that picks its buffers from the provided ring: one completion for
      // everything the socket holds, across as many buffers as it needs, with bundles.
      io_uring_prep_recv_multishot(sqe, op.fd, nullptr, 0, op.msg_flags);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = uring_buffer_ring::group;
      if (features.recv_bundle) sqe->ioprio |= recvsend_bundle;
      break;
    case io_opcode::send:
      io_uring_prep_send(sqe, op.fd, op.cbuf, op.len, op.msg_flags);
      break;
    case io_opcode::recvmsg:
      io_uring_prep_recvmsg(sqe, op.fd, op.msg, op.msg_flags);
      break;
    case io_opcode::sendmsg:
      io_uring_prep_sendmsg(sqe, op.fd, op.msg, op.msg_flags);
      break;
    case io_opcode::keep_accepting:
      if (features.multishot_accept) {
        io_uring_prep_multishot_accept(sqe, op.fd, op.addr, op.addr_len, op.msg_flags);
        break;
      }
      [[fallthrough]];  // one connection, then the request ends: its owner arms it again
    case io_opcode::accept:
      io_uring_prep_accept(sqe, op.fd, op.addr, op.addr_len, op.msg_flags);
      break;
    case io_opcode::connect:
      io_uring_prep_connect(sqe, op.fd, op.addr, op.len);
      break;
    case io_opcode::close:
      io_uring_prep_close(sqe, op.fd);
      break;
    case io_opcode::openat:
      io_uring_prep_openat(sqe, op.fd, op.path, op.msg_flags, op.len);
      break;
    case io_opcode::poll:
      io_uring_prep_poll_add(sqe, op.fd, POLLIN);
      break;
  }
}

}  // namespace ringo::detail
