// demo/http/parser.cpp: what demo/http/parser.hpp declares and does not define inline: the
// checks of the request line and header fields, the path decoding, and the response formatting.
#include "parser.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace http {

namespace detail {

namespace {

// A 256-entry table: alphanumerics plus the characters in `extra`.
struct char_class {
  std::array<bool, 256> in{};
  constexpr explicit char_class(std::string_view extra) noexcept {
    for (int c = '0'; c <= '9'; ++c)
      in[static_cast<std::size_t>(c)] = true;
    for (int c = 'a'; c <= 'z'; ++c)
      in[static_cast<std::size_t>(c)] = true;
    for (int c = 'A'; c <= 'Z'; ++c)
      in[static_cast<std::size_t>(c)] = true;
    for (const char c : extra)
      in[static_cast<unsigned char>(c)] = true;
  }
  constexpr bool operator()(unsigned char c) const noexcept { return in[c]; }
};
constexpr char_class tchar{"!#$%&'*+-.^_`|~"};
// reg-name / IPv4 / "[" IPv6 "]", optional ":" port: unreserved, sub-delims, '%', ':', '[]'.
constexpr char_class host_char{"-._~!$&'()*+,;=%:[]"};

constexpr bool is_tchar(unsigned char c) noexcept {
  return tchar(c);
}
bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}
// field-vchar, SP and HTAB; obs-text (>= 0x80) is allowed, every other control is not.
constexpr bool is_value_char(unsigned char c) noexcept {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}
bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool known_method(std::string_view name, method& out) noexcept {
  for (std::size_t i = 0; i < 9; ++i) {
    const auto m = static_cast<method>(i);
    if (name == to_string(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

// Splits a target into path and query. Returns 0 or the status to answer.
int split_target(method verb, std::string_view target, request& out) noexcept {
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') return 400;  // no CTL, space, obs-text, fragment
  }
  if (verb == method::connect) {  // authority-form: answered 405 by the server, never a path
    out.path = {};
    out.query = {};
    return 0;
  }
  std::string_view rest = target;
  if (target == "*") {
    if (verb != method::options) return 400;
    out.path = target;
    out.query = {};
    return 0;
  }
  if (target.front() != '/') {  // absolute-form: scheme "://" authority path-abempty
    std::size_t skip = 0;
    if (istarts_with(target, "http://")) {
      skip = 7;
    } else if (istarts_with(target, "https://")) {
      skip = 8;
    } else {
      return 400;
    }
    rest = target.substr(skip);
    const std::size_t end = rest.find_first_of("/?");
    if (end == 0) return 400;  // no authority
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  }
  const std::size_t q = rest.find('?');
  out.path = rest.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  if (out.path.empty()) out.path = "/";
  return 0;
}

bool valid_host(std::string_view host) noexcept {
  return std::all_of(host.begin(), host.end(),
                     [](char c) { return host_char(static_cast<unsigned char>(c)); });
}

}  // namespace

int parse_request_line(std::string_view line, request& out) noexcept {
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return 400;
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return 400;
  const std::string_view name = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(name) || target.empty()) return 400;
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return 400;  // also catches a third space
  }
  if (!known_method(name, out.verb)) return 501;
  if (version[5] != '1') return 505;
  out.version_minor = version[7] == '0' ? 0 : 1;
  out.target = target;
  return split_target(out.verb, target, out);
}

int parse_head(std::string_view head, const limits& lim, request& out) noexcept {
  out.clear();
  std::size_t eol = head.find("\r\n");
  if (int e = parse_request_line(head.substr(0, eol), out); e != 0) return e;
  bool close = false;
  bool keep_alive = false;
  bool transfer_encoding = false;
  bool too_long = false;
  int hosts = 0;
  while (eol != std::string_view::npos) {
    const std::size_t begin = eol + 2;
    eol = head.find("\r\n", begin);
    const std::string_view line = head.substr(begin, eol - begin);
    if (line.empty()) break;               // only at the very end (the caller cut the head there)
    if (is_ows(line.front())) return 400;  // obs-fold
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return 400;
    const std::string_view name = line.substr(0, colon);
    const std::string_view raw = line.substr(colon + 1);
    if (!std::all_of(raw.begin(), raw.end(),
                     [](char c) { return is_value_char(static_cast<unsigned char>(c)); })) {
      return 400;
    }
    const std::string_view value = trim_ows(raw);
    if (out.header_count == max_headers) return 431;
    out.headers[out.header_count++] = {name, value};

    if (iequals(name, "content-length")) {
      if (value.empty()) return 400;
      std::uint64_t n = 0;
      bool huge = false;
      for (const char c : value) {
        if (c < '0' || c > '9') return 400;
        if (n > (UINT64_MAX - 9) / 10) {
          huge = true;
        } else {
          n = n * 10 + static_cast<unsigned>(c - '0');
        }
      }
      if (out.has_content_length && (huge != too_long || n != out.content_length)) return 400;
      out.has_content_length = true;
      out.content_length = n;
      too_long = huge;
    } else if (iequals(name, "transfer-encoding")) {
      transfer_encoding = true;
    } else if (iequals(name, "host")) {
      ++hosts;
      if (!valid_host(value)) return 400;
      out.host = value;
    } else if (iequals(name, "connection")) {
      std::string_view rest = value;
      while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view option = trim_ows(rest.substr(0, comma));
        if (iequals(option, "close")) close = true;
        if (iequals(option, "keep-alive")) keep_alive = true;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (iequals(name, "expect")) {
      out.expect_continue = iequals(value, "100-continue");
    }
  }
  if (hosts > 1 || (out.version_minor >= 1 && hosts == 0)) return 400;
  if (transfer_encoding) return out.has_content_length ? 400 : 501;
  if (!out.has_content_length &&
      (out.verb == method::post || out.verb == method::put || out.verb == method::patch)) {
    return 411;
  }
  if (too_long || out.content_length > lim.max_body) return 413;
  out.keep_alive = !close && (out.version_minor >= 1 || keep_alive);
  return 0;
}

}  // namespace detail

path_check decode_path(std::string_view raw, std::string& out) {
  out.clear();
  if (raw.empty() || raw.front() != '/') return path_check::bad_request;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return path_check::bad_request;
      const int hi = hex(raw[i + 1]);
      const int lo = hex(raw[i + 2]);
      if (hi < 0 || lo < 0) return path_check::bad_request;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return path_check::bad_request;
    out.push_back(c);
  }
  std::string_view rest = out;
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    if (rest.substr(0, slash) == "..") return path_check::forbidden;
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  }
  return path_check::ok;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::array<char, 29> format_http_date(std::time_t t) noexcept {
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr std::string_view days = "SunMonTueWedThuFriSat";
  static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  std::array<char, 29> s{};
  auto two = [&](std::size_t at, int v) {
    s[at] = static_cast<char>('0' + v / 10 % 10);
    s[at + 1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(s.data(), days.data() + 3 * tm.tm_wday, 3);
  s[3] = ',';
  s[4] = ' ';
  two(5, tm.tm_mday);
  s[7] = ' ';
  std::memcpy(s.data() + 8, months.data() + 3 * tm.tm_mon, 3);
  s[11] = ' ';
  const int year = tm.tm_year + 1900;
  two(12, year / 100);
  two(14, year % 100);
  s[16] = ' ';
  two(17, tm.tm_hour);
  s[19] = ':';
  two(20, tm.tm_min);
  s[22] = ':';
  two(23, tm.tm_sec);
  std::memcpy(s.data() + 25, " GMT", 4);
  return s;
}

std::string_view content_type_for(std::string_view path) noexcept {
  const std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || path.find('/', dot) != std::string_view::npos) {
    return "application/octet-stream";
  }
  const std::string_view ext = path.substr(dot + 1);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> types{{
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"txt", "text/plain; charset=utf-8"},
      {"css", "text/css"},
      {"js", "text/javascript"},
      {"json", "application/json"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"svg", "image/svg+xml"},
      {"pdf", "application/pdf"},
  }};
  for (const auto& [e, type] : types) {
    if (iequals(ext, e)) return type;
  }
  return "application/octet-stream";
}

void append_response_head(std::string& out, int status, std::string_view date,
                          std::string_view content_type, std::uint64_t content_length,
                          bool keep_alive, int version_minor, std::string_view extra) {
  std::string_view connection;
  if (!keep_alive) {
    connection = "Connection: close\r\n";
  } else if (version_minor == 0) {
    connection = "Connection: keep-alive\r\n";
  }
  fmt::format_to(std::back_inserter(out),
                 "HTTP/1.1 {} {}\r\nServer: ringo\r\nDate: {}\r\nContent-Type: {}\r\n"
                 "Content-Length: {}\r\n{}{}\r\n",
                 status, reason_phrase(status), date, content_type, content_length, connection,
                 extra);
}

void append_status_response(std::string& out, int status, std::string_view date, bool keep_alive,
                            int version_minor, bool head_only, std::string_view extra) {
  const std::string_view reason = reason_phrase(status);
  const std::size_t body_size = 3 + 1 + reason.size() + 1;
  append_response_head(out, status, date, "text/plain; charset=utf-8", body_size, keep_alive,
                       version_minor, extra);
  if (!head_only) fmt::format_to(std::back_inserter(out), "{} {}\n", status, reason);
}

}  // namespace http
