// The epoll backend set up (its epoll descriptor and wake-up) and taken down, with what is
// still in flight cancelled first.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>

#include "backend/epoll/make_reactor.hpp"
#include "backend/epoll/reactor.hpp"
#include "backend/kernel_tls_probe.hpp"
#include "backend/throw_errno.hpp"

namespace ringo::detail {

epoll_reactor::epoll_reactor(const epoll_options& options) : buffer_size_(options.buffer_size) {
  features_.kernel_tls = options.kernel_tls && kernel_offers_tls();
  if (options.lend_buffers) {
    buffers_ = std::make_unique<epoll_buffer_pool>(options.buffer_count, options.buffer_size);
    features_.provided_buffers = true;
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno(errno, "epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    const int err = errno;
    ::close(epoll_fd_);
    throw_errno(err, "eventfd for the io_context wake-up");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    const int err = errno;
    ::close(wake_fd_);
    ::close(epoll_fd_);
    throw_errno(err, "epoll_ctl for the io_context wake-up");
  }
  events_.resize(256);
  // Both completion lists get room up front: they trade places at every delivery, and a
  // loop that only runs tasks (no I/O) then never allocates in wait().
  done_.reserve(64);
  delivering_.reserve(64);
}

epoll_reactor::~epoll_reactor() {
  drain();
  workers_.reset();  // before the wake-up its threads call goes (they call it no more)
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void epoll_reactor::start() {
  if (buffers_ != nullptr) buffers_->set_owner(std::this_thread::get_id());
}

void epoll_reactor::drain() noexcept {
  if (in_flight_ == 0) return;
  try {
    for (std::size_t fd = 0; fd < fds_.size(); ++fd) {
      while (!fds_[fd].readers.empty()) take_back(*fds_[fd].readers.back());
      while (!fds_[fd].writers.empty()) take_back(*fds_[fd].writers.back());
    }
    // File calls too, running ones included: their threads finish them on their own.
    if (workers_ != nullptr) {
      for (io_operation* op : workers_->cancel_all()) {
        op->cancel_requested = true;
        op->backend_slot = nowhere;
        complete_later(*op, -ECANCELED);
      }
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < until) {
      wait(std::chrono::milliseconds{10});
    }
  } catch (...) {
  }
}

std::unique_ptr<reactor> make_epoll_reactor(const epoll_options& options) {
  return std::make_unique<epoll_reactor>(options);
}

}  // namespace ringo::detail
