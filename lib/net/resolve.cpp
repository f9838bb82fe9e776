// Host names to endpoints. getaddrinfo blocks (files, DNS, whatever nsswitch.conf says), so a
// name goes to ringo::to_thread's pool; a numeric address needs no lookup and is answered on
// the spot.
#include <ringo/net/resolve.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include <ringo/to_thread.hpp>

namespace ringo::net {
namespace {

class resolver_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "resolver"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
};

// A numeric IPv4 or IPv6 address (brackets allowed, as endpoint takes them), or nothing.
// inet_pton only: it neither blocks nor reads a file.
std::optional<endpoint> numeric_address(std::string_view host, std::uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char text[INET6_ADDRSTRLEN] = {};
  std::memcpy(text, host.data(), host.size());
  sockaddr_storage ss{};
  if (::inet_pton(AF_INET, text, &reinterpret_cast<sockaddr_in&>(ss).sin_addr) == 1) {
    auto& in = reinterpret_cast<sockaddr_in&>(ss);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
  } else if (::inet_pton(AF_INET6, text, &reinterpret_cast<sockaddr_in6&>(ss).sin6_addr) == 1) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
  } else {
    return std::nullopt;
  }
  return endpoint::from_sockaddr(ss);
}

std::atomic<detail::name_lookup> current_lookup{&detail::getaddrinfo_lookup};

}  // namespace

const std::error_category& resolver_category() noexcept {
  static const resolver_error_category category;
  return category;
}

task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port) {
  if (host.empty()) {
    throw std::invalid_argument(
        "ringo::net::resolve of an empty host name: pass a name (\"localhost\") or an address");
  }
  if (host.find('\0') != std::string::npos) {
    throw std::invalid_argument(
        fmt::format("ringo::net::resolve of '{}': the host name holds a NUL byte",
                    std::string_view{host.data(), host.find('\0')}));
  }
  if (auto e = numeric_address(host, port)) co_return std::vector<endpoint>{*e};
  // The job owns its copy of the name: a cancelled resolve leaves the lookup running on its
  // thread with nothing of this frame, and the future's shared state takes its result.
  auto lookup = to_thread(current_lookup.load(std::memory_order_acquire), host, port);
  detail::lookup_result found;
  try {
    found = co_await std::move(lookup);  // moves the result out; `lookup` keeps the state
  } catch (const operation_cancelled&) {
    // Cancelled as it began (the job is submitted before the await suspends): a lookup that
    // has not started yet does not run. One that runs finishes on its thread.
    lookup.cancel();
    throw;
  }
  // The error is thrown here, on the loop's thread, not carried over from the worker's.
  if (found.error) throw std::system_error(found.error, fmt::format("resolve {}", host));
  co_return std::move(found.addresses);
}

}  // namespace ringo::net

namespace ringo::detail {

lookup_result getaddrinfo_lookup(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  // No AI_ADDRCONFIG: it drops every address of a host without a non-loopback interface, so
  // "localhost" would not resolve in a container with only lo. The port is set below, not
  // looked up as a service.
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc == EAI_SYSTEM) return {{}, std::error_code{errno, std::system_category()}};
  if (rc != 0) return {{}, std::error_code{rc, net::resolver_category()}};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list{found, &::freeaddrinfo};
  lookup_result out;
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    sockaddr_storage ss{};
    std::memcpy(&ss, a->ai_addr, std::min<std::size_t>(a->ai_addrlen, sizeof ss));
    if (a->ai_family == AF_INET) {
      reinterpret_cast<sockaddr_in&>(ss).sin_port = htons(port);
    } else {
      reinterpret_cast<sockaddr_in6&>(ss).sin6_port = htons(port);
    }
    const net::endpoint e = net::endpoint::from_sockaddr(ss);
    if (std::find(out.addresses.begin(), out.addresses.end(), e) == out.addresses.end()) {
      out.addresses.push_back(e);
    }
  }
  if (out.addresses.empty()) out.error = std::error_code{EAI_NONAME, net::resolver_category()};
  return out;
}

name_lookup replace_name_lookup(name_lookup lookup) noexcept {
  return net::current_lookup.exchange(lookup, std::memory_order_acq_rel);
}

}  // namespace ringo::detail
