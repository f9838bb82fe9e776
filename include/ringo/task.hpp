#pragma once
/// \file
/// ringo::task<T>: a lazy coroutine that produces one T (or an exception) for whoever
/// co_awaits it, Python's `async def` in C++.
#include <coroutine>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include <ringo/detail/frame_allocator.hpp>
#include <ringo/detail/resume.hpp>
#include <ringo/detail/task_record.hpp>

namespace ringo {

template <class T = void>
class task;

namespace detail {

struct task_access;

/// Ends a spawned task whose body has finished: wakes its joiners, takes it off its context,
/// and frees the frame if no join_handle holds it (printing an exception no one can see now).
/// Defined in lib/runtime/spawn.cpp.
void finish_spawned(task_record& record, const std::exception_ptr& error) noexcept;

/// What every task promise shares: laziness, handing control back to the awaiting coroutine
/// when the body ends, and room for the task's record should it be spawned.
class task_promise_base : public recycled_frame {
 public:
  task_promise_base() noexcept { set_continuation(std::noop_coroutine()); }
  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
      task_promise_base& p = h.promise();
      if (p.spawned()) [[unlikely]] {          // nobody awaits the frame itself
        finish_spawned(p.record(), p.error_);  // may free the frame
        return std::noop_coroutine();
      }
      return transfer_to(p.continuation());
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  /// The coroutine resumed when this task's body finishes (an awaited task's).
  void set_continuation(std::coroutine_handle<> h) noexcept {
    const std::uintptr_t word = reinterpret_cast<std::uintptr_t>(h.address()) | awaited_tag;
    std::memcpy(storage_, &word, sizeof word);
  }
  [[nodiscard]] std::coroutine_handle<> continuation() const noexcept {
    return std::coroutine_handle<>::from_address(
        reinterpret_cast<void*>(first_word() & ~awaited_tag));
  }
  /// Whether spawn made this task a root task (it has a record, and no continuation).
  [[nodiscard]] bool spawned() const noexcept { return (first_word() & awaited_tag) == 0; }

  /// Makes this task a root task: constructs its record in the frame, over the continuation.
  /// Called once, by spawn.
  task_record& make_record() noexcept {
    return *::new (static_cast<void*>(storage_)) task_record{};
  }
  /// The record made by make_record().
  task_record& record() noexcept { return *std::launder(reinterpret_cast<task_record*>(storage_)); }
  /// The exception the body ended with, if any.
  [[nodiscard]] const std::exception_ptr& error() const noexcept { return error_; }

 protected:
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }
  std::exception_ptr error_;

 private:
  static_assert(std::is_trivially_destructible_v<task_record>);
  // An awaited task's continuation or a spawned task's record, which never has both: the
  // continuation's address tagged with its low bit (a frame's address never has it set), or
  // the record, whose first word is a pointer (task_record::context) and never has it. So the
  // bit tells them apart, and a task's frame, spawned or not, pays for the record alone.
  static constexpr std::uintptr_t awaited_tag = 1;
  [[nodiscard]] std::uintptr_t first_word() const noexcept {
    std::uintptr_t word;
    std::memcpy(&word, storage_, sizeof word);
    return word;
  }
  alignas(task_record) unsigned char storage_[sizeof(task_record)];
};

template <class T>
class task_promise final : public task_promise_base {
 public:
  task<T> get_return_object() noexcept;

  template <class U = T>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.template emplace<1>(std::forward<U>(value));
  }

  T result() {
    rethrow_if_failed();
    return std::move(std::get<1>(value_));
  }

 private:
  std::variant<std::monostate, T> value_;
};

template <class T>
class task_promise<T&> final : public task_promise_base {
 public:
  task<T&> get_return_object() noexcept;
  void return_value(T& value) noexcept { value_ = std::addressof(value); }
  T& result() {
    rethrow_if_failed();
    return *value_;
  }

 private:
  T* value_ = nullptr;
};

template <>
class task_promise<void> final : public task_promise_base {
 public:
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void result() { rethrow_if_failed(); }
};

}  // namespace detail

/// A lazy, move-only coroutine returning T (a value, a reference, or void).
///
/// Nothing runs until the task is co_awaited; the awaiting coroutine is suspended, the task's
/// body runs on the same thread, and when it ends the awaiting coroutine resumes with its
/// result or its exception. Control passes by symmetric transfer (or ringo's resumption loop),
/// so a chain of any length of tasks that finish without suspending never grows the stack.
/// A task can be awaited once; awaiting it again, or awaiting a moved-from task, throws
/// std::logic_error. Destroying a task that was never awaited destroys its frame unrun.
template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  task(task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { destroy(); }

  /// True while the task holds a coroutine that has not been awaited.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }

  class awaiter {
   public:
    explicit awaiter(handle_type h) noexcept : h_(h) {}
    awaiter(awaiter&& other) noexcept : h_(std::exchange(other.h_, {})) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    awaiter& operator=(awaiter&&) = delete;
    ~awaiter() {
      if (h_) h_.destroy();
    }

    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      h_.promise().set_continuation(awaiting);
      return detail::transfer_to(h_);
    }
    T await_resume() { return h_.promise().result(); }

   private:
    handle_type h_;
  };

  /// Starts the task; the awaiting coroutine resumes with its result. Throws std::logic_error
  /// if the task was already awaited or moved from.
  awaiter operator co_await() && { return awaiter{take()}; }
  awaiter operator co_await() & { return awaiter{take()}; }

 private:
  friend class detail::task_promise<T>;
  friend struct detail::task_access;
  explicit task(handle_type h) noexcept : h_(h) {}

  handle_type take() {
    if (!h_) {
      throw std::logic_error(
          "ringo::task awaited twice or after being moved from: a task runs once, so await "
          "it once (keep its result, or make a new task to run the work again)");
    }
    return std::exchange(h_, {});
  }
  void destroy() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }

  handle_type h_;
};

namespace detail {

template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
template <class T>
task<T&> task_promise<T&>::get_return_object() noexcept {
  return task<T&>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise>::from_promise(*this)};
}

/// Lets the runtime take a task's coroutine to drive it itself.
struct task_access {
  template <class T>
  static typename task<T>::handle_type release(task<T>& t) {
    return t.take();
  }
};

}  // namespace detail
}  // namespace ringo
