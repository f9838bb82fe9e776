#pragma once
// What a socket keeps on the heap, for streams and listeners alike: its descriptor, the context
// it belongs to, the one standing request (keep receiving, keep accepting) that stays armed,
// and how long
// the state lives. The socket object (tcp_stream, unix_stream, and their listeners) holds only
// a pointer, so it can move while the kernel completes into the state.
//
// The state outlives the socket object when the object lets go (destroyed, or closed) while
// something still refers to the state: the standing request until its final completion, an
// awaiter until it ends (a hold, so that it can name the peer in its error), a buffer lent to
// the reader. orphan() marks that moment; the last of them frees the state. Each kind of
// socket also knows every awaiter in flight on it (a reader, a writer, an accepting task) and
// lets them go in orphan() before its descriptor number can be reused.
#include <cstdint>
#include <string_view>

#include <ringo/detail/io_operation.hpp>
#include <ringo/detail/lent_buffers.hpp>

namespace ringo {
class io_context;
}

namespace ringo::detail {

/// Throws the std::logic_error for a socket (`what`: "tcp_stream::read_some on the stream
/// connected to 127.0.0.1:80") used on a thread that does not run `owner`. Defined in lib/.
[[noreturn]] void throw_foreign_context(std::string_view what, const io_context* owner);

template <class Derived>
class socket_state : public io_operation {
 public:
  socket_state(const socket_state&) = delete;
  socket_state& operator=(const socket_state&) = delete;

  /// An awaiter that refers to the state holds it for its lifetime.
  void hold() noexcept { ++users; }
  void unhold() noexcept {
    --users;
    free_if_unused();
  }

  /// Whether the calling thread runs the context the socket belongs to. A socket made outside
  /// of a loop (a listener bound before run()) is bound to the context of its first use.
  [[nodiscard]] bool on_owner_thread() noexcept;

  /// Submits the standing request. Throws if the backend cannot take it.
  void arm();
  /// Cancels the standing request so that it stops taking buffers or connections; it still
  /// completes, and `pausing` says that the -ECANCELED is ours. Nothing if it is not armed.
  void pause() noexcept;

  io_context* context = nullptr;
  /// The context's backend (completions may come while the context winds down), which the
  /// public headers see only as the lender of receive buffers.
  lent_buffers* backend = nullptr;
  bool armed = false;           // the standing request is in the backend
  bool pausing = false;         // we cancelled it
  bool orphaned = false;        // no socket object refers to the state any more
  /// A waiting task was woken with what it waited for and has not taken it yet: no other task
  /// may take it first (a second reader or acceptor is a std::logic_error until then).
  bool handing_over = false;
  std::uint32_t users = 0;      // awaiters that hold the state
  std::uint32_t lent = 0;       // the stream's own receive buffers out in received_buffers

 protected:
  socket_state(io_context* ctx, int fd_, complete_fn on_standing) noexcept;
  ~socket_state() = default;

  /// The bookkeeping every standing request's completion needs first: at the final one the request is
  /// no longer armed, and an orphan's context stops waiting for it. Returns whether more
  /// completions will come.
  bool note_completion(std::uint32_t flags) noexcept;
  /// The end of orphan(), once the kind of socket has let its awaiters and its queue go:
  /// cancels the standing request, closes the descriptor when `close_fd` (else the caller
  /// closes it through the backend), and frees the state unless something still refers to it.
  void let_go(bool close_fd) noexcept;
  void free_if_unused() noexcept {
    if (orphaned && !armed && lent == 0 && users == 0) delete static_cast<Derived*>(this);
  }
};

/// A socket state held for the lifetime of this object (a lazy task's parameter, so that the
/// hold starts when the task is made, not when it first runs).
template <class State>
class state_hold {
 public:
  explicit state_hold(State& s) noexcept : s_(&s) { s.hold(); }
  state_hold(state_hold&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  state_hold(const state_hold&) = delete;
  state_hold& operator=(const state_hold&) = delete;
  state_hold& operator=(state_hold&&) = delete;
  ~state_hold() {
    if (s_ != nullptr) s_->unhold();
  }
  State& operator*() const noexcept { return *s_; }
  State* operator->() const noexcept { return s_; }

 private:
  State* s_;
};

}  // namespace ringo::detail
