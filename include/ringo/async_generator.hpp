#pragma once
/// \file
/// ringo::async_generator<T>: a coroutine that both co_awaits and co_yields, Python's async
/// generator; consumed with `while (auto v = co_await g.next())`.
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <ringo/detail/frame_allocator.hpp>
#include <ringo/detail/resume.hpp>

namespace ringo {

template <class T>
class async_generator;

namespace detail {

// Control passes back and forth by transfer: the consumer's co_await next() transfers to the
// body, and the body's co_yield (or its end) transfers back to the consumer, so a stream of
// any length produced without waiting keeps the stack flat.
template <class T>
class async_generator_promise : public recycled_frame {
  static_assert(!std::is_void_v<T>, "an async_generator must yield something");
  static_assert(std::is_reference_v<T> || std::is_same_v<T, std::remove_cv_t<T>>,
                "yield a plain value type or a reference, not a cv-qualified value");

 public:
  using handle = std::coroutine_handle<async_generator_promise>;
  using reference = std::conditional_t<std::is_reference_v<T>, T, T&>;
  using pointer = std::add_pointer_t<reference>;

  async_generator<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  void return_void() const noexcept {}
  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  // Hands control back to the consumer waiting in next(); used for co_yield and the end.
  class to_consumer {
   public:
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(handle h) const noexcept {
      return transfer_to(std::exchange(h.promise().consumer_, {}));
    }
    void await_resume() const noexcept {}
  };

  // co_yield of an lvalue: the consumer moves the value out, so it gets a copy.
  class copy_awaiter : public to_consumer {
   public:
    template <class U>
    explicit copy_awaiter(U&& value) : value_(std::forward<U>(value)) {}
    std::coroutine_handle<> await_suspend(handle h) noexcept {
      h.promise().value_ = std::addressof(value_);  // the awaiter's final address
      return to_consumer::await_suspend(h);
    }

   private:
    std::remove_cvref_t<T> value_;
  };

  to_consumer yield_value(std::remove_reference_t<T>&& value) noexcept
      requires(!std::is_lvalue_reference_v<T>) {
    value_ = std::addressof(value);  // lives until the co_yield expression ends
    return {};
  }
  to_consumer yield_value(T value) noexcept requires std::is_lvalue_reference_v<T> {
    value_ = std::addressof(value);
    return {};
  }
  copy_awaiter yield_value(const T& value) requires(!std::is_reference_v<T> &&
                                                    std::copy_constructible<T>) {
    return copy_awaiter{value};
  }

  to_consumer final_suspend() const noexcept { return {}; }

  pointer value_ = nullptr;           // the pending yielded value
  std::coroutine_handle<> consumer_;  // the coroutine waiting in next(), while one waits
  std::exception_ptr error_;          // the exception that escaped the body
};

}  // namespace detail

/// A lazy, move-only coroutine that yields values of type T and may co_await anything a
/// ringo::task can (other tasks, the runtime's awaitables) between yields.
///
/// A consumer coroutine pulls values with `while (auto v = co_await g.next())`: the body runs
/// from its last co_yield to its next, on the consumer's thread, and the consumer resumes with
/// the value, or with nullopt once the body has finished; an exception that escapes the body
/// propagates out of that `co_await`. Nothing runs before the first next(). Destroying the
/// generator destroys its frame (and whatever it was awaiting); it must not be destroyed while
/// a next() on it is pending.
template <class T>
class [[nodiscard]] async_generator {
 public:
  using promise_type = detail::async_generator_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = std::remove_cvref_t<T>;
  /// What `co_await next()` gives: the value (a reference_wrapper if T is a reference), or
  /// nullopt at the end.
  using next_type =
      std::optional<std::conditional_t<std::is_reference_v<T>,
                                       std::reference_wrapper<std::remove_reference_t<T>>, T>>;

  /// An async_generator with no body; next() on it throws std::logic_error.
  async_generator() noexcept = default;
  /// Takes over `other`'s coroutine; `other` becomes moved-from.
  async_generator(async_generator&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  /// Destroys this generator's coroutine and takes over `other`'s.
  async_generator& operator=(async_generator&& other) noexcept {
    if (this != &other) {
      destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  async_generator(const async_generator&) = delete;
  async_generator& operator=(const async_generator&) = delete;
  /// Destroys the frame, running the destructors of the body's locals.
  ~async_generator() { destroy(); }

  /// What next() returns; co_await it once.
  class next_awaiter {
   public:
    explicit next_awaiter(handle_type h) noexcept : h_(h) {}

    /// Throws std::logic_error if another next() on this generator is still pending.
    bool await_ready() const {
      if (h_.done()) return true;
      if (h_.promise().consumer_) {
        throw std::logic_error(
            "ringo::async_generator::next awaited while a previous next() is still pending: "
            "await each next() before asking for another");
      }
      return false;
    }
    /// Runs the body to its next co_yield or its end; the consumer resumes then.
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> consumer) const noexcept {
      h_.promise().consumer_ = consumer;
      return detail::transfer_to(h_);
    }
    /// The yielded value (moved out), or nullopt at the end; rethrows the body's exception.
    next_type await_resume() const {
      promise_type& p = h_.promise();
      if (h_.done()) [[unlikely]] {
        if (p.error_) std::rethrow_exception(std::exchange(p.error_, nullptr));
        return std::nullopt;
      }
      if constexpr (std::is_reference_v<T>) {
        return next_type{std::in_place, static_cast<T>(*p.value_)};
      } else {
        return next_type{std::in_place, std::move(*p.value_)};
      }
    }

   private:
    handle_type h_;
  };

  /// `co_await g.next()`: the next value, or nullopt once the body has finished (on every
  /// call after that too). Throws std::logic_error if the generator was moved from.
  [[nodiscard]] next_awaiter next() const {
    if (!h_) {
      throw std::logic_error(
          "ringo::async_generator used after being moved from: use the one it was moved to");
    }
    return next_awaiter{h_};
  }

 private:
  friend class detail::async_generator_promise<T>;
  explicit async_generator(handle_type h) noexcept : h_(h) {}

  void destroy() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }

  handle_type h_;
};

namespace detail {

template <class T>
async_generator<T> async_generator_promise<T>::get_return_object() noexcept {
  return async_generator<T>{handle::from_promise(*this)};
}

}  // namespace detail
}  // namespace ringo
