// Which backend a context takes: by option, by RINGO_BACKEND, and by falling back to epoll
// where io_uring is refused (here by a seccomp filter, as Docker's default profile does).
#include <ringo/io_context_options.hpp>
// (its own header first: proves it stands alone)
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include <ringo/io_context.hpp>
#include <ringo/net.hpp>
#include <ringo/sleep.hpp>
#include <ringo/spawn.hpp>

#include "catch.hpp"
#include "tcp_pair.hpp"

using namespace std::chrono_literals;

namespace {

// Sets an environment variable for one scope and puts the old value back after.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

ringo::io_context_options with_backend(ringo::io_backend b) {
  ringo::io_context_options o;
  o.backend = b;
  return o;
}

// A sleep and an echo over loopback: the context does real work on its backend.
int sleep_and_echo(ringo::io_context& ctx) {
  return ctx.run([]() -> ringo::task<int> {
    co_await ringo::sleep_for(1ms);
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    auto p = co_await ringo_test::connected_pair(l);
    co_await p.client.write_all(std::string_view{"ping"});
    std::array<std::byte, 4> buf{};
    co_await p.server.read_exact(buf);
    co_return std::string_view{reinterpret_cast<const char*>(buf.data()), 4} == "ping" ? 1 : 0;
  }());
}

// Makes io_uring_setup, io_uring_enter and io_uring_register fail with EPERM for this process
// from now on (a child's, so that the test runner keeps io_uring).
bool refuse_io_uring() {
  sock_filter rules[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof rules / sizeof rules[0]), rules};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace

TEST_CASE("io_backend formats as its name", "[backend]") {
  CHECK(fmt::format("{}", ringo::io_backend::automatic) == "automatic");
  CHECK(fmt::format("{}", ringo::io_backend::io_uring) == "io_uring");
  CHECK(fmt::format("{:>6}", ringo::io_backend::epoll) == " epoll");
}

TEST_CASE("the options pick the backend, and a context says which it uses", "[backend]") {
  scoped_env env{"RINGO_BACKEND", "io_uring"};  // the options win over it
  ringo::io_context e{with_backend(ringo::io_backend::epoll)};
  CHECK(e.backend() == ringo::io_backend::epoll);
  CHECK(e.fallback_reason().empty());
  CHECK_FALSE(e.features().multishot_accept);
  CHECK(sleep_and_echo(e) == 1);

  ringo::io_context u{with_backend(ringo::io_backend::io_uring)};
  CHECK(u.backend() == ringo::io_backend::io_uring);
  CHECK(u.fallback_reason().empty());
  CHECK(sleep_and_echo(u) == 1);
}

TEST_CASE("RINGO_BACKEND picks the backend where the options leave it automatic", "[backend]") {
  {
    scoped_env env{"RINGO_BACKEND", "epoll"};
    ringo::io_context ctx;
    CHECK(ctx.backend() == ringo::io_backend::epoll);
    CHECK(ctx.fallback_reason().empty());
  }
  {
    scoped_env env{"RINGO_BACKEND", "auto"};
    ringo::io_context ctx;
    CHECK(ctx.backend() == ringo::io_backend::io_uring);  // this machine allows io_uring
  }
  {
    scoped_env env{"RINGO_BACKEND", "kqueue"};
    try {
      ringo::io_context ctx;
      FAIL("an unknown RINGO_BACKEND was taken");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string_view{e.what()}.find("'kqueue'") != std::string_view::npos);
      CHECK(std::string_view{e.what()}.find("io_uring, epoll or auto") != std::string_view::npos);
    }
  }
}

TEST_CASE("where seccomp refuses io_uring, automatic falls back to epoll and says why once",
          "[backend]") {
  int err_pipe[2];
  REQUIRE(::pipe(err_pipe) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child reports each failed check as a bit of its exit status.
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::close(err_pipe[0]);
    ::unsetenv("RINGO_BACKEND");
    int failed = 0;
    if (!refuse_io_uring()) ::_exit(64);
    try {
      ringo::io_context first;
      if (first.backend() != ringo::io_backend::epoll) failed |= 1;
      if (first.fallback_reason().find("seccomp") == std::string_view::npos) failed |= 2;
      if (sleep_and_echo(first) != 1) failed |= 4;
      ringo::io_context second;  // falls back too, and says nothing more
      if (second.backend() != ringo::io_backend::epoll) failed |= 1;
      if (second.fallback_reason() != first.fallback_reason()) failed |= 2;
    } catch (...) {
      failed |= 8;
    }
    try {
      ringo::io_context explicit_uring{with_backend(ringo::io_backend::io_uring)};
      failed |= 16;  // an explicit io_uring must not fall back
    } catch (const std::system_error& e) {
      if (e.code().value() != EPERM) failed |= 16;
      if (std::string_view{e.what()}.find("seccomp") == std::string_view::npos) failed |= 16;
    } catch (...) {
      failed |= 16;
    }
    std::fflush(stderr);
    ::_exit(failed);
  }
  ::close(err_pipe[1]);
  std::string err;
  char buf[512];
  for (ssize_t n; (n = ::read(err_pipe[0], buf, sizeof buf)) > 0;)
    err.append(buf, static_cast<std::size_t>(n));
  ::close(err_pipe[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  INFO("child's stderr: " << err);
  REQUIRE(WEXITSTATUS(status) != 64);  // seccomp could be installed
  CHECK((WEXITSTATUS(status) & 1) == 0);   // automatic took epoll
  CHECK((WEXITSTATUS(status) & 2) == 0);   // fallback_reason() names seccomp
  CHECK((WEXITSTATUS(status) & 4) == 0);   // and the context works
  CHECK((WEXITSTATUS(status) & 8) == 0);   // nothing threw
  CHECK((WEXITSTATUS(status) & 16) == 0);  // explicit io_uring throws the seccomp sentence
  CHECK(err.starts_with("ringo: io_uring unavailable (io_uring_setup was refused (EPERM): a "
                        "seccomp profile forbids it"));
  CHECK(err.ends_with("); using epoll\n"));
  CHECK(err.find('\n') == err.size() - 1);  // one line, for two contexts
}
