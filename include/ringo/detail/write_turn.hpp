#pragma once
// The line of a stream's writers. Several tasks may write to one stream at once: they are
// served one after the other, in the order they called, and each write's bytes are contiguous
// on the wire (Go's rule for net.Conn). The write holding the turn sends; the others wait in a
// FIFO of nodes that live in their own frames (nothing is allocated for the line itself). A
// waiter leaves the line when it is cancelled or its deadline passes, without touching the
// others, and every waiter leaves it with EBADF when the stream closes.
//
// Taking a free turn is one compare and store; a stream written by one task never builds a line,
// and the line costs a stream's state one word.
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <source_location>
#include <string>
#include <utility>

#include <ringo/detail/deadline.hpp>
#include <ringo/detail/loop.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/timer_node.hpp>

namespace ringo::detail {

class write_turn;

/// A writer waiting in a write_turn's line. The timer carries its deadline (the default time
/// point, or no_deadline: none).
struct turn_waiter : timer_node {
  /// The turn is this waiter's now: it holds it, and passes it on when its write is over.
  void (*granted)(turn_waiter&) noexcept = nullptr;
  /// It left the line without the turn: its deadline passed (ETIMEDOUT) or the stream was
  /// closed (EBADF).
  void (*dropped)(turn_waiter&, int err) noexcept = nullptr;
  turn_waiter* next_ = nullptr;
  turn_waiter* prev_ = nullptr;
  write_turn* line_ = nullptr;  // while in the line
  const void* owner = nullptr;  // the awaiter that waits here (see write_turn::find)
  loop* timers_ = nullptr;      // the loop its timer is on, when it has a deadline
};

class write_turn {
 public:
  write_turn() noexcept = default;
  write_turn(const write_turn&) = delete;
  write_turn& operator=(const write_turn&) = delete;
  /// The stream's state goes only when nothing holds it, and every waiter holds it.
  ~write_turn() = default;

  /// Whether a write holds the turn (then any other write waits in the line).
  [[nodiscard]] bool held() const noexcept { return head_ != nullptr; }
  /// Takes the turn if no write holds it.
  [[nodiscard]] bool try_take() noexcept {
    if (head_ != nullptr) return false;
    head_ = &no_line_;
    return true;
  }

  /// Puts `w` (its callbacks and deadline set) at the back of the line; the turn is held. A
  /// deadline puts its timer on `ctx`, the loop the stream belongs to. Throws std::bad_alloc
  /// when the timer cannot be queued: nothing was queued then.
  void enqueue(turn_waiter& w, loop& ctx) {
    if (w.deadline != deadline_clock::time_point{} && w.deadline != no_deadline) {
      w.fire = &on_deadline;
      ctx.add_timer(w);
      w.timers_ = &ctx;
    }
    w.line_ = this;
    w.next_ = nullptr;
    if (turn_waiter* head = first()) {
      turn_waiter* tail = head->prev_;
      tail->next_ = &w;
      w.prev_ = tail;
      head->prev_ = &w;
    } else {
      w.prev_ = &w;  // the first waiter's prev_ is the last one
      head_ = &w;
    }
  }

  /// The waiter of `owner` in the line, or null.
  [[nodiscard]] turn_waiter* find(const void* owner) const noexcept {
    for (turn_waiter* w = first(); w != nullptr; w = w->next_) {
      if (w->owner == owner) return w;
    }
    return nullptr;
  }

  /// Takes `w` out of the line (its task was cancelled); nothing else changes.
  void remove(turn_waiter& w) noexcept {
    if (w.line_ != this) return;
    unlink(w);
  }

  /// The write holding the turn is over: the turn goes to the first waiter, or is free.
  void pass() noexcept {
    turn_waiter* next = first();
    if (next == nullptr) {
      head_ = nullptr;
      return;
    }
    unlink(*next);
    next->granted(*next);
  }

  /// The stream closes: every waiter leaves the line with EBADF. The turn stays with the
  /// write that holds it (the close ends that one through its request).
  void drop_all() noexcept {
    while (turn_waiter* w = first()) {
      unlink(*w);
      w->dropped(*w, EBADF);
    }
  }

 private:
  /// The first waiter, or null when the line is empty.
  [[nodiscard]] turn_waiter* first() const noexcept { return head_ != &no_line_ ? head_ : nullptr; }

  void unlink(turn_waiter& w) noexcept {
    turn_waiter* head = head_;
    if (&w == head) {
      if (w.next_ != nullptr) {
        w.next_->prev_ = w.prev_;  // the last waiter
        head_ = w.next_;
      } else {
        head_ = &no_line_;  // the line is empty; the turn stays held
      }
    } else {
      w.prev_->next_ = w.next_;
      if (w.next_ != nullptr) {
        w.next_->prev_ = w.prev_;
      } else {
        head->prev_ = w.prev_;  // w was the last
      }
    }
    w.line_ = nullptr;
    if (w.timers_ != nullptr) std::exchange(w.timers_, nullptr)->remove_timer(w);
  }

  static void on_deadline(timer_node& t) noexcept {
    auto& w = static_cast<turn_waiter&>(t);  // the node is already out of the heap
    if (w.line_ != nullptr) w.line_->unlink(w);
    w.dropped(w, ETIMEDOUT);
  }

  // One word, as every stream's state has one: null when no write holds the turn, &no_line_
  // when one holds it and none waits, else the first waiter (whose prev_ is the last).
  turn_waiter* head_ = nullptr;
  static inline turn_waiter no_line_{};
};

/// A held turn, passed on when destroyed (a write task keeps one for its whole run).
class turn_hold {
 public:
  turn_hold() noexcept = default;
  explicit turn_hold(write_turn& t) noexcept : t_(&t) {}
  turn_hold(turn_hold&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  turn_hold& operator=(turn_hold&&) = delete;
  ~turn_hold() {
    if (t_ != nullptr) t_->pass();
  }

 private:
  write_turn* t_ = nullptr;
};

/// `co_await turn_awaiter{...}`: waits for the turn of a write task (a TLS write, shutdown or
/// close) and yields it held. Throws operation_cancelled when the task is cancelled before it
/// holds the turn (a turn handed to it before it resumed goes on to the next), ringo::timed_out
/// when `until` passes in the line, and std::system_error (EBADF) when the stream closes.
/// `name` appends what the write is to a message ("TLS write to 127.0.0.1:8443").
class turn_awaiter : suspension, turn_waiter {
 public:
  using name_fn = void (*)(const void* who, std::string& out);

  turn_awaiter(write_turn& t, deadline_clock::time_point until, name_fn name, const void* who,
               std::source_location where) noexcept
      : suspension(where), turn_(t), name_(name), who_(who) {
    deadline = until;
  }
  turn_awaiter(const turn_awaiter&) = delete;
  turn_awaiter& operator=(const turn_awaiter&) = delete;
  ~turn_awaiter() { turn_.remove(*this); }

  bool await_ready() noexcept { return !cancellation_due() && turn_.try_take(); }
  bool await_suspend(std::coroutine_handle<> h);
  turn_hold await_resume();

 private:
  static void on_granted(turn_waiter& w) noexcept;
  static void on_dropped(turn_waiter& w, int err) noexcept;
  static void on_cancel(wait_node& n) noexcept;
  static void describe_wait(const wait_node& n, std::string& out);

  write_turn& turn_;
  name_fn name_;
  const void* who_;
  int err_ = 0;
  bool granted_ = false;
};

}  // namespace ringo::detail
