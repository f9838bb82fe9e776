#!/usr/bin/env bash
# suite.sh: ringo's benchmark suite, one command. Measures ringo against hand-written and
# production baselines on loopback and writes one markdown report with every figure, every
# ratio (ringo / baseline) and the target it is held to, marked PASS or MISS.
#
#   bench/suite.sh            the full suite (5 runs of 5 s per configuration; about 30 min)
#   bench/suite.sh --quick    1 run of 2 s per configuration: every workload end to end in minutes
#
# What it does:
#   - installs what is missing (apt-get, only the missing packages; `apt-get update` only then):
#     the build packages, libboost1.81-dev (or libboost-dev), nginx-light, wrk, openssl,
#     valgrind, linux-perf;
#   - builds build/release (-Dbuildtype=release, demos and benchmarks on; --build-dir DIR picks
#     another directory);
#   - checks that the machine is idle (load average, CPU busy share) and warns loudly if not;
#   - pins every server to CPU 0 and every client to CPU 1 (taskset), starts a fresh server for
#     each run, alternates the servers run by run so a disturbance hits all of them, and reads
#     the server's CPU time (utime + stime of the process and its children, /proc/PID/stat)
#     before and after the client: requests per server-CPU-second and server CPU-us per request;
#   - reports the median of the runs and their spread (min-max).
#
# Servers: ringo = demo/echo_server and demo/http_server; ringo-plain = demo/echo_server --plain
# (read_some into a buffer + write_all, the echo most programs would write); ringo-epoll = the
# ringo server on ringo's epoll backend; epoll = bench/epoll_echo_server; uring =
# bench/uring_echo_server (raw liburing: multishot accept and receive, a provided-buffer ring,
# DEFER_TASKRUN);
# asio-epoll / asio-uring = bench/asio_echo_server (Boost.Asio 1.81, co_spawn + use_awaitable,
# built on Asio's epoll reactor and on its io_uring backend); nginx = worker_processes 1,
# access_log off, a fixed plaintext body (config from bench/nginx.conf, in a temporary
# directory, run in the foreground and stopped after each run).
#
# Workloads (--only takes a space-separated subset of these names):
#   echo    ping-pong, 64 B and 512 B, 1, 50 and 500 connections (bench/load_client)
#   rate    fixed rate, 64 B: 100k requests/s over 100 connections, server CPU-us per request
#           (if a server cannot sustain it, the highest rate of 80k/60k/40k/20k that all
#           sustain), and 30k and 100k requests/s over 500 connections (ringo, epoll, uring):
#           requests per server-CPU-second and p99
#   stream  4 connections, 16 messages in flight (--pipeline 16) of 512 B and of 16 KiB: MB/s
#   http    wrk -t1 -c50 and -c256 keep-alive, and -c256 with bench/wrk_pipeline.lua (depth 16)
#   churn   one request per connection, 50 concurrent: wrk -H 'Connection: close' (ringo vs
#           nginx) and load_client --churn (echo: ringo vs epoll and Asio)
#   https   HTTPS: demo/http_server --cert --key against nginx (bench/nginx_tls.conf: one worker,
#           the same certificate, OpenSSL's defaults on both, so the same version and cipher,
#           which the report shows): wrk -t1 -c50 and -c256 keep-alive, and handshakes per
#           second (one request per connection, 50 concurrent: wrk -H 'Connection: close');
#           the certificate (EC P-256, made with the openssl command) lives in the run's
#           temporary directory
#   memory  server RSS per idle connection with 10,000 and 50,000 connections held by
#           bench/idle_client (capped below the RLIMIT_NOFILE hard limit when that is lower);
#           RSS per task with 1,000,000 tasks asleep in sleep_for (bench/sleepers)
#   micro   bench/coro_bench, sync_bench, thread_bench, and the same loops' instruction counts
#           under valgrind --tool=callgrind (instructions per operation = the difference
#           between a run of 2N and one of N units, divided by N: start-up cost cancels out)
#   profile where the echo server's CPU goes, kernel included (bench/profile.sh: perf with
#           a cpu-clock timer, ringo, ringo-epoll, epoll, uring and Asio, 50 connections x
#           64 B): the "why" behind the CPU figures
#
# Usage:
#   bench/suite.sh [--quick] [--runs N] [--seconds S] [--warmup W] [--only "echo http ..."]
#                  [--echo-connections "1 50 500"]
#                  [--build-dir DIR] [--report FILE] [--port P] [--no-install] [--no-build]
#     --quick         1 run, 2 s measured after 0.5 s warm-up (overrides earlier --runs etc.)
#     --runs N        runs per server and configuration (default 5)
#     --seconds S     measured seconds per run (default 5) after --warmup W (default 1)
#     --only LIST     run only these workloads (default: all)
#     --echo-connections "50 500"   connection counts of the echo ping-pong (default "1 50 500")
#     --build-dir DIR meson build directory (default build/release)
#     --report FILE   where the markdown report goes (default build/bench-report.md); it is
#                     also printed at the end
#     --port P        first TCP port to use on 127.0.0.1 (default 9400; the suite rotates
#                     through P .. P+99)
#     --no-install    do not install missing packages (workloads whose tools are missing are
#                     skipped with a note)
#     --no-build      use the programs already built in DIR
# Needs: bash, coreutils, util-linux (taskset), procps, awk; root or sudo to install packages.
# Benchmarks print figures; nothing here fails on speed. Exits non-zero only when the suite
# itself cannot run (a build fails, a server dies, a client reports errors in every run).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

BUILD=build/release
REPORT=build/bench-report.md
RUNS=5
RUN_SECONDS=5
WARMUP=1
QUICK=0
ONLY="echo rate stream http churn https memory micro profile"
ECHO_CONNECTIONS="1 50 500"
PORT_BASE=9400
DO_INSTALL=1
DO_BUILD=1
SERVER_CPU=0
CLIENT_CPU=1
ARGS_GIVEN="$*"

die() {
  printf 'suite: error: %s\n' "$*" >&2
  exit 1
}
note() { printf 'suite: %s\n' "$*" >&2; }
usage() {
  sed -n '/^# Usage/,/^# Needs/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while (($# > 0)); do
  case $1 in
    --quick) QUICK=1; RUNS=1; RUN_SECONDS=2; WARMUP=0.5; shift ;;
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --seconds) RUN_SECONDS=${2:?--seconds needs a value}; shift 2 ;;
    --warmup) WARMUP=${2:?--warmup needs a value}; shift 2 ;;
    --only) ONLY=${2:?--only needs a value}; shift 2 ;;
    --echo-connections) ECHO_CONNECTIONS=${2:?--echo-connections needs a value}; shift 2 ;;
    --build-dir) BUILD=${2:?--build-dir needs a value}; shift 2 ;;
    --report) REPORT=${2:?--report needs a value}; shift 2 ;;
    --port) PORT_BASE=${2:?--port needs a value}; shift 2 ;;
    --no-install) DO_INSTALL=0; shift ;;
    --no-build) DO_BUILD=0; shift ;;
    -h | --help) usage ;;
    *) note "unknown argument $1"; usage ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs takes a positive integer"
[[ $PORT_BASE =~ ^[0-9]+$ ]] || die "--port takes a number"
for w in $ONLY; do
  [[ " echo rate stream http churn https memory micro profile " == *" $w "* ]] || die "unknown workload '$w' in --only"
done
wants() { [[ " $ONLY " == *" $1 "* ]]; }
(($(nproc) >= 2)) || die "needs two CPUs (server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"

# ---------------------------------------------------------------- packages
pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
boost_version() { # prints e.g. 108100, or 0
  local v=0
  [[ -f /usr/include/boost/version.hpp ]] &&
    v=$(awk '/^#define BOOST_VERSION /{print $3}' /usr/include/boost/version.hpp)
  printf '%s\n' "${v:-0}"
}
if ((DO_INSTALL)); then
  want=("${RINGO_BUILD_PACKAGES[@]}" util-linux procps)
  wants http || wants churn && { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || want+=(nginx-light); }
  wants http || wants churn && { command -v wrk >/dev/null || want+=(wrk); }
  wants https && { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || want+=(nginx-light); }
  wants https && { command -v wrk >/dev/null || want+=(wrk); }
  wants https && { command -v openssl >/dev/null || want+=(openssl); }
  wants micro && { command -v valgrind >/dev/null || want+=(valgrind); }
  wants profile && { command -v perf >/dev/null || want+=(linux-perf); }
  if (($(boost_version) < 108100)); then
    if apt-cache show libboost1.81-dev >/dev/null 2>&1; then want+=(libboost1.81-dev); else want+=(libboost-dev); fi
  fi
  ringo_install_packages "${want[@]}" >&2 || die "installing packages failed"
fi
export PATH=$PATH:/usr/sbin
for tool in taskset getconf awk sort ps; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
CLK_TCK=$(getconf CLK_TCK)
HAVE_NGINX=0; command -v nginx >/dev/null && HAVE_NGINX=1
HAVE_WRK=0; command -v wrk >/dev/null && HAVE_WRK=1
HAVE_VALGRIND=0; command -v valgrind >/dev/null && HAVE_VALGRIND=1

# ---------------------------------------------------------------- build
if ((DO_BUILD)); then
  command -v meson >/dev/null && command -v ninja >/dev/null || die "meson and ninja are missing"
  if [[ ! -f $BUILD/build.ninja ]]; then
    note "configuring $BUILD (release, demos and benchmarks)"
    meson setup "$BUILD" -Dbuildtype=release -Ddemos=enabled -Dbenchmarks=enabled >/dev/null ||
      die "meson setup $BUILD failed"
  else
    # scripts/main configures build/release without benchmarks: switch them on again.
    meson configure "$BUILD" -Dbuildtype=release -Ddemos=enabled -Dbenchmarks=enabled >/dev/null ||
      die "meson configure $BUILD failed"
  fi
  targets=(demo/echo_server demo/http_server bench/epoll_echo_server bench/uring_echo_server
    bench/load_client
    bench/idle_client bench/sleepers bench/coro_bench bench/sync_bench bench/thread_bench)
  # Regenerate first: a reconfigure (or Boost installed since) only shows after it.
  ninja -C "$BUILD" build.ninja >"$BUILD/suite-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/suite-build.log" >&2; die "meson could not regenerate $BUILD"; }
  ninja -C "$BUILD" -t targets all >"$BUILD/suite-targets.txt" 2>/dev/null || true
  if grep -q '^bench/asio_echo_server_epoll:' "$BUILD/suite-targets.txt"; then
    targets+=(bench/asio_echo_server_epoll bench/asio_echo_server_uring)
  else
    note "Boost >= 1.81 not found by meson: no Asio baseline (install libboost1.81-dev)"
  fi
  note "building ${#targets[@]} programs in $BUILD"
  ninja -C "$BUILD" "${targets[@]}" >"$BUILD/suite-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/suite-build.log" >&2; die "the build failed (ninja -C $BUILD ${targets[*]})"; }
fi
B=$BUILD
declare -A EXE=(
  [ringo]=$B/demo/echo_server [epoll]=$B/bench/epoll_echo_server
  [uring]=$B/bench/uring_echo_server
  [asio-epoll]=$B/bench/asio_echo_server_epoll [asio-uring]=$B/bench/asio_echo_server_uring
  [ringo-http]=$B/demo/http_server
)
CLIENT=$B/bench/load_client
for name in ringo epoll uring ringo-http; do
  [[ -x ${EXE[$name]} ]] || die "${EXE[$name]} is not built"
done
[[ -x $CLIENT ]] || die "$CLIENT is not built"
# ringo-epoll: the same echo server on ringo's epoll backend (RINGO_BACKEND=epoll), the one
# taken where io_uring is refused; held against the epoll C server.
# BASE_SERVERS run the churn and the fixed rate over 100 connections; ECHO_SERVERS, the
# ping-pong and the streaming, add the plain ringo echo and the raw io_uring server;
# RATE_SERVERS run the fixed rates over 500 connections.
BASE_SERVERS=(ringo ringo-epoll epoll)
ECHO_SERVERS=(ringo ringo-plain ringo-epoll epoll uring)
RATE_SERVERS=(ringo epoll uring)
PROFILE_SERVERS=(ringo ringo-epoll epoll uring)
HAVE_ASIO=0
if [[ -x ${EXE[asio-epoll]} && -x ${EXE[asio-uring]} ]]; then
  HAVE_ASIO=1
  BASE_SERVERS+=(asio-epoll asio-uring)
  ECHO_SERVERS+=(asio-epoll asio-uring)
  PROFILE_SERVERS+=(asio-epoll asio-uring)
fi

# ---------------------------------------------------------------- is the machine idle?
cpu_busy_percent() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); t=y[1]-x[1]; i=y[2]-x[2];
    printf "%.0f", (t > 0 ? 100 * (t - i) / t : 0)}'
}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(cpu_busy_percent)
IDLE_WARNING=""
if awk -v l="${LOAD_START%% *}" -v b="$BUSY_START" 'BEGIN{exit !(l > 0.5 || b > 10)}'; then
  IDLE_WARNING="WARNING: the machine is NOT idle (load average $LOAD_START, CPUs ${BUSY_START}% busy): other work competes with the server and the client; every figure below is noisy and may be unfair. Stop other work and rerun."
  printf '\n%s\n%s\n%s\n\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' "$IDLE_WARNING" \
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
fi

# ---------------------------------------------------------------- helpers
TMP=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf -- "$TMP"
}
trap cleanup EXIT
RESULTS=$TMP/results # key server run rps p99_us mbps per_cpu_s us_per_req client_cpu errors
COMMANDS=$TMP/commands
: >"$RESULTS"
: >"$COMMANDS"

alive() {
  local state=
  [[ -r /proc/$1/stat ]] && state=$(awk '{sub(/.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null)
  [[ -n $state && $state != Z ]]
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# cpu_ticks PID: utime + stime of the process and its child processes (nginx's worker), in
# clock ticks; the comm field may hold spaces and parentheses, so cut after the last ')'.
cpu_ticks() {
  local pids total=0 p t
  pids="$1 $(ps -o pid= --ppid "$1" 2>/dev/null | tr '\n' ' ')"
  for p in $pids; do
    t=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null) || t=0
    total=$((total + ${t:-0}))
  done
  printf '%s\n' "$total"
}
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
json_field() { awk -v k="\"$1\":" '{i = index($0, k); if (!i) exit 1; s = substr($0, i + length(k));
  sub(/[,}].*/, "", s); gsub(/"/, "", s); print s}'; }
record_command() { # KEY COMMAND...: the first command line of each configuration, for the report
  grep -qF -- "$1	" "$COMMANDS" || printf '%s\t%s\n' "$1" "${*:2}" >>"$COMMANDS"
}

PORT_SEQ=0
next_port() {
  local i p
  for ((i = 0; i < 100; i++)); do
    p=$((PORT_BASE + (PORT_SEQ++ % 100)))
    port_open "$p" || { PORT=$p; return 0; }
  done
  die "no free port in $PORT_BASE..$((PORT_BASE + 99)) (--port P picks another range)"
}

SERVER_CMD=()
# start_server NAME [PRLIMIT]: starts NAME on a fresh port (PORT), pinned to SERVER_CPU.
start_server() {
  local name=$1 log=$TMP/server.log
  next_port
  case $name in
    nginx)
      local pre=$TMP/nginx
      rm -rf -- "$pre"
      mkdir -p "$pre"
      sed -e "s|@PREFIX@|$pre|g" -e "s|@PORT@|$PORT|g" bench/nginx.conf >"$pre/nginx.conf"
      SERVER_CMD=(nginx -p "$pre" -c "$pre/nginx.conf" -e "$pre/error.log")
      ;;
    nginx-https)
      local pre=$TMP/nginx
      rm -rf -- "$pre"
      mkdir -p "$pre"
      sed -e "s|@PREFIX@|$pre|g" -e "s|@PORT@|$PORT|g" -e "s|@CERT@|$TLS_CERT|g" \
        -e "s|@KEY@|$TLS_KEY|g" bench/nginx_tls.conf >"$pre/nginx.conf"
      SERVER_CMD=(nginx -p "$pre" -c "$pre/nginx.conf" -e "$pre/error.log")
      ;;
    ringo-https) SERVER_CMD=("${EXE[ringo-http]}" --port "$PORT" --cert "$TLS_CERT" --key "$TLS_KEY") ;;
    ringo-epoll) SERVER_CMD=(env RINGO_BACKEND=epoll "${EXE[ringo]}" --port "$PORT") ;;
    ringo-plain) SERVER_CMD=("${EXE[ringo]}" --plain --port "$PORT") ;;
    *) SERVER_CMD=("${EXE[$name]}" --port "$PORT") ;;
  esac
  # A background job of a script ignores SIGINT unless told otherwise; the servers must not.
  taskset -c "$SERVER_CPU" env --default-signal=INT "${SERVER_CMD[@]}" >"$log" 2>&1 &
  server_pid=$!
  local waited=0
  until port_open "$PORT"; do
    if ! alive "$server_pid"; then
      cat "$log" >&2
      die "$name (${SERVER_CMD[*]}) exited before accepting on port $PORT"
    fi
    ((waited++ < 100)) || die "$name did not accept on port $PORT within 10 s"
    sleep 0.1
  done
  sleep 0.1 # nginx's worker starts after the master listens
}
stop_server() {
  local name=$1 sig=INT i rc=0
  [[ $name == nginx* ]] && sig=TERM
  kill "-$sig" "$server_pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive "$server_pid" || break
    sleep 0.1
  done
  if alive "$server_pid"; then
    note "$name did not exit within 10 s of SIG$sig; killed it"
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || rc=$?
  ((rc == 0)) || note "$name exited with status $rc after SIG$sig"
  server_pid=""
}
check_alive() { # NAME WHAT
  if ! alive "$server_pid"; then
    cat "$TMP/server.log" >&2
    die "the $1 server died during $2"
  fi
}
# add_result KEY SERVER RUN RPS P99 MBPS TOTAL TICKS CLIENT_CPU ERRORS
add_result() {
  local per_cpu_s us_per_req
  read -r per_cpu_s us_per_req < <(awk -v t="$8" -v hz="$CLK_TCK" -v n="$7" \
    'BEGIN{s = t / hz; if (s <= 0 || n <= 0) print "nan nan"; else printf "%.0f %.3f\n", n / s, s * 1e6 / n}')
  printf '%s %s %s %s %s %s %s %s %s %s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$per_cpu_s" "$us_per_req" \
    "$9" "${10}" >>"$RESULTS"
  printf '  %-22s %-10s run %d: %11.0f req/s  p99 %9.1f us  %8.2f MB/s  %9s req/server-CPU-s  %7s us/req  errors %s\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$per_cpu_s" "$us_per_req" "${10}" >&2
}

# run_load KEY SERVER RUN LOAD_CLIENT_ARGS...: one load_client run against a fresh server.
run_load() {
  local key=$1 name=$2 run=$3 out rc=0 before after
  shift 3
  start_server "$name"
  local cmd=(taskset -c "$CLIENT_CPU" "$CLIENT" --port "$PORT" "$@" --seconds "$RUN_SECONDS"
    --warmup "$WARMUP" --json)
  record_command "$key $name" "taskset -c $SERVER_CPU ${SERVER_CMD[*]} & ${cmd[*]}"
  before=$(cpu_ticks "$server_pid")
  out=$("${cmd[@]}" 2>"$TMP/client.err") || rc=$?
  check_alive "$name" "$key"
  after=$(cpu_ticks "$server_pid")
  stop_server "$name"
  local rps
  if ! rps=$(json_field rps <<<"$out"); then
    cat "$TMP/client.err" >&2
    die "load_client failed (status $rc) against $name ($key)"
  fi
  ((rc == 0)) || note "$name, $key, run $run: $(head -n 3 "$TMP/client.err" | tr '\n' ' ')"
  add_result "$key" "$name" "$run" "$rps" "$(json_field p99_us <<<"$out")" \
    "$(json_field mbps <<<"$out")" "$(json_field total_requests <<<"$out")" \
    $((after - before)) "$(json_field client_cpu_pct <<<"$out")" "$(json_field errors <<<"$out")"
}

# run_wrk KEY SERVER RUN WRK_ARGS...: one wrk run (client on CLIENT_CPU) against a fresh server;
# over HTTPS when WRK_SCHEME=https.
WRK_SCHEME=http
run_wrk() {
  local key=$1 name=$2 run=$3 out rc=0 before after
  shift 3
  start_server "$name"
  local cmd=(taskset -c "$CLIENT_CPU" wrk -t1 -d "${RUN_SECONDS}s" --latency "$@" "$WRK_SCHEME://127.0.0.1:$PORT/")
  record_command "$key $name" "taskset -c $SERVER_CPU ${SERVER_CMD[*]} & ${cmd[*]}"
  before=$(cpu_ticks "$server_pid")
  local c0 c1
  # wrk's CPU time: the growth of this shell's waited-for children's time (cutime + cstime)
  c0=$(awk '{sub(/.*\) /, ""); print $14 + $15}' "/proc/$$/stat")
  out=$("${cmd[@]}" 2>&1) || rc=$?
  c1=$(awk '{sub(/.*\) /, ""); print $14 + $15}' "/proc/$$/stat")
  check_alive "$name" "$key"
  after=$(cpu_ticks "$server_pid")
  stop_server "$name"
  printf '%s\n' "$out" >"$TMP/wrk.out"
  local rps total p99 mbps errors
  rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
  [[ -n $rps && $rc == 0 ]] || { printf '%s\n' "$out" >&2; die "wrk failed (status $rc) against $name ($key)"; }
  total=$(awk '/requests in/{print $1}' <<<"$out")
  p99=$(awk '$1 == "99%" {v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u);
    f = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : 1; printf "%.1f", v * f}' <<<"$out")
  # wrk records no latency for the responses of a pipelined batch (bench/wrk_pipeline.lua)
  [[ $p99 == 0.0 ]] && p99=nan
  mbps=$(awk '/^Transfer\/sec:/{v = $2; u = v; sub(/[A-Za-z]+$/, "", v); sub(/^[0-9.]+/, "", u);
    f = (u == "KB") ? 1.024e-3 : (u == "MB") ? 1.048576 : (u == "GB") ? 1073.741824 : 1e-6; printf "%.2f", v * f}' <<<"$out")
  errors=$(awk '/Socket errors:/{gsub(/,/, ""); e += $4 + $6 + $8 + $10} /Non-2xx/{e += $NF}
    END {print e + 0}' <<<"$out")
  local wrk_cpu
  wrk_cpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v s="$RUN_SECONDS" 'BEGIN{printf "%.1f", 100 * t / hz / s}')
  add_result "$key" "$name" "$run" "$rps" "${p99:-nan}" "${mbps:-nan}" "$total" $((after - before)) \
    "$wrk_cpu" "$errors"
}

# stats KEY SERVER COLUMN: "median min max" of a results column over the runs (4 = rps,
# 5 = p99, 6 = MB/s, 7 = requests per server-CPU-s, 8 = server CPU-us/request, 9 = client CPU %).
stats() {
  awk -v k="$1" -v n="$2" -v c="$3" '$1 == k && $2 == n {print $c}' "$RESULTS" | grep -v nan |
    sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan nan nan"; exit}
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR]}'
}
median() { local m; read -r m _ _ < <(stats "$@"); printf '%s\n' "$m"; }
errors_of() { awk -v k="$1" -v n="$2" '$1 == k && $2 == n {e += $10} END {print e + 0}' "$RESULTS"; }
# ratio A B: A / B as "1.23x", or n/a
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a == "nan" || b == "nan" || b + 0 == 0) print "n/a"; else printf "%.2fx", a / b}'; }
# verdict A B OP LIMIT: PASS when (A / B) OP LIMIT (OP is >= or <=), MISS otherwise
verdict() {
  awk -v a="$1" -v b="$2" -v op="$3" -v l="$4" 'BEGIN{if (a == "nan" || b == "nan" || b + 0 == 0) {print "n/a"; exit}
    r = a / b; ok = (op == ">=") ? r >= l : r <= l; print ok ? "PASS" : "**MISS**"}'
}
# best_asio KEY COLUMN high|low: the name of the better Asio build by that column's median
best_asio() {
  local a b
  a=$(median "$1" asio-epoll "$2")
  b=$(median "$1" asio-uring "$2")
  awk -v a="$a" -v b="$b" -v w="$3" 'BEGIN{if (b == "nan") {print "asio-epoll"; exit} if (a == "nan") {print "asio-uring"; exit}
    better = (w == "high") ? (b > a) : (b < a); print better ? "asio-uring" : "asio-epoll"}'
}

SECTIONS=$TMP/sections
: >"$SECTIONS"
out() { printf '%s\n' "$*" >>"$SECTIONS"; }
# table_rows KEY SERVERS...: one row per server: median (min-max) of each figure
table_header() {
  out "| configuration | server | requests/s (min-max) | p99 us | MB/s | requests per server-CPU-s | server CPU us/request | client CPU % | errors |"
  out "|---|---|---|---:|---:|---:|---:|---:|---:|"
}
table_rows() {
  local key=$1 name r rmin rmax
  shift
  for name in "$@"; do
    read -r r rmin rmax < <(stats "$key" "$name" 4)
    out "$(printf '| %s | %s | %.0f (%.0f-%.0f) | %.1f | %.2f | %.0f | %.2f | %.0f | %s |' "$key" "$name" \
      "$r" "$rmin" "$rmax" "$(median "$key" "$name" 5)" "$(median "$key" "$name" 6)" \
      "$(median "$key" "$name" 7)" "$(median "$key" "$name" 8)" "$(median "$key" "$name" 9)" \
      "$(errors_of "$key" "$name")")"
  done
}
TARGETS=$TMP/targets # markdown rows: | target | figure | ratio | verdict |
: >"$TARGETS"
target() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" >>"$TARGETS"; }
MISSES=0
count_miss() { [[ $1 == *MISS* ]] && MISSES=$((MISSES + 1)); return 0; }

printf 'suite: servers on CPU %s, clients on CPU %s; %s run(s) of %s s (+%s s warm-up); workloads: %s\n' \
  "$SERVER_CPU" "$CLIENT_CPU" "$RUNS" "$RUN_SECONDS" "$WARMUP" "$ONLY" >&2

# ---------------------------------------------------------------- 1. echo ping-pong
if wants echo; then
  note "echo ping-pong: ${ECHO_SERVERS[*]}"
  for conns in $ECHO_CONNECTIONS; do
    for size in 64 512; do
      for ((run = 1; run <= RUNS; run++)); do
        for name in "${ECHO_SERVERS[@]}"; do
          run_load "echo-c${conns}-${size}B" "$name" "$run" --connections "$conns" --size "$size"
        done
      done
    done
  done
  out "## 1. Echo ping-pong (closed loop, one message in flight per connection)"
  out ""
  table_header
  for conns in $ECHO_CONNECTIONS; do
    for size in 64 512; do
      table_rows "echo-c${conns}-${size}B" "${ECHO_SERVERS[@]}"
    done
  done
  out ""
  for conns in $ECHO_CONNECTIONS; do
    for size in 64 512; do
      k="echo-c${conns}-${size}B"
      r=$(median "$k" ringo 4)
      e=$(median "$k" epoll 4)
      v=$(verdict "$r" "$e" ">=" 1.0); count_miss "$v"
      target "$k: requests/s ringo / epoll >= 1.0x" "$(printf '%.0f / %.0f' "$r" "$e")" "$(ratio "$r" "$e")" "$v"
      if ((HAVE_ASIO)); then
        ba=$(best_asio "$k" 4 high)
        a=$(median "$k" "$ba" 4)
        v=$(verdict "$r" "$a" ">=" 1.0); count_miss "$v"
        target "$k: requests/s ringo / better Asio ($ba) >= 1.0x" "$(printf '%.0f / %.0f' "$r" "$a")" "$(ratio "$r" "$a")" "$v"
      fi
      rp=$(median "$k" ringo 5)
      ep=$(median "$k" epoll 5)
      v=$(verdict "$rp" "$ep" "<=" 1.0); count_miss "$v"
      target "$k: p99 ringo / epoll <= 1.0x" "$(printf '%.1f / %.1f us' "$rp" "$ep")" "$(ratio "$rp" "$ep")" "$v"
      if ((conns == 500)); then
        r=$(median "$k" ringo 7)
        e=$(median "$k" epoll 7)
        v=$(verdict "$r" "$e" ">=" 1.10); count_miss "$v"
        target "$k: requests per server-CPU-s ringo / epoll >= 1.10x" "$(printf '%.0f / %.0f' "$r" "$e")" "$(ratio "$r" "$e")" "$v"
        u=$(median "$k" uring 7)
        if ((size == 64)); then
          v=$(verdict "$r" "$u" ">=" 1.05); count_miss "$v"
          target "$k: requests per server-CPU-s ringo / uring >= 1.05x" "$(printf '%.0f / %.0f' "$r" "$u")" "$(ratio "$r" "$u")" "$v"
          p=$(median "$k" ringo-plain 7)
          v=$(verdict "$p" "$e" ">=" 1.0); count_miss "$v"
          target "$k: requests per server-CPU-s ringo-plain / epoll >= 1.0x" "$(printf '%.0f / %.0f' "$p" "$e")" "$(ratio "$p" "$e")" "$v"
        else
          target "$k: requests per server-CPU-s ringo / uring (no target)" "$(printf '%.0f / %.0f' "$r" "$u")" "$(ratio "$r" "$u")" "-"
        fi
      fi
      if ((size == 64 && (conns == 50 || conns == 500))); then
        r=$(median "$k" ringo-epoll 7)
        e=$(median "$k" epoll 7)
        v=$(verdict "$r" "$e" ">=" 0.95); count_miss "$v"
        target "$k: requests per server-CPU-s ringo-epoll / epoll >= 0.95x" "$(printf '%.0f / %.0f' "$r" "$e")" "$(ratio "$r" "$e")" "$v"
      fi
    done
  done
fi

# ---------------------------------------------------------------- 2. fixed rate
if wants rate; then
  note "fixed rate: ${BASE_SERVERS[*]}"
  RATE=""
  RATE_NOTE=""
  for try in 100000 80000 60000 40000 20000; do
    ok=1
    for name in "${BASE_SERVERS[@]}"; do
      run_load "probe-rate-$try" "$name" 1 --connections 100 --size 64 --rate "$try"
      got=$(median "probe-rate-$try" "$name" 4)
      if awk -v g="$got" -v t="$try" 'BEGIN{exit !(g < 0.97 * t)}'; then
        note "$name sustained only $got of $try requests/s"
        RATE_NOTE+="$name sustained $(printf '%.0f' "$got") of $try requests/s; "
        ok=0
      fi
    done
    if ((ok)); then RATE=$try; break; fi
  done
  if [[ -z $RATE ]]; then
    RATE=20000
    RATE_NOTE+="no rate tried was sustained by every server; figures at 20k requests/s."
  fi
  k="rate-${RATE}-c100-64B"
  if ((QUICK)); then
    # the probe at this rate is the one quick run
    awk -v p="probe-rate-$RATE" -v k="$k" '$1 == p {$1 = k; print}' "$RESULTS" >"$TMP/probe"
    cat "$TMP/probe" >>"$RESULTS"
  else
    for ((run = 1; run <= RUNS; run++)); do
      for name in "${BASE_SERVERS[@]}"; do
        run_load "$k" "$name" "$run" --connections 100 --size 64 --rate "$RATE"
      done
    done
  fi
  out "## 2. Fixed rate (open loop): $RATE requests/s over 100 connections, 64 B"
  out ""
  if ((RATE < 100000)); then
    out "**The machine could not sustain 100k requests/s with every server** ($RATE_NOTE); this is the highest of 100k/80k/60k/40k/20k that all sustained (>= 97% of the rate)."
    out ""
  fi
  table_header
  table_rows "$k" "${BASE_SERVERS[@]}"
  out ""
  r=$(median "$k" ringo 8)
  e=$(median "$k" epoll 8)
  v=$(verdict "$r" "$e" "<=" 0.9); count_miss "$v"
  target "$k: server CPU-us/request ringo / epoll <= 0.9x" "$(printf '%.3f / %.3f us' "$r" "$e")" "$(ratio "$r" "$e")" "$v"
  re=$(median "$k" ringo-epoll 8)
  v=$(verdict "$re" "$e" "<=" 1.053); count_miss "$v"  # the same as >= 0.95x requests per CPU-s
  target "$k: server CPU-us/request ringo-epoll / epoll <= 1.05x" "$(printf '%.3f / %.3f us' "$re" "$e")" "$(ratio "$re" "$e")" "$v"
  if ((HAVE_ASIO)); then
    ba=$(best_asio "$k" 8 low)
    a=$(median "$k" "$ba" 8)
    v=$(verdict "$r" "$a" "<=" 0.85); count_miss "$v"
    target "$k: server CPU-us/request ringo / better Asio ($ba) <= 0.85x" "$(printf '%.3f / %.3f us' "$r" "$a")" "$(ratio "$r" "$a")" "$v"
  fi

  # Light and heavy load over many connections: at 30k requests/s most requests find the server
  # asleep, so each pays a sleep and a wake-up; that is where server CPU per request differs.
  note "fixed rate over 500 connections: ${RATE_SERVERS[*]}"
  for rate in 30000 100000; do
    for ((run = 1; run <= RUNS; run++)); do
      for name in "${RATE_SERVERS[@]}"; do
        run_load "rate-${rate}-c500-64B" "$name" "$run" --connections 500 --size 64 --rate "$rate"
      done
    done
  done
  out "### Fixed rate over 500 connections, 64 B: 30k and 100k requests/s"
  out ""
  out "Requests per server-CPU-second here is the rate divided by the server's CPU seconds: the lower the CPU a server needs for the same work, the higher."
  out ""
  short=""
  for rate in 30000 100000; do
    for name in "${RATE_SERVERS[@]}"; do
      got=$(median "rate-${rate}-c500-64B" "$name" 4)
      if awk -v g="$got" -v t="$rate" 'BEGIN{exit !(g == "nan" || g < 0.97 * t)}'; then
        short+="$name sustained $(printf '%.0f' "$got") of $rate requests/s; "
      fi
    done
  done
  [[ -n $short ]] && { out "**Not every server sustained its rate** (>= 97%): ${short}their figures are closed-loop figures in disguise."; out ""; }
  table_header
  for rate in 30000 100000; do table_rows "rate-${rate}-c500-64B" "${RATE_SERVERS[@]}"; done
  out ""
  for rate in 30000 100000; do
    k="rate-${rate}-c500-64B"
    r=$(median "$k" ringo 7)
    e=$(median "$k" epoll 7)
    u=$(median "$k" uring 7)
    v=$(verdict "$r" "$e" ">=" 1.0); count_miss "$v"
    target "$k: requests per server-CPU-s ringo / epoll >= 1.0x" "$(printf '%.0f / %.0f' "$r" "$e")" "$(ratio "$r" "$e")" "$v"
    target "$k: requests per server-CPU-s ringo / uring (no target)" "$(printf '%.0f / %.0f' "$r" "$u")" "$(ratio "$r" "$u")" "-"
    rp=$(median "$k" ringo 5)
    ep=$(median "$k" epoll 5)
    v=$(verdict "$rp" "$ep" "<=" 1.10); count_miss "$v"
    target "$k: p99 ringo / epoll <= 1.10x" "$(printf '%.1f / %.1f us' "$rp" "$ep")" "$(ratio "$rp" "$ep")" "$v"
  done
fi

# ---------------------------------------------------------------- 3. streaming
if wants stream; then
  note "streaming: ${ECHO_SERVERS[*]}"
  for size in 512 16384; do
    for ((run = 1; run <= RUNS; run++)); do
      for name in "${ECHO_SERVERS[@]}"; do
        run_load "stream-c4-p16-${size}B" "$name" "$run" --connections 4 --size "$size" --pipeline 16
      done
    done
  done
  out "## 3. Streaming echo: 4 connections, 16 messages in flight each"
  out ""
  table_header
  for size in 512 16384; do table_rows "stream-c4-p16-${size}B" "${ECHO_SERVERS[@]}"; done
  out ""
  for size in 512 16384; do
    k="stream-c4-p16-${size}B"
    r=$(median "$k" ringo 6)
    e=$(median "$k" epoll 6)
    v=$(verdict "$r" "$e" ">=" 1.2); count_miss "$v"
    target "$k: MB/s ringo / epoll >= 1.2x" "$(printf '%.1f / %.1f MB/s' "$r" "$e")" "$(ratio "$r" "$e")" "$v"
    u=$(median "$k" uring 6)
    target "$k: MB/s ringo / uring (no target)" "$(printf '%.1f / %.1f MB/s' "$r" "$u")" "$(ratio "$r" "$u")" "-"
  done
fi

# ---------------------------------------------------------------- 4. HTTP
HTTP_SERVERS=(ringo-http)
((HAVE_NGINX)) && HTTP_SERVERS+=(nginx)
if wants http; then
  if ((!HAVE_WRK)); then
    out "## 4. HTTP: skipped (wrk is not installed)"
    out ""
  else
    note "HTTP: ${HTTP_SERVERS[*]}"
    for ((run = 1; run <= RUNS; run++)); do
      for name in "${HTTP_SERVERS[@]}"; do
        run_wrk "http-c50" "$name" "$run" -c50
        run_wrk "http-c256" "$name" "$run" -c256
        run_wrk "http-c256-pipeline16" "$name" "$run" -c256 -s bench/wrk_pipeline.lua
      done
    done
    out "## 4. HTTP/1.1 keep-alive plaintext (wrk -t1; MB/s is wrk's Transfer/sec; client CPU is wrk's)"
    out ""
    ((HAVE_NGINX)) || out "nginx is not installed: no baseline."
    table_header
    for k in http-c50 http-c256 http-c256-pipeline16; do table_rows "$k" "${HTTP_SERVERS[@]}"; done
    out ""
    if ((HAVE_NGINX)); then
      for k in http-c50 http-c256 http-c256-pipeline16; do
        r=$(median "$k" ringo-http 4)
        n=$(median "$k" nginx 4)
        v=$(verdict "$r" "$n" ">=" 1.10); count_miss "$v"
        target "$k: requests/s ringo / nginx >= 1.10x" "$(printf '%.0f / %.0f' "$r" "$n")" "$(ratio "$r" "$n")" "$v"
      done
      r=$(median http-c256 ringo-http 8)
      n=$(median http-c256 nginx 8)
      v=$(verdict "$r" "$n" "<=" 0.8); count_miss "$v"
      target "http-c256: server CPU-us/request ringo / nginx <= 0.8x" "$(printf '%.3f / %.3f us' "$r" "$n")" "$(ratio "$r" "$n")" "$v"
    fi
  fi
fi

# ---------------------------------------------------------------- 5. churn
if wants churn; then
  note "churn"
  for ((run = 1; run <= RUNS; run++)); do
    if ((HAVE_WRK)); then
      for name in "${HTTP_SERVERS[@]}"; do
        run_wrk "http-churn-c50" "$name" "$run" -c50 -H 'Connection: close'
      done
    fi
    for name in "${BASE_SERVERS[@]}"; do
      run_load "echo-churn-c50-64B" "$name" "$run" --connections 50 --size 64 --churn
    done
  done
  out "## 5. Connection churn: one request per connection, 50 concurrent"
  out ""
  table_header
  ((HAVE_WRK)) && table_rows "http-churn-c50" "${HTTP_SERVERS[@]}"
  table_rows "echo-churn-c50-64B" "${BASE_SERVERS[@]}"
  out ""
  out "(echo churn latency runs from the connect to the echo; HTTP churn is wrk with \`Connection: close\`.)"
  out ""
  if ((HAVE_WRK && HAVE_NGINX)); then
    r=$(median http-churn-c50 ringo-http 4)
    n=$(median http-churn-c50 nginx 4)
    v=$(verdict "$r" "$n" ">=" 1.0); count_miss "$v"
    target "http-churn-c50: requests/s ringo / nginx >= 1.0x" "$(printf '%.0f / %.0f' "$r" "$n")" "$(ratio "$r" "$n")" "$v"
  fi
  r=$(median echo-churn-c50-64B ringo 4)
  e=$(median echo-churn-c50-64B epoll 4)
  target "echo-churn-c50-64B: requests/s ringo / epoll (no target)" "$(printf '%.0f / %.0f' "$r" "$e")" "$(ratio "$r" "$e")" "-"
  if ((HAVE_ASIO)); then
    ba=$(best_asio echo-churn-c50-64B 4 high)
    a=$(median echo-churn-c50-64B "$ba" 4)
    v=$(verdict "$r" "$a" ">=" 1.0); count_miss "$v"
    target "echo-churn-c50-64B: requests/s ringo / better Asio ($ba) >= 1.0x" "$(printf '%.0f / %.0f' "$r" "$a")" "$(ratio "$r" "$a")" "$v"
  fi
fi

# ---------------------------------------------------------------- 6. memory
if wants memory; then
  note "memory: idle connections and sleeping tasks"
  MEM=$TMP/memory # count server run bytes_per_connection
  : >"$MEM"
  HARD=$(ulimit -Hn)
  MEM_NOTE=""
  COUNTS=""
  for want_n in 10000 50000; do
    n=$want_n
    if [[ $HARD != unlimited ]] && ((n + 100 > HARD)); then
      n=$(((HARD - 100) / 1000 * 1000))
      MEM_NOTE+="$want_n idle connections need more descriptors than the hard RLIMIT_NOFILE of $HARD allows (raising it needs CAP_SYS_RESOURCE, which this machine's container drops): measured with $n instead. "
    fi
    COUNTS+="$n "
  done
  COUNTS=$(tr ' ' '\n' <<<"$COUNTS" | sort -un | tr '\n' ' ')
  MEM_SERVERS=(ringo epoll)
  ((HAVE_ASIO)) && MEM_SERVERS+=(asio-epoll asio-uring)
  # Both sides need one descriptor per connection: raise the soft limit to the hard one (the
  # servers inherit it; demo/echo_server does not raise its own).
  ulimit -Sn "$HARD"
  for n in $COUNTS; do
    for ((run = 1; run <= RUNS; run++)); do
      for name in "${MEM_SERVERS[@]}"; do
        start_server "$name"
        sleep 0.2
        r0=$(rss_kib "$server_pid")
        cmd=(taskset -c "$CLIENT_CPU" "$B/bench/idle_client" --port "$PORT" --connections "$n")
        record_command "idle-$n $name" "ulimit -Sn $HARD; taskset -c $SERVER_CPU ${SERVER_CMD[*]} & ${cmd[*]}"
        coproc IDLE { "${cmd[@]}" 2>&1; }
        line=""
        read -r -t 180 line <&"${IDLE[0]}" || true
        if [[ $line != ready* ]]; then
          kill "$IDLE_PID" 2>/dev/null || true
          die "idle_client did not hold $n connections to $name: $line"
        fi
        sleep 0.5
        check_alive "$name" "the idle-connection test"
        r1=$(rss_kib "$server_pid")
        kill "$IDLE_PID" 2>/dev/null || true
        wait "$IDLE_PID" 2>/dev/null || true
        stop_server "$name"
        per=$(awk -v a="$r0" -v b="$r1" -v n="$n" 'BEGIN{printf "%.0f", (b - a) * 1024 / n}')
        printf '%s %s %s %s %s %s\n' "$n" "$name" "$run" "$per" "$r0" "$r1" >>"$MEM"
        printf '  idle-%s %-10s run %d: VmRSS %s -> %s KiB, %s B per connection\n' "$n" "$name" "$run" "$r0" "$r1" "$per" >&2
      done
    done
  done
  # sleeping tasks
  SLEEP=$TMP/sleepers
  : >"$SLEEP"
  record_command "sleepers" "$B/bench/sleepers --tasks 1000000 --json"
  for ((run = 1; run <= RUNS; run++)); do
    o=$("$B/bench/sleepers" --tasks 1000000 --json) || die "bench/sleepers failed"
    printf '%s\n' "$(json_field bytes_per_task <<<"$o") $(json_field rss_before <<<"$o") $(json_field rss_after <<<"$o")" >>"$SLEEP"
    printf '  sleepers run %d: %s B per task\n' "$run" "$(json_field bytes_per_task <<<"$o")" >&2
  done

  out "## 6. Memory"
  out ""
  out "Server VmRSS (/proc/PID/status) before the connections and with all of them open and idle (each greeted; bench/idle_client holds them), divided by the count."
  out ""
  [[ -n $MEM_NOTE ]] && { out "**Note:** $MEM_NOTE"; out ""; }
  out "| idle connections | server | bytes per connection, median (min-max) | VmRSS before -> after, KiB (last run) |"
  out "|---:|---|---|---|"
  for n in $COUNTS; do
    for name in "${MEM_SERVERS[@]}"; do
      read -r m lo hi < <(awk -v n="$n" -v s="$name" '$1 == n && $2 == s {print $4}' "$MEM" | sort -g |
        awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR]}')
      last=$(awk -v n="$n" -v s="$name" '$1 == n && $2 == s {l = $5 " -> " $6} END {print l}' "$MEM")
      out "| $n | $name | $m ($lo-$hi) | $last |"
      if [[ $name == ringo ]]; then
        v=$(verdict "$m" 1 "<=" 512); count_miss "$v"
        target "idle-$n: server RSS per idle connection (ringo) <= 512 B" "$m B" "-" "$v"
      fi
    done
  done
  out ""
  read -r m lo hi < <(awk '{print $1}' "$SLEEP" | sort -g |
    awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR]}')
  last=$(awk '{l = sprintf("%.1f -> %.1f MiB", $2 / 1048576, $3 / 1048576)} END {print l}' "$SLEEP")
  out "1,000,000 tasks asleep in \`sleep_for\` (bench/sleepers): **$m B per task** (min-max $lo-$hi; RSS $last in the last run)."
  out ""
  v=$(verdict "$m" 1 "<=" 160); count_miss "$v"
  target "sleepers: RSS per sleeping task <= 160 B" "$m B" "-" "$v"
fi

# ---------------------------------------------------------------- 7. micro
if wants micro; then
  note "micro benchmarks"
  for b in coro_bench sync_bench thread_bench; do
    record_command "micro $b" "taskset -c $SERVER_CPU $B/bench/$b"
    taskset -c "$SERVER_CPU" "$B/bench/$b" >"$TMP/$b.out" 2>&1 || die "bench/$b failed: $(tail -3 "$TMP/$b.out")"
  done
  # field FILE PATTERN: the first number after the pattern's line's colon or label
  ns_of() { awk -v p="$2" 'index($0, p) == 1 {s = substr($0, length(p) + 1); if (match(s, /[0-9]+\.[0-9]+/)) {print substr(s, RSTART, RLENGTH); exit}}' "$1"; }
  call=$(ns_of "$TMP/coro_bench.out" "hand-written loop, non-inlined call per element")
  gen=$(ns_of "$TMP/coro_bench.out" "generator<int> element")
  await=$(ns_of "$TMP/coro_bench.out" "task co_await, recycled frames")
  handoff=$(ns_of "$TMP/sync_bench.out" "hand-off, queue<int> ping-pong")
  handoff_ev=$(ns_of "$TMP/sync_bench.out" "hand-off, event pair ping-pong")
  yield_ns=$(ns_of "$TMP/sync_bench.out" "co_await yield(), one task alone")
  yield_pair_ns=$(ns_of "$TMP/sync_bench.out" "co_await yield(), two tasks in turn")

  # instruction counts: Ir(2N) - Ir(N), divided by N units
  IR=$TMP/ir # name units instructions_per_unit
  : >"$IR"
  if ((HAVE_VALGRIND)); then
    ir_total() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
      awk '/Collected :/{print $NF}'; }
    for name in call generator elements_of_1 elements_of_100 task_await task_await_new; do
      n=200000
      a=$(ir_total "$B/bench/coro_bench" --only "$name" "$n")
      b=$(ir_total "$B/bench/coro_bench" --only "$name" $((2 * n)))
      printf '%s %s\n' "coro:$name" "$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN{printf "%.1f", (b - a) / n}')" >>"$IR"
    done
    record_command "callgrind coro" "valgrind --tool=callgrind --callgrind-out-file=/dev/null $B/bench/coro_bench --only NAME N (N = 200000 and 400000)"
    # sync_bench SCALE divides 1,000,000 hand-offs and 50,000,000 locks by SCALE
    for name in queue_pingpong queue_stream event_pingpong yield yield_pair lock try_lock; do
      a=$(ir_total "$B/bench/sync_bench" 20 --only "$name")
      b=$(ir_total "$B/bench/sync_bench" 10 --only "$name")
      case $name in
        queue_pingpong | event_pingpong | yield_pair) units=100000 ;; # 2 per round
        queue_stream | yield) units=50000 ;;
        lock | try_lock) units=2500000 ;;
      esac
      printf '%s %s\n' "sync:$name" "$(awk -v a="$a" -v b="$b" -v n="$units" 'BEGIN{printf "%.1f", (b - a) / n}')" >>"$IR"
    done
    record_command "callgrind sync" "valgrind --tool=callgrind --callgrind-out-file=/dev/null $B/bench/sync_bench SCALE --only NAME (SCALE = 20 and 10)"
  fi
  ir() { awk -v k="$1" '$1 == k {print $2}' "$IR"; }

  out "## 7. Micro benchmarks (pinned to CPU $SERVER_CPU; each figure is the program's own best-of or median)"
  out ""
  out "| operation | ns | instructions per operation (callgrind) |"
  out "|---|---:|---:|"
  out "| non-inlined call per element (baseline) | $call | $(ir coro:call) |"
  out "| generator<int> element | $gen | $(ir coro:generator) |"
  out "| element through 1 level of elements_of | $(ns_of "$TMP/coro_bench.out" "element through 1 level of elements_of") | $(ir coro:elements_of_1) |"
  out "| element through 100 levels of elements_of | $(ns_of "$TMP/coro_bench.out" "element through 100 levels of elements_of") | $(ir coro:elements_of_100) |"
  out "| task co_await, recycled frames | $await | $(ir coro:task_await) |"
  out "| task co_await, plain new | $(ns_of "$TMP/coro_bench.out" "task co_await, plain new") | $(ir coro:task_await_new) |"
  out "| hand-off, queue<int> ping-pong | $handoff | $(ir sync:queue_pingpong) |"
  out "| item, queue<int> stream | $(ns_of "$TMP/sync_bench.out" "item, queue<int> stream") | $(ir sync:queue_stream) |"
  out "| hand-off, event pair ping-pong | $handoff_ev | $(ir sync:event_pingpong) |"
  out "| co_await yield(), one task alone | $yield_ns | $(ir sync:yield) |"
  out "| co_await yield(), two tasks in turn | $yield_pair_ns | $(ir sync:yield_pair) |"
  out "| uncontended co_await mutex.lock() + unlock | $(ns_of "$TMP/sync_bench.out" "uncontended co_await mutex.lock() + unlock:") | $(ir sync:lock) |"
  out "| uncontended try_lock() + unlock() | $(ns_of "$TMP/sync_bench.out" "uncontended try_lock() + unlock():") | $(ir sync:try_lock) |"
  out ""
  out "Thread crossings (bench/thread_bench; not run under callgrind, which serializes threads):"
  out ""
  out '```'
  while IFS= read -r l; do out "$l"; done <"$TMP/thread_bench.out"
  out '```'
  out ""
  out "<details><summary>full output of coro_bench and sync_bench</summary>"
  out ""
  out '```'
  while IFS= read -r l; do out "$l"; done < <(cat "$TMP/coro_bench.out" "$TMP/sync_bench.out")
  out '```'
  out "</details>"
  out ""
  v=$(verdict "$gen" "$call" "<=" 2.5); count_miss "$v"
  target "generator element / non-inlined call <= 2.5x (time)" "$gen / $call ns" "$(ratio "$gen" "$call")" "$v"
  if [[ -n $(ir coro:generator) ]]; then
    target "generator element / non-inlined call (instructions, no target)" "$(ir coro:generator) / $(ir coro:call)" "$(ratio "$(ir coro:generator)" "$(ir coro:call)")" "-"
  fi
  v=$(verdict "$await" 1 "<=" 25); count_miss "$v"
  target "task co_await <= 25 ns" "$await ns" "-" "$v"
  # Judged on the pair: every one of its yields is a trip through the ready queue, where a
  # task alone mostly goes on at once.
  v=$(verdict "$yield_pair_ns" 1 "<=" 10); count_miss "$v"
  target "yield() <= 10 ns (two tasks in turn; alone: $yield_ns ns)" "$yield_pair_ns ns" "-" "$v"
  v=$(verdict "$handoff" 1 "<=" 25); count_miss "$v"
  target "hand-off (queue ping-pong) <= 25 ns" "$handoff ns" "-" "$v"
  v=$(verdict "$handoff_ev" 1 "<=" 25); count_miss "$v"
  target "hand-off (event ping-pong) <= 25 ns" "$handoff_ev ns" "-" "$v"
fi

# ---------------------------------------------------------------- 8. profile
if wants profile; then
  note "profile"
  out "## 8. Where an echo server's CPU goes (perf, cpu-clock samples, kernel included)"
  out ""
  if ((EUID != 0)); then
    out "Skipped: sampling the kernel needs root."
  elif ! command -v perf >/dev/null; then
    out "Skipped: perf is not installed (linux-perf)."
  else
    prof=(bench/profile.sh --build-dir "$B" --servers "${PROFILE_SERVERS[*]}" --connections 50
      --size 64 --seconds "$RUN_SECONDS" --no-install)
    record_command "profile" "${prof[*]}"
    if "${prof[@]}" >"$TMP/profile.out" 2>&1; then
      out "Each sample is sorted by what the server was doing (bench/profile.sh says how); the"
      out "parts are in ns of server CPU per request. tcp-send includes, on loopback, the peer's"
      out "receive path, which runs on the sender's CPU."
      out ""
      out '```'
      out "$(cat "$TMP/profile.out")"
      out '```'
    else
      out "bench/profile.sh failed: $(tail -n 3 "$TMP/profile.out" | tr '\n' ' ')"
    fi
  fi
  out ""
fi

# ---------------------------------------------------------------- 9. HTTPS
# negotiated NAME: the TLS version and cipher a fresh NAME server negotiates with OpenSSL's
# client (wrk links the same libssl, so it gets the same).
negotiated() {
  start_server "$1"
  openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
    awk '/^New, /{sub(/^New, /, ""); gsub(/, Cipher is /, " "); print; exit}'
  stop_server "$1"
}
if wants https; then
  out "## 9. HTTPS: keep-alive and handshakes (wrk -t1; demo/http_server --cert --key vs nginx)"
  out ""
  if ((!HAVE_WRK || !HAVE_NGINX)) || ! command -v openssl >/dev/null; then
    out "Skipped: needs wrk, nginx and the openssl command."
    out ""
  elif ! grep -q 'RINGO_HAS_TLS=1' "$B/build.ninja"; then
    out "Skipped: $B was built without TLS (install libssl-dev and reconfigure: the meson option tls)."
    out ""
  else
    TLS_CERT=$TMP/tls-cert.pem
    TLS_KEY=$TMP/tls-key.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -keyout "$TLS_KEY" -out "$TLS_CERT" -subj /CN=localhost \
      -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 ||
      die "openssl could not make the benchmark certificate"
    HTTPS_SERVERS=(ringo-https nginx-https)
    note "HTTPS: ${HTTPS_SERVERS[*]}"
    declare -A TLS_NEGOTIATED=()
    for name in "${HTTPS_SERVERS[@]}"; do TLS_NEGOTIATED[$name]=$(negotiated "$name"); done
    WRK_SCHEME=https
    for ((run = 1; run <= RUNS; run++)); do
      for name in "${HTTPS_SERVERS[@]}"; do
        run_wrk "https-c50" "$name" "$run" -c50
        run_wrk "https-c256" "$name" "$run" -c256
        run_wrk "https-churn-c50" "$name" "$run" -c50 -H 'Connection: close'
      done
    done
    WRK_SCHEME=http
    out "Negotiated with OpenSSL's client: ringo ${TLS_NEGOTIATED[ringo-https]:-?}; nginx ${TLS_NEGOTIATED[nginx-https]:-?}. https-churn-c50 is one request per connection (a full handshake each, 50 concurrent): its requests/s are handshakes per second."
    out ""
    table_header
    for k in https-c50 https-c256 https-churn-c50; do table_rows "$k" "${HTTPS_SERVERS[@]}"; done
    out ""
    for k in https-c50 https-c256 https-churn-c50; do
      r=$(median "$k" ringo-https 4)
      n=$(median "$k" nginx-https 4)
      v=$(verdict "$r" "$n" ">=" 1.0); count_miss "$v"
      target "$k: requests/s ringo / nginx >= 1.0x" "$(printf '%.0f / %.0f' "$r" "$n")" "$(ratio "$r" "$n")" "$v"
      r=$(median "$k" ringo-https 8)
      n=$(median "$k" nginx-https 8)
      v=$(verdict "$r" "$n" "<=" 1.0); count_miss "$v"
      target "$k: server CPU-us/request ringo / nginx <= 1.0x" "$(printf '%.3f / %.3f us' "$r" "$n")" "$(ratio "$r" "$n")" "$v"
    done
  fi
fi

# ---------------------------------------------------------------- report
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$(dirname -- "$REPORT")"
{
  printf '# ringo benchmark report\n\n'
  printf 'Generated %s by `bench/suite.sh %s`' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$ARGS_GIVEN"
  printf ' (%s run(s) of %s s after %s s warm-up per server and configuration; medians, spread as min-max).\n\n' \
    "$RUNS" "$RUN_SECONDS" "$WARMUP"
  [[ -n $IDLE_WARNING ]] && printf '> **%s**\n\n' "$IDLE_WARNING"
  printf '## Machine\n\n'
  printf -- '- CPU: %s, %s logical CPUs; server pinned to CPU %s, client to CPU %s (taskset)\n' \
    "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)" "$(nproc)" "$SERVER_CPU" "$CLIENT_CPU"
  printf -- '- kernel: %s\n' "$(uname -sr)"
  printf -- '- compiler: %s\n' "$(${CXX:-g++} --version | head -n 1)"
  ngx_v="no nginx"; ((HAVE_NGINX)) && ngx_v=$(nginx -v 2>&1 | sed 's/^nginx version: //')
  wrk_v="no wrk"; ((HAVE_WRK)) && wrk_v=$({ wrk -v 2>&1 || true; } | head -n 1 | awk '{print $1, $2}')
  vg_v="no valgrind"; ((HAVE_VALGRIND)) && vg_v=$(valgrind --version)
  printf -- '- liburing %s, fmt %s, Boost %s, %s, %s, %s\n' \
    "$(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo '?')" \
    "$(dpkg-query -W -f='${Version}' libfmt-dev 2>/dev/null || echo '?')" \
    "$(awk '/^#define BOOST_LIB_VERSION/{gsub(/"/, "", $3); print $3}' /usr/include/boost/version.hpp 2>/dev/null || echo none)" \
    "$ngx_v" "$wrk_v" "$vg_v"
  printf -- '- load average at the start %s (CPUs %s%% busy over one second), at the end %s\n' \
    "$LOAD_START" "$BUSY_START" "$LOAD_END"
  printf -- '- build: %s (%s)\n\n' "$BUILD" "$(meson introspect --buildoptions "$BUILD" 2>/dev/null |
    python3 -c 'import json,sys; o={x["name"]:x["value"] for x in json.load(sys.stdin)}; print("buildtype=%s, benchmarks at -O3" % o.get("buildtype"))' 2>/dev/null || echo release)"
  printf '## Targets (ratio = ringo / baseline)\n\n'
  printf '%s target(s) missed.\n\n' "$MISSES"
  printf '| target | figures (ringo / baseline) | ratio | verdict |\n|---|---|---:|---|\n'
  cat "$TARGETS"
  printf '\n'
  cat "$SECTIONS"
  printf '## Commands\n\n'
  printf 'Every run starts a fresh server; `cpu_ticks` = utime + stime from /proc/PID/stat (and of its child processes: nginx'"'"'s worker) read before and after the client.\n\n'
  printf '```\n'
  awk -F'\t' '{printf "# %s\n%s\n", $1, $2}' "$COMMANDS"
  printf '```\n'
} >"$REPORT"
cat "$REPORT"
note "report written to $REPORT"
