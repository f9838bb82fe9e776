// What read_line costs over read_some: ns per 64-byte line read over a loopback TCP stream,
// once with read_line and once with read_some of 64 bytes at a time (the same bytes, without
// looking for the delimiter or making a string). A writer task on the same loop sends the
// lines in 64 KiB writes. The rounds alternate between the two, and the medians are printed
// with their ratio. Target: read_line within 1.2x read_some per line.
//
// Run: ninja -C build bench/read_line_bench && build/bench/read_line_bench [rounds]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <ringo/net.hpp>
#include <ringo/run.hpp>
#include <ringo/spawn.hpp>

namespace {

using ringo::net::tcp_stream;

constexpr std::size_t line_size = 64;
constexpr std::size_t lines_per_round = 400'000;  // 25.6 MB
constexpr std::size_t write_size = 64 * 1024;

std::size_t sink;  // keeps every result alive

ringo::task<void> write_lines(tcp_stream& s, const std::string& chunk) {
  const std::size_t total = lines_per_round * line_size;
  for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
    co_await s.write_all(std::string_view(chunk).substr(0, std::min(chunk.size(), total - sent)));
  }
}

ringo::task<double> by_lines(tcp_stream& reader, tcp_stream& writer, const std::string& chunk) {
  const auto start = std::chrono::steady_clock::now();
  auto w = ringo::spawn(write_lines(writer, chunk));
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < lines_per_round; ++i) {
    const std::string line = co_await reader.read_line();
    bytes += line.size();
  }
  co_await w;
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  // Every line whole: a figure for lines cut wrong would be no figure at all.
  if (bytes != lines_per_round * line_size) {
    throw std::runtime_error(fmt::format("read_line returned {} bytes in {} lines, not {}", bytes,
                                         lines_per_round, lines_per_round * line_size));
  }
  sink += bytes;
  co_return took.count() / lines_per_round;
}

ringo::task<double> by_read_some(tcp_stream& reader, tcp_stream& writer,
                                 const std::string& chunk) {
  const auto start = std::chrono::steady_clock::now();
  auto w = ringo::spawn(write_lines(writer, chunk));
  std::array<char, line_size> buf;
  std::size_t bytes = 0;
  const std::size_t total = lines_per_round * line_size;
  while (bytes < total)
    bytes += co_await reader.read_some(buf);
  co_await w;
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  sink += bytes;
  co_return took.count() / lines_per_round;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 9;
  std::string chunk;
  while (chunk.size() + line_size <= write_size) {
    std::string line(line_size - 1, static_cast<char>('a' + chunk.size() / line_size % 26));
    chunk += line + '\n';
  }
  ringo::run([](int rounds, const std::string& chunk) -> ringo::task<void> {
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    auto accepting = ringo::spawn([](ringo::net::tcp_listener& l) -> ringo::task<tcp_stream> {
      co_return co_await l.accept();
    }(l));
    tcp_stream writer = co_await tcp_stream::connect(l.local_endpoint());
    tcp_stream reader = co_await accepting;
    std::vector<double> lines;
    std::vector<double> somes;
    for (int r = 0; r < rounds; ++r) {
      // Alternating which goes first, so that neither always follows the other.
      if (r % 2 == 0) {
        lines.push_back(co_await by_lines(reader, writer, chunk));
        somes.push_back(co_await by_read_some(reader, writer, chunk));
      } else {
        somes.push_back(co_await by_read_some(reader, writer, chunk));
        lines.push_back(co_await by_lines(reader, writer, chunk));
      }
    }
    const double l_ns = median(lines);
    const double s_ns = median(somes);
    fmt::print("read_line:      {:7.1f} ns per 64-byte line (median of {})\n", l_ns, rounds);
    fmt::print("read_some(64):  {:7.1f} ns per 64-byte line (median of {})\n", s_ns, rounds);
    fmt::print("ratio:          {:7.2f}x (target: at most 1.2x)\n", l_ns / s_ns);
  }(rounds, chunk));
  return sink == 0 ? 1 : 0;
}
