#pragma once
// What the backend offers the loop (io_context::features()). Each is a kernel feature the
// io_uring backend found and did not have switched off (RINGO_DISABLE_FEATURES); each has a
// path without it, so any backend may offer any subset. The sockets ask one of them:
// provided_buffers (the backend keeps receiving into buffers it lends: io_uring's ring of
// provided buffers, or epoll's own pool, filled at each readiness report).
namespace ringo::detail {

struct reactor_features {
  bool single_issuer = false;
  bool defer_taskrun = false;
  bool coop_taskrun = false;
  bool multishot_accept = false;  // io_opcode::keep_accepting takes many connections
  bool provided_buffers = false;  // io_opcode::keep_receiving, into lent_buffers
  bool send_zc = false;
  bool ext_arg = false;     // waits with a timeout need no timeout request
  bool cancel_any = false;  // one request cancels every request (drain)
  bool registered_ring = false;  // io_uring_enter names the ring by its registered index
  bool recv_bundle = false;      // one standing receive completion fills several buffers
  bool incremental_buffers = false;  // small receives share one lent buffer
  bool kernel_tls = false;  // TCP's `tls` upper-layer protocol: TLS streams hand keys to it
};

}  // namespace ringo::detail
