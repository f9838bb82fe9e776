// demo/http/server.cpp: serve() (demo/http/server.hpp): resolves the root, then runs each
// accepted connection (demo/http/connection.cpp) as a task of one task group, until cancelled
// or until the listener is closed.
#include "server.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/net/tcp_listener.hpp>
#include <ringo/sleep.hpp>
#include <ringo/task.hpp>
#include <ringo/task_group.hpp>
#include <ringo/to_thread.hpp>

#include "connection.hpp"

namespace http {

ringo::task<void> serve(ringo::net::tcp_listener& listener, const server_config& config) {
  using namespace std::chrono_literals;
  std::string root;
  if (!config.root.empty()) {
    const auto r = co_await ringo::to_thread(&detail::resolve, config.root);
    if (r.error != 0) {
      throw std::system_error(r.error, std::system_category(), "root " + config.root);
    }
    root = r.path;
  }
  detail::server_state st{config, std::move(root)};
  ringo::task_group connections;
  std::exception_ptr cancelled;
  for (;;) {
    bool failed = false;
    bool closed = false;
    try {
      connections.spawn(detail::talk(co_await listener.accept(), st));
    } catch (const ringo::operation_cancelled&) {
      cancelled = std::current_exception();
    } catch (const std::system_error& e) {
      if (e.code().value() == EBADF) {
        closed = true;  // the listener was closed under us: nothing more will come
      } else {
        // Out of descriptors, say: report it and try again a little later.
        fmt::print(stderr, "http_server: {}\n", e.what());
        failed = true;
      }
    }
    if (cancelled || closed) break;
    if (failed) co_await ringo::sleep_for(10ms);
  }
  if (cancelled) connections.cancel();
  try {
    co_await connections.join();
  } catch (const ringo::operation_cancelled&) {
    if (!cancelled) throw;
  }
  if (cancelled) std::rethrow_exception(cancelled);
}

}  // namespace http
