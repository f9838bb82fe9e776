#pragma once
// A failed system call as an exception, for the backends (private to the library).
#include <system_error>

namespace ringo::detail {

/// Throws std::system_error for the errno value `err`; what() is "`what`: " and its text.
[[noreturn]] inline void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

}  // namespace ringo::detail
