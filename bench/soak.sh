#!/usr/bin/env bash
# soak.sh: ringo servers under mixed load for a long while (default 10 minutes), watched for
# leaks. Three ringo programs run side by side on this machine:
#   echo    demo/echo_server: ping-pong from bench/load_client (--echo-connections, 512 B) and
#           connection churn (load_client --churn, --churn-connections at a time)
#   http    demo/http_server: wrk keep-alive (-c --http-connections) and wrk churn
#           (-H 'Connection: close', -c --churn-connections)
#   timers  bench/timer_load: --timer-tasks tasks in sleep_for / call_later / with_timeout
#           loops, with jobs on a 4-thread ringo::thread_pool and to_thread calls
# Every second it samples each server's VmRSS and thread count (/proc/PID/status), its open
# descriptors (/proc/PID/fd) and its CPU (/proc/PID/stat), and writes them as a CSV ready to
# plot: time_s, server, rss_kib, fds, threads, cpu_pct.
#
# The verdict looks only after the warm-up (the first 20% of the run), for each server:
#   - RSS growth: the median VmRSS of the last 20% of the run against the median of the 20%
#     right after the warm-up; must be under 1%. Medians of whole windows, not single samples:
#     buffers in flight make one sample differ from the next, a leak grows window by window.
#   - descriptors flat: the lowest count of the last 20% within 2 of the lowest of the 20%
#     after the warm-up (a slow leak: the floor is the count with the fewest churned
#     connections open, which a healthy server comes back to), and max - min after the
#     warm-up within a tolerance (a burst). A churning client holds at most C connections at once (C =
#     --churn-connections), but the server still holds those the client has just closed
#     until it reads their end, while their replacements are open already: a healthy server's
#     count moves within 2C of its floor. The tolerance is 2C + 2 for echo and http, and 2 for
#     timers (it opens no connection).
#   - every server still running at the end and exiting 0 on SIGINT, every client without
#     errors (wrk's timeouts are reported but do not fail: on a busy machine they are the
#     client's), timer_load's checks all held.
# One line: "soak: PASS ..." or "soak: FAIL ..." with the numbers; exits 1 on FAIL.
#
# Usage:
#   bench/soak.sh [--seconds S] [--csv FILE] [--print-csv] [--port P] [--backend B]
#                 [--echo-connections N] [--http-connections N] [--churn-connections C]
#                 [--timer-tasks N] [--build-dir DIR] [--no-build] [--no-install] [--jobs J]
#     --seconds S    length of the run (default 600); the warm-up is its first 20%
#     --csv FILE     where the samples go (default build/soak-samples.csv)
#     --print-csv    print the samples on stdout too, after the verdict
#     --port P       the servers take P (echo) and P+1 (http) on 127.0.0.1 (default 9380)
#     --backend B    RINGO_BACKEND for the three programs: io_uring or epoll (default automatic)
#     --echo-connections N   ping-pong connections (default 50)
#     --http-connections N   wrk keep-alive connections (default 50)
#     --churn-connections C  connections at a time of each churning client (default 8)
#     --timer-tasks N        tasks of bench/timer_load (default 200)
#     --build-dir DIR  meson build directory (default build/release; configured as a release
#                      build with demos and benchmarks when it is not one yet)
#     --no-build     use the programs already built in DIR
#     --no-install   do not install wrk when it is missing (the HTTP load is then skipped)
#     --jobs J       ninja -j J for the build (default 1)
# Needs: bash 5, coreutils, awk, wrk (installed with apt-get when missing, as bench/suite.sh
# does).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

RUN_SECONDS=600
CSV=build/soak-samples.csv
PRINT_CSV=0
PORT=9380
BACKEND=""
ECHO_CONNS=50
HTTP_CONNS=50
CHURN_CONNS=8
TIMER_TASKS=200
BUILD=build/release
DO_BUILD=1
DO_INSTALL=1
JOBS=1

die() {
  printf 'soak: error: %s\n' "$*" >&2
  exit 2
}
note() { printf 'soak: %s\n' "$*" >&2; }
usage() {
  sed -n '/^# Usage/,/^# Needs/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { note "$1 takes a positive integer"; usage; }; }
while (($# > 0)); do
  case $1 in
    --seconds) positive "$1" "${2:-}"; RUN_SECONDS=$2; shift 2 ;;
    --csv) CSV=${2:?--csv needs a value}; shift 2 ;;
    --print-csv) PRINT_CSV=1; shift ;;
    --port) positive "$1" "${2:-}"; PORT=$2; shift 2 ;;
    --backend) BACKEND=${2:?--backend needs a value}; shift 2 ;;
    --echo-connections) positive "$1" "${2:-}"; ECHO_CONNS=$2; shift 2 ;;
    --http-connections) positive "$1" "${2:-}"; HTTP_CONNS=$2; shift 2 ;;
    --churn-connections) positive "$1" "${2:-}"; CHURN_CONNS=$2; shift 2 ;;
    --timer-tasks) positive "$1" "${2:-}"; TIMER_TASKS=$2; shift 2 ;;
    --build-dir) BUILD=${2:?--build-dir needs a value}; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --no-install) DO_INSTALL=0; shift ;;
    --jobs) JOBS=${2:?--jobs needs a value}; shift 2 ;;
    -h | --help) usage ;;
    *) note "unknown argument $1"; usage ;;
  esac
done
[[ -z $BACKEND || $BACKEND == io_uring || $BACKEND == epoll ]] || { note "--backend takes io_uring or epoll"; usage; }
((RUN_SECONDS >= 10)) || die "--seconds must be at least 10 (the verdict compares windows of 20% of the run)"
[[ -n ${EPOCHREALTIME:-} ]] || die "needs bash 5 (EPOCHREALTIME)"

if ! command -v wrk >/dev/null && ((DO_INSTALL)); then
  ringo_install_packages wrk >&2 || note "installing wrk failed"
fi
HAVE_WRK=0
command -v wrk >/dev/null && HAVE_WRK=1
((HAVE_WRK)) || note "wrk is missing: no HTTP load (http_server runs idle)"

if ((DO_BUILD)); then
  if [[ ! -f $BUILD/build.ninja ]]; then
    meson setup "$BUILD" -Dbuildtype=release -Ddemos=enabled -Dbenchmarks=enabled >/dev/null ||
      die "meson setup $BUILD failed"
  fi
  ninja -j "$JOBS" -C "$BUILD" demo/echo_server demo/http_server bench/load_client \
    bench/timer_load >"$BUILD/soak-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/soak-build.log" >&2; die "the build failed"; }
fi
for p in demo/echo_server demo/http_server bench/load_client bench/timer_load; do
  [[ -x $BUILD/$p ]] || die "$BUILD/$p is not built (drop --no-build)"
done

# ---------------------------------------------------------------- start
TMP=$(mktemp -d)
declare -A PID=()
CLIENT_PIDS=()
cleanup() {
  local p
  for p in "${CLIENT_PIDS[@]}" "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf -- "$TMP"
}
trap cleanup EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{sub(/.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
ENV=()
[[ -n $BACKEND ]] && ENV=("RINGO_BACKEND=$BACKEND")
ECHO_PORT=$PORT
HTTP_PORT=$((PORT + 1))
for p in "$ECHO_PORT" "$HTTP_PORT"; do
  port_open "$p" && die "port $p is in use already (--port P picks another)"
done

# start NAME PORT|- PROGRAM ARGS...: a server in the background, SIGINT at its default.
start() {
  local name=$1 port=$2 i
  shift 2
  env --default-signal=INT "${ENV[@]}" "$@" >"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
  [[ $port == - ]] && return 0
  for ((i = 0; ; i++)); do
    port_open "$port" && return 0
    alive "${PID[$name]}" || { cat "$TMP/$name.log" >&2; die "$name exited at start"; }
    ((i < 100)) || die "$name did not accept on port $port within 10 s"
    sleep 0.1
  done
}
start echo "$ECHO_PORT" "$BUILD/demo/echo_server" --port "$ECHO_PORT"
start http "$HTTP_PORT" "$BUILD/demo/http_server" --port "$HTTP_PORT"
# Programs and clients run a little longer than the sampling, so the last sample sees them.
LOAD_SECONDS=$((RUN_SECONDS + 5))
start timers - "$BUILD/bench/timer_load" --tasks "$TIMER_TASKS" --seconds "$LOAD_SECONDS"
SERVERS=(echo http timers)

# client NAME COMMAND...: a client in the background, its output in $TMP/NAME.out
client() {
  local name=$1
  shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  CLIENT_PIDS+=($!)
  printf '%s %s\n' "$!" "$name" >>"$TMP/clients"
  note "client $name: $*"
}
: >"$TMP/clients"
LC=$BUILD/bench/load_client
client echo-pingpong "$LC" --port "$ECHO_PORT" --connections "$ECHO_CONNS" --size 512 \
  --seconds "$LOAD_SECONDS" --warmup 0 --json
client echo-churn "$LC" --port "$ECHO_PORT" --connections "$CHURN_CONNS" --churn \
  --seconds "$LOAD_SECONDS" --warmup 0 --json
if ((HAVE_WRK)); then
  client http-keepalive wrk -t1 -c "$HTTP_CONNS" -d "${LOAD_SECONDS}s" "http://127.0.0.1:$HTTP_PORT/"
  client http-churn wrk -t1 -c "$CHURN_CONNS" -d "${LOAD_SECONDS}s" -H 'Connection: close' \
    "http://127.0.0.1:$HTTP_PORT/"
fi
note "servers: echo pid ${PID[echo]}, http pid ${PID[http]}, timers pid ${PID[timers]}; sampling for $RUN_SECONDS s"

# ---------------------------------------------------------------- sample
CLK_TCK=$(getconf CLK_TCK)
mkdir -p -- "$(dirname -- "$CSV")"
printf 'time_s,server,rss_kib,fds,threads,cpu_pct\n' >"$CSV"
declare -A TICKS=()
now_us() { local t=$EPOCHREALTIME; printf '%s\n' "${t/[.,]/}"; }
ticks_of() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo -1; }
for s in "${SERVERS[@]}"; do TICKS[$s]=$(ticks_of "${PID[$s]}"); done
T0=$(now_us)
DIED=""
BEHIND=0  # the most seconds the sampler fell behind its schedule
for ((t = 1; t <= RUN_SECONDS; t++)); do
  wait_us=$((T0 + t * 1000000 - $(now_us)))
  ((wait_us > 0)) && sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
  ((-wait_us / 1000000 > BEHIND)) && BEHIND=$((-wait_us / 1000000))
  for s in "${SERVERS[@]}"; do
    p=${PID[$s]}
    if ! alive "$p"; then
      [[ $DIED == *"$s"* ]] || DIED+="$s(at ${t}s) "
      continue
    fi
    read -r rss threads < <(awk '/^VmRSS:/{r = $2} /^Threads:/{t = $2} END {print r, t}' "/proc/$p/status")
    fds=(/proc/"$p"/fd/*)
    ticks=$(ticks_of "$p")
    cpu=$(awk -v a="${TICKS[$s]}" -v b="$ticks" -v hz="$CLK_TCK" 'BEGIN{printf "%.1f", 100 * (b - a) / hz}')
    TICKS[$s]=$ticks
    printf '%d,%s,%s,%d,%s,%s\n' "$t" "$s" "$rss" "${#fds[@]}" "$threads" "$cpu" >>"$CSV"
  done
done

# ---------------------------------------------------------------- stop, collect
CLIENT_FAIL=""
CLIENT_NOTES=""
while read -r cpid name; do
  rc=0
  wait "$cpid" || rc=$?
  case $name in
    echo-*)
      out=$(cat "$TMP/$name.out")
      errs=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$out")
      reqs=$(sed -n 's/.*"total_requests":\([0-9]*\).*/\1/p' <<<"$out")
      if [[ -z $errs || $rc != 0 || $errs != 0 ]]; then
        CLIENT_FAIL+="$name: status $rc, ${errs:-?} errors ($(head -c 300 "$TMP/$name.err" | tr '\n' ' ')); "
      fi
      CLIENT_NOTES+="$name ${reqs:-?} requests; "
      ;;
    http-*)
      out=$(cat "$TMP/$name.out")
      reqs=$(awk '/requests in/{print $1}' <<<"$out")
      read -r bad tmo < <(awk '/Socket errors:/{gsub(/,/, ""); b += $4 + $6 + $8; t += $10}
        /Non-2xx/{b += $NF} END {print b + 0, t + 0}' <<<"$out")
      if [[ $rc != 0 || -z $reqs || $bad != 0 ]]; then
        CLIENT_FAIL+="$name: status $rc, $bad socket errors or non-2xx responses; "
      fi
      CLIENT_NOTES+="$name ${reqs:-?} requests${tmo:+ ($tmo timeouts)}; "
      ;;
  esac
done <"$TMP/clients"
CLIENT_PIDS=()
SERVER_FAIL=""
for s in "${SERVERS[@]}"; do
  p=${PID[$s]}
  if [[ $s != timers ]] && alive "$p"; then kill -INT "$p" 2>/dev/null || true; fi
  for ((i = 0; i < 150; i++)); do
    alive "$p" || break
    sleep 0.1
  done
  if alive "$p"; then
    kill -KILL "$p" 2>/dev/null || true
    SERVER_FAIL+="$s did not exit within 15 s; "
  fi
  rc=0
  wait "$p" || rc=$?
  ((rc == 0)) || SERVER_FAIL+="$s exited with status $rc ($(tail -c 300 "$TMP/$s.log" | tr '\n' ' ')); "
done
PID=()
[[ -n $DIED ]] && SERVER_FAIL+="died during the run: $DIED; "
TIMER_SUMMARY=$(head -n 1 "$TMP/timers.log" 2>/dev/null || true)

# ---------------------------------------------------------------- verdict
WARM=$((RUN_SECONDS / 5))
verdict=$(awk -F, -v warm="$WARM" -v total="$RUN_SECONDS" -v churn="$CHURN_CONNS" '
  function median(arr, n,    i, j, t) {
    for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
    return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
  }
  NR > 1 && $1 > warm {
    s = $2; seen[s] = 1
    if ($1 <= 2 * warm) { a[s, ++na[s]] = $3; if (!((s, 1) in fa) || $4 < fa[s, 1]) fa[s, 1] = $4 }
    if ($1 > total - warm) { b[s, ++nb[s]] = $3; if (!((s, 1) in fb) || $4 < fb[s, 1]) fb[s, 1] = $4 }
    if (!(s in lo) || $4 < lo[s]) lo[s] = $4
    if (!(s in hi) || $4 > hi[s]) hi[s] = $4
  }
  END {
    ok = 1; line = ""
    n = split("echo http timers", order, " ")
    for (k = 1; k <= n; k++) {
      s = order[k]
      if (!(s in seen) || na[s] == 0 || nb[s] == 0) { ok = 0; line = line sprintf("%s: no samples after the warm-up; ", s); continue }
      for (i = 1; i <= na[s]; i++) x[i] = a[s, i]
      m1 = median(x, na[s]); delete x
      for (i = 1; i <= nb[s]; i++) x[i] = b[s, i]
      m2 = median(x, nb[s]); delete x
      f1 = fa[s, 1]; f2 = fb[s, 1]
      g = m1 > 0 ? 100 * (m2 - m1) / m1 : 0
      tol = (s == "timers") ? 2 : 2 * churn + 2
      spread = hi[s] - lo[s]
      drift = f2 - f1
      bad = (g >= 1 || spread > tol || drift > 2 || drift < -2)
      if (bad) ok = 0
      line = line sprintf("%s RSS %d -> %d KiB (%+.2f%%), fds floor %d -> %d (range %d-%d, spread %d, limit %d)%s; ", s, m1, m2, g, f1, f2, lo[s], hi[s], spread, tol, bad ? " FAIL" : "")
    }
    printf "%s %s\n", ok ? "PASS" : "FAIL", line
  }' "$CSV")
result=${verdict%% *}
[[ -n $SERVER_FAIL || -n $CLIENT_FAIL ]] && result=FAIL
[[ $TIMER_SUMMARY == *" 0 failures" ]] || { result=FAIL; SERVER_FAIL+="timer_load: ${TIMER_SUMMARY:-no summary}; "; }
printf 'soak: %s after %d s (warm-up %d s; backend %s): %s%s%s\n' "$result" "$RUN_SECONDS" "$WARM" \
  "${BACKEND:-automatic}" "${verdict#* }" "${SERVER_FAIL:+servers: $SERVER_FAIL}" "${CLIENT_FAIL:+clients: $CLIENT_FAIL}"
((BEHIND >= 2)) && note "WARNING: the sampler fell $BEHIND s behind its schedule: the programs were stopped or the machine overloaded for a while, and the samples after that are not one a second; rerun on a quiet machine"
note "load: $CLIENT_NOTES${TIMER_SUMMARY#timer_load: }"
note "samples: $CSV"
((PRINT_CSV)) && cat "$CSV"
[[ $result == PASS ]]
