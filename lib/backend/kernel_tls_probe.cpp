#include "backend/kernel_tls_probe.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace ringo::detail {

bool kernel_offers_tls() noexcept {
  // Asking an unconnected socket for the `tls` upper-layer protocol: a kernel that has it
  // (perhaps after loading the module) refuses only because the socket is not connected
  // (ENOTCONN); one without it says ENOENT. Once per process, so that the probe (which may load
  // a module) costs a loop thread at most once.
  static const bool available = [] {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const int rc = ::setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3);
    const int err = errno;
    ::close(fd);
    return rc == 0 || err == ENOTCONN;
  }();
  return available;
}

}  // namespace ringo::detail
