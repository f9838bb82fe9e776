#pragma once
// demo/http/parser.hpp: a strict, incremental HTTP/1.1 request-head parser with limits, the
// percent-decoding and traversal check for request paths, and helpers that append responses to
// a std::string. Standard library and fmt only (no ringo): demo/http/server.cpp uses it, and
// test/http_test.cpp tests it on its own. The incremental scan (request_parser::parse, run on
// every receive) is inline here; the checks of the request line and header fields, the path
// decoding and the response formatting are in demo/http/parser.cpp.
//
// What "strict" means here (RFC 9112):
//   - lines end in CRLF (a bare LF is 400); empty lines before the request line are skipped;
//   - request line: token SP request-target SP "HTTP/" DIGIT "." DIGIT, one space each;
//     unknown methods (tokens that are not standard methods; names are case-sensitive) are 501,
//     an HTTP major version other than 1 is 505;
//   - header field: token ":" OWS value OWS, no space before the colon (400), no obs-fold
//     (400), no control character in a value (400); a head over limits::max_head bytes (or
//     more than max_headers fields) is 431, a request line alone over it is 414;
//   - HTTP/1.1 needs exactly one Host (400); Content-Length is digits only, repeated only with
//     the same value (else 400); Transfer-Encoding is not implemented: 501 (400 with
//     Content-Length too); POST, PUT and PATCH without Content-Length are 411; a
//     Content-Length over limits::max_body is 413.
//
// Tested by test/http_test.cpp (meson test -C build http). In short:
//
//   auto r = parser.parse(bytes, req);  // bytes start at the request; feed more and call again
//   if (r.status == http::parse_status::complete) { ... r.consumed bytes were the head ... }
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

namespace http {

/// The standard methods; anything else that is a token is answered 501.
enum class method : std::uint8_t { get, head, post, put, patch, delete_, options, trace, connect };

/// The method's name as sent on the wire ("GET").
inline std::string_view to_string(method m) noexcept {
  constexpr std::array<std::string_view, 9> names{"GET",    "HEAD",    "POST",  "PUT",    "PATCH",
                                                  "DELETE", "OPTIONS", "TRACE", "CONNECT"};
  return names[static_cast<std::size_t>(m)];
}

/// How much a request may hold.
struct limits {
  /// Request line plus header fields plus the empty line, in bytes.
  std::size_t max_head = 8 * 1024;
  /// The largest Content-Length accepted.
  std::uint64_t max_body = 1024 * 1024;
};

/// One header field: views into the parsed bytes.
struct header {
  std::string_view name;
  std::string_view value;
};

/// More header fields than this is 431.
inline constexpr std::size_t max_headers = 64;

/// ASCII case-insensitive comparison.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

/// A parsed request head. Every view points into the bytes given to request_parser::parse, so
/// those bytes must stay put while the request is used.
struct request {
  method verb = method::get;
  std::string_view target;  ///< as sent ("/a%20b?x=1", "http://h/a", "*")
  std::string_view path;    ///< the target's path, still percent-encoded ("/a%20b")
  std::string_view query;   ///< after '?', without it
  std::string_view host;
  int version_minor = 1;   ///< HTTP/1.0 -> 0, HTTP/1.1 -> 1
  bool keep_alive = true;  ///< 1.1: unless "Connection: close"; 1.0: only with "keep-alive"
  bool has_content_length = false;
  bool expect_continue = false;  ///< "Expect: 100-continue"
  std::uint64_t content_length = 0;
  std::array<header, max_headers> headers{};  ///< the first header_count are set
  std::size_t header_count = 0;

  /// Back to a fresh request, without clearing `headers` (2 KiB that header_count guards).
  void clear() noexcept {
    verb = method::get;
    target = path = query = host = {};
    version_minor = 1;
    keep_alive = true;
    has_content_length = false;
    expect_continue = false;
    content_length = 0;
    header_count = 0;
  }

  /// The first header named `name` (case-insensitive), or an empty view.
  [[nodiscard]] std::string_view find(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < header_count; ++i) {
      if (iequals(headers[i].name, name)) return headers[i].value;
    }
    return {};
  }
};

enum class parse_status { incomplete, complete, error };

/// What parse() found. On error, `error` is the HTTP status to answer (then close).
struct parse_result {
  parse_status status = parse_status::incomplete;
  std::size_t consumed = 0;  ///< complete: bytes of the head, leading empty lines included
  int error = 0;
};

namespace detail {

inline constexpr bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}
inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back()))
    s.remove_suffix(1);
  return s;
}

// request-line = method SP request-target SP HTTP-version (CRLF already removed). Returns 0 or
// the status to answer.
int parse_request_line(std::string_view line, request& out) noexcept;

// Parses a whole head (request line, fields, no final empty line) into `out`. Returns 0 or the
// status to answer.
int parse_head(std::string_view head, const limits& lim, request& out) noexcept;

}  // namespace detail

/// Parses request heads incrementally. Call parse() with the bytes received so far, starting
/// at the request; when it says incomplete, call it again with the same bytes plus more (they
/// may have moved: the parser keeps offsets, not pointers). It remembers how far it looked, so
/// a head trickling in byte by byte costs O(size) in all, and it checks the request line as
/// soon as that line is in, so a bad one is refused without waiting for the rest.
class request_parser {
 public:
  explicit request_parser(limits lim = {}) noexcept : limits_(lim) {}

  /// Looks for a complete head at the start of `data`. complete: `out` is filled (views into
  /// `data`) and `consumed` says where the body or the next request starts; the parser is
  /// ready for the next request. error: the status to answer; the connection must close.
  /// Until complete, `out` holds nothing meaningful.
  parse_result parse(std::string_view data, request& out) noexcept {
    std::size_t start = 0;
    while (data.size() - start >= 2 && data[start] == '\r' && data[start + 1] == '\n') {
      start += 2;
      if (start > limits_.max_head) return fail(400);
    }
    if (start < data.size() && data[start] == '\n') return fail(400);
    std::size_t pos = std::max(scanned_, start);
    line_start_ = std::max(line_start_, start);
    const std::size_t end = std::min(data.size(), start + limits_.max_head);
    while (pos < end) {
      const void* hit = std::memchr(data.data() + pos, '\n', end - pos);
      if (hit == nullptr) {
        pos = end;
        break;
      }
      const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - data.data());
      if (nl == line_start_ || data[nl - 1] != '\r') return fail(400);  // bare LF
      if (!line_done_) {
        // Checked as soon as it is in (into `out`, which parse_head fills afresh at the end).
        if (int e = detail::parse_request_line(data.substr(start, nl - 1 - start), out); e != 0) {
          return fail(e);
        }
        line_done_ = true;
      } else if (nl - 1 == line_start_) {  // the empty line: the head is complete
        const std::string_view head = data.substr(start, nl + 1 - start);
        if (int e = detail::parse_head(head.substr(0, head.size() - 2), limits_, out); e != 0) {
          return fail(e);
        }
        reset();
        return {parse_status::complete, nl + 1, 0};
      }
      line_start_ = nl + 1;
      pos = nl + 1;
    }
    scanned_ = pos;
    if (data.size() - start >= limits_.max_head) return fail(line_done_ ? 431 : 414);
    return {};
  }

  /// Forgets a partly parsed head (a new connection, say).
  void reset() noexcept {
    scanned_ = 0;
    line_start_ = 0;
    line_done_ = false;
  }

  [[nodiscard]] const limits& limit() const noexcept { return limits_; }

 private:
  parse_result fail(int status) noexcept {
    reset();
    return {parse_status::error, 0, status};
  }

  limits limits_;
  std::size_t scanned_ = 0;     // bytes already searched for a line end
  std::size_t line_start_ = 0;  // where the line being scanned begins
  bool line_done_ = false;      // the request line is in and valid
};

/// The outcome of checking a request path.
enum class path_check { ok, bad_request, forbidden };

/// Percent-decodes `raw` (a path as in request::path) into `out` and refuses what could leave
/// the served directory: a ".." segment, before or after decoding ("/a/%2e%2e/b", "/a/..%2f"
/// decode to "/a/../b" and "/a/../": forbidden). A malformed escape, a decoded NUL or other
/// control character, or a path not starting with a literal '/' is bad_request.
path_check decode_path(std::string_view raw, std::string& out);

/// The reason phrase of a status code this server sends.
std::string_view reason_phrase(int status) noexcept;

/// Formats `t` as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", 29 characters).
std::array<char, 29> format_http_date(std::time_t t) noexcept;

/// The Date header's value, formatted at most once per second.
class date_cache {
 public:
  /// Reformats if the second changed; returns true if it did.
  bool refresh(std::time_t now = std::time(nullptr)) noexcept {
    if (now == last_) return false;
    last_ = now;
    text_ = format_http_date(now);
    return true;
  }
  [[nodiscard]] std::string_view text() const noexcept { return {text_.data(), text_.size()}; }

 private:
  std::time_t last_ = -1;
  std::array<char, 29> text_{};
};

/// A Content-Type for a file name's extension (application/octet-stream if unknown).
std::string_view content_type_for(std::string_view path) noexcept;

/// Appends a status line and headers (Server, Date, Content-Type, Content-Length, Connection
/// as needed for `keep_alive` and the client's `version_minor`, then `extra`, which is whole
/// "Name: value\r\n" lines) and the empty line. Allocates only if `out` must grow.
void append_response_head(std::string& out, int status, std::string_view date,
                          std::string_view content_type, std::uint64_t content_length,
                          bool keep_alive, int version_minor, std::string_view extra = {});

/// Appends a whole response whose body is the status in words ("404 Not Found\n"); without
/// the body for a HEAD request (`head_only`).
void append_status_response(std::string& out, int status, std::string_view date, bool keep_alive,
                            int version_minor, bool head_only = false, std::string_view extra = {});

}  // namespace http
