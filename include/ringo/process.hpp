#pragma once
/// \file
/// ringo::process: a child process started, fed, read and waited for without blocking the loop
/// (asyncio.create_subprocess_exec).
#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include <ringo/file.hpp>
#include <ringo/task.hpp>

namespace ringo {

/// How process::spawn starts a child.
struct process_options {
  /// Connect the child's standard input, output or error to a pipe that the parent reaches
  /// through stdin_pipe(), stdout_pipe() or stderr_pipe(); unpiped ones are the parent's own.
  bool pipe_stdin = false;
  bool pipe_stdout = false;
  bool pipe_stderr = false;
  /// The child's working directory; empty: the parent's.
  std::string cwd;
  /// The child's whole environment, as "NAME=value" strings; empty: the parent's.
  std::vector<std::string> env;
};

/// What communicate() collected.
struct process_output {
  std::string out;  ///< everything the child wrote to its standard output (if piped)
  std::string err;  ///< everything it wrote to its standard error (if piped)
  int status = 0;   ///< as process::wait returns it
};

/// A child process. Move-only.
///
/// Its end is seen through a pidfd polled on the loop, like any descriptor: ringo installs no
/// SIGCHLD handler and never calls wait for children it did not start. (With SIGCHLD set to
/// SIG_IGN the kernel reaps children itself, and wait fails with ECHILD.)
///
/// Destroying a process whose end no wait has seen kills the child (SIGKILL), as closing the
/// transport of an asyncio subprocess does, and a thread of ringo's reaps it (on that thread,
/// not the loop's), so no zombie is left; wait() first to let it finish. Its pipes close with
/// it.
class process {
 public:
  /// An empty process (no child); assign one from spawn.
  process() noexcept;
  process(process&&) noexcept;
  process& operator=(process&&) noexcept;
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process();

  /// Starts `argv[0]` (looked up in the parent's PATH when it has no slash) with arguments
  /// `argv` (posix_spawn). The child starts with no signal blocked (a signal_set in the parent
  /// blocks its signals) and with SIGPIPE at its default action. Its pipes' ends in the parent
  /// are close-on-exec, and their reads and writes go through the loop. Returns once the child
  /// has run its program (posix_spawn waits for the exec, a fraction of a millisecond).
  ///
  /// With pipe_stdin, SIGPIPE is set to SIG_IGN in the parent if it was at its default action,
  /// so that writing to a child that is gone fails with EPIPE instead of ending the parent (as
  /// Python does at start).
  ///
  /// Throws std::system_error naming the program if it cannot be started: "spawn
  /// no-such-program: No such file or directory", "spawn ls in /no/such/dir: No such file or
  /// directory"; std::invalid_argument for an empty argv or program name.
  static process spawn(std::vector<std::string> argv, process_options options = {});

  /// The pipes to the child's standard input, output and error, as files: write_all and
  /// write_some, read_some, close. Throws std::logic_error if the process was spawned without
  /// that pipe.
  [[nodiscard]] file& stdin_pipe();
  [[nodiscard]] file& stdout_pipe();
  [[nodiscard]] file& stderr_pipe();

  /// Waits for the child to end and reaps it; returns its exit code, or minus the number of
  /// the signal that ended it (-9 for SIGKILL), as Python's returncode. Once the end is seen,
  /// every wait returns it at once. Several tasks of one context may wait at once. Cancellable
  /// (operation_cancelled): the child keeps running and a later wait still sees its end. The
  /// awaiting task resumes on its own context; the process must outlive the wait.
  task<int> wait(std::source_location where = std::source_location::current());

  /// Sends `sig` to the child (pidfd_send_signal); nothing once a wait has seen its end, as
  /// Python's send_signal. Throws std::invalid_argument for a number that is no signal (below
  /// 0 or above 64), std::system_error if the kernel refuses.
  void kill(int sig = SIGTERM);

  /// Writes `input` to the child's standard input and closes it, while reading its standard
  /// output and error to their ends, all at once (so a child that fills one pipe while the
  /// parent writes to another cannot deadlock them), then waits for the child. Unpiped
  /// streams give empty strings; a child that stops reading its input before the end (EPIPE)
  /// is no error. Throws std::logic_error if `input` is not empty and stdin is not piped,
  /// std::system_error from the pipes, operation_cancelled if cancelled (the child keeps
  /// running; what was read is dropped).
  task<process_output> communicate(std::string input = {},
                                   std::source_location where = std::source_location::current());

  /// The child's process id (0 for an empty process).
  [[nodiscard]] pid_t pid() const noexcept;
  /// The status a wait has seen (as wait() returns it), or nothing while none has.
  [[nodiscard]] std::optional<int> returncode() const noexcept;
  /// The program, argv[0].
  [[nodiscard]] const std::string& program() const noexcept;

 private:
  struct state;
  explicit process(std::unique_ptr<state> s) noexcept;
  state& checked(const char* what) const;
  // On the state, which stays where it is when the process object moves.
  static task<int> wait_on(state& s, std::source_location where);
  static task<process_output> communicate_with(state& s, std::string input,
                                               std::source_location where);
  std::unique_ptr<state> state_;
};

}  // namespace ringo
