#!/usr/bin/env bash
# cancel_storm.sh: builds bench/cancel_storm under AddressSanitizer and UndefinedBehaviorSanitizer
# and runs the cancellation storm (test/storm/cancel_storm.hpp) on each backend: by default
# 100,000 random cancellations (seeded: the same seed gives the same sequence of
# cancellations) of tasks waiting in reads, writes, accepts, connects, sleeps, mutex locks,
# semaphore acquires, queue gets and puts and event waits on one io_context over loopback.
# A backend passes when the storm's checks all held (no byte, connection or queue item lost
# or duplicated, no lock or permit left held, every task ended, no descriptor left open) and
# the sanitizers reported nothing (their reports stop the program: halt_on_error).
#
# Usage:
#   bench/cancel_storm.sh [--cancellations N] [--seed S] [--backends "io_uring epoll"]
#                         [--build-dir DIR] [--no-build] [--jobs J]
#     --cancellations N  per backend (default 100000; about 2 s per thousand under ASan)
#     --seed S           the storm's seed (default 1)
#     --backends LIST    RINGO_BACKEND values to run (default "io_uring epoll")
#     --build-dir DIR    the ASan build (default build/asan, the directory scripts/test's asan
#                        configuration uses, with benchmarks switched on; set up with the same
#                        options when it does not exist)
#     --no-build         use DIR/bench/cancel_storm as built
#     --jobs J           ninja -j J (default 1)
# Prints each backend's storm summary and one line per backend; exits 1 when one failed.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=100000
SEED=1
BACKENDS="io_uring epoll"
BUILD=build/asan
DO_BUILD=1
JOBS=1
die() {
  printf 'cancel_storm: error: %s\n' "$*" >&2
  exit 2
}
usage() {
  sed -n '/^# Usage/,/^# Prints/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while (($# > 0)); do
  case $1 in
    --cancellations) N=${2:?--cancellations needs a value}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a value}; shift 2 ;;
    --backends) BACKENDS=${2:?--backends needs a value}; shift 2 ;;
    --build-dir) BUILD=${2:?--build-dir needs a value}; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --jobs) JOBS=${2:?--jobs needs a value}; shift 2 ;;
    -h | --help) usage ;;
    *) printf 'cancel_storm: unknown argument %s\n' "$1" >&2; usage ;;
  esac
done
[[ $N =~ ^[0-9]+$ && $SEED =~ ^[0-9]+$ ]] || die "--cancellations and --seed take numbers"
for b in $BACKENDS; do
  [[ $b == io_uring || $b == epoll ]] || die "unknown backend '$b' (io_uring or epoll)"
done

if ((DO_BUILD)); then
  if [[ -f $BUILD/build.ninja ]]; then
    meson configure "$BUILD" -Dbenchmarks=enabled >/dev/null || die "meson configure $BUILD failed"
  else
    meson setup "$BUILD" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Ddemos=disabled -Dbenchmarks=enabled >/dev/null || die "meson setup $BUILD failed"
  fi
  [[ $(meson introspect --buildoptions "$BUILD" 2>/dev/null |
    python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"][0])' \
    2>/dev/null) == *address* ]] || printf 'cancel_storm: warning: %s is not an ASan build\n' "$BUILD" >&2
  ninja -j "$JOBS" -C "$BUILD" bench/cancel_storm >"$BUILD/cancel-storm-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/cancel-storm-build.log" >&2; die "the build failed"; }
fi
EXE=$BUILD/bench/cancel_storm
[[ -x $EXE ]] || die "$EXE is not built (drop --no-build)"

# Every sanitizer report is fatal; leaks are checked where LeakSanitizer can run (it needs
# ptrace, which some sandboxes forbid: then it is switched off, as scripts/test does).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
LOG=$(mktemp)
trap 'rm -f -- "$LOG"' EXIT
failed=0
lines=()
for b in $BACKENDS; do
  printf '==== %s: RINGO_BACKEND=%s %s --cancellations %s --seed %s\n' "$b" "$b" "$EXE" "$N" "$SEED"
  start=$SECONDS
  rc=0
  RINGO_BACKEND=$b "$EXE" --cancellations "$N" --seed "$SEED" >"$LOG" 2>&1 || rc=$?
  if ((rc != 0)) && grep -q 'LeakSanitizer has encountered a fatal error' "$LOG"; then
    printf 'note: LeakSanitizer cannot run here: again without leak checking\n'
    rc=0
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 RINGO_BACKEND=$b "$EXE" --cancellations "$N" \
      --seed "$SEED" >"$LOG" 2>&1 || rc=$?
  fi
  cat "$LOG"
  reports=$(grep -c -E '^==[0-9]+==ERROR|runtime error:' "$LOG" || true)
  if ((rc == 0 && reports == 0)); then
    lines+=("cancel_storm: PASS $b: $N cancellations, seed $SEED, $((SECONDS - start)) s, no sanitizer report")
  else
    failed=1
    lines+=("cancel_storm: FAIL $b: exit status $rc, $reports sanitizer report(s)")
  fi
done
printf '%s\n' "${lines[@]}"
exit "$failed"
