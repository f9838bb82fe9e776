#pragma once
/// \file
/// ringo::net::resolve: a host name to its addresses (Python's socket.getaddrinfo), looked up
/// on a worker thread so that the loop goes on serving its other tasks.
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <ringo/net/endpoint.hpp>
#include <ringo/task.hpp>

namespace ringo::net {

/// The error category of the resolver's codes: an error_code's value is the getaddrinfo code
/// (EAI_NONAME, EAI_AGAIN, EAI_FAIL, ...), its message the system's text for it ("Name or
/// service not known"). EAI_SYSTEM never appears: resolve reports its errno in
/// std::system_category() instead.
const std::error_category& resolver_category() noexcept;

/// The addresses of `host` with `port`, for TCP: IPv4 and IPv6 alike, in the order the
/// resolver gives them (the order in which to try them; duplicates left out). A numeric
/// address ("127.0.0.1", "::1", "[::1]") is answered at once, without a thread or a
/// suspension; a name is looked up with getaddrinfo on ringo::to_thread's pool (blocking the
/// loop thread would stall every task on it). Throws std::system_error whose what() names the
/// host ("resolve no-such-host.invalid: Name or service not known"), its code in
/// resolver_category() (or std::system_category() for a system error);
/// std::invalid_argument for an empty host or one with a NUL byte. Cancelling the task resumes
/// it with operation_cancelled at once: a lookup already running finishes on its thread, and
/// its result is dropped (the pool lets it finish at exit too, as it does all its work); one
/// still queued does not run. Resumes on the calling task's context.
task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port);

}  // namespace ringo::net

namespace ringo::detail {

/// What a lookup found: the addresses, or the error (in net::resolver_category(), or an errno
/// in std::system_category()). A value rather than an exception, so that nothing whose
/// reference count the sanitizers cannot see (an exception_ptr) crosses threads.
struct lookup_result {
  std::vector<net::endpoint> addresses;
  std::error_code error;
};

/// The blocking lookup that resolve() runs on a pool thread: getaddrinfo by default.
using name_lookup = lookup_result (*)(const std::string& host, std::uint16_t port);
/// getaddrinfo for a stream socket: the addresses in its order, without duplicates.
lookup_result getaddrinfo_lookup(const std::string& host, std::uint16_t port);
/// Replaces the lookup (tests hold one in the middle with it) and returns the one before.
/// Affects resolves started afterwards.
name_lookup replace_name_lookup(name_lookup lookup) noexcept;

}  // namespace ringo::detail
