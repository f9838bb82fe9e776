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
/// the end of a line for the next call. Does not own or close the descriptor, and must outlive
/// its reads. One task reads at a time: a read started while another is in progress throws
/// std::logic_error, so read from one task and hand the lines to the others through a
/// ringo::queue. The awaiting task resumes on its own context.
///
///     ringo::stdin_reader in;
///     while (auto line = co_await in.read_line()) use(*line);
class stdin_reader {
 public:
  explicit stdin_reader(int fd = 0) noexcept : fd_(fd) {}

  /// The next line without its "\n" (or "\r\n"); std::nullopt at end of input. A last line
  /// without a newline is returned as it is. Throws std::system_error ("read on stdin: ...")
  /// or operation_cancelled (the bytes read so far stay buffered), and std::logic_error,
  /// before reading anything, if another read of this reader is in progress.
  task<std::optional<std::string>> read_line(
      std::source_location where = std::source_location::current());

  /// Reads at most buf.size() bytes (buffered ones first); 0 at end of input. Throws as
  /// read_line does.
  task<std::size_t> read_some(std::span<std::byte> buf,
                              std::source_location where = std::source_location::current());

 private:
  class read_guard;
  task<bool> fill(std::source_location where);
  std::string name() const;
  int fd_;
  std::string pending_;
  std::size_t start_ = 0;  // pending_[start_..] is unread
  bool eof_ = false;
  bool reading_ = false;  // a read_line or read_some is in progress
};

}  // namespace ringo
