// Uses ringo the way a program that depends on it does: includes the public headers, awaits
// tasks, links the library (and its TLS classes when it was built with them). Prints the result; exits 0 only if it is right.
#include <cstdio>
#include <string_view>

#include <ringo/net.hpp>
#include <ringo/sync_wait.hpp>
#include <ringo/task.hpp>
#include <ringo/version.hpp>

namespace {

ringo::task<int> square(int x) { co_return x * x; }

ringo::task<int> sum_of_squares(int n) {
  int sum = 0;
  for (int i = 1; i <= n; ++i) sum += co_await square(i);
  co_return sum;
}

}  // namespace

int main() {
  const int result = ringo::sync_wait(sum_of_squares(10));
  std::printf("ringo %.*s: sum of squares 1..10 = %d\n", static_cast<int>(ringo::version().size()),
              ringo::version().data(), result);
  if (ringo::version() != std::string_view{RINGO_VERSION}) {
    std::printf("library version differs from the headers' %s\n", RINGO_VERSION);
    return 1;
  }
#if RINGO_HAS_TLS
  // Built with TLS: the macro came through the dependency, and the TLS classes link.
  const auto tls = ringo::net::tls_context::client();
  std::printf("TLS: a client context (handshake deadline %lld ms)\n",
              static_cast<long long>(tls.handshake_timeout().count() / 1000000));
  if (tls.is_server()) return 1;
#endif
  return result == 385 ? 0 : 1;
}
