#include <ringo/io_context.hpp>

#include <cxxabi.h>
#include <cstdlib>
#include <string_view>
#include <typeinfo>

#include <fmt/format.h>

#include <ringo/detail/deadline.hpp>
#include <ringo/error.hpp>

#include "backend/reactor.hpp"
#include "backend/reactor_factory.hpp"

namespace ringo {
namespace {

constexpr int ready_rounds_per_poll = 32;

std::string describe_exception(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    int status = 0;
    char* name = abi::__cxa_demangle(typeid(ex).name(), nullptr, nullptr, &status);
    std::string text = fmt::format("{}: {}", status == 0 ? name : typeid(ex).name(), ex.what());
    std::free(name);
    return text;
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

// A function's name as a reader wants it: g++ names a coroutine's body after its generated
// frame ("f(f()::_Z1fv.Frame*)"), so keep only what comes before the parameter list then.
std::string function_of(const std::source_location& where) {
  std::string_view name = where.function_name();
  if (name.find(".Frame*") != std::string_view::npos) {
    const auto paren = name.find('(');
    if (paren != std::string_view::npos) return fmt::format("{}()", name.substr(0, paren));
  }
  return std::string{name};
}

std::string_view state_name(detail::task_state s) {
  switch (s) {
    case detail::task_state::ready:
      return "ready";
    case detail::task_state::running:
      return "running";
    case detail::task_state::waiting:
      return "waiting";
    case detail::task_state::finished:
      return "finished";
  }
  return "?";
}

}  // namespace

namespace detail {

void report_lost_exception(const task_record& t, const std::exception_ptr& e) noexcept {
  if (is_cancellation(e)) return;  // a cancelled task that no one joins is not news
  try {
    fmt::print(stderr, "ringo: task #{} spawned at {}:{} in {} ended with {}\n",
               std::uint64_t{t.id}, t.spawned_at.file_name(), t.spawned_at.line(),
               function_of(t.spawned_at), describe_exception(e));
  } catch (...) {
  }
}

namespace {

[[noreturn]] void throw_in_sync_wait() {
  throw std::logic_error(
      "ringo::sync_wait: the task waited for an event (I/O, a timer, another task, a lock, a "
      "queue), which sync_wait cannot wait for; co_await it from the task instead, or use "
      "ringo::run");
}

}  // namespace

void throw_outside_task() {
  if (in_sync_wait) throw_in_sync_wait();
  throw std::logic_error(
      "ringo: awaited outside of a task: this operation needs the event loop, so await it "
      "inside a task run by ringo::run (or io_context::run)");
}

void throw_outside_loop() {
  if (in_sync_wait) throw_in_sync_wait();
  throw std::logic_error(
      "ringo: awaited outside of an event loop: this operation needs ringo::run");
}

void report_posted_exception(const std::exception_ptr& e) noexcept {
  try {
    fmt::print(stderr, "ringo: a function given to io_context::post threw {}\n",
               describe_exception(e));
  } catch (...) {
  }
}

}  // namespace detail

io_context::io_context(io_context_options options) {
  detail::made_reactor made = detail::make_reactor(options);
  reactor_ = std::move(made.backend);
  backend_ = made.kind;
  fallback_reason_ = std::move(made.fallback_reason);
}

io_context::~io_context() {
  // Tasks still alive here (run() ended by an error) may have requests in the kernel that
  // point into their frames: take those back before the frames go.
  reactor_->drain();
  teardown();
  discard_posted();
}

void io_context::discard_posted() noexcept {
  // Posted after the last run() returned, or to a context never run: those functions run at
  // the next run(), and with no run to come they go with the context, destroyed unrun (on
  // this thread), rather than leak with whatever they captured.
  detail::remote_node* n = nullptr;
  {
    std::lock_guard lock{remote_mutex_};
    n = std::exchange(remote_head_, nullptr);
    remote_tail_ = nullptr;
  }
  remote_pending_.store(false, std::memory_order_relaxed);
  while (n != nullptr) {
    detail::remote_node* next = n->next;
    if (n->discard != nullptr) n->discard(*n);
    n = next;
  }
}

const detail::reactor_features& detail::loop::features() const noexcept {
  return reactor_->features();
}

void detail::loop::submit(io_operation& op) { reactor_->submit(op); }

void detail::loop::cancel_request(io_operation& op) noexcept { reactor_->cancel(op); }

detail::loop::~loop() = default;

void io_context::bind_to_this_thread() {
  if (detail::this_thread_context != nullptr) {
    throw std::logic_error(
        "ringo::run called inside a running event loop: from a task, co_await the work (or "
        "spawn it) instead of starting another loop");
  }
  const auto me = std::this_thread::get_id();
  if (owner_ == std::thread::id{}) {
    owner_ = me;
    reactor_->start();
  } else if (owner_ != me) {
    throw std::logic_error(
        "ringo::io_context run on a second thread: a context belongs to the first thread that "
        "runs it; make one context per thread");
  }
}

void detail::loop::cancel(detail::task_record& t) noexcept {
  if (t.state == detail::task_state::finished || t.cancel_in_progress) return;
  if (t.state == detail::task_state::waiting && t.waiting_on != nullptr &&
      t.waiting_on->cancel != nullptr) {
    t.cancel_in_progress = true;
    t.waiting_on->cancel(*t.waiting_on);
  } else {
    t.cancel_pending = true;
  }
}

void detail::loop::adopt(detail::task_record& t) noexcept {
  t.context = this;
  t.id = next_task_id_++;
  t.prev_live = nullptr;
  t.next_live = live_head_;
  if (live_head_ != nullptr) live_head_->prev_live = &t;
  live_head_ = &t;
  ++live_count_;
  if (!t.daemon) ++live_non_daemon_;
  if (t.daemon && daemons_cancelled_) t.cancel_pending = true;
  schedule(t);
}

void detail::loop::retire(detail::task_record& t) noexcept {
  if (t.prev_live != nullptr) {
    t.prev_live->next_live = t.next_live;
  } else {
    live_head_ = t.next_live;
  }
  if (t.next_live != nullptr) t.next_live->prev_live = t.prev_live;
  t.prev_live = t.next_live = nullptr;
  --live_count_;
  if (!t.daemon) --live_non_daemon_;
}

void io_context::post(detail::remote_node& node) noexcept {
  node.next = nullptr;
  // Everything, the wake-up included, happens under the lock: the loop takes the list under
  // it, so it cannot run this node (which may end the last task and destroy the context)
  // while the poster still touches the context.
  std::lock_guard lock{remote_mutex_};
  if (remote_tail_ != nullptr) {
    remote_tail_->next = &node;
  } else {
    remote_head_ = &node;
  }
  remote_tail_ = &node;
  // Only the first post after the loop last looked pays for a wake-up: the rest coalesce.
  if (!remote_pending_.exchange(true, std::memory_order_acq_rel)) {
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    reactor_->wake();
  }
}

void io_context::run_remote() {
  if (!remote_pending_.load(std::memory_order_acquire)) return;
  // Clear the flag before taking the list: a post that lands after the take then sees the
  // flag clear and wakes the loop again, so nothing waits unnoticed.
  remote_pending_.store(false, std::memory_order_release);
  detail::remote_node* n = nullptr;
  {
    std::lock_guard lock{remote_mutex_};
    n = std::exchange(remote_head_, nullptr);
    remote_tail_ = nullptr;
  }
  while (n != nullptr) {
    detail::remote_node* next = n->next;
    n->run(*n);
    n = next;
  }
}

void io_context::run_ready() {
  // Runs the ready queue in rounds: a round is the tasks queued when it begins, and those they
  // make ready queue behind them for the next round, so a task that yields in a loop cannot
  // starve the rest. Tasks that wake each other (a queue hand-off, a yield loop) run
  // ready_rounds_per_poll rounds before the loop pays for a look at I/O and timers; the bound
  // keeps those from starving. One call runs them all, so a round costs one comparison here
  // rather than a trip through drive(). The count is a member because yield() may start a
  // round itself (continue_as_next_round).
  detail::task_record* round_end = ready_tail_;
  rounds_left_ = ready_rounds_per_poll;
  while (detail::task_record* t = ready_head_) {
    // schedule() tests the head, so the tail may dangle once the queue is empty.
    ready_head_ = t->next_ready;
    const bool ends_round = t == round_end;
    // The running task keeps the state `ready`: running_ says which task runs, and a second
    // write per resumption would only repeat it.
    running_ = t;
    detail::resume_from_loop(t->resume_point);  // `t` may be gone after this
    if (ends_round) {
      if (--rounds_left_ <= 0) break;
      round_end = ready_tail_;
    }
  }
  detail::end_resume_loop();
  rounds_left_ = 0;
  running_ = nullptr;
}

void io_context::cancel_daemons() noexcept {
  for (detail::task_record* t = live_head_; t != nullptr; t = t->next_live) {
    if (t->daemon) cancel(*t);
  }
}

std::string io_context::dump_tasks() const {
  std::string out = fmt::format("{} live task{}\n", live_count_, live_count_ == 1 ? "" : "s");
  for (const detail::task_record* t = live_head_; t != nullptr; t = t->next_live) {
    out += fmt::format("  task #{}{} spawned at {}:{} in {}: {}\n", std::uint64_t{t->id},
                       t->daemon ? " (daemon)" : "", t->spawned_at.file_name(),
                       t->spawned_at.line(), function_of(t->spawned_at),
                       state_name(t == running_ ? detail::task_state::running : t->state));
    if (t->state == detail::task_state::waiting && t->waiting_on != nullptr) {
      const detail::wait_node& w = *t->waiting_on;
      if (w.where.line() != 0) {
        out += fmt::format("      at {}:{} in {}\n", w.where.file_name(), w.where.line(),
                           function_of(w.where));
      }
      if (w.describe != nullptr) {
        out += "      on ";
        w.describe(w, out);
        out += '\n';
      }
    }
  }
  return out;
}

void io_context::drive() {
  struct current_guard {
    io_context* self;
    explicit current_guard(io_context* s) : self(s) { detail::this_thread_context = s; }
    ~current_guard() { detail::this_thread_context = nullptr; }
  } guard{this};
  // A loop started by a task that sync_wait runs: its own tasks may wait for events.
  const detail::sync_wait_scope not_in_sync_wait{false};

  std::string deadlock;
  for (;;) {
    if (ready_head_ != nullptr) run_ready();
    if (live_non_daemon_ == 0 && !daemons_cancelled_) {
      daemons_cancelled_ = true;
      cancel_daemons();
      continue;
    }
    // Done when no task is left, no I/O object dropped without close() still waits for the
    // kernel to hand back its requests (it frees itself on their last completion), and
    // nothing posted is left to run (a buffer handed back from another thread, say).
    if (live_count_ == 0 && orphans_ == 0 && !remote_pending_.load(std::memory_order_acquire)) {
      break;
    }
    const bool stalled = ready_head_ == nullptr && reactor_->in_flight() == 0 && timers_.empty() &&
                         remote_work_ == 0 && !remote_pending_.load(std::memory_order_acquire);
    if (stalled) {
      if (live_count_ == 0) break;  // only orphans were left, and the kernel has let go
      if (!deadlock.empty()) {
        teardown();  // cancelling did not unwind them: give up on the rest
        break;
      }
      deadlock = fmt::format(
          "ringo: deadlock: no task can ever run again (nothing is ready, no I/O is in flight, "
          "no timer is set, no other thread owes work) while tasks wait\n{}",
          dump_tasks());
      // Unwind every task with operation_cancelled so their guards and destructors run.
      for (detail::task_record* t = live_head_; t != nullptr; t = t->next_live)
        cancel(*t);
      continue;
    }
    reactor_->wait(wait_budget());
    fire_timers();
    run_remote();
  }
  daemons_cancelled_ = false;
  if (!deadlock.empty()) throw deadlock_error(deadlock);
}

void io_context::teardown() noexcept {
  while (live_head_ != nullptr) {
    detail::task_record& t = *live_head_;
    retire(t);
    detail::abandon_spawned(t);
  }
  ready_head_ = ready_tail_ = nullptr;
  timers_.clear();
}

}  // namespace ringo
