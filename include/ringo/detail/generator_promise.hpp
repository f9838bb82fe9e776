#pragma once
// The promise of ringo::generator and the delegation chain of elements_of; included by
// <ringo/generator.hpp>, which defines the generator class these templates use.
#include <concepts>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <ringo/detail/frame_allocator.hpp>
#include <ringo/detail/resume.hpp>
#include <ringo/elements_of.hpp>

namespace ringo {

template <class Y, class S = void>
class generator;

namespace detail {

/// What next() holds in its optional: Y itself, or a reference_wrapper when Y is a reference
/// (std::optional cannot hold a reference).
template <class Y>
using generator_next_t = std::conditional_t<std::is_reference_v<Y>,
                                            std::reference_wrapper<std::remove_reference_t<Y>>, Y>;

inline constexpr const char* generator_moved_from_message =
    "ringo::generator used after being moved from: use the generator it was moved to";

// The promise of every generator in a delegation chain.
//
// A chain is the generator the caller holds (the root) and the generators it delegates to
// with elements_of, each suspended inside the previous one's co_yield, down to the innermost
// one (the leaf), which is the only one that runs. The root keeps a pointer to the leaf and the
// caller resumes the leaf directly, so an element costs the same at any depth; each nested
// generator links to its parent, to which it transfers control when it finishes.
template <class Y, class S>
class generator_promise : public recycled_frame {
  static_assert(!std::is_void_v<Y>, "a generator must yield something");
  static_assert(std::is_reference_v<Y> || std::is_same_v<Y, std::remove_cv_t<Y>>,
                "yield a plain value type or a reference, not a cv-qualified value");
  static_assert(std::is_void_v<S> || std::is_same_v<S, std::remove_cvref_t<S>>,
                "the sent type is void or a plain value type");

 public:
  using gen_type = generator<Y, S>;
  using handle = std::coroutine_handle<generator_promise>;
  using reference = std::conditional_t<std::is_reference_v<Y>, Y, Y&>;
  using pointer = std::add_pointer_t<reference>;

  gen_type get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  void return_void() const noexcept {}
  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  // A generator body cannot co_await: it runs inside next(), which cannot wait.
  template <class U>
  void await_transform(U&&) = delete;

  // Suspends at a co_yield and returns to whoever resumed the leaf; its result is what send()
  // passed (or the exception raise() passed).
  class yield_awaiter {
   public:
    explicit yield_awaiter(generator_promise& p) noexcept : promise_(&p) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    S await_resume() const { return promise_->take_sent(); }

   protected:
    generator_promise* promise_;
  };

  // co_yield of an lvalue: the consumer may move from the yielded value, so it gets a copy.
  class copy_awaiter : public yield_awaiter {
   public:
    template <class U>
    copy_awaiter(generator_promise& p, U&& value)
        : yield_awaiter(p), value_(std::forward<U>(value)) {}
    void await_suspend(std::coroutine_handle<>) noexcept {
      // Set here, not in yield_value: only now is the awaiter at its final address.
      this->promise_->root_->value_ = std::addressof(value_);
    }

   private:
    std::remove_cvref_t<Y> value_;
  };

  yield_awaiter yield_value(std::remove_reference_t<Y>&& value) noexcept
      requires(!std::is_lvalue_reference_v<Y>) {
    // The temporary lives until the co_yield expression ends, after the caller has used it.
    root_->value_ = std::addressof(value);
    return yield_awaiter{*this};
  }

  yield_awaiter yield_value(Y value) noexcept requires std::is_lvalue_reference_v<Y> {
    root_->value_ = std::addressof(value);
    return yield_awaiter{*this};
  }

  copy_awaiter yield_value(const Y& value) requires(!std::is_reference_v<Y> &&
                                                    std::copy_constructible<Y>) {
    return copy_awaiter{*this, value};
  }

  // co_yield elements_of(g) for a generator g of the same Y and S: the chain grows by g.
  class delegate_awaiter {
   public:
    explicit delegate_awaiter(gen_type& sub) noexcept : sub_(&sub) {}
    bool await_ready() const { return delegation_ready(*sub_); }
    std::coroutine_handle<> await_suspend(handle parent) const noexcept {
      return delegate(*sub_, parent.promise());
    }
    void await_resume() const { delegation_done(*sub_); }

   private:
    gen_type* sub_;
  };

  delegate_awaiter yield_value(elements_of<gen_type&> e) noexcept {
    return delegate_awaiter{e.range};
  }
  delegate_awaiter yield_value(elements_of<gen_type&&> e) noexcept {
    return delegate_awaiter{e.range};
  }

  // co_yield elements_of(r) for any other input range: a nested generator iterates it.
  class range_awaiter {
   public:
    explicit range_awaiter(gen_type sub) noexcept : sub_(std::move(sub)) {}
    bool await_ready() { return delegation_ready(sub_); }
    std::coroutine_handle<> await_suspend(handle parent) noexcept {
      return delegate(sub_, parent.promise());
    }
    void await_resume() { delegation_done(sub_); }

   private:
    gen_type sub_;
  };

  template <class R>
  range_awaiter yield_value(elements_of<R> e) requires(
      !std::same_as<std::remove_cvref_t<R>, gen_type> && std::ranges::input_range<R> &&
      std::convertible_to<std::ranges::range_reference_t<R>, Y>) {
    return range_awaiter{iterate<R>(static_cast<R>(e.range))};
  }

  class final_awaiter {
   public:
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(handle h) const noexcept {
      generator_promise& self = h.promise();
      generator_promise* parent = self.parent_;
      if (parent == nullptr) return std::noop_coroutine();  // the root: back to the caller
      self.root_->leaf_ = parent;
      self.root_ = &self;
      self.parent_ = nullptr;
      self.owner_slot_ = nullptr;
      return transfer_to(handle::from_promise(*parent));
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() const noexcept { return {}; }

  /// Runs the chain whose root is `root` to its next co_yield or to its end: true if it
  /// yielded. Rethrows an exception that escaped the body.
  static bool step(handle root) {
    // Small enough to inline into the caller's loop; the rare paths are out of line.
    generator_promise& p = root.promise();
    p.ensure_idle();
    p.started_ = true;
    p.running_ = true;
    // resume() does not throw: an exception escaping a body is caught by its promise.
    detail::resume(handle::from_promise(*p.leaf_));
    p.running_ = false;
    if (root.done()) [[unlikely]] {
      return p.rethrow_error();
    }
    return true;
  }

  /// The value of the pending co_yield of the chain whose root this is.
  reference current() const noexcept { return static_cast<reference>(*value_); }

  /// Where send() and raise() leave their argument: the leaf's pending co_yield picks it up.
  generator_promise& leaf() const noexcept { return *leaf_; }
  void set_sent(std::add_pointer_t<S> s) noexcept { sent_ = s; }
  void set_raised(std::exception_ptr e) noexcept { raised_ = std::move(e); }

  bool started() const noexcept { return started_; }
  void ensure_idle() const {
    if (running_) [[unlikely]] {
      throw_running();
    }
  }
  bool delegated_to() const noexcept { return root_ != this; }

  /// Destroys the chain whose root is `root`, innermost first, so even a deep chain is torn
  /// down without recursion: each generator's owner in its parent's frame is emptied first.
  static void destroy_chain(handle root) noexcept {
    generator_promise& r = root.promise();
    for (generator_promise* node = r.leaf_; node != &r;) {
      generator_promise* parent = node->parent_;
      *node->owner_slot_ = nullptr;
      handle::from_promise(*node).destroy();
      node = parent;
    }
    root.destroy();
  }

 private:
  S take_sent() {
    if (raised_) [[unlikely]] {
      std::rethrow_exception(std::exchange(raised_, nullptr));
    }
    if constexpr (!std::is_void_v<S>) {
      if (S* s = std::exchange(sent_, nullptr)) return std::move(*s);
      // Resumed without a send: elements_of resuming an already started generator, as
      // Python's `yield from` sends None.
      if constexpr (std::default_initializable<S>) {
        return S{};
      } else {
        throw std::logic_error(
            "ringo::elements_of: a started generator whose sent type has no default value "
            "cannot be delegated to; delegate to it before its first next()");
      }
    }
  }

  [[noreturn, gnu::noinline, gnu::cold]] static void throw_running() {
    throw std::logic_error(
        "ringo::generator resumed from inside its own body: a running generator cannot be "
        "advanced, closed or delegated to until it yields");
  }

  // The body has finished: rethrows what escaped it, if anything; else returns false.
  [[gnu::noinline]] bool rethrow_error() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return false;
  }

  template <class R>
  static gen_type iterate(R r) {
    for (auto&& x : r)
      co_yield static_cast<Y>(std::forward<decltype(x)>(x));
  }

  static bool delegation_ready(gen_type& sub);
  static std::coroutine_handle<> delegate(gen_type& sub, generator_promise& parent) noexcept;
  static void delegation_done(gen_type& sub);

  pointer value_ = nullptr;               // root: the leaf's pending yielded value
  generator_promise* leaf_ = this;        // root: the generator that runs
  generator_promise* root_ = this;        // the root of the chain this one is in
  generator_promise* parent_ = nullptr;   // nested: the generator that delegates to this
  handle* owner_slot_ = nullptr;          // nested: the handle in the parent that owns this
  std::add_pointer_t<S> sent_ = nullptr;  // leaf: the value send() passes to co_yield
  std::exception_ptr raised_;             // leaf: the exception raise() throws at co_yield
  std::exception_ptr error_;              // the exception that escaped this body
  bool started_ = false;
  bool running_ = false;  // root: a step is under way
};

// Defined out of the class: they reach into ringo::generator, which <ringo/generator.hpp>
// defines after including this header (a template's body is checked when it is used).

template <class Y, class S>
generator<Y, S> generator_promise<Y, S>::get_return_object() noexcept {
  return generator<Y, S>{handle::from_promise(*this)};
}

template <class Y, class S>
bool generator_promise<Y, S>::delegation_ready(gen_type& sub) {
  if (!sub.h_) {
    if (sub.closed_) return true;
    throw std::logic_error("ringo::elements_of a moved-from generator");
  }
  if (sub.h_.done()) return true;
  generator_promise& p = sub.h_.promise();
  p.ensure_idle();
  if (p.delegated_to()) {
    throw std::logic_error(
        "ringo::elements_of a generator that is running or already delegated to: a "
        "generator cannot delegate to itself or to one of the generators delegating to it");
  }
  return false;
}

template <class Y, class S>
std::coroutine_handle<> generator_promise<Y, S>::delegate(gen_type& sub,
                                                          generator_promise& parent) noexcept {
  generator_promise& child = sub.h_.promise();
  generator_promise* root = parent.root_;
  generator_promise* leaf = child.leaf_;
  // A started sub-generator may be delegating itself: its whole chain joins this one.
  for (generator_promise* node = leaf; node != &child; node = node->parent_)
    node->root_ = root;
  child.leaf_ = &child;
  child.root_ = root;
  child.parent_ = &parent;
  child.owner_slot_ = &sub.h_;
  child.started_ = true;
  root->leaf_ = leaf;
  return transfer_to(handle::from_promise(*leaf));
}

template <class Y, class S>
void generator_promise<Y, S>::delegation_done(gen_type& sub) {
  // The sub-generator has finished; an exception that escaped it goes on in this body.
  if (sub.h_ && sub.h_.promise().error_) {
    std::rethrow_exception(std::exchange(sub.h_.promise().error_, nullptr));
  }
}

}  // namespace detail
}  // namespace ringo
