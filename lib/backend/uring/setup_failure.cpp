// Why io_uring could not be set up, in words that say what to do about it: the message of the
// std::system_error an explicit io_uring request throws, and of an automatic fallback.
#include "backend/uring/make_reactor.hpp"

#include <cerrno>
#include <fstream>

#include <fmt/format.h>

namespace ringo::detail {
namespace {

int read_int_file(const char* path) {
  std::ifstream in{path};
  int value = -1;
  if (in >> value) return value;
  return -1;
}


}  // namespace

std::string describe_setup_failure(int err, unsigned entries) {
  switch (err) {
    case ENOSYS:
      return "io_uring is not available: the kernel is older than 5.1 or was built without "
             "CONFIG_IO_URING (ringo needs Linux 5.10 or later with io_uring)";
    case EPERM: {
      const int disabled = read_int_file("/proc/sys/kernel/io_uring_disabled");
      if (disabled == 2) {
        return "io_uring is disabled by kernel.io_uring_disabled=2; set it to 0 "
               "(sysctl -w kernel.io_uring_disabled=0)";
      }
      if (disabled == 1) {
        return "io_uring is restricted by kernel.io_uring_disabled=1 to members of the group "
               "in kernel.io_uring_group; add this user to that group or set it to 0";
      }
      return "io_uring_setup was refused (EPERM): a seccomp profile forbids it, as Docker's "
             "default profile does; run the container with a profile that allows io_uring_setup, "
             "io_uring_enter and io_uring_register (for example --security-opt seccomp=unconfined)";
    }
    case ENOMEM:
      return fmt::format(
          "io_uring_setup failed for lack of memory (ENOMEM): kernels before 5.12 charge rings "
          "to the locked-memory limit; raise it (ulimit -l, or LimitMEMLOCK= in systemd) or ask "
          "for fewer than {} ring entries",
          entries);
    case EMFILE:
    case ENFILE:
      return "io_uring_setup failed: no file descriptor left for the ring";
    default:
      return fmt::format("io_uring_setup failed ({} ring entries)", entries);
  }
}

}  // namespace ringo::detail
