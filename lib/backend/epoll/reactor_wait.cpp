// The epoll backend's waits: epoll_wait for readiness (or the wake-up), the file threads'
// results, and the completions gathered so far delivered to their handlers.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "backend/epoll/reactor.hpp"
#include "backend/epoll/system_calls.hpp"
#include "backend/throw_errno.hpp"

namespace ringo::detail {
namespace {

// Completions of standing receives a turn has room for beyond one per request in flight.
constexpr std::size_t standing_room = 32;

}  // namespace

void epoll_reactor::wait(std::chrono::nanoseconds timeout) {
  // Room for a completion of every request in flight, and for the standing receives' bursts
  // beside them: from here to the end of deliver(), nothing allocates.
  if (const std::size_t room = in_flight_ + 1 + standing_room; done_.capacity() < room) {
    done_.reserve(std::max(room, 2 * done_.capacity()));
  }
  if (buffers_ != nullptr) buffers_->take_back_returned();
  if (!done_.empty() || !pending_.empty()) timeout = std::chrono::nanoseconds{0};
  int ms = -1;
  if (timeout.count() >= 0) {
    ms = static_cast<int>(std::min<std::int64_t>(
        std::chrono::ceil<std::chrono::milliseconds>(timeout).count(), 24 * 3600 * 1000));
  }
  const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), ms);
  if (n < 0 && errno != EINTR) throw_errno(errno, "epoll_wait");
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events_[static_cast<std::size_t>(i)];
    if (ev.data.fd == wake_fd_) {
      std::uint64_t count = 0;
      [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
      continue;
    }
    on_ready(ev.data.fd, ev.events);
  }
  if (!pending_.empty()) retry_pending();
  if (n == static_cast<int>(events_.size())) events_.resize(events_.size() * 2);
  if (workers_ != nullptr) take_from_workers();
  deliver();
}

void epoll_reactor::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void epoll_reactor::recycle_buffer(std::uint32_t buffer) noexcept {
  if (buffers_->give_back(buffer)) [[unlikely]] wake();
}

void epoll_reactor::take_from_workers() {
  finished_.clear();
  workers_->take_finished(finished_);
  for (const file_workers::finished& f : finished_) {
    if (f.op->backend_slot != on_workers) continue;
    f.op->backend_slot = nowhere;
    complete_later(*f.op, f.result);
  }
}

void epoll_reactor::complete_later(io_operation& op, int res, std::uint32_t flags,
                                   std::uint32_t buffer) noexcept {
  if (accepts(op.opcode) && res >= 0) fresh(res);
  done_.push_back({&op, res, flags, buffer});  // room is reserved
}

// Delivers the completions gathered so far; those that their handlers cause wait for the
// next wait(), so that one turn of the loop stays bounded.
void epoll_reactor::deliver() noexcept {
  delivering_.swap(done_);
  for (const completion& c : delivering_) {
    io_operation& op = *c.op;
    if ((c.flags & more_completions) == 0) --in_flight_;
    op.on_complete(op, c.res, c.flags, c.buffer);  // may free `op` after its last
  }
  delivering_.clear();
}

}  // namespace ringo::detail
