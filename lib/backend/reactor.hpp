#pragma once
// The one seam between the event loop and its I/O backend, private to the library: the loop
// and the sockets say what they mean in io_operations (include/ringo/detail/io_operation.hpp)
// and these verbs; each backend (lib/backend/uring, lib/backend/epoll) decides how to carry
// them out and keeps its own bookkeeping. A request's address travels through the kernel (or
// the backend's lists) as its identity; the backend calls on_complete once per completion
// and, after the final one, never touches the request again.
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <ringo/detail/io_operation.hpp>
#include <ringo/detail/kernel_features.hpp>
#include <ringo/detail/lent_buffers.hpp>

namespace ringo::detail {

class reactor : public lent_buffers {
 public:
  virtual ~reactor() = default;

  /// Binds the backend to the calling thread, which from now on is the only one to submit.
  virtual void start() = 0;

  /// Queues `op`; it reaches the kernel at the next wait() (or sooner). Throws only
  /// std::bad_alloc, and then nothing was queued. A request queued while completions are
  /// dispatched, or that finds the submission queue full, waits in order in a backlog.
  virtual void submit(io_operation& op) = 0;

  /// Asks the kernel to cancel `op`, a request in flight. The operation still completes (with
  /// -ECANCELED, or with its result if it won the race), and only then may its memory go.
  /// Never fails: submit() set aside the room a cancel needs, so a deadline or a task's
  /// cancellation needs no memory to end a request. A second cancel of the same submission
  /// does nothing.
  virtual void cancel(io_operation& op) noexcept = 0;

  /// Closes `fd` once every request and cancel queued before has reached the kernel, so that
  /// none of them can meet another file under the same number. For a socket that is let go
  /// of: nothing waits for the close.
  virtual void close_later(int fd) noexcept = 0;

  /// Hands everything queued to the kernel now (not while completions are dispatched).
  virtual void flush() noexcept = 0;

  /// Submits what is queued, waits for completions for at most `timeout` (zero: only reap
  /// what is there; negative: no limit) and calls their handlers.
  virtual void wait(std::chrono::nanoseconds timeout) = 0;

  /// Cancels every request in flight and delivers their completions (bounded in time), so
  /// that no request outlives the memory it points into. For shutting a context down.
  virtual void drain() noexcept = 0;

  /// Requests whose final completion has not arrived.
  virtual std::size_t in_flight() const noexcept = 0;

  virtual const reactor_features& features() const noexcept = 0;

  /// Makes a wait() in progress (or the next one) return soon. Thread-safe; the backend
  /// re-arms itself, so every call after a wait() returned wakes the next one again.
  virtual void wake() noexcept = 0;
};

/// The backend behind a socket's state, which holds it as the lender of its receive buffers
/// (the public headers see only that much of it).
inline reactor& reactor_of(lent_buffers& buffers) noexcept {
  return static_cast<reactor&>(buffers);
}

}  // namespace ringo::detail
