// test/fuzz/endpoint_fuzz.cpp: libFuzzer target for ringo::net::endpoint::parse. The input
// is the text to parse. The target checks that parse either returns an endpoint or throws
// std::invalid_argument naming the text (anything else escapes and is reported), and, for an
// endpoint, the round trips: its fmt text (equal to to_string()) parses back to an equal
// endpoint, address() and port() rebuild it through the (address, port) constructor, and the
// sockaddr it hands the system converts back to it.
#include <ringo/net/endpoint.hpp>

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace {

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "endpoint_fuzz: invariant violated: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using ringo::net::endpoint;
  const std::string_view text{reinterpret_cast<const char*>(bytes), size};
  endpoint e;
  try {
    e = endpoint::parse(text);
  } catch (const std::invalid_argument& error) {
    // The message names what was refused; a text with a NUL is cut there by printing, so
    // look for the part before it.
    const std::string_view shown = text.substr(0, text.find('\0'));
    if (std::string_view{error.what()}.find(shown) == std::string_view::npos) {
      violated(fmt::format("the error '{}' does not name the text", error.what()));
    }
    return 0;
  }

  const std::string formatted = fmt::format("{}", e);
  if (formatted != e.to_string()) {
    violated(fmt::format("fmt gives '{}', to_string() '{}'", formatted, e.to_string()));
  }
  endpoint again;
  try {
    again = endpoint::parse(formatted);
  } catch (const std::invalid_argument& error) {
    violated(
        fmt::format("'{}' parsed, but its text '{}' does not: {}", text, formatted, error.what()));
  }
  if (again != e || fmt::format("{}", again) != formatted) {
    violated(fmt::format("'{}' -> '{}' -> '{}'", text, formatted, again));
  }
  if (e.is_v6() != (formatted.front() == '[')) {
    violated(fmt::format("'{}': is_v6() is {} for the text '{}'", text, e.is_v6(), formatted));
  }
  if (endpoint{e.address(), e.port()} != e) {
    violated(
        fmt::format("'{}': endpoint(address '{}', port {}) differs", text, e.address(), e.port()));
  }
  sockaddr_storage ss{};
  const socklen_t len = e.to_sockaddr(ss);
  if (len != e.size() || endpoint::from_sockaddr(ss) != e) {
    violated(fmt::format("'{}': the sockaddr does not convert back", text));
  }
  return 0;
}
