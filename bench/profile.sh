#!/usr/bin/env bash
# profile.sh: where an echo server's CPU goes, kernel included, under the suite's load.
#
# Samples each server with `perf record -e cpu-clock -g` (a timer, so it works in a VM without
# hardware counters) while bench/load_client drives it, server on CPU 0 and client on CPU 1 as
# in bench/suite.sh, and sorts every sample by what the server was doing when it was taken:
#
#   tcp-send   inside tcp_sendmsg: TCP and IP output, and, on loopback, the peer's whole receive
#              path (softirq, the peer socket, waking the client), which runs on the sender's CPU
#   tcp-recv   inside tcp_recvmsg: copying the request out and TCP's window bookkeeping
#   io_uring   io_uring's own work: submission, task work, poll wake-ups, completions
#   epoll      epoll_wait and its callbacks
#   sched      sleeping and waking (the scheduler)
#   syscall    system call entry and exit, descriptor lookup
#   user       the server's own code and its libraries
#   other      the rest of the kernel
#
# For each server it prints the CPU time per request and how it splits into those parts (in
# ns per request), then the top symbols by self time. This is the profile behind the suite's
# "why" when ringo misses a CPU target: run it beside the suite, not during it.
#
# Usage:
#   bench/profile.sh [--build-dir DIR] [--servers "ringo epoll"] [--connections N] [--size M]
#                    [--rate R] [--seconds S] [--top K] [--no-install]
#     --build-dir DIR   a release build with demos and benchmarks (default build/release; the
#                       suite builds it)
#     --servers LIST    any of ringo ringo-plain ringo-epoll epoll uring asio-epoll asio-uring
#                       (default "ringo epoll"; the names of bench/suite.sh)
#     --connections N, --size M, --rate R   load_client's load (default 50 x 64 B ping-pong;
#                       --rate R for a fixed rate instead)
#     --seconds S       seconds sampled per server (default 3), after 1 s of warm-up
#     --top K           symbols listed per server (default 15)
# Needs perf (Debian's linux-perf, installed when missing) and root (kernel samples).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

BUILD=build/release
SERVERS="ringo epoll"
CONNECTIONS=50
SIZE=64
RATE=""
SECONDS_SAMPLED=3
TOP=15
INSTALL=1
die() { ringo_die "profile.sh: $*"; }
while (($#)); do
  case $1 in
    --build-dir) BUILD=${2:?}; shift 2 ;;
    --servers) SERVERS=${2:?}; shift 2 ;;
    --connections) CONNECTIONS=${2:?}; shift 2 ;;
    --size) SIZE=${2:?}; shift 2 ;;
    --rate) RATE=${2:?}; shift 2 ;;
    --seconds) SECONDS_SAMPLED=${2:?}; shift 2 ;;
    --top) TOP=${2:?}; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (--help lists them)" ;;
  esac
done

((EUID == 0)) || die "needs root: kernel samples are what this is for"
if ! command -v perf >/dev/null; then
  ((INSTALL)) || die "perf is missing (apt-get install linux-perf)"
  ringo_install_packages linux-perf
fi
perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1 ||
  die "perf cannot sample here (perf record -e cpu-clock -- true fails)"

declare -A EXE=(
  [ringo]=$BUILD/demo/echo_server [ringo-epoll]=$BUILD/demo/echo_server
  [ringo-plain]=$BUILD/demo/echo_server
  [epoll]=$BUILD/bench/epoll_echo_server [uring]=$BUILD/bench/uring_echo_server
  [asio-epoll]=$BUILD/bench/asio_echo_server_epoll [asio-uring]=$BUILD/bench/asio_echo_server_uring
)
CLIENT=$BUILD/bench/load_client
[[ -x $CLIENT ]] || die "$CLIENT is not built (bench/suite.sh --only echo builds it)"
for s in $SERVERS; do
  [[ -n ${EXE[$s]:-} ]] || die "unknown server '$s' (ringo ringo-plain ringo-epoll epoll uring asio-epoll asio-uring)"
  [[ -x ${EXE[$s]} ]] || die "${EXE[$s]} is not built"
done

TMP=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill -KILL "$server_pid" 2>/dev/null
  rm -rf -- "$TMP"
}
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
json_field() { awk -v k="\"$1\":" '{i = index($0, k); if (!i) exit 1; s = substr($0, i + length(k));
  sub(/[,}].*/, "", s); gsub(/"/, "", s); print s}'; }

# Sorts `perf script` samples (a header line, then one frame per line, leaf first) into the
# parts above and prints "part samples" lines, then "total N".
classify() {
  awk '
    function flush(   part) {
      if (n == 0) return
      if (stack ~ / tcp_sendmsg /) part = "tcp-send"
      else if (stack ~ / tcp_recvmsg /) part = "tcp-recv"
      else if (!leaf_kernel) part = "user"
      else if (stack ~ / (__)?io_[a-z_]+ / || stack ~ /io_uring/) part = "io_uring"
      else if (stack ~ / (ep_[a-z_]+|do_epoll_wait|__x64_sys_epoll_wait) /) part = "epoll"
      else if (stack ~ / (schedule|__schedule|finish_task_switch[.a-z0-9]*|try_to_wake_up) /) part = "sched"
      else if (stack ~ / (do_syscall_64|entry_SYSCALL_64[a-z_]*|syscall_exit_to_user_mode|fdget|fget|fput) /) part = "syscall"
      else part = "other"
      count[part]++
      total++
      n = 0
      stack = " "
    }
    BEGIN { stack = " " }
    /^[^ \t]/ { flush(); next }             # a sample header
    /^[ \t]*$/ { flush(); next }
    {
      sym = $2
      sub(/\+0x[0-9a-f]+$/, "", sym)
      if (n == 0) leaf_kernel = ($0 ~ /\[kernel\.kallsyms\]/)
      stack = stack sym " "
      n++
    }
    END {
      flush()
      for (p in count) print p, count[p]
      print "total", total
    }'
}

printf 'profile: %s; %s connections x %s B%s; %s s sampled per server; server on CPU 0, client on CPU 1\n' \
  "$SERVERS" "$CONNECTIONS" "$SIZE" "${RATE:+ at $RATE requests/s}" "$SECONDS_SAMPLED"
printf 'machine: %s, %s CPUs, kernel %s\n\n' \
  "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)" "$(nproc)" "$(uname -r)"

PARTS=(tcp-send tcp-recv io_uring epoll sched syscall user other)
printf '%-11s %8s %8s' server "us/req" samples
for p in "${PARTS[@]}"; do printf ' %9s' "$p"; done
printf '   (ns per request)\n'

port=$((9300 + RANDOM % 500))
for s in $SERVERS; do
  port=$((port + 1))
  backend=()
  [[ $s == ringo-epoll ]] && backend=(RINGO_BACKEND=epoll)  # the same server on ringo's epoll backend
  variant=()
  [[ $s == ringo-plain ]] && variant=(--plain)  # read_some + write_all
  taskset -c 0 env --default-signal=INT "${backend[@]}" "${EXE[$s]}" "${variant[@]}" --port "$port" \
    >"$TMP/$s.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 100; i++)); do port_open "$port" && break; sleep 0.1; done
  port_open "$port" || die "$s did not accept on port $port"
  load=(--port "$port" --connections "$CONNECTIONS" --size "$SIZE"
    --seconds $((SECONDS_SAMPLED + 1)) --warmup 1 --json)
  [[ -n $RATE ]] && load+=(--rate "$RATE")
  taskset -c 1 "$CLIENT" "${load[@]}" >"$TMP/$s.json" 2>"$TMP/$s.err" &
  client_pid=$!
  sleep 1.5 # past the warm-up
  t0=$(ticks "$server_pid")
  perf record -q -e cpu-clock -g -p "$server_pid" -o "$TMP/$s.data" -- sleep "$SECONDS_SAMPLED" \
    >/dev/null 2>&1 || die "perf record failed on $s"
  t1=$(ticks "$server_pid")
  wait "$client_pid" || { cat "$TMP/$s.err" >&2; die "load_client failed against $s"; }
  kill -INT "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  # Requests in the sampled window, from the client's rate over its whole measured run.
  rps=$(json_field rps <"$TMP/$s.json")
  us=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v s="$SECONDS_SAMPLED" \
    'BEGIN{printf "%.3f", (t / hz) * 1e6 / (r * s)}')
  perf script -i "$TMP/$s.data" 2>/dev/null | classify >"$TMP/$s.parts"
  total=$(awk '$1 == "total"{print $2}' "$TMP/$s.parts")
  printf '%-11s %8s %8s' "$s" "$us" "$total"
  for p in "${PARTS[@]}"; do
    awk -v p="$p" -v t="$total" -v us="$us" '$1 == p{n = $2} END{printf " %9.0f", (t > 0 ? n / t * us * 1000 : 0)}' "$TMP/$s.parts"
  done
  printf '\n'
  perf report -i "$TMP/$s.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
    awk -v k="$TOP" '/^ +[0-9]/ && n < k {n++; print}' >"$TMP/$s.top"
done

for s in $SERVERS; do
  printf '\n%s: top %s symbols by self time\n' "$s" "$TOP"
  cat "$TMP/$s.top"
done
