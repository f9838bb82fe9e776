#!/usr/bin/env bash
# echo_bench.sh: the echo server comparison. Runs the ringo echo server (demo/echo_server) and
# the hand-written epoll baseline (bench/epoll_echo_server) under the same load from
# bench/load_client, and prints a markdown table. Benchmarks print figures; nothing here passes
# or fails on speed.
#
# Setup: each server pinned to CPU 0 (taskset -c 0), the load client to CPU 1, loopback only.
# Configurations: 50 and 500 connections x 64 B and 512 B messages, closed-loop ping-pong.
# Every run starts a fresh server; the two servers alternate run by run, so a disturbance hits
# both. Around each run the script reads the server's CPU time (utime + stime from
# /proc/PID/stat, clock ticks, all its threads) and divides by every echo the client
# completed (warm-up and drain included), giving requests per server-CPU-second and server
# CPU-us per request. On two cores the client may saturate before the server does; then
# requests/s says little and the CPU figures tell the servers apart (the client's CPU share is
# in the table).
#
# Usage (from anywhere):
#   bench/echo_bench.sh [--runs N] [--seconds S] [--warmup W] [--connections "50 500"]
#                       [--sizes "64 512"] [--port P] [--build-dir DIR] [--epoll-only] [--no-build]
#     --runs N        runs per server and configuration (default 5)
#     --seconds S     measured seconds per run (default 5), after --warmup W (default 1)
#     --build-dir DIR meson build directory (default build/release; created with
#                     -Dbuildtype=release when missing, demos and benchmarks switched on)
#     --epoll-only    run only the epoll baseline
#     --no-build      use the programs already built in DIR
#   Quick look:  bench/echo_bench.sh --runs 3 --seconds 3
# Without demo/echo_server (not written or not built) it runs only the epoll side and says so.
# Needs bash, coreutils, util-linux (taskset), awk, meson and ninja.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD=build/release
RUNS=5
RUN_SECONDS=5
WARMUP=1
CONNECTIONS_LIST="50 500"
SIZES="64 512"
PORT=9190
EPOLL_ONLY=0
DO_BUILD=1
SERVER_CPU=0
CLIENT_CPU=1

die() {
  printf 'echo_bench: error: %s\n' "$*" >&2
  exit 1
}
note() { printf 'echo_bench: %s\n' "$*" >&2; }
usage() {
  sed -n '/^# Usage/,/^# Needs/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while (($# > 0)); do
  case $1 in
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --seconds) RUN_SECONDS=${2:?--seconds needs a value}; shift 2 ;;
    --warmup) WARMUP=${2:?--warmup needs a value}; shift 2 ;;
    --connections) CONNECTIONS_LIST=${2:?--connections needs a value}; shift 2 ;;
    --sizes) SIZES=${2:?--sizes needs a value}; shift 2 ;;
    --port) PORT=${2:?--port needs a value}; shift 2 ;;
    --build-dir) BUILD=${2:?--build-dir needs a value}; shift 2 ;;
    --epoll-only) EPOLL_ONLY=1; shift ;;
    --no-build) DO_BUILD=0; shift ;;
    -h | --help) usage ;;
    *) note "unknown argument $1"; usage ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs takes a positive integer"
[[ $PORT =~ ^[0-9]+$ ]] || die "--port takes a number"

for tool in taskset getconf awk sort meson ninja; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
(($(nproc) >= 2)) || die "needs two CPUs (server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- build
EPOLL_SERVER=$BUILD/bench/epoll_echo_server
CLIENT=$BUILD/bench/load_client
RINGO_SERVER=$BUILD/demo/echo_server
HAVE_RINGO=0

if ((DO_BUILD)); then
  if [[ ! -f $BUILD/build.ninja ]]; then
    note "configuring $BUILD (release)"
    meson setup "$BUILD" -Dbuildtype=release -Ddemos=enabled -Dbenchmarks=enabled >/dev/null ||
      die "meson setup $BUILD failed"
  else
    # scripts/main configures build/release without benchmarks; switch them back on here.
    meson configure "$BUILD" -Ddemos=enabled -Dbenchmarks=enabled >/dev/null ||
      die "meson configure $BUILD failed"
  fi
  ninja -C "$BUILD" bench/epoll_echo_server bench/load_client >/dev/null ||
    die "building the epoll baseline and the load client failed (ninja -C $BUILD bench/load_client)"
  if ((!EPOLL_ONLY)); then
    if [[ ! -f demo/echo_server.cpp ]]; then
      note "demo/echo_server.cpp does not exist yet: running the epoll side only"
    elif ! ninja -C "$BUILD" -t targets all 2>/dev/null | grep -q '^demo/echo_server:'; then
      note "demo/echo_server is not in demo/meson.build yet: running the epoll side only"
    else
      ninja -C "$BUILD" demo/echo_server >/dev/null ||
        die "building demo/echo_server failed (ninja -C $BUILD demo/echo_server); --epoll-only skips it"
      HAVE_RINGO=1
    fi
  fi
else
  [[ -x $EPOLL_SERVER && -x $CLIENT ]] || die "$EPOLL_SERVER or $CLIENT is not built"
  if ((!EPOLL_ONLY)); then
    if [[ -x $RINGO_SERVER ]]; then HAVE_RINGO=1; else note "$RINGO_SERVER is not built: epoll side only"; fi
  fi
fi

SERVERS=(epoll)
((HAVE_RINGO)) && SERVERS=(ringo epoll)

# ---------------------------------------------------------------- is the machine idle?
# cpu_busy_percent: share of the last second that all CPUs spent not idle (from /proc/stat).
cpu_busy_percent() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); t=y[1]-x[1]; i=y[2]-x[2];
    printf "%.0f", (t > 0 ? 100 * (t - i) / t : 0)}'
}
read -r LOAD1 LOAD5 LOAD15 _ </proc/loadavg
BUSY=$(cpu_busy_percent)
printf 'load average %s %s %s; CPUs busy %s%% over the last second\n' "$LOAD1" "$LOAD5" "$LOAD15" "$BUSY"
if awk -v l="$LOAD1" -v b="$BUSY" 'BEGIN{exit !(l > 0.5 || b > 10)}'; then
  printf 'WARNING: the machine is not idle; these figures will be noisy and unfair. Stop other work and rerun.\n'
fi

# ---------------------------------------------------------------- helpers
TMP=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf -- "$TMP"
}
trap cleanup EXIT

# alive PID: true while the process runs (a zombie does not count).
alive() {
  local state=
  [[ -r /proc/$1/stat ]] && state=$(awk '{sub(/.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null)
  [[ -n $state && $state != Z ]]
}
# port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# cpu_ticks PID: utime + stime of the whole process, in clock ticks (the comm field may hold
# spaces and parentheses, so cut after the last ')').
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
threads_of() { awk '/^Threads:/{print $2}' "/proc/$1/status"; }
# json_field NAME: the value of "NAME" in the one-line JSON on stdin.
json_field() { awk -v k="\"$1\":" '{i = index($0, k); if (!i) exit 1; s = substr($0, i + length(k));
  sub(/[,}].*/, "", s); gsub(/"/, "", s); print s}'; }

start_server() { # NAME
  local exe log=$TMP/server.log
  case $1 in
    ringo) exe=$RINGO_SERVER ;;
    epoll) exe=$EPOLL_SERVER ;;
  esac
  port_open "$PORT" && die "port $PORT on 127.0.0.1 is already in use (--port P picks another)"
  # A background job of a script ignores SIGINT unless told otherwise; the server must not.
  taskset -c "$SERVER_CPU" env --default-signal=INT "$exe" --port "$PORT" >"$log" 2>&1 &
  server_pid=$!
  local waited=0
  until port_open "$PORT"; do
    if ! alive "$server_pid"; then
      cat "$log" >&2
      die "$exe exited before accepting on port $PORT"
    fi
    ((waited++ < 100)) || die "$exe did not accept on port $PORT within 10 s"
    sleep 0.1
  done
}

stop_server() { # NAME
  kill -INT "$server_pid" 2>/dev/null || true
  local i rc=0
  for ((i = 0; i < 100; i++)); do
    alive "$server_pid" || break
    sleep 0.1
  done
  if alive "$server_pid"; then
    note "$1 server did not exit within 10 s of SIGINT; killed it"
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || rc=$?
  ((rc == 0)) || note "$1 server exited with status $rc after SIGINT (expected 0)"
  server_pid=""
}

RESULTS=$TMP/results # lines: conns size server run rps p99 cpu_per_s us_per_req client_cpu errors threads

# ---------------------------------------------------------------- runs
printf 'servers: %s; %s run(s) of %s s (+%s s warm-up) per server and configuration\n' \
  "${SERVERS[*]}" "$RUNS" "$RUN_SECONDS" "$WARMUP"
((HAVE_RINGO)) || printf 'note: the ringo echo server is not available, so there is no ringo column\n'
for conns in $CONNECTIONS_LIST; do
  for size in $SIZES; do
    for ((run = 1; run <= RUNS; run++)); do
      for name in "${SERVERS[@]}"; do
        start_server "$name"
        before=$(cpu_ticks "$server_pid")
        client_rc=0
        out=$(taskset -c "$CLIENT_CPU" "$CLIENT" --port "$PORT" --connections "$conns" \
          --size "$size" --seconds "$RUN_SECONDS" --warmup "$WARMUP" --json 2>"$TMP/client.err") ||
          client_rc=$?
        if ! alive "$server_pid"; then
          cat "$TMP/server.log" >&2
          die "the $name server died during the run ($conns connections, $size B)"
        fi
        after=$(cpu_ticks "$server_pid")
        threads=$(threads_of "$server_pid")
        stop_server "$name"
        if ! rps=$(json_field rps <<<"$out"); then
          cat "$TMP/client.err" >&2
          die "load_client failed (status $client_rc) against the $name server"
        fi
        ((client_rc == 0)) || note "$name, $conns x $size B, run $run: $(head -n 3 "$TMP/client.err")"
        total=$(json_field total_requests <<<"$out")
        p99=$(json_field p99_us <<<"$out")
        errors=$(json_field errors <<<"$out")
        client_cpu=$(json_field client_cpu_pct <<<"$out")
        read -r per_cpu_s us_per_req < <(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$total" \
          'BEGIN{s = t / hz; if (s <= 0 || n <= 0) print "nan nan"; else printf "%.0f %.3f\n", n / s, s * 1e6 / n}')
        printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$conns" "$size" "$name" "$run" "$rps" "$p99" \
          "$per_cpu_s" "$us_per_req" "$client_cpu" "$errors" "$threads" >>"$RESULTS"
        printf '  %-5s %4s conns %4s B  run %d: %10.0f req/s  p99 %8.1f us  %10s req/server-CPU-s  client CPU %s%%\n' \
          "$name" "$conns" "$size" "$run" "$rps" "$p99" "$per_cpu_s" "$client_cpu"
      done
    done
  done
done

# ---------------------------------------------------------------- table
# column_stats CONNS SIZE SERVER COLUMN: "median min max" of a results column over the runs.
column_stats() {
  awk -v c="$1" -v s="$2" -v n="$3" -v k="$4" '$1 == c && $2 == s && $3 == n {print $k}' "$RESULTS" |
    sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan nan nan"; exit}
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR]}'
}
sum_errors() { awk -v c="$1" -v s="$2" -v n="$3" '$1 == c && $2 == s && $3 == n {e += $10} END {print e + 0}' "$RESULTS"; }
max_threads() { awk -v c="$1" -v s="$2" -v n="$3" '$1 == c && $2 == s && $3 == n && $11 > m {m = $11} END {print m + 0}' "$RESULTS"; }

printf '\n### Echo servers, %s run(s) x %s s, server on CPU %s, client on CPU %s (medians)\n\n' \
  "$RUNS" "$RUN_SECONDS" "$SERVER_CPU" "$CLIENT_CPU"
printf '| connections | size | server | requests/s (min-max) | p99 us | requests per server-CPU-s | server CPU us/request | client CPU %% | errors |\n'
printf '|---:|---:|---|---|---:|---:|---:|---:|---:|\n'
for conns in $CONNECTIONS_LIST; do
  for size in $SIZES; do
    for name in "${SERVERS[@]}"; do
      read -r rps rmin rmax < <(column_stats "$conns" "$size" "$name" 5)
      read -r p99 _ _ < <(column_stats "$conns" "$size" "$name" 6)
      read -r pcs _ _ < <(column_stats "$conns" "$size" "$name" 7)
      read -r upr _ _ < <(column_stats "$conns" "$size" "$name" 8)
      read -r ccpu _ _ < <(column_stats "$conns" "$size" "$name" 9)
      printf '| %s | %s B | %s | %.0f (%.0f-%.0f) | %.1f | %.0f | %.2f | %.0f | %s |\n' "$conns" "$size" \
        "$name" "$rps" "$rmin" "$rmax" "$p99" "$pcs" "$upr" "$ccpu" "$(sum_errors "$conns" "$size" "$name")"
      eval "med_${name}_rps=\$rps med_${name}_p99=\$p99 med_${name}_pcs=\$pcs med_${name}_upr=\$upr"
    done
    if ((HAVE_RINGO)); then
      # shellcheck disable=SC2154 # set by the eval above
      awk -v a="$med_ringo_rps" -v b="$med_epoll_rps" -v c="$med_ringo_p99" -v d="$med_epoll_p99" \
        -v e="$med_ringo_pcs" -v f="$med_epoll_pcs" -v g="$med_ringo_upr" -v h="$med_epoll_upr" \
        -v conns="$conns" -v size="$size" 'function r(x, y) {return y > 0 ? sprintf("%.2fx", x / y) : "n/a"}
        BEGIN {printf "| %s | %s B | **ringo/epoll** | %s | %s | %s | %s | | |\n", conns, size,
          r(a, b), r(c, d), r(e, f), r(g, h)}'
    fi
  done
done
printf '\nA ratio above 1 is better for ringo in requests/s and requests per server-CPU-s, worse in p99 and CPU us/request.\n'
if ((HAVE_RINGO)); then
  t=$(max_threads "${CONNECTIONS_LIST%% *}" "${SIZES%% *}" ringo)
  if ((t > 1)); then
    printf 'note: the ringo server had %s threads (io_uring workers?); their CPU time is counted, but they may run outside CPU %s.\n' "$t" "$SERVER_CPU"
  fi
fi
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
