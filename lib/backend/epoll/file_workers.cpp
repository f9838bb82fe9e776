// The epoll backend's file threads (lib/backend/epoll/file_workers.hpp).
#include "backend/epoll/file_workers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "process/thread_signals.hpp"

namespace ringo::detail {

struct file_workers::shared {
  std::mutex mutex;
  std::condition_variable wanted;
  std::deque<std::shared_ptr<job>> queue;
  std::vector<std::shared_ptr<job>> running;  // started and not abandoned
  std::vector<std::shared_ptr<job>> done;     // results for the loop to take
  std::size_t serving = 0;  // threads that serve the queue (not stuck in an abandoned call)
  bool stopping = false;    // the backend is gone: notify no more
  void (*notify)(void*) noexcept = nullptr;
  void* arg = nullptr;
};

file_workers::job::~job() {
  // An abandoned open's descriptor has no one else to close it. (A job that never ran has
  // result -ECANCELED.)
  if (op == nullptr && opcode == io_opcode::openat && result >= 0) ::close(result);
  if (own_fd) ::close(fd);
}

file_workers::file_workers(void (*notify)(void*) noexcept, void* arg)
    : shared_(std::make_shared<shared>()) {
  shared_->notify = notify;
  shared_->arg = arg;
}

file_workers::~file_workers() {
  // No join: a thread stuck in an abandoned call ends when the call returns, holding the
  // shared state alone by then; the idle ones see `stopping` and end at once. The lock
  // orders this against a thread's notify(), which is made under it.
  {
    std::lock_guard lock{shared_->mutex};
    shared_->stopping = true;
    for (auto& j : shared_->queue) j->op = nullptr;
    shared_->queue.clear();
    for (auto& j : shared_->running) j->op = nullptr;  // (the loop drained them before)
    shared_->running.clear();
    for (auto& j : shared_->done) j->op = nullptr;  // no one takes these: an open's fd is closed
    shared_->done.clear();
  }
  shared_->wanted.notify_all();
}

void file_workers::push(io_operation& op) {
  auto j = std::make_shared<job>();
  j->op = &op;
  j->opcode = op.opcode;
  j->fd = op.fd;
  j->own_fd = false;
  j->flags = op.msg_flags;
  j->mode = op.len;
  j->offset = 0;
  j->len = op.len;
  j->result = -ECANCELED;
  if (op.opcode == io_opcode::openat) {
    j->path = op.path;
  } else {
    j->offset = op.offset;
    j->data = std::make_unique_for_overwrite<std::byte[]>(op.len);
    if (op.opcode == io_opcode::write) std::memcpy(j->data.get(), op.cbuf, op.len);
    // The thread's own descriptor, so that a caller who closes its own after a cancel cannot
    // have the call land on whatever reuses the number. Without a descriptor to spare, the
    // caller's number serves: the risk is then only a close in the instant before the call.
    const int dup = ::fcntl(op.fd, F_DUPFD_CLOEXEC, 0);
    if (dup >= 0) {
      j->fd = dup;
      j->own_fd = true;
    }
  }
  std::unique_lock lock{shared_->mutex};
  // Room, so that a thread never allocates: each job may be running and then done at once.
  const std::size_t all = shared_->queue.size() + shared_->running.size() + 1;
  shared_->running.reserve(all);
  shared_->done.reserve(shared_->done.size() + all);
  shared_->queue.push_back(j);
  try {
    start_thread_if_short();
  } catch (...) {
    if (shared_->serving == 0) {
      j->op = nullptr;
      shared_->queue.pop_back();
      throw;
    }
  }
  lock.unlock();
  shared_->wanted.notify_one();
}

// Called under the lock.
void file_workers::start_thread_if_short() {
  while (shared_->serving < threads) {
    // The workers take no signals: a signal for the process is for its loops to handle.
    const new_threads_block_signals blocked;
    std::thread{&file_workers::work, shared_}.detach();
    ++shared_->serving;
  }
}

bool file_workers::cancel(io_operation& op) noexcept {
  std::unique_lock lock{shared_->mutex};
  auto& q = shared_->queue;
  if (auto it = std::find_if(q.begin(), q.end(), [&](const auto& j) { return j->op == &op; });
      it != q.end()) {
    (*it)->op = nullptr;
    q.erase(it);
    return true;
  }
  auto& r = shared_->running;
  auto it = std::find_if(r.begin(), r.end(), [&](const auto& j) { return j->op == &op; });
  if (it == r.end()) return false;  // done: its result is on its way
  // Abandoned: its thread no longer serves the queue until its call returns; another does.
  (*it)->op = nullptr;
  r.erase(it);
  --shared_->serving;
  try {
    if (!shared_->queue.empty()) start_thread_if_short();  // else the next push() starts one
  } catch (...) {
    // No thread now: the next push() tries again.
  }
  return true;
}

std::vector<io_operation*> file_workers::cancel_all() noexcept {
  std::vector<io_operation*> ops;
  std::lock_guard lock{shared_->mutex};
  try {
    ops.reserve(shared_->queue.size() + shared_->running.size());
  } catch (...) {
    return ops;
  }
  for (auto& j : shared_->queue) ops.push_back(std::exchange(j->op, nullptr));
  shared_->queue.clear();
  for (auto& j : shared_->running) ops.push_back(std::exchange(j->op, nullptr));
  shared_->serving -= shared_->running.size();
  shared_->running.clear();
  return ops;
}

void file_workers::take_finished(std::vector<finished>& out) {
  std::vector<std::shared_ptr<job>> jobs;
  {
    std::vector<std::shared_ptr<job>> room;
    std::lock_guard lock{shared_->mutex};
    room.reserve(shared_->done.capacity());  // what push() reserved for the threads stays theirs
    jobs.swap(shared_->done);
    shared_->done.swap(room);
  }
  // On the loop's thread, which alone abandons jobs: none of these can be abandoned now.
  for (auto& j : jobs) {
    if (j->opcode == io_opcode::read && j->result > 0) {
      std::memcpy(j->op->buf, j->data.get(), static_cast<std::size_t>(j->result));
    }
    out.push_back({j->op, j->result});
    if (j->opcode == io_opcode::openat) j->result = -1;  // the descriptor is the loop's now
  }
}

void file_workers::work(std::shared_ptr<shared> s) noexcept {
  std::unique_lock lock{s->mutex};
  for (;;) {
    s->wanted.wait(lock, [&] { return s->stopping || !s->queue.empty(); });
    if (s->queue.empty()) {  // stopping, and nothing is left to do
      --s->serving;
      return;
    }
    std::shared_ptr<job> j = std::move(s->queue.front());
    s->queue.pop_front();
    s->running.push_back(j);  // room was reserved by push()
    lock.unlock();
    perform(*j);
    lock.lock();
    if (j->op == nullptr) {
      // Abandoned while the call ran: the loop has moved on, and another thread serves in this
      // one's place. Dropping the job closes what the call made.
      lock.unlock();
      return;
    }
    auto& r = s->running;
    r.erase(std::find(r.begin(), r.end(), j));
    s->done.push_back(std::move(j));  // room was reserved by push()
    if (!s->stopping) s->notify(s->arg);  // under the lock: the backend is still there
  }
}

void file_workers::perform(job& j) noexcept {
  long r = -1;
  const bool at_position = j.offset == static_cast<std::uint64_t>(-1);
  switch (j.opcode) {
    case io_opcode::openat:
      r = ::openat(j.fd, j.path.c_str(), j.flags, static_cast<mode_t>(j.mode));
      break;
    case io_opcode::read:
      r = at_position ? ::read(j.fd, j.data.get(), j.len)
                      : ::pread(j.fd, j.data.get(), j.len, static_cast<off_t>(j.offset));
      break;
    case io_opcode::write:
      r = at_position ? ::write(j.fd, j.data.get(), j.len)
                      : ::pwrite(j.fd, j.data.get(), j.len, static_cast<off_t>(j.offset));
      break;
    default:
      errno = EINVAL;
      break;
  }
  j.result = r < 0 ? -errno : static_cast<int>(r);
}

}  // namespace ringo::detail
