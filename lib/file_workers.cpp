// The epoll backend's file threads (lib/file_workers.hpp).
#include "file_workers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "thread_signals.hpp"

namespace ringo::detail {

file_workers::~file_workers() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  wanted_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void file_workers::push(io_operation& op) {
  std::unique_lock lock{mutex_};
  if (workers_.empty()) {
    workers_.reserve(threads);
    // The workers take no signals: a signal for the process is for its loops to handle.
    const new_threads_block_signals blocked;
    try {
      for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
    } catch (...) {
      if (workers_.empty()) throw;
    }
  }
  finished_.reserve(finished_.size() + queue_.size() + running_ + 1);  // so work() never allocates
  queue_.push_back(&op);
  lock.unlock();
  wanted_.notify_one();
}

bool file_workers::cancel(io_operation& op) noexcept {
  std::lock_guard lock{mutex_};
  const auto it = std::find(queue_.begin(), queue_.end(), &op);
  if (it == queue_.end()) return false;
  queue_.erase(it);
  return true;
}

void file_workers::take_finished(std::vector<finished>& out) {
  std::lock_guard lock{mutex_};
  out.insert(out.end(), finished_.begin(), finished_.end());
  finished_.clear();
}

std::size_t file_workers::busy() const noexcept {
  std::lock_guard lock{mutex_};
  return queue_.size() + running_;
}

void file_workers::work() noexcept {
  std::unique_lock lock{mutex_};
  for (;;) {
    wanted_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing is left to do
    io_operation* op = queue_.front();
    queue_.pop_front();
    ++running_;
    lock.unlock();
    const int result = perform(*op);
    lock.lock();
    --running_;
    finished_.push_back({op, result});  // room was reserved by push()
    lock.unlock();
    notify_(arg_);
    lock.lock();
  }
}

int file_workers::perform(io_operation& op) noexcept {
  long r = -1;
  switch (op.opcode) {
    case io_opcode::openat:
      r = ::openat(op.fd, op.path, op.msg_flags, static_cast<mode_t>(op.len));
      break;
    case io_opcode::read:
      r = op.offset == static_cast<std::uint64_t>(-1)
              ? ::read(op.fd, op.buf, op.len)
              : ::pread(op.fd, op.buf, op.len, static_cast<off_t>(op.offset));
      break;
    case io_opcode::write:
      r = op.offset == static_cast<std::uint64_t>(-1)
              ? ::write(op.fd, op.cbuf, op.len)
              : ::pwrite(op.fd, op.cbuf, op.len, static_cast<off_t>(op.offset));
      break;
    default:
      errno = EINVAL;
      break;
  }
  return r < 0 ? -errno : static_cast<int>(r);
}

}  // namespace ringo::detail
