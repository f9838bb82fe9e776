// demo/http/connection.cpp: one connection of the HTTP demo, from accept to close: pipelined
// requests answered in order, files under the root, the timeouts, and the linger before the
// close; over TCP, or over TLS when the server has a certificate (--cert, --key).
// A plain connection parses in place in the buffer a receive() brought (no copy); a TLS
// connection parses in place in its own buffer, which OpenSSL decrypts into.
#include "connection.hpp"

#include <limits.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/file.hpp>
#include <ringo/net.hpp>
#include <ringo/task.hpp>
#include <ringo/to_thread.hpp>

#include "parser.hpp"

namespace http {

namespace detail {

using namespace std::chrono_literals;
using ringo::net::tcp_stream;
#if RINGO_HAS_TLS
using ringo::net::tls_stream;
#endif

namespace {

bool is_peer_gone(const std::system_error& e) {
#if RINGO_HAS_TLS
  // Most HTTP clients close without a close_notify: for HTTP, whose messages carry their own
  // lengths, that is no loss.
  if (e.code() == ringo::net::tls_errc::truncated) return true;
#endif
  if (e.code().category() != std::system_category()) return false;
  const int v = e.code().value();
  return v == ECONNRESET || v == EPIPE || v == ETIMEDOUT || v == ENOTCONN;
}

// True if `path` (absolute, resolved) names something under directory `root` (resolved).
bool inside(std::string_view root, std::string_view path) {
  if (root == "/") return path.size() > 1;
  return path.size() > root.size() + 1 && path.substr(0, root.size()) == root &&
         path[root.size()] == '/';
}

// One connection: its receive leftovers, its output batch and its parser, all reused from one
// request to the next, so answering `GET /` allocates nothing. `Stream` is tcp_stream or
// tls_stream.
template <class Stream>
class connection {
 public:
  static constexpr bool is_tls = !std::is_same_v<Stream, tcp_stream>;

  connection(Stream s, server_state& st)
      : stream_(std::move(s)), st_(st), parser_(st.config.limits) {
    out_.reserve(4096);
  }

  /// The end of a TLS connection: a close_notify if it can still be sent.
  ringo::task<void> close() {
    if constexpr (is_tls) {
      try {
        co_await stream_.close();
      } catch (const std::system_error&) {
        // the client is gone already
      }
    }
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
      std::string_view got;
      bool timed_out = false;
      try {
        if constexpr (is_tls) {
          const std::size_t n =
              co_await stream_.read_some(std::as_writable_bytes(std::span{in_}), timeout);
          got = std::string_view{in_.data(), n};
        } else {
          buf = co_await stream_.receive(timeout);
          got = buf.text();
        }
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
      if (got.empty()) co_return;  // the client closed

      st_.refresh_date();
      std::string_view data;
      if (pending_.empty()) {
        data = got;  // the common case: parse in place, no copy
      } else {
        pending_.append(got);
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
      // A client that sent "Expect: 100-continue" may hold its body back until it hears 100
      // Continue. Ask for it, so that the body can be skipped and the connection kept
      // (RFC 9110 10.1.1): the answer that follows says keep-alive and the server reads on.
      // Not when the body is already coming (some of it followed the head), nor to HTTP/1.0,
      // which knows no 1xx, nor when the answer will close anyway.
      if (req_.expect_continue && req_.content_length > 0 && pos == data.size() &&
          req_.version_minor >= 1 && req_.keep_alive) {
        out_.append("HTTP/1.1 100 Continue\r\n\r\n");
      }
      if ((req_.verb != method::get && req_.verb != method::head) || req_.path != "/") {
        return true;
      }
      out_.append(st_.hello(req_));  // the hot path: one copy of a precomputed answer
      finish_request();
    }
    return false;
  }

  // After a request's answer: skip its body, close if it asked to. Every close decided here
  // was announced in the answer ("Connection: close", or HTTP/1.0 without keep-alive).
  void finish_request() noexcept {
    if (req_.content_length > 0) {
      body_left_ = req_.content_length;
      body_deadline_ = std::chrono::steady_clock::now() + st_.config.header_timeout;
    }
    if (!req_.keep_alive) {
      client_closes_ = !close_;  // not when an answer of ours closes (400 for a bad path)
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
      if constexpr (is_tls) {
        co_await stream_.shutdown();  // a close_notify, and the socket stays open to read
      } else {
        stream_.shutdown();
      }
      const auto until = std::chrono::steady_clock::now() +
                         std::min<std::chrono::steady_clock::duration>(1s, st_.config.idle_timeout);
      std::size_t drained = 0;
      while (drained < 256 * 1024) {
        const auto left = until - std::chrono::steady_clock::now();
        if (left <= 0ns) break;
        std::size_t n = 0;
        if constexpr (is_tls) {
          n = co_await stream_.read_some(std::as_writable_bytes(std::span{in_}), left);
        } else {
          const ringo::net::received_buffer buf = co_await stream_.receive(left);
          n = buf.size();
        }
        if (n == 0) break;
        drained += n;
      }
    } catch (const ringo::operation_cancelled&) {
      throw;
    } catch (const std::system_error&) {
      // timed out or reset: either way we are done
    }
  }

  Stream stream_;
  server_state& st_;
  // What a TLS connection's reads decrypt into (a plain one receives into the ring's buffers).
  std::array<char, is_tls ? 16384 : 1> in_{};
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

}  // namespace

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

ringo::task<void> talk(tcp_stream s, server_state& st) {
  try {
#if RINGO_HAS_TLS
    if (st.config.tls) {
      connection<tls_stream> c{co_await tls_stream::accept(std::move(s), *st.config.tls), st};
      co_await c.run();
      co_await c.close();
      co_return;
    }
#endif
    connection<tcp_stream> c{std::move(s), st};
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

}  // namespace http
