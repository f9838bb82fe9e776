#pragma once
// Closing a descriptor through the ring (streams, files, sockets).
#include <coroutine>
#include <source_location>
#include <string>
#include <utility>

#include <ringo/detail/io_awaiter.hpp>

namespace ringo::detail {

/// close(): the descriptor closed through the ring. Not cancellable: a close cancelled before
/// it ran would leak the descriptor, and it is quick. An awaiter dropped without being awaited
/// closes the descriptor itself, so the descriptor is closed exactly once whatever becomes of
/// the awaiter. What it closes is put into words only for a task listing or an error (the
/// derived awaiter's `name`), so a close that succeeds formats nothing.
class close_awaiter : protected io_awaiter {
 public:
  close_awaiter(const close_awaiter&) = delete;
  close_awaiter& operator=(const close_awaiter&) = delete;

  bool await_ready() const noexcept { return fd < 0; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();

 protected:
  /// Appends what is closed ("close of 127.0.0.1:9090") to `out`.
  using name_fn = void (*)(const close_awaiter& self, std::string& out);

  close_awaiter(int fd, name_fn name, std::source_location where) noexcept
      : io_awaiter(where), name_(name) {
    this->fd = fd;
  }
  /// Before it is awaited (spawn(s.close()) moves it into its task): the descriptor goes with
  /// it, so only the new one closes it.
  close_awaiter(close_awaiter&& o) noexcept : io_awaiter(std::move(o)), name_(o.name_) {
    o.fd = -1;
  }
  ~close_awaiter();

 private:
  name_fn name_;
  bool closed_at_once_ = false;  // cancelled before it began: closed without the ring
};

/// A file's close: its text is formatted up front (files close seldom; the file's name may be
/// gone by the time the close completes).
class file_close_awaiter final : public close_awaiter {
 public:
  file_close_awaiter(int fd, std::string what, std::source_location where) noexcept
      : close_awaiter(fd, &name, where), what_(std::move(what)) {}

 private:
  static void name(const close_awaiter& self, std::string& out) {
    out += static_cast<const file_close_awaiter&>(self).what_;
  }
  std::string what_;
};

}  // namespace ringo::detail
