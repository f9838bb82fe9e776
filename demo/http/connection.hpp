#pragma once
// demo/http/connection.hpp: what serve() (demo/http/server.cpp) gives each connection: the
// state that the connections of one serve() share, and talk(), the task that runs one
// connection (demo/http/connection.cpp). Internal to the server: main.cpp and the test use
// demo/http/server.hpp.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <ringo/net/tcp_stream.hpp>
#include <ringo/task.hpp>

#include "parser.hpp"
#include "server.hpp"

namespace http {

namespace detail {

// What the connections of one serve() share: the configuration, the resolved root, and the
// precomputed `GET /` answers, whose Date is patched in place once a second.
class server_state {
 public:
  server_state(const server_config& config, std::string root)
      : config(config), root(std::move(root)) {
    for (std::size_t v = 0; v < hello_.size(); ++v) {
      std::string& s = hello_[v].bytes;
      append_response_head(s, 200, dates_.text(), "text/plain", body.size(), v != close_variant,
                           v == http10_variant ? 0 : 1);
      hello_[v].head_size = s.size();
      hello_[v].date_at = s.find("Date: ") + 6;
      s += body;
    }
    refresh_date();
  }

  /// Once per received batch: a new second rewrites the 29 bytes of Date in each answer.
  void refresh_date() noexcept {
    if (!dates_.refresh()) return;
    for (auto& h : hello_)
      h.bytes.replace(h.date_at, 29, dates_.text());
  }
  [[nodiscard]] std::string_view date() const noexcept { return dates_.text(); }

  /// The `GET /` (or HEAD) answer for a request's connection semantics.
  [[nodiscard]] std::string_view hello(const request& r) const noexcept {
    const std::size_t v = !r.keep_alive ? close_variant : r.version_minor == 0 ? http10_variant : 0;
    const auto& h = hello_[v];
    return r.verb == method::head ? std::string_view{h.bytes}.substr(0, h.head_size)
                                  : std::string_view{h.bytes};
  }

  const server_config& config;
  const std::string root;  // realpath of config.root, or empty

 private:
  static constexpr std::string_view body = "Hello, World!";
  static constexpr std::size_t close_variant = 1;
  static constexpr std::size_t http10_variant = 2;
  struct canned {
    std::string bytes;
    std::size_t head_size = 0;
    std::size_t date_at = 0;
  };
  date_cache dates_;
  std::array<canned, 3> hello_;  // keep-alive 1.1, close, keep-alive 1.0
};

// realpath() and stat() touch the disk's metadata and may block: they run on ringo's thread
// pool, never on the loop's thread.
struct resolved_path {
  int error = 0;  // errno of realpath/stat
  std::string path;
  bool regular = false;
};
resolved_path resolve(const std::string& path);

// Runs one connection on the calling task's io_context until the client, a timeout or a bad
// request ends it; `st` must outlive it. It never throws: a failure here must not cancel its
// siblings in the task group.
ringo::task<void> talk(ringo::net::tcp_stream s, server_state& st);

}  // namespace detail

}  // namespace http
