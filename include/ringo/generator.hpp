#pragma once
/// \file
/// ringo::generator<Y, S>: Python's generators in C++. `co_yield y` hands y to the caller of
/// next() or to a range-for; `S s = co_yield y;` receives what the caller passes to send(s);
/// `co_yield ringo::elements_of(sub)` is `yield from sub`.
#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <ringo/detail/generator_promise.hpp>
#include <ringo/elements_of.hpp>

namespace ringo {

/// A lazy, move-only generator: a coroutine that yields values of type Y one at a time and,
/// when S is not void, receives a value of type S at each `co_yield` (`S s = co_yield y;`).
///
/// It is an input range: `for (auto& v : g)`, `g | std::views::take(5)`, the pipe taking a
/// named generator by reference (so it can go on after a take) and a temporary by move. It is
/// deliberately not a std::ranges::view: a view named in a pipe is copied, which a generator
/// cannot be. `*it` is a Y& to the value the body yielded (Y itself when Y is a reference),
/// valid until the generator is advanced; it may be moved from. The body runs on the caller's
/// thread, inside begin(), ++it, next(), send() and raise(), from its last co_yield to its next;
/// nothing runs before the first of these. A body cannot `co_await`. An exception that escapes the
/// body propagates out of the call that resumed it, and the generator is finished afterwards.
/// Destroying a generator destroys its frame, and the frames of the generators it delegates
/// to, running the destructors of their locals.
template <class Y, class S>
class [[nodiscard]] generator {
 public:
  using promise_type = detail::generator_promise<Y, S>;
  using handle_type = std::coroutine_handle<promise_type>;
  /// The type of `co_yield`'s operand.
  using yielded_type = Y;
  /// The type of the value of `co_yield` inside the body (void: there is no send).
  using sent_type = S;
  /// The type of the values, without reference or const.
  using value_type = std::remove_cvref_t<Y>;
  /// What `*it` returns: a reference to the yielded value.
  using reference = typename promise_type::reference;
  /// What next(), send() and raise() return: the next yielded value, or nullopt at the end.
  using next_type = std::optional<detail::generator_next_t<Y>>;

  /// A generator with no body: it yields nothing; next() on it throws std::logic_error.
  generator() noexcept = default;
  /// Takes over `other`'s coroutine; `other` becomes moved-from.
  generator(generator&& other) noexcept
      : h_(std::exchange(other.h_, {})), closed_(std::exchange(other.closed_, false)) {}
  /// Destroys this generator's coroutine (as close() does) and takes over `other`'s.
  generator& operator=(generator&& other) noexcept {
    if (this != &other) {
      destroy();
      h_ = std::exchange(other.h_, {});
      closed_ = std::exchange(other.closed_, false);
    }
    return *this;
  }
  generator(const generator&) = delete;
  generator& operator=(const generator&) = delete;
  /// Destroys the frame (and those of delegated-to generators) without resuming the body.
  ~generator() { destroy(); }

  /// Iterates the values of a generator; compares equal to std::default_sentinel at the end.
  class iterator {
   public:
    /// The iterator traits of an input iterator.
    using value_type = generator::value_type;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    /// An iterator that is already at the end.
    iterator() noexcept = default;

    /// The value of the pending co_yield.
    reference operator*() const noexcept { return h_.promise().current(); }
    /// Runs the body to its next co_yield; rethrows an exception that escapes it.
    iterator& operator++() {
      promise_type::step(h_);
      return *this;
    }
    /// Same as ++it (an input iterator has no value to return from it++).
    void operator++(int) { ++*this; }
    /// True when the body has finished.
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.h_ || it.h_.done();
    }

   private:
    friend class generator;
    explicit iterator(handle_type h) noexcept : h_(h) {}
    handle_type h_;
  };

  /// Runs the body to its next co_yield (to its first on a generator that has not started)
  /// and returns an iterator to that value. As in Python, iterating a generator again goes on
  /// from where the last iteration stopped. Throws std::logic_error if moved from.
  iterator begin() {
    if (!usable()) return iterator{};
    if (!h_.done()) promise_type::step(h_);
    return iterator{h_};
  }
  /// The end of the values.
  std::default_sentinel_t end() const noexcept { return std::default_sentinel; }

  /// Runs the body to its next co_yield and returns that value (moved out), or nullopt once
  /// the body has finished (Python's StopIteration), on every call after that too. On a
  /// two-way generator this is send(S{}).
  next_type next() requires(std::is_void_v<S> || std::default_initializable<S>) {
    if (!usable() || h_.done()) return std::nullopt;
    if constexpr (std::is_void_v<S>) {
      return resume_chain();
    } else {
      S s{};
      h_.promise().leaf().set_sent(std::addressof(s));
      return resume_chain();
    }
  }

  /// Resumes the body with `value` as the value of its pending co_yield and returns the next
  /// value yielded, or nullopt if the body finished. Throws std::logic_error on a generator
  /// that has not started: call next() first to run it to its first co_yield (priming).
  template <class U = S>
  requires(!std::is_void_v<U>) next_type send(std::type_identity_t<U> value) {
    if (!usable() || h_.done()) return std::nullopt;
    if (!h_.promise().started()) {
      throw std::logic_error(
          "ringo::generator::send on a just-started generator: call next() first to run it "
          "to its first co_yield (priming), then send values");
    }
    h_.promise().leaf().set_sent(std::addressof(value));
    return resume_chain();
  }

  /// Throws `e` inside the body at its pending co_yield (Python's `throw`): if the body
  /// catches it and yields again, returns that value; if the body then finishes, nullopt;
  /// otherwise the exception propagates out of raise(). On a generator that has not started,
  /// the body never runs: the generator is closed and `e` propagates, as it does from a
  /// finished generator. Throws std::logic_error if `e` is null.
  next_type raise(std::exception_ptr e) {
    if (!e) throw std::logic_error("ringo::generator::raise needs an exception to throw");
    if (!usable() || h_.done()) std::rethrow_exception(std::move(e));
    if (!h_.promise().started()) {
      close();
      std::rethrow_exception(std::move(e));
    }
    h_.promise().leaf().set_raised(std::move(e));
    return resume_chain();
  }

  /// Finishes the generator without resuming it: the frames of the chain are destroyed,
  /// innermost first, running the destructors of their locals (Python's GeneratorExit).
  /// next() returns nullopt afterwards. Throws std::logic_error from inside the body.
  void close() {
    if (!h_) return;
    h_.promise().ensure_idle();
    destroy();
    closed_ = true;
  }

 private:
  friend class detail::generator_promise<Y, S>;
  explicit generator(handle_type h) noexcept : h_(h) {}

  // False for a closed generator; throws for a moved-from or delegated-to one.
  bool usable() const {
    if (!h_) [[unlikely]] {
      if (closed_) return false;
      throw std::logic_error(detail::generator_moved_from_message);
    }
    if (h_.promise().delegated_to()) [[unlikely]] {
      throw std::logic_error(
          "ringo::generator is being delegated to with elements_of: advance the generator "
          "that delegates instead");
    }
    return true;
  }

  next_type resume_chain() {
    if (!promise_type::step(h_)) return std::nullopt;
    if constexpr (std::is_reference_v<Y>) {
      return next_type{std::in_place, h_.promise().current()};
    } else {
      return next_type{std::in_place, std::move(h_.promise().current())};
    }
  }

  void destroy() noexcept {
    if (h_) promise_type::destroy_chain(std::exchange(h_, {}));
  }

  handle_type h_;
  bool closed_ = false;  // finished by close() (or raise() before it started): no frame left
};

}  // namespace ringo
