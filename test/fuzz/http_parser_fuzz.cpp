// test/fuzz/http_parser_fuzz.cpp: libFuzzer target for the HTTP demo's request parser
// (demo/http/parser.hpp). The input is a byte stream as a client would send it (heads, bodies,
// pipelined requests, chunked bodies, garbage), behind a three-byte prefix that picks the
// parser's limits and where the stream is cut into receives. The stream is parsed the way
// demo/http/connection.cpp does (a request, then its Content-Length bytes skipped, then the
// next), once in one piece and once cut into receives whose leftovers move between calls, and
// the target checks:
//   - both ways find the same requests, field by field, and end the same way (the same error
//     status, or the same bytes left over for a request still incomplete);
//   - no head is longer than the bytes given, every view of a request points into them, and
//     each request obeys the limits and the rules the parser promises (a known method, HTTP/1.0
//     or 1.1, Content-Length within max_body, a path that starts with '/', ...);
//   - an error is one of the statuses the parser documents, with a reason phrase;
//   - decode_path never lets a ".." segment or a control character through.
// Prefix: byte 0 bits 0-1 the limits (default, tiny, small, one-line heads), bits 2-3 the cuts
// (byte by byte, or pieces of 1..16, 1..64 or 1..512 bytes from a generator seeded by bytes 1-2).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "../../demo/http/parser.hpp"

namespace {

// Stops the run with a message; libFuzzer reports the abort and saves the input.
[[noreturn]] void violated(std::string_view what) {
  std::fprintf(stderr, "http_parser_fuzz: invariant violated: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::abort();
}
void require(bool ok, std::string_view what) {
  if (!ok) violated(what);
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool is_documented_error(int status) {
  switch (status) {
    case 400:
    case 411:
    case 413:
    case 414:
    case 431:
    case 501:
    case 505:
      return true;
    default:
      return false;
  }
}

// Checks what the parser promises about a complete request whose head was `head`, and returns
// it as text to compare the two ways of parsing.
std::string check_and_describe(const http::request& r, std::string_view head,
                               const http::limits& lim) {
  require(static_cast<unsigned>(r.verb) <= static_cast<unsigned>(http::method::connect),
          "a method outside the enum");
  require(r.version_minor == 0 || r.version_minor == 1, "a version other than 1.0 and 1.1");
  require(!r.target.empty() && inside(r.target, head), "the target is not in the head");
  require(inside(r.path, head) || r.path == "/", "the path is not in the head");
  require(inside(r.query, head), "the query is not in the head");
  require(inside(r.host, head), "the host is not in the head");
  require(r.header_count <= http::max_headers, "more headers than max_headers");
  require(!r.has_content_length || r.content_length <= lim.max_body,
          "a Content-Length over max_body was accepted");
  require(r.has_content_length || r.content_length == 0, "a body length without Content-Length");
  std::size_t hosts = 0;
  std::size_t transfer_encodings = 0;
  for (std::size_t i = 0; i < r.header_count; ++i) {
    hosts += http::iequals(r.headers[i].name, "host") ? 1 : 0;
    transfer_encodings += http::iequals(r.headers[i].name, "transfer-encoding") ? 1 : 0;
  }
  require(hosts == (r.version_minor == 1 ? 1 : hosts) && hosts <= 1,
          "an HTTP/1.1 request without exactly one Host, or two Hosts");
  require(transfer_encodings == 0, "a request with Transfer-Encoding was accepted");
  if (r.verb == http::method::post || r.verb == http::method::put ||
      r.verb == http::method::patch) {
    require(r.has_content_length, "a POST, PUT or PATCH without Content-Length");
  }
  std::string text =
      fmt::format("{} {} path={} query={} host={} 1.{} ka={} cl={}:{} ec={} [",
                  http::to_string(r.verb), r.target, r.path, r.query, r.host, r.version_minor,
                  r.keep_alive, r.has_content_length, r.content_length, r.expect_continue);
  for (std::size_t i = 0; i < r.header_count; ++i) {
    const http::header& h = r.headers[i];
    require(!h.name.empty() && inside(h.name, head) && inside(h.value, head),
            "a header outside the head");
    require(h.value.empty() || (h.value.front() != ' ' && h.value.back() != ' '),
            "a header value with surrounding spaces");
    fmt::format_to(std::back_inserter(text), "{}={};", h.name, h.value);
  }
  text += ']';

  if (r.verb != http::method::connect && r.path != "*") {
    require(!r.path.empty() && r.path.front() == '/', "a path that does not start with '/'");
    std::string decoded;
    if (http::decode_path(r.path, decoded) == http::path_check::ok) {
      for (const char c : decoded) {
        const auto u = static_cast<unsigned char>(c);
        require(u >= 0x20 && u != 0x7f, "decode_path let a control character through");
      }
      std::string_view rest = decoded;
      while (!rest.empty()) {
        const std::size_t slash = rest.find('/');
        require(rest.substr(0, slash) != "..", "decode_path let a '..' segment through");
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
      }
    }
  }
  return text;
}

struct outcome {
  std::vector<std::string> requests;
  int error = 0;             // the status of the error that ended the stream, or 0
  std::size_t leftover = 0;  // bytes of an incomplete request at the end
  bool operator==(const outcome&) const = default;
};

// Parses `stream` received in the pieces `cuts` gives (sizes; the last piece takes the rest),
// as demo/http/connection.cpp does: what a receive leaves over moves to the front of the
// buffer before the next one is appended, so the parser sees its bytes at a new address.
outcome parse_stream(std::string_view stream, const std::vector<std::size_t>& cuts,
                     const http::limits& lim) {
  outcome out;
  http::request_parser parser{lim};
  http::request req;
  std::string pending;
  std::uint64_t body_left = 0;
  std::size_t given = 0;
  for (std::size_t piece = 0; given < stream.size(); ++piece) {
    const std::size_t n =
        piece < cuts.size() ? std::min(cuts[piece], stream.size() - given) : stream.size() - given;
    pending.append(stream.substr(given, n));
    given += n;
    std::size_t pos = 0;
    while (pos < pending.size()) {
      if (body_left > 0) {
        const auto skip =
            static_cast<std::size_t>(std::min<std::uint64_t>(body_left, pending.size() - pos));
        pos += skip;
        body_left -= skip;
        continue;
      }
      const std::string_view data = std::string_view{pending}.substr(pos);
      const http::parse_result r = parser.parse(data, req);
      if (r.status == http::parse_status::incomplete) {
        require(r.consumed == 0 && r.error == 0, "an incomplete result with a size or status");
        break;
      }
      if (r.status == http::parse_status::error) {
        require(is_documented_error(r.error), fmt::format("an undocumented status {}", r.error));
        require(http::reason_phrase(r.error) != "Unknown", "an error without a reason phrase");
        std::string answer;
        http::append_status_response(answer, r.error, "Thu, 01 Jan 1970 00:00:00 GMT", false, 1);
        require(answer.starts_with(fmt::format("HTTP/1.1 {} ", r.error)), "a malformed answer");
        out.error = r.error;
        return out;
      }
      require(r.consumed > 0 && r.consumed <= data.size(), "a head longer than the bytes given");
      require(r.consumed <= 2 * lim.max_head + 2,
              "a head (with its leading empty lines) over twice max_head");
      require(data.substr(0, r.consumed).ends_with("\r\n\r\n"),
              "a head that does not end in an empty line");
      out.requests.push_back(check_and_describe(req, data.substr(0, r.consumed), lim));
      pos += r.consumed;
      body_left = req.content_length;
    }
    pending.erase(0, pos);
  }
  out.leftover = pending.size();
  return out;
}

// A small generator for the cut sizes, so that one input always cuts the same way.
std::uint32_t next_random(std::uint32_t& state) {
  state = state * 1664525u + 1013904223u;
  return state >> 8;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t mode = bytes[0];
  std::uint32_t state = static_cast<std::uint32_t>(bytes[1]) << 8 | bytes[2];
  const std::string_view stream{reinterpret_cast<const char*>(bytes) + 3, size - 3};

  http::limits lim;
  switch (mode & 3) {
    case 1:
      lim.max_head = 64;
      lim.max_body = 16;
      break;
    case 2:
      lim.max_head = 512;
      lim.max_body = 4096;
      break;
    case 3:
      lim.max_head = 24;
      lim.max_body = 0;
      break;
    default:
      break;
  }
  std::vector<std::size_t> cuts;
  const std::size_t widest = (mode >> 2 & 3) == 0 ? 1 : std::size_t{1} << (2 * (mode >> 2 & 3) + 2);
  for (std::size_t given = 0; given < stream.size();) {
    const std::size_t n = widest == 1 ? 1 : 1 + next_random(state) % widest;
    cuts.push_back(n);
    given += n;
  }

  const outcome whole = parse_stream(stream, {}, lim);
  const outcome pieces = parse_stream(stream, cuts, lim);
  if (!(whole == pieces)) {
    std::string diff = fmt::format(
        "parsing in one piece and in {} pieces differ: {} vs {} requests, error {} vs {}, "
        "leftover {} vs {}",
        cuts.size(), whole.requests.size(), pieces.requests.size(), whole.error, pieces.error,
        whole.leftover, pieces.leftover);
    for (std::size_t i = 0; i < std::min(whole.requests.size(), pieces.requests.size()); ++i) {
      if (whole.requests[i] != pieces.requests[i]) {
        diff += fmt::format("\n  request {}: {}\n        vs: {}", i, whole.requests[i],
                            pieces.requests[i]);
        break;
      }
    }
    violated(diff);
  }
  return 0;
}
