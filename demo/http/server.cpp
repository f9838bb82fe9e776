// http_server: an HTTP/1.1 server as ringo coroutines on io_uring, one task per connection.
// It shows keep-alive and pipelining done cheaply: every complete request in what one receive()
// brought is parsed straight out of the ring's provided buffer (no copy unless a request is cut
// across receives), answered in order, and the answers go out in one write. `GET /` answers
// "Hello, World!" from a precomputed response whose Date is patched once a second, so that path
// allocates nothing per request. With --root, other paths are files under DIR, read through
// the ring (ringo::file); ".." segments (also percent-encoded) are 403, and so are symlinks
// leading out of DIR (realpath, run off the loop with ringo::to_thread). A strict parser
// (parser.hpp) answers malformed requests 400, big heads 431, unknown methods 501, bodies
// without length 411, large ones 413, chunked bodies 501 (not implemented), then closes. A
// request head must arrive whole within --header-timeout-ms however slowly it trickles
// (slowloris), and an idle keep-alive connection is closed after --idle-timeout-ms.
//
// --threads N runs one io_context per thread (ringo::context_pool), each with its own
// SO_REUSEPORT listener. SIGINT and SIGTERM stop the pool: every context's server task is
// cancelled, every connection unwinds, and the program exits 0.
//
//   build/release/demo/http_server --port 8080 [--host 127.0.0.1] [--root DIR] [--threads N]
//                                  [--idle-timeout-ms 30000] [--header-timeout-ms 10000]
//   curl -v http://127.0.0.1:8080/
//   wrk -t1 -c50 -d3s http://127.0.0.1:8080/
//   wrk -t1 -c50 -d3s -s bench/wrk_pipeline.lua http://127.0.0.1:8080/
//
// serve(listener, config) is the whole server for one io_context; test/http_test.cpp includes
// this file with RINGO_HTTP_SERVER_NO_MAIN defined and runs it in-process.
#include "parser.hpp"

#include <limits.h>
#include <signal.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <ringo/context_pool.hpp>
#include <ringo/error.hpp>
#include <ringo/file.hpp>
#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>
#include <ringo/task_group.hpp>
#include <ringo/to_thread.hpp>

namespace http {

/// How serve() behaves.
struct server_config {
  /// Files are served from here ("" serves only `GET /`).
  std::string root;
  /// A keep-alive connection with no request in progress is closed after this long; a response
  /// the client does not read within it is abandoned too.
  std::chrono::milliseconds idle_timeout{30'000};
  /// A request head must have arrived whole this long after its first byte (or after the
  /// connection was accepted, for the first request), however slowly it trickles in; the
  /// same holds for a request body the server skips.
  std::chrono::milliseconds header_timeout{10'000};
  /// The parser's limits (head 8 KiB, body 1 MiB).
  http::limits limits{};
};

namespace detail {

using namespace std::chrono_literals;
using ringo::net::tcp_stream;

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

bool is_peer_gone(const std::system_error& e) {
  const int v = e.code().value();
  return v == ECONNRESET || v == EPIPE || v == ETIMEDOUT || v == ENOTCONN;
}

// realpath() and stat() touch the disk's metadata and may block: they run on ringo's thread
// pool, never on the loop's thread.
struct resolved_path {
  int error = 0;  // errno of realpath/stat
  std::string path;
  bool regular = false;
};
resolved_path resolve(const std::string& path) {
  resolved_path r;
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    r.error = errno;
    return r;
  }
  r.path = buf;
  struct stat st {};
  if (::stat(buf, &st) != 0) {
    r.error = errno;
    return r;
  }
  r.regular = S_ISREG(st.st_mode);
  return r;
}

// True if `path` (absolute, resolved) names something under directory `root` (resolved).
bool inside(std::string_view root, std::string_view path) {
  if (root == "/") return path.size() > 1;
  return path.size() > root.size() + 1 && path.substr(0, root.size()) == root &&
         path[root.size()] == '/';
}

// One connection: its receive leftovers, its output batch and its parser, all reused from one
// request to the next, so answering `GET /` allocates nothing.
class connection {
 public:
  connection(tcp_stream s, server_state& st)
      : stream_(std::move(s)), st_(st), parser_(st.config.limits) {
    out_.reserve(4096);
  }

  ringo::task<void> run() {
    stream_.set_nodelay(true);
    auto head_deadline = std::chrono::steady_clock::now() + st_.config.header_timeout;
    bool in_head = true;  // a request head is (or the first one is about to be) on its way
    for (;;) {
      std::chrono::nanoseconds timeout = st_.config.idle_timeout;
      if (body_left_ > 0 || in_head) {
        // A body we skip is held to the same deadline as a head, so it cannot trickle either.
        timeout =
            (body_left_ > 0 ? body_deadline_ : head_deadline) - std::chrono::steady_clock::now();
        if (timeout <= 0ns) timeout = 1ns;  // read what is already there, then time out
      }
      ringo::net::received_buffer buf;
      bool timed_out = false;
      try {
        buf = co_await stream_.receive(timeout);
      } catch (const ringo::timed_out&) {
        timed_out = true;
      }
      if (timed_out) {
        // A head that did not arrive in time gets 408; an idle connection just goes.
        if (!pending_.empty()) {
          append_status_response(out_, 408, st_.date(), false, 1);
          co_await stream_.write_all(out_, 1s);
        }
        co_return;
      }
      if (buf.empty()) co_return;  // the client closed

      st_.refresh_date();
      std::string_view data;
      if (pending_.empty()) {
        data = buf.text();  // the common case: parse in place, no copy
      } else {
        pending_.append(buf.text());
        buf.release();
        data = pending_;
      }
      // Answer every complete request in order; only those that need I/O (files) suspend.
      std::size_t pos = 0;
      bool completed = false;
      while (answer_ready(data, pos, completed)) {
        co_await answer_other();
        finish_request();
      }
      const bool unread = pos < data.size();
      if (close_) {
        pending_.clear();
      } else {
        // Keep the start of a request cut across receives.
        const std::string_view rest = data.substr(pos);
        if (rest.empty()) {
          pending_.clear();
        } else if (!pending_.empty()) {
          pending_.erase(0, pos);
        } else {
          pending_.assign(rest);
        }
      }
      buf.release();  // back to the ring before we wait on the write
      if (!out_.empty()) {
        co_await stream_.write_all(out_, st_.config.idle_timeout);
        out_.clear();
        // A file answer may have grown the batch: don't keep a big buffer per idle connection.
        if (out_.capacity() > 64 * 1024) {
          std::string{}.swap(out_);
          out_.reserve(4096);
        }
      }
      if (close_) {
        // A client that asked to close and sent nothing after its request gets a plain close,
        // as nginx does; anything else (an error, a body or requests left unread) lingers so
        // the answer is read before a reset can destroy it.
        if (client_closes_ && body_left_ == 0 && !unread) co_return;
        break;
      }
      if (completed || pending_.empty()) in_head = false;
      if (!pending_.empty() && !in_head) {
        in_head = true;
        head_deadline = std::chrono::steady_clock::now() + st_.config.header_timeout;
      }
    }
    co_await linger();
  }

 private:
  // Answers the complete requests in `data` from `pos` on, in order, into out_, as long as
  // they need no I/O; stops (returning true, `pos` past the head) at one that does, which the
  // caller answers with answer_other(). Returns false when nothing more can be answered now.
  bool answer_ready(std::string_view data, std::size_t& pos, bool& completed) {
    while (pos < data.size() && !close_) {
      if (body_left_ > 0) {  // the body of a request we answered without it
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, data.size() - pos));
        pos += n;
        body_left_ -= n;
        continue;
      }
      const parse_result r = parser_.parse(data.substr(pos), req_);
      if (r.status == parse_status::incomplete) break;
      if (r.status == parse_status::error) {
        append_status_response(out_, r.error, st_.date(), false, 1);
        close_ = true;
        break;
      }
      pos += r.consumed;
      completed = true;
      if ((req_.verb != method::get && req_.verb != method::head) || req_.path != "/") {
        return true;
      }
      out_.append(st_.hello(req_));  // the hot path: one copy of a precomputed answer
      finish_request();
    }
    return false;
  }

  // After a request's answer: skip its body, close if it asked to.
  void finish_request() noexcept {
    if (req_.content_length > 0) {
      body_left_ = req_.content_length;
      body_deadline_ = std::chrono::steady_clock::now() + st_.config.header_timeout;
      // The client may hold the body back until it hears 100 Continue: rather than wait
      // for bytes that may never come, answer and close.
      if (req_.expect_continue) close_ = true;
    }
    if (!req_.keep_alive) {
      client_closes_ = !close_;  // not when we are closing for an unanswered Expect
      close_ = true;
    }
  }

  ringo::task<void> answer_other() {
    const bool head_only = req_.verb == method::head;
    if (!head_only && req_.verb != method::get) {
      append_status_response(out_, 405, st_.date(), req_.keep_alive, req_.version_minor, false,
                             "Allow: GET, HEAD\r\n");
      co_return;
    }
    switch (decode_path(req_.path, path_)) {
      case path_check::bad_request:
        append_status_response(out_, 400, st_.date(), false, req_.version_minor, head_only);
        close_ = true;
        co_return;
      case path_check::forbidden:
        co_return simple(403, head_only);
      case path_check::ok:
        break;
    }
    if (st_.root.empty()) co_return simple(404, head_only);
    std::string wanted = st_.root == "/" ? path_ : st_.root + path_;
    if (wanted.back() == '/') wanted += "index.html";
    const resolved_path found = co_await ringo::to_thread(&resolve, std::move(wanted));
    if (found.error == EACCES) co_return simple(403, head_only);
    if (found.error != 0 || !found.regular) co_return simple(404, head_only);
    // A symlink may lead anywhere: what it resolves to must still be under the root.
    if (!inside(st_.root, found.path)) co_return simple(403, head_only);
    ringo::file f;
    int open_error = 0;
    try {
      f = co_await ringo::file::open(found.path);
    } catch (const ringo::operation_cancelled&) {
      throw;
    } catch (const std::system_error& e) {
      open_error = e.code().value();
    }
    if (open_error != 0) co_return simple(open_error == EACCES ? 403 : 404, head_only);
    const std::uint64_t size = f.size();
    append_response_head(out_, 200, st_.date(), content_type_for(found.path), size, req_.keep_alive,
                         req_.version_minor);
    if (head_only) co_return;
    // Read straight into the output batch, and send whenever 64 KiB have gathered.
    constexpr std::size_t chunk = 64 * 1024;
    std::uint64_t offset = 0;
    while (offset < size) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size - offset));
      const std::size_t old = out_.size();
      out_.resize(old + want);
      const std::size_t n =
          co_await f.read_at(std::as_writable_bytes(std::span{out_.data() + old, want}), offset);
      out_.resize(old + n);
      if (n == 0) {  // the file shrank under us: the promised length cannot be kept
        close_ = true;
        break;
      }
      offset += n;
      if (out_.size() >= chunk) {
        co_await stream_.write_all(out_, st_.config.idle_timeout);
        out_.clear();
      }
    }
  }

  void simple(int status, bool head_only) {
    append_status_response(out_, status, st_.date(), req_.keep_alive, req_.version_minor,
                           head_only);
  }

  // Closing with unread bytes in the socket makes the kernel send a reset, which can destroy
  // the answer still on its way. So: end our side, then read (and drop) what the client still
  // sends until it closes too, for a second at most.
  ringo::task<void> linger() {
    try {
      stream_.shutdown();
      const auto until = std::chrono::steady_clock::now() +
                         std::min<std::chrono::steady_clock::duration>(1s, st_.config.idle_timeout);
      std::size_t drained = 0;
      while (drained < 256 * 1024) {
        const auto left = until - std::chrono::steady_clock::now();
        if (left <= 0ns) break;
        auto buf = co_await stream_.receive(left);
        if (buf.empty()) break;
        drained += buf.size();
      }
    } catch (const ringo::operation_cancelled&) {
      throw;
    } catch (const std::system_error&) {
      // timed out or reset: either way we are done
    }
  }

  tcp_stream stream_;
  server_state& st_;
  request_parser parser_;
  request req_;
  std::string pending_;          // the start of a request cut across receives
  std::string out_;              // the answers to one batch
  std::string path_;             // the decoded path of the current request
  std::uint64_t body_left_ = 0;  // bytes of a request body still to skip
  std::chrono::steady_clock::time_point body_deadline_{};
  bool close_ = false;
  bool client_closes_ = false;  // close_ because the request said "Connection: close"
};

// A connection never throws: a failure here must not cancel its siblings in the task group.
ringo::task<void> talk(tcp_stream s, server_state& st) {
  try {
    connection c{std::move(s), st};
    co_await c.run();
  } catch (const ringo::operation_cancelled&) {
    // the server is stopping
  } catch (const std::system_error& e) {
    if (!is_peer_gone(e)) fmt::print(stderr, "http_server: {}\n", e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "http_server: {}\n", e.what());
  }
}

}  // namespace detail

/// Serves HTTP on `listener` until cancelled, with one task per connection on the calling
/// task's io_context; cancelling it cancels every connection and returns once all have
/// unwound (operation_cancelled then propagates). If the listener is closed, it stops
/// accepting and returns once the open connections have ended (closed by their clients or
/// their timeouts). `listener` and `config` must outlive it.
/// Throws std::system_error if config.root cannot be resolved. One call per io_context: the
/// multi-core mode runs one per context, each on its own SO_REUSEPORT listener.
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

#ifndef RINGO_HTTP_SERVER_NO_MAIN
namespace {

// One context's server: its own listener (SO_REUSEPORT when several contexts share the
// port), serving until the pool stops it on SIGINT/SIGTERM.
ringo::task<void> run_server(ringo::net::endpoint at, bool share_port,
                             const http::server_config& config) {
  ringo::net::listen_options options;
  options.reuse_port = share_port;
  auto listener = ringo::net::tcp_listener::bind(at, 1024, options);
  co_await http::serve(listener, config);
}

[[noreturn]] void usage(const char* why) {
  fmt::print(stderr,
             "http_server: {}\nusage: http_server [--port P] [--host ADDRESS] [--root DIR] "
             "[--idle-timeout-ms MS] [--header-timeout-ms MS] [--threads N]\n",
             why);
  std::exit(2);
}

long number(const char* text, long low, long high, const char* what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < low || v > high) usage(what);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = 8080;
  long threads = 1;
  http::server_config config;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage("missing value after an option");
    const char* value = argv[++i];
    if (arg == "--port") {
      port = number(value, 0, 65535, "--port takes 0 to 65535");
    } else if (arg == "--host") {
      host = value;
    } else if (arg == "--threads") {
      threads = number(value, 1, 1024, "--threads takes 1 to 1024");
    } else if (arg == "--root") {
      config.root = value;
    } else if (arg == "--idle-timeout-ms") {
      config.idle_timeout = std::chrono::milliseconds{
          number(value, 1, 86'400'000, "--idle-timeout-ms: 1 to 86400000")};
    } else if (arg == "--header-timeout-ms") {
      config.header_timeout = std::chrono::milliseconds{
          number(value, 1, 86'400'000, "--header-timeout-ms: 1 to 86400000")};
    } else {
      usage("unknown option");
    }
  }
  if (host == "localhost") host = "127.0.0.1";

  // A background job of a shell starts with SIGINT ignored, and the pool waits for the signal
  // with sigtimedwait, which an ignored signal never reaches: take the default back.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  try {
    // A root that does not exist is an error now, not at the first request.
    if (!config.root.empty()) {
      struct stat st {};
      if (::stat(config.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        fmt::print(stderr, "http_server: --root {}: not a directory\n", config.root);
        return 2;
      }
    }
    ringo::net::endpoint at{host, static_cast<std::uint16_t>(port)};
    if (port == 0) at = ringo::net::tcp_listener::bind(at).local_endpoint();  // one port for all
    ringo::context_pool pool{static_cast<unsigned>(threads)};
    fmt::print("listening on http://{}/ with {} thread{}\n", at, threads, threads == 1 ? "" : "s");
    std::fflush(stdout);
    pool.run([&](unsigned) { return run_server(at, threads > 1, config); });
    fmt::print("stopped\n");
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "http_server: {}\n", e.what());
    return 1;
  }
}
#endif
