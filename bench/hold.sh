#!/usr/bin/env bash
# hold.sh: many connections held open against demo/echo_server, each echoing once a second.
# Reports what holding them costs the server: resident memory per connection, CPU (% of one
# core) and the p99 latency of the once-a-second echoes.
#
# bench/load_client opens the connections (each reads the server's greeting first), then runs
# an open loop of N messages per second over the N connections, round-robin on a fixed
# schedule: every connection sends one message a second, and the sends of all of them are
# spread evenly over the second. Latency counts from the scheduled send to the echo's last
# byte. The client reads the server's VmRSS, CPU time and open descriptors from /proc at each
# second (--watch-pid); the figures are those of the measured window, after the warm-up.
#
# Usage:
#   bench/hold.sh [--connections N] [--seconds S] [--warmup W] [--size M] [--plain]
#                 [--backend io_uring|epoll] [--csv FILE|-] [--port P] [--build-dir DIR]
#                 [--no-build] [--jobs J]
#     --connections N  connections held (default 19000). Each side needs one descriptor per
#                      connection: N is capped below the hard RLIMIT_NOFILE (ulimit -Hn) minus
#                      a margin of 200, with a note; the soft limit is raised to the hard one.
#     --seconds S      measured seconds (default 60), after --warmup W (default 2)
#     --size M         message size in bytes (default 64)
#     --plain          the server's --plain echo (read_some into its own buffer + write_all)
#     --backend B      RINGO_BACKEND for the server (default: automatic, i.e. io_uring)
#     --csv FILE       write the per-second samples as CSV to FILE ("-": to stdout, after the
#                      summary): t_s, echoes, p50_us, p99_us, max_us, errors, server_rss_kib,
#                      server_cpu_pct, server_fds
#     --port P         TCP port on 127.0.0.1 (default 9390)
#     --build-dir DIR  meson build directory (default build/release, configured as a release
#                      build with demos and benchmarks when it is not one yet)
#     --no-build       use the programs already built in DIR
#     --jobs J         ninja -j J for the build (default 1)
# Prints one summary line; exits 1 when the server died, the client failed or any echo was
# wrong or missing, 2 on bad arguments.
# Needs: bash, coreutils, procps-free /proc, awk; taskset (util-linux) to pin server and client
# to CPUs 0 and 1 when there are two.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=19000
SECONDS_HELD=60
WARMUP=2
SIZE=64
PLAIN=0
BACKEND=""
CSV=""
PORT=9390
BUILD=build/release
DO_BUILD=1
JOBS=1

die() {
  printf 'hold: error: %s\n' "$*" >&2
  exit 1
}
note() { printf 'hold: %s\n' "$*" >&2; }
usage() {
  sed -n '/^# Usage/,/^# Prints/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while (($# > 0)); do
  case $1 in
    --connections) N=${2:?--connections needs a value}; shift 2 ;;
    --seconds) SECONDS_HELD=${2:?--seconds needs a value}; shift 2 ;;
    --warmup) WARMUP=${2:?--warmup needs a value}; shift 2 ;;
    --size) SIZE=${2:?--size needs a value}; shift 2 ;;
    --plain) PLAIN=1; shift ;;
    --backend) BACKEND=${2:?--backend needs a value}; shift 2 ;;
    --csv) CSV=${2:?--csv needs a value}; shift 2 ;;
    --port) PORT=${2:?--port needs a value}; shift 2 ;;
    --build-dir) BUILD=${2:?--build-dir needs a value}; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --jobs) JOBS=${2:?--jobs needs a value}; shift 2 ;;
    -h | --help) usage ;;
    *) note "unknown argument $1"; usage ;;
  esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || { note "--connections takes a positive integer"; usage; }
[[ $SECONDS_HELD =~ ^[1-9][0-9]*$ ]] || { note "--seconds takes a positive integer"; usage; }
[[ -z $BACKEND || $BACKEND == io_uring || $BACKEND == epoll ]] || { note "--backend takes io_uring or epoll"; usage; }

# ---------------------------------------------------------------- descriptors
HARD=$(ulimit -Hn)
if [[ $HARD != unlimited ]] && ((N + 200 > HARD)); then
  want=$N
  N=$((HARD - 200))
  note "note: $want connections need more descriptors than the hard RLIMIT_NOFILE of $HARD allows (raising it needs CAP_SYS_RESOURCE): holding $N instead"
fi
# Server and client inherit the soft limit (demo/echo_server does not raise its own).
ulimit -Sn "$HARD"

# ---------------------------------------------------------------- build
if ((DO_BUILD)); then
  if [[ ! -f $BUILD/build.ninja ]]; then
    meson setup "$BUILD" -Dbuildtype=release -Ddemos=enabled -Dbenchmarks=enabled >/dev/null ||
      die "meson setup $BUILD failed"
  fi
  ninja -j "$JOBS" -C "$BUILD" demo/echo_server bench/load_client >"$BUILD/hold-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/hold-build.log" >&2; die "the build failed"; }
fi
SERVER=$BUILD/demo/echo_server
CLIENT=$BUILD/bench/load_client
[[ -x $SERVER && -x $CLIENT ]] || die "$SERVER or $CLIENT is not built (drop --no-build)"

PIN_SERVER=() PIN_CLIENT=()
if command -v taskset >/dev/null && (($(nproc) >= 2)); then
  PIN_SERVER=(taskset -c 0)
  PIN_CLIENT=(taskset -c 1)
fi

# ---------------------------------------------------------------- run
TMP=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill -KILL "$server_pid" 2>/dev/null
  rm -rf -- "$TMP"
}
trap cleanup EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

server_args=(--port "$PORT")
((PLAIN)) && server_args+=(--plain)
server_env=()
[[ -n $BACKEND ]] && server_env=("RINGO_BACKEND=$BACKEND")
port_open "$PORT" && die "port $PORT is in use already (--port P picks another)"
# A background job of a script ignores SIGINT unless told otherwise; the server must not.
"${PIN_SERVER[@]}" env --default-signal=INT "${server_env[@]}" "$SERVER" "${server_args[@]}" \
  >"$TMP/server.log" 2>&1 &
server_pid=$!
for ((i = 0; ; i++)); do
  port_open "$PORT" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$TMP/server.log" >&2; die "the server exited at start"; }
  ((i < 100)) || die "the server did not accept on port $PORT within 10 s"
  sleep 0.1
done
sleep 0.3
RSS0=$(rss_kib "$server_pid")

client=("${PIN_CLIENT[@]}" "$CLIENT" --port "$PORT" --connections "$N" --rate "$N" --size "$SIZE"
  --seconds "$SECONDS_HELD" --warmup "$WARMUP" --json --samples "$TMP/samples.csv"
  --watch-pid "$server_pid")
note "server: ${server_env[*]} $SERVER ${server_args[*]} (pid $server_pid, VmRSS $RSS0 KiB)"
note "client: ${client[*]}"
rc=0
out=$("${client[@]}" 2>"$TMP/client.err") || rc=$?
alive=1
kill -0 "$server_pid" 2>/dev/null || alive=0
if ((alive)); then
  kill -INT "$server_pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
fi
wait "$server_pid" 2>/dev/null || true
server_pid=""
((alive)) || { cat "$TMP/server.log" >&2; die "the server died during the run"; }
[[ $out == '{'* ]] || { cat "$TMP/client.err" >&2; die "load_client failed (status $rc)"; }
[[ -s $TMP/client.err ]] && head -n 5 "$TMP/client.err" >&2

field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$out"; }
errors=$(field errors)
awk -v n="$N" -v s="$SECONDS_HELD" -v size="$SIZE" -v r0="$RSS0" -v r1="$(field server_rss_kib)" \
  -v cpu="$(field server_cpu_pct)" -v p50="$(field p50_us)" -v p99="$(field p99_us)" \
  -v mx="$(field max_us)" -v req="$(field requests)" -v err="$errors" \
  -v fds="$(field server_fds)" -v be="${BACKEND:-automatic}" -v plain="$PLAIN" 'BEGIN {
  printf "hold: %d connections x %d s, one %d B echo per connection per second (backend %s%s): ", n, s, size, be, plain ? ", --plain" : ""
  printf "server VmRSS %.1f MiB (%.1f MiB before) = %.0f B per connection, %d descriptors; ", r1 / 1024, r0 / 1024, (r1 - r0) * 1024 / n, fds
  printf "server CPU %.1f%% of one core; latency p50 %.0f us, p99 %.0f us, max %.0f us; %d echoes (%d expected), %d errors\n", cpu, p50, p99, mx, req, n * s, err
}'
if [[ -n $CSV ]]; then
  if [[ $CSV == - ]]; then
    cat "$TMP/samples.csv"
  else
    cp -- "$TMP/samples.csv" "$CSV"
    note "per-second samples written to $CSV"
  fi
fi
((rc == 0 && errors == 0)) || exit 1
