// Files and standard input through the ring: openat, read, write and close are requests, so
// a slow disk or an idle terminal never holds the loop's thread.
#include <ringo/file.hpp>
#include <ringo/stdin_reader.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace ringo {
namespace detail {

file_io_awaiter::file_io_awaiter(int fd_, file_state* file, io_opcode op, std::byte* data,
                                 std::size_t size, std::uint64_t at,
                                 std::source_location where) noexcept
    : io_awaiter(where), file_(file) {
  fd = fd_;
  opcode = op;
  buf = data;
  len = static_cast<std::uint32_t>(std::min<std::size_t>(size, 1u << 30));
  offset = at;
}

bool file_io_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (fd < 0) {
    throw std::logic_error("ringo::file used while empty (closed or moved from): open one first");
  }
  describe = [](const wait_node& n, std::string& out) {
    out += static_cast<const file_io_awaiter&>(n).what();
  };
  if (reads_on() && !file_->unread.empty()) {
    if (!prepare()) return false;  // a cancellation is due: await_resume throws it
    from_unread_ = true;
    return false;
  }
  return start(h, std::chrono::nanoseconds{0});
}

std::string file_io_awaiter::what() const {
  return fmt::format("{} on {}", opcode == io_opcode::write ? "write" : "read", file_->name);
}

std::size_t file_io_awaiter::await_resume() {
  if (from_unread_) return file_->unread.take({static_cast<std::byte*>(buf), len});
  // Bytes read as the read was cancelled go back for the next read, which takes nothing from
  // a read that lost a when_any race. Without the memory to keep them, the read returns them.
  if (reads_on() && submitted_ && res_ > 0 && (cancelled || task->cancel_pending)) {
    bool kept = true;
    try {
      file_->unread.append({static_cast<const std::byte*>(buf), static_cast<std::size_t>(res_)});
    } catch (const std::bad_alloc&) {
      kept = false;
    }
    if (kept) {
      task->cancel_pending = false;
      throw operation_cancelled(what() + ": operation cancelled");
    }
  }
  const int res = result([this] { return what(); });
  if (res < 0) throw_io_error(-res, what());
  return static_cast<std::size_t>(res);
}

}  // namespace detail

task<file> file::open(std::string path, open_mode mode, unsigned permissions,
                      std::source_location where) {
  const auto m = static_cast<unsigned>(mode);
  const bool r = (m & static_cast<unsigned>(open_mode::read)) != 0;
  const bool w = (m & static_cast<unsigned>(open_mode::write)) != 0 ||
                 (m & static_cast<unsigned>(open_mode::append)) != 0;
  int flags = O_CLOEXEC | (r && w ? O_RDWR : w ? O_WRONLY : O_RDONLY);
  if ((m & static_cast<unsigned>(open_mode::create)) != 0) flags |= O_CREAT;
  if ((m & static_cast<unsigned>(open_mode::truncate)) != 0) flags |= O_TRUNC;
  if ((m & static_cast<unsigned>(open_mode::append)) != 0) flags |= O_APPEND;
  if ((m & static_cast<unsigned>(open_mode::exclusive)) != 0) flags |= O_EXCL;

  struct open_awaiter : detail::io_awaiter {
    open_awaiter(const std::string& p, int f, unsigned perm, std::source_location loc) noexcept
        : io_awaiter(loc) {
      opcode = detail::io_opcode::openat;
      fd = AT_FDCWD;
      path = p.c_str();
      msg_flags = f;
      len = perm;
    }
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      describe = [](const detail::wait_node& n, std::string& out) {
        out += fmt::format("open {}", static_cast<const open_awaiter&>(n).path);
      };
      return start(h, std::chrono::nanoseconds{0});
    }
    int await_resume() {
      return result([this] { return fmt::format("open {}", path); });
    }
  };

  const int res = co_await open_awaiter{path, flags, permissions, where};
  if (res < 0) detail::throw_io_error(-res, fmt::format("open {}", path));
  co_return adopt(res, std::move(path));
}

file file::adopt(int fd, std::string name) {
  file f;
  f.fd_ = fd;
  f.state_ = std::make_unique<detail::file_state>(detail::file_state{std::move(name), {}});
  return f;
}

detail::file_io_awaiter file::read_at(std::span<std::byte> buf, std::uint64_t offset,
                                      std::source_location where) const {
  return detail::file_io_awaiter{
      fd_, state_.get(), detail::io_opcode::read, buf.data(), buf.size(), offset, where};
}

detail::file_io_awaiter file::write_at(std::span<const std::byte> data, std::uint64_t offset,
                                       std::source_location where) const {
  return detail::file_io_awaiter{fd_,
                                 state_.get(),
                                 detail::io_opcode::write,
                                 const_cast<std::byte*>(data.data()),  // write only reads it
                                 data.size(),
                                 offset,
                                 where};
}

detail::file_io_awaiter file::read_some(std::span<std::byte> buf,
                                        std::source_location where) const {
  return detail::file_io_awaiter{fd_,        state_.get(), detail::io_opcode::read,
                                 buf.data(), buf.size(),  static_cast<std::uint64_t>(-1),
                                 where};
}

detail::file_io_awaiter file::write_some(std::span<const std::byte> data,
                                         std::source_location where) const {
  return write_at(data, static_cast<std::uint64_t>(-1), where);
}

namespace {
// The descriptor and the name are taken when write_all is called, as an awaiter would take
// them, so that the loop does not reach through the file object.
task<void> write_all_to(int fd, detail::file_state* file, std::span<const std::byte> data,
                        std::source_location where) {
  while (!data.empty()) {
    const std::size_t n = co_await detail::file_io_awaiter{
        fd,          file,        detail::io_opcode::write, const_cast<std::byte*>(data.data()),
        data.size(), static_cast<std::uint64_t>(-1), where};
    if (n == 0) {  // (the kernel writes at least a byte or fails; never loop on nothing)
      throw std::system_error(EIO, std::system_category(),
                              fmt::format("write on {} wrote nothing", file->name));
    }
    data = data.subspan(n);
  }
}
}  // namespace

task<void> file::write_all(std::span<const std::byte> data, std::source_location where) const {
  return write_all_to(fd_, state_.get(), data, where);
}

std::uint64_t file::size() const {
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
    detail::throw_io_error(fd_ < 0 ? EBADF : errno, fmt::format("fstat on {}", path()));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

detail::file_close_awaiter file::close(std::source_location where) {
  const int fd = std::exchange(fd_, -1);
  return detail::file_close_awaiter{fd,
                                    fd < 0 ? std::string{} : fmt::format("close of {}", path()),
                                    where};
}

const std::string& file::path() const {
  static const std::string none = "(no file)";
  return state_ ? state_->name : none;
}

void file::reset() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

// ---- stdin_reader --------------------------------------------------------------------------

// Held by read_line and read_some for their whole run. A second reader would resize or trim
// pending_ while the kernel writes into it for the first (and take bytes meant for it), so
// it is refused before it touches anything. The guard lives in the reading coroutine's frame:
// it is released however the read ends, by a result, an error or cancellation.
class stdin_reader::read_guard {
 public:
  explicit read_guard(stdin_reader& in) : in_(in) {
    if (in_.reading_) {
      throw std::logic_error(fmt::format(
          "ringo::stdin_reader: {} is already being read by another task; read it from one "
          "task and hand what it reads to the others through a ringo::queue",
          in_.name()));
    }
    in_.reading_ = true;
  }
  read_guard(const read_guard&) = delete;
  read_guard& operator=(const read_guard&) = delete;
  ~read_guard() { in_.reading_ = false; }

 private:
  stdin_reader& in_;
};

std::string stdin_reader::name() const {
  return fd_ == 0 ? "stdin" : fmt::format("fd {}", fd_);
}

task<bool> stdin_reader::fill(std::source_location where) {
  if (eof_) co_return false;
  if (start_ > 0) {  // drop what was consumed, so a long session does not grow the buffer
    pending_.erase(0, start_);
    start_ = 0;
  }
  const std::size_t old = pending_.size();
  pending_.resize(old + 4096);
  std::size_t n = 0;
  detail::file_state state{name(), {}};
  try {
    n = co_await detail::file_io_awaiter{fd_,
                                         &state,
                                         detail::io_opcode::read,
                                         reinterpret_cast<std::byte*>(pending_.data() + old),
                                         4096,
                                         static_cast<std::uint64_t>(-1),
                                         where};
  } catch (...) {
    // Bytes the read had when it was cancelled stay buffered, for the next read.
    const std::size_t kept = state.unread.size();
    pending_.resize(old + kept);  // within the room made above
    (void)state.unread.take({reinterpret_cast<std::byte*>(pending_.data() + old), kept});
    throw;
  }
  pending_.resize(old + n);
  if (n == 0) eof_ = true;
  co_return n != 0;
}

task<std::optional<std::string>> stdin_reader::read_line(std::source_location where) {
  const read_guard guard{*this};
  std::size_t searched = start_;
  for (;;) {
    const auto nl = pending_.find('\n', searched);
    if (nl != std::string::npos) {
      std::size_t end = nl;
      if (end > start_ && pending_[end - 1] == '\r') --end;
      std::string line = pending_.substr(start_, end - start_);
      start_ = nl + 1;
      co_return line;
    }
    searched = pending_.size();
    const std::size_t before = start_;
    if (!co_await fill(where)) {
      if (start_ == pending_.size()) co_return std::nullopt;
      std::string last = pending_.substr(start_);
      start_ = pending_.size();
      co_return last;
    }
    searched -= before;  // fill dropped the consumed bytes
  }
}

task<std::size_t> stdin_reader::read_some(std::span<std::byte> buf, std::source_location where) {
  const read_guard guard{*this};
  if (buf.empty()) co_return 0;
  if (start_ == pending_.size() && !co_await fill(where)) co_return 0;
  const std::size_t n = std::min(buf.size(), pending_.size() - start_);
  std::memcpy(buf.data(), pending_.data() + start_, n);
  start_ += n;
  co_return n;
}

}  // namespace ringo
