// Child processes (include/ringo/process.hpp).
//
// posix_spawn starts the child (glibc's uses CLONE_VFORK and reports a failed exec, a missing
// program or working directory, as its own error, so spawn can throw it); a pidfd then stands
// for the child. A wait polls the pidfd through the reactor seam, like any descriptor, and
// reaps with waitid(P_PIDFD, WNOHANG) once it is readable: no SIGCHLD handler, and nothing
// blocks the loop thread.
//
// The parent's pipe ends stay blocking (and close-on-exec). io_uring waits for a blocking pipe
// by itself, where it would hand a non-blocking one's EAGAIN back; the epoll backend reads one
// only after readiness, and writes at most PIPE_BUF bytes after readiness, which a pipe always
// has room for then (lib/backend/epoll/).
#include <ringo/process.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <ringo/error.hpp>
#include <ringo/when_all.hpp>

#include "process/readable_awaiter.hpp"
#include "process/reaper.hpp"

extern char** environ;

namespace ringo {
namespace {

// 1: reaped (`status` set), 0: still running, -errno: waitid failed.
int try_reap(int pidfd, int& status) noexcept {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG) == 0) {
      if (info.si_pid == 0) return 0;
      status = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
      return 1;
    }
    if (errno != EINTR) return -errno;
  }
}

int send_signal(int pidfd, int sig) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// One pipe of a child being started: both ends are closed here unless taken.
struct pipe_ends {
  int parent = -1;
  int child = -1;
  pipe_ends() = default;
  pipe_ends(const pipe_ends&) = delete;
  pipe_ends& operator=(const pipe_ends&) = delete;
  ~pipe_ends() {
    if (parent >= 0) ::close(parent);
    if (child >= 0) ::close(child);
  }
  void open(bool child_reads, const std::string& what) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::system_category(), fmt::format("pipe for {}", what));
    }
    child = child_reads ? fds[0] : fds[1];
    parent = child_reads ? fds[1] : fds[0];
  }
};

struct spawn_setup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  spawn_setup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_setup() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
};

void check(int rc, const std::string& what) {
  if (rc != 0) throw std::system_error(rc, std::system_category(), what);
}

// Writing to a child that is gone must fail with EPIPE, not end the parent: SIGPIPE's default
// action goes, unless the program chose another.
void ignore_sigpipe_if_default() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) != 0) return;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) return;
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGPIPE, &ignore, nullptr);
  });
}

task<void> feed(file& in, const std::string& input, std::source_location where) {
  if (!in.is_open()) co_return;
  try {
    co_await in.write_all(input, where);
  } catch (const std::system_error& e) {
    // A child that stopped reading (and maybe ended) is no error, as in Python's communicate.
    if (e.code() != std::error_code(EPIPE, std::system_category())) throw;
  }
  co_await in.close(where);
}

task<void> drain(file& from, std::string& out, std::source_location where) {
  if (!from.is_open()) co_return;
  constexpr std::size_t chunk = 64 * 1024;
  for (;;) {
    const std::size_t old = out.size();
    out.resize(old + chunk);
    std::size_t n = 0;
    try {
      n = co_await from.read_some(std::as_writable_bytes(std::span{out.data() + old, chunk}),
                                  where);
    } catch (...) {
      out.resize(old);
      throw;
    }
    out.resize(old + n);
    if (n == 0) break;
  }
  co_await from.close(where);
}

}  // namespace

struct process::state {
  pid_t pid = 0;
  int pidfd = -1;
  std::string program;
  std::string waiting;  // "wait for sort (pid 41)"
  std::optional<int> status;
  bool piped[3] = {};
  file in, out, err;

  state() = default;
  state(const state&) = delete;
  state& operator=(const state&) = delete;
  ~state() {
    if (pidfd < 0) return;
    int ended = 0;
    if (!status && try_reap(pidfd, ended) == 0) {
      // Still running, and nobody will wait for it: it goes, and the reaper thread collects
      // it, so the loop thread does not wait for it to die.
      send_signal(pidfd, SIGKILL);
      detail::reap_in_background(pidfd);
      return;
    }
    ::close(pidfd);
  }
};

process::process() noexcept = default;
process::process(std::unique_ptr<state> s) noexcept : state_(std::move(s)) {}
process::process(process&&) noexcept = default;
process& process::operator=(process&&) noexcept = default;
process::~process() = default;

process::state& process::checked(const char* what) const {
  if (!state_) {
    throw std::logic_error(fmt::format(
        "ringo::process::{} on an empty process (default-made or moved from): assign one from "
        "process::spawn first",
        what));
  }
  return *state_;
}

process process::spawn(std::vector<std::string> argv, process_options options) {
  if (argv.empty()) {
    throw std::invalid_argument(
        "ringo::process::spawn: argv is empty; it needs at least the program to run");
  }
  if (argv[0].empty()) {
    throw std::invalid_argument("ringo::process::spawn: argv[0], the program to run, is empty");
  }
  auto s = std::make_unique<state>();
  s->program = argv[0];
  const std::string what = options.cwd.empty()
                               ? fmt::format("spawn {}", s->program)
                               : fmt::format("spawn {} in {}", s->program, options.cwd);

  pipe_ends pipes[3];
  const bool wanted[3] = {options.pipe_stdin, options.pipe_stdout, options.pipe_stderr};
  spawn_setup setup;
  for (int i = 0; i < 3; ++i) {
    if (!wanted[i]) continue;
    pipes[i].open(i == 0, what);
    // dup2 onto 0, 1 or 2 clears close-on-exec there; the originals close at the exec.
    check(posix_spawn_file_actions_adddup2(&setup.actions, pipes[i].child, i), what);
  }
  if (!options.cwd.empty()) {
    check(posix_spawn_file_actions_addchdir_np(&setup.actions, options.cwd.c_str()), what);
  }
  // The child starts with no signal blocked (a signal_set here blocks its signals on this
  // thread) and with SIGPIPE and SIGXFSZ at their default, as Python's restore_signals.
  sigset_t none;
  sigemptyset(&none);
  check(posix_spawnattr_setsigmask(&setup.attr, &none), what);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  check(posix_spawnattr_setsigdefault(&setup.attr, &defaults), what);
  check(posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
        what);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (std::string& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<char*> env;
  if (!options.env.empty()) {
    env.reserve(options.env.size() + 1);
    for (std::string& e : options.env)
      env.push_back(e.data());
    env.push_back(nullptr);
  }
  if (options.pipe_stdin) ignore_sigpipe_if_default();

  pid_t pid = 0;
  check(posix_spawnp(&pid, args[0], &setup.actions, &setup.attr, args.data(),
                     env.empty() ? environ : env.data()),
        what);
  s->pid = pid;
  s->pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (s->pidfd < 0) {
    // No way to wait for it on the loop: it must not run unseen. Killed, its end is near.
    const int err = errno;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw std::system_error(err, std::system_category(),
                            fmt::format("pidfd_open for {} (pid {})", s->program, pid));
  }
  // From here the state owns the child: if anything below throws, it is killed and reaped.
  s->waiting = fmt::format("wait for {} (pid {})", s->program, pid);
  static constexpr const char* stream_names[3] = {"stdin", "stdout", "stderr"};
  file* files[3] = {&s->in, &s->out, &s->err};
  for (int i = 0; i < 3; ++i) {
    if (!wanted[i]) continue;
    ::close(std::exchange(pipes[i].child, -1));
    std::string name = fmt::format("{} of {} (pid {})", stream_names[i], s->program, pid);
    *files[i] = file::adopt(std::exchange(pipes[i].parent, -1), std::move(name));
    s->piped[i] = true;
  }
  return process{std::move(s)};
}

file& process::stdin_pipe() {
  state& s = checked("stdin_pipe");
  if (!s.piped[0]) {
    throw std::logic_error(
        "ringo::process::stdin_pipe: the process was spawned without a pipe for stdin; set "
        "process_options::pipe_stdin");
  }
  return s.in;
}

file& process::stdout_pipe() {
  state& s = checked("stdout_pipe");
  if (!s.piped[1]) {
    throw std::logic_error(
        "ringo::process::stdout_pipe: the process was spawned without a pipe for stdout; set "
        "process_options::pipe_stdout");
  }
  return s.out;
}

file& process::stderr_pipe() {
  state& s = checked("stderr_pipe");
  if (!s.piped[2]) {
    throw std::logic_error(
        "ringo::process::stderr_pipe: the process was spawned without a pipe for stderr; set "
        "process_options::pipe_stderr");
  }
  return s.err;
}

task<int> process::wait(std::source_location where) {
  return wait_on(checked("wait"), where);
}

task<int> process::wait_on(state& s, std::source_location where) {
  for (;;) {
    if (s.status) co_return *s.status;  // (another wait saw it)
    int ended = 0;
    const int r = try_reap(s.pidfd, ended);
    if (r == 1) {
      s.status = ended;
      co_return ended;
    }
    if (r < 0) {
      throw std::system_error(-r, std::system_category(),
                              fmt::format("waitid for {} (pid {})", s.program, s.pid));
    }
    co_await detail::readable_awaiter{s.pidfd, s.waiting, where};
  }
}

void process::kill(int sig) {
  state& s = checked("kill");
  if (sig < 0 || sig > 64) {
    throw std::invalid_argument(
        fmt::format("ringo::process::kill: {} is not a signal number (0 to 64)", sig));
  }
  if (s.status) return;  // reaped: its pid may belong to another process by now
  if (send_signal(s.pidfd, sig) == 0 || errno == ESRCH) return;  // ESRCH: it has ended
  throw std::system_error(errno, std::system_category(),
                          fmt::format("kill {} (pid {}) with signal {}", s.program, s.pid, sig));
}

task<process_output> process::communicate(std::string input, std::source_location where) {
  return communicate_with(checked("communicate"), std::move(input), where);
}

task<process_output> process::communicate_with(state& s, std::string input,
                                               std::source_location where) {
  if (!input.empty() && !s.in.is_open()) {
    throw std::logic_error(
        fmt::format("ringo::process::communicate: input given, but {}'s stdin is {}; spawn it with "
                    "process_options::pipe_stdin and call communicate once",
                    s.program, s.piped[0] ? "closed already" : "not piped"));
  }
  process_output result;
  co_await when_all(feed(s.in, input, where), drain(s.out, result.out, where),
                    drain(s.err, result.err, where));
  result.status = co_await wait_on(s, where);
  co_return result;
}

pid_t process::pid() const noexcept {
  return state_ ? state_->pid : 0;
}

std::optional<int> process::returncode() const noexcept {
  return state_ ? state_->status : std::nullopt;
}

const std::string& process::program() const noexcept {
  static const std::string none;
  return state_ ? state_->program : none;
}

}  // namespace ringo
