#pragma once
/// \file
/// ringo::stdin_reader: standard input read through the ring, line by line or in chunks,
/// without blocking the loop.
#include <cstddef>
#include <optional>
#include <source_location>
#include <span>
#include <string>

#include <ringo/task.hpp>

namespace ringo {

/// Reads a descriptor (standard input by default) through the ring. Keeps what it read past
/// the end of a line for the next call. Does not own or close the descriptor. One task reads
/// at a time; the awaiting task resumes on its own context.
///
///     ringo::stdin_reader in;
///     while (auto line = co_await in.read_line()) use(*line);
class stdin_reader {
 public:
  explicit stdin_reader(int fd = 0) noexcept : fd_(fd) {}

  /// The next line without its "\n" (or "\r\n"); std::nullopt at end of input. A last line
  /// without a newline is returned as it is. Throws std::system_error ("read on stdin: ...")
  /// or operation_cancelled (the bytes read so far stay buffered).
  task<std::optional<std::string>> read_line(
      std::source_location where = std::source_location::current());

  /// Reads at most buf.size() bytes (buffered ones first); 0 at end of input.
  task<std::size_t> read_some(std::span<std::byte> buf,
                              std::source_location where = std::source_location::current());

 private:
  task<bool> fill(std::source_location where);
  int fd_;
  std::string pending_;
  std::size_t start_ = 0;  // pending_[start_..] is unread
  bool eof_ = false;
};

}  // namespace ringo
