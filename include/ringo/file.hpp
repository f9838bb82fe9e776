#pragma once
/// \file
/// ringo::file: a file opened, read, written and closed through the ring, so the loop's
/// thread never blocks on the disk.
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <ringo/detail/close_awaiter.hpp>
#include <ringo/detail/io_awaiter.hpp>
#include <ringo/detail/unread_area.hpp>
#include <ringo/task.hpp>

namespace ringo {

/// How file::open opens a file; combine with |.
enum class open_mode : unsigned {
  read = 1u << 0,
  write = 1u << 1,
  read_write = read | write,
  create = 1u << 2,     ///< create it if missing (with the permissions given to open)
  truncate = 1u << 3,   ///< empty it first
  append = 1u << 4,     ///< every write goes to the end
  exclusive = 1u << 5,  ///< with create: fail if it exists
};
/// Combines two open modes.
constexpr open_mode operator|(open_mode a, open_mode b) noexcept {
  return static_cast<open_mode>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}

namespace detail {

/// What a file keeps on the heap, so that an awaiter's pointer to it survives moving the
/// file: its name, for messages, and the bytes a read at the current position had when it was
/// cancelled (it lost a when_any race as they came), which the next such read takes first.
struct file_state {
  std::string name;
  unread_area unread;
};

/// read/write at an offset (or at the current position), the request in the awaiter.
class file_io_awaiter final : io_awaiter {
 public:
  file_io_awaiter(int fd, file_state* file, io_opcode op, std::byte* data, std::size_t size,
                  std::uint64_t offset, std::source_location where) noexcept;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  std::size_t await_resume();

 private:
  std::string what() const;
  /// A read at the current position: what it takes cannot be read again, so bytes it had
  /// when cancelled go back to the file's unread bytes.
  bool reads_on() const noexcept {
    return opcode == io_opcode::read && offset == static_cast<std::uint64_t>(-1);
  }
  file_state* file_;
  bool from_unread_ = false;  // served from the file's unread bytes, without a request
};

}  // namespace detail

/// An open file. Move-only; closed on destruction (a plain close) unless closed with
/// co_await close(). Its operations resume the awaiting task on its own context; buffers
/// passed to them must outlive the co_await, and the file must outlive its operations.
class file {
 public:
  file() noexcept = default;
  file(file&& o) noexcept : fd_(std::exchange(o.fd_, -1)), state_(std::move(o.state_)) {}
  file& operator=(file&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
      state_ = std::move(o.state_);
    }
    return *this;
  }
  file(const file&) = delete;
  file& operator=(const file&) = delete;
  ~file() { reset(); }

  /// Opens `path` (openat through the ring). Throws std::system_error naming the path ("open
  /// /no/such: No such file or directory") or operation_cancelled.
  static task<file> open(std::string path, open_mode mode = open_mode::read,
                         unsigned permissions = 0644,
                         std::source_location where = std::source_location::current());

  /// Takes ownership of descriptor `fd` (a pipe, a signalfd, ...); `name` is for messages.
  static file adopt(int fd, std::string name);

  /// Reads at most buf.size() bytes at `offset`; returns how many (0 at end of file).
  [[nodiscard]] detail::file_io_awaiter read_at(
      std::span<std::byte> buf, std::uint64_t offset,
      std::source_location where = std::source_location::current()) const;
  /// Writes `data` at `offset`; returns how many bytes were written.
  [[nodiscard]] detail::file_io_awaiter write_at(
      std::span<const std::byte> data, std::uint64_t offset,
      std::source_location where = std::source_location::current()) const;
  /// Reads at the current position (for pipes, terminals, signalfd, eventfd). Bytes it had
  /// when it was cancelled (it lost a when_any race as they came) are the next read's.
  [[nodiscard]] detail::file_io_awaiter read_some(
      std::span<std::byte> buf, std::source_location where = std::source_location::current()) const;
  /// Writes at most data.size() bytes at the current position (for pipes, terminals, files
  /// opened to append); returns how many were written, at least 1 for non-empty data. A pipe
  /// whose reader is gone fails with EPIPE and also raises SIGPIPE, which ends the program
  /// unless it is ignored (process::spawn with pipe_stdin ignores it).
  [[nodiscard]] detail::file_io_awaiter write_some(
      std::span<const std::byte> data,
      std::source_location where = std::source_location::current()) const;
  /// Writes all of `data` at the current position, continuing after short writes. Throws
  /// std::system_error ("write on stdin of sort (pid 41): Broken pipe") or
  /// operation_cancelled; either way what was written before stays written. The task holds
  /// the descriptor from the call on; `data` must outlive the co_await.
  task<void> write_all(std::span<const std::byte> data,
                       std::source_location where = std::source_location::current()) const;
  /// The same for the bytes of `text`.
  task<void> write_all(std::string_view text,
                       std::source_location where = std::source_location::current()) const {
    return write_all(std::as_bytes(std::span{text.data(), text.size()}), where);
  }

  /// The size in bytes (fstat: metadata, no disk wait in practice).
  [[nodiscard]] std::uint64_t size() const;
  /// Closes the file through the ring; the file is empty afterwards.
  [[nodiscard]] detail::file_close_awaiter close(
      std::source_location where = std::source_location::current());

  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int native_handle() const noexcept { return fd_; }
  /// The path given to open (or the name given to adopt).
  [[nodiscard]] const std::string& path() const;

 private:
  void reset() noexcept;
  int fd_ = -1;
  std::unique_ptr<detail::file_state> state_;
};

}  // namespace ringo
