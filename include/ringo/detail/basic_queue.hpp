#pragma once
// The one implementation behind ringo::queue, lifo_queue and priority_queue: waiter lists,
// direct hand-off, capacity, close and task_done/join. A Store decides the order.
#include <coroutine>
#include <cstddef>
#include <iterator>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <ringo/detail/queue_stores.hpp>
#include <ringo/detail/suspension.hpp>
#include <ringo/detail/waiter_list.hpp>
#include <ringo/error.hpp>

namespace ringo::detail {

template <class T, class Store>
class basic_queue;

/// What put() returns: holds the item in the awaiting frame until the queue takes it. A put
/// that waits for room is granted a place when a get makes one, and fills it when it runs
/// again: cancelled before that, it hands the place on and its item stays its own, so a put
/// racing in when_any or under with_timeout puts its item once or not at all.
template <class T, class Store>
class queue_put_awaiter : list_waiter {
 public:
  queue_put_awaiter(basic_queue<T, Store>& q, T&& item, std::source_location where)
      : list_waiter(where), queue_(q), item_(std::move(item)) {}

  bool await_ready() {
    if (queue_.closed_) return true;  // await_resume throws
    if (cancellation_due()) [[unlikely]]
      return false;  // await_suspend delivers it
    done_ = queue_.try_put_now(item_);
    return done_;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    cancel = &on_cancel;
    describe = &describe_put;
    queue_.putters_.push_back(*this);
    park(h);
    return true;
  }
  void await_resume() {
    if (done_) return;
    if (granted_) return fill_place();
    throw_if_cancelled();
    throw queue_closed(fmt::format("ringo: put on a closed {}", Store::name));
  }

 private:
  friend class basic_queue<T, Store>;
  [[gnu::noinline]] void fill_place() {
    --queue_.granted_places_;
    if (cancelled_since_wake()) [[unlikely]] {
      queue_.grant_room();  // to the next waiting put
      throw operation_cancelled();
    }
    if (queue_.closed_) throw queue_closed(fmt::format("ringo: put on a closed {}", Store::name));
    queue_.put_granted(item_);
  }
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<queue_put_awaiter&>(n);
    if (self.linked()) self.queue_.putters_.erase(self);
    self.cancelled = true;
    self.wake();
  }
  static void describe_put(const wait_node& n, std::string& out) {
    out += "put to ";
    static_cast<const queue_put_awaiter&>(n).queue_.describe(out);
  }
  basic_queue<T, Store>& queue_;
  T item_;
  bool done_ = false;
  bool granted_ = false;  // a get made room for this put, which fills it when it runs
};

/// What get() returns: a put that finds it waiting moves its item straight into slot_.
template <class T, class Store>
class queue_get_awaiter : list_waiter {
 public:
  queue_get_awaiter(basic_queue<T, Store>& q, std::source_location where) noexcept
      : list_waiter(where), queue_(q) {}

  bool await_ready() const noexcept {
    return (queue_.store_.size() != 0 || queue_.closed_) && !cancellation_due();
  }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    cancel = &on_cancel;
    describe = &describe_get;
    queue_.getters_.push_back(*this);
    park(h);
    return true;
  }
  T await_resume() {
    if (slot_) [[likely]] {
      // Cancelled after a put handed it the item but before it resumed (it was racing in a
      // when_any whose other task won, or it timed out): the item goes back to the queue,
      // so a cancelled get never takes one.
      // (Only an item that moves without throwing: one lost half-way through the give-back
      // would be lost for good.)
      if constexpr (std::is_nothrow_move_constructible_v<T>) {
        if (task->cancel_pending) [[unlikely]]
          return give_back_cancelled();
      }
      return std::move(*slot_);
    }
    return resume_without_item();
  }

 private:
  friend class basic_queue<T, Store>;
  // Out of line: the hand-off above is the path that matters, and inlining this one into
  // every co_await would keep the compiler from inlining that.
  [[gnu::noinline]] T resume_without_item() {
    throw_if_cancelled();
    if (queue_.store_.size() != 0) return queue_.take_now();
    throw queue_closed(fmt::format("ringo: get on a closed, drained {}", Store::name));
  }
  [[gnu::noinline]] T give_back_cancelled() {
    try {
      queue_.put_back(std::move(*slot_));
    } catch (...) {
      // No memory to queue it again: the item is this task's after all, and the
      // cancellation waits for the task's next suspension point.
      return std::move(*slot_);
    }
    (void)task->take_cancellation();
    throw operation_cancelled();
  }
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<queue_get_awaiter&>(n);
    if (self.linked()) self.queue_.getters_.erase(self);
    self.cancelled = true;
    self.wake();
  }
  static void describe_get(const wait_node& n, std::string& out) {
    out += "get from ";
    static_cast<const queue_get_awaiter&>(n).queue_.describe(out);
  }
  basic_queue<T, Store>& queue_;
  std::optional<T> slot_;
};

/// What join() returns.
template <class T, class Store>
class queue_join_awaiter : list_waiter {
 public:
  queue_join_awaiter(basic_queue<T, Store>& q, std::source_location where) noexcept
      : list_waiter(where), queue_(q) {}

  bool await_ready() const noexcept { return queue_.unfinished_ == 0; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!prepare()) return false;
    cancel = &on_cancel;
    describe = &describe_join;
    queue_.joiners_.push_back(*this);
    park(h);
    return true;
  }
  void await_resume() const { throw_if_cancelled(); }

 private:
  static void on_cancel(wait_node& n) noexcept {
    auto& self = static_cast<queue_join_awaiter&>(n);
    if (self.linked()) self.queue_.joiners_.erase(self);
    self.cancelled = true;
    self.wake();
  }
  static void describe_join(const wait_node& n, std::string& out) {
    out += "join of ";
    static_cast<const queue_join_awaiter&>(n).queue_.describe(out);
  }
  basic_queue<T, Store>& queue_;
};

/// The queue proper; ringo::queue, lifo_queue and priority_queue derive from it with their
/// Store. One context's tasks only (no atomics). The queue must outlive its waiters.
template <class T, class Store>
class basic_queue {
 public:
  using value_type = T;

  /// A queue holding at most `capacity` items (0: unbounded).
  explicit basic_queue(std::size_t capacity = 0, Store store = Store{})
      : store_(std::move(store)), capacity_(capacity) {}
  basic_queue(const basic_queue&) = delete;
  basic_queue& operator=(const basic_queue&) = delete;

  /// Awaitable: adds `item`, waiting while the queue is full (first come, first served). If
  /// a get() waits, the item moves straight into that getter. A waiting put is granted its
  /// place by the get that makes room, and puts its item when it resumes, on its own context.
  /// Throws queue_closed on a closed queue (at once, or when the queue is closed before the
  /// item is in; the item is then dropped), operation_cancelled if cancelled before its item
  /// is in (also after it was granted a place: the place goes to the next waiting put), so a
  /// put racing in when_any or with_timeout puts its item once or not at all.
  [[nodiscard]] queue_put_awaiter<T, Store> put(
      T item, std::source_location where = std::source_location::current()) {
    return queue_put_awaiter<T, Store>{*this, std::move(item), where};
  }

  /// Awaitable: removes and returns the next item, waiting while the queue is empty. A
  /// waiting get resumes on its own context with the item handed to it. After close() it
  /// drains what is left, then throws queue_closed. Throws operation_cancelled if cancelled
  /// while waiting, also when the cancellation comes after an item was handed to it but
  /// before it resumed: that item goes back to the front of the queue (to the next waiting
  /// get, if there is one), so a cancelled get takes nothing, and a get racing in when_any or
  /// with_timeout loses no item. (A bounded queue may then hold one item over its capacity.
  /// An item whose move constructor may throw is returned instead, the cancellation then
  /// coming at the next suspension.)
  [[nodiscard]] queue_get_awaiter<T, Store> get(
      std::source_location where = std::source_location::current()) noexcept {
    return queue_get_awaiter<T, Store>{*this, where};
  }

  /// Adds `item` if there is room (put_nowait); returns false, leaving `item` as it was, if
  /// full. Throws queue_closed if the queue is closed.
  bool try_put(T&& item) {
    throw_if_closed();
    return try_put_now(item);
  }
  /// Copies `item` in if there is room; false if full. Throws queue_closed if closed.
  bool try_put(const T& item) {
    throw_if_closed();
    if (full()) return false;
    T copy(item);
    return try_put_now(copy);
  }

  /// Removes and returns the next item if there is one (get_nowait), else nullopt. On a
  /// closed queue that is empty, throws queue_closed.
  std::optional<T> try_get() {
    if (store_.size() != 0) return take_now();
    if (closed_) throw queue_closed(fmt::format("ringo: get on a closed, drained {}", Store::name));
    return std::nullopt;
  }

  /// Items in the queue (not counting those held by waiting puts).
  [[nodiscard]] std::size_t size() const noexcept { return store_.size(); }
  [[nodiscard]] bool empty() const noexcept { return store_.size() == 0; }
  /// True when bounded and a put would wait: `capacity` items held, counting the places
  /// granted to waiting puts that have not run yet.
  [[nodiscard]] bool full() const noexcept {
    return capacity_ != 0 && store_.size() + granted_places_ >= capacity_;
  }
  /// The bound given at construction (0: unbounded).
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// Items put and not yet marked done with task_done().
  [[nodiscard]] std::size_t unfinished() const noexcept { return unfinished_; }

  /// Marks one item taken earlier as processed (JoinableQueue.task_done); when every put
  /// item is done, join()s return. Throws std::logic_error if called more times than items
  /// were put.
  void task_done() {
    if (unfinished_ == 0) {
      throw std::logic_error(fmt::format(
          "ringo::{}::task_done called more times than items were put: call it once per item "
          "taken",
          Store::name));
    }
    if (--unfinished_ == 0) {
      while (!joiners_.empty())
        joiners_.pop_front().wake();
    }
  }

  /// Awaitable: waits until every item put has been marked with task_done() (at once if so
  /// already). Resumes on the awaiting task's context. Throws operation_cancelled if
  /// cancelled while waiting.
  [[nodiscard]] queue_join_awaiter<T, Store> join(
      std::source_location where = std::source_location::current()) noexcept {
    return queue_join_awaiter<T, Store>{*this, where};
  }

  /// Closes the queue: waiting and later puts throw queue_closed; gets take what is left and
  /// then throw queue_closed. Waiting tasks resume in a later turn of the loop. Idempotent.
  void close() noexcept {
    closed_ = true;
    while (!getters_.empty())
      getters_.pop_front().wake();
    while (!putters_.empty())
      putters_.pop_front().wake();
  }

  /// Appends "queue 0x... (2 of 4 items, 1 waiting to put, 0 waiting to get)" to `out`.
  void describe(std::string& out) const {
    fmt::format_to(std::back_inserter(out), "{} {} ({} item{}", Store::name, fmt::ptr(this),
                   store_.size(), store_.size() == 1 ? "" : "s");
    if (capacity_ != 0) fmt::format_to(std::back_inserter(out), " of {}", capacity_);
    fmt::format_to(std::back_inserter(out), ", {} waiting to put, {} waiting to get{})",
                   putters_.size(), getters_.size(), closed_ ? ", closed" : "");
  }

 private:
  friend class queue_put_awaiter<T, Store>;
  friend class queue_get_awaiter<T, Store>;
  friend class queue_join_awaiter<T, Store>;

  void throw_if_closed() const {
    if (closed_) throw queue_closed(fmt::format("ringo: put on a closed {}", Store::name));
  }

  /// Puts `item` without waiting: straight to the first getter, else into the store if there
  /// is room. Moves from `item` only on success.
  bool try_put_now(T& item) {
    if (!getters_.empty()) {
      auto& g = static_cast<queue_get_awaiter<T, Store>&>(getters_.pop_front());
      g.slot_.emplace(std::move(item));
      ++unfinished_;
      g.wake();
      return true;
    }
    if (full()) return false;
    store_.push(std::move(item));
    ++unfinished_;
    return true;
  }

  /// An item a cancelled get had been handed: to the next waiting get, else first in line in
  /// the store (past the capacity if need be: it was in the queue before the items there).
  /// Counted in unfinished_ already.
  void put_back(T&& item) {
    if (!getters_.empty()) {
      auto& g = static_cast<queue_get_awaiter<T, Store>&>(getters_.pop_front());
      g.slot_.emplace(std::move(item));
      g.wake();
      return;
    }
    store_.push_first(std::move(item));
  }

  /// Takes the next item (the store is not empty), then grants the room to the first waiting
  /// put.
  T take_now() {
    T v = store_.pop();
    grant_room();
    return v;
  }

  /// Grants a place to the first waiting put if there is room: it fills it when it runs.
  void grant_room() noexcept {
    if (putters_.empty() || full()) return;
    auto& p = static_cast<queue_put_awaiter<T, Store>&>(putters_.pop_front());
    ++granted_places_;
    p.granted_ = true;
    p.wake();
  }

  /// Fills a granted place: straight to the first getter, else into the store (past the
  /// capacity only where a cancelled get gave an item back meanwhile).
  void put_granted(T& item) {
    if (!getters_.empty()) {
      auto& g = static_cast<queue_get_awaiter<T, Store>&>(getters_.pop_front());
      g.slot_.emplace(std::move(item));
      g.wake();
    } else {
      store_.push(std::move(item));
    }
    ++unfinished_;
  }

  Store store_;
  waiter_list getters_;
  waiter_list putters_;
  waiter_list joiners_;
  std::size_t capacity_;
  std::size_t granted_places_ = 0;  // room granted to woken puts that have not filled it yet
  std::size_t unfinished_ = 0;
  bool closed_ = false;
};

}  // namespace ringo::detail
