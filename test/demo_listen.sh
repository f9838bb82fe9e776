#!/bin/sh
# demo_listen.sh PROGRAM [ARGS...]: a demo server says it listens only once it does, and names
# the port it got. Started with ARGS --port 0, its first line is "listening on ... ADDRESS:PORT"
# with the real port; a second one asked for that port (with --port alone) exits 1 with the
# bind error and without saying "listening"; SIGTERM then stops the first with status 0.
# Registered per server by demo/meson.build.
set -u
exe=$1
shift
name=${exe##*/}
dir=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
die() {
  echo "$name: $*"
  for f in "$dir"/*.txt; do
    [ -e "$f" ] && { echo "--- ${f##*/}:"; cat "$f"; }
  done
  exit 1
}

# The first line comes through a pipe, read as soon as it is written: no polling.
mkfifo "$dir/out"
"$exe" "$@" --port 0 >"$dir/out" 2>"$dir/first_err.txt" </dev/null &
pid=$!
exec 3<"$dir/out"
IFS= read -r line <&3 || die "ended without a line on stdout"
echo "$line" >"$dir/first_out.txt"
case $line in
  "listening on "*) ;;
  *) die "first line is not \"listening on ...\": $line" ;;
esac
port=$(printf '%s\n' "$line" | sed -n 's/^listening on [a-z]*:*\/*[0-9.]*:\([0-9][0-9]*\).*/\1/p')
[ -n "$port" ] || die "no port in: $line"
[ "$port" -ne 0 ] || die "says port 0, not the port it got: $line"

rc=0
"$exe" --port "$port" >"$dir/second_out.txt" 2>"$dir/second_err.txt" </dev/null || rc=$?
[ "$rc" -eq 1 ] || die "a second server on port $port: exit status $rc, not 1"
! grep -q listening "$dir/second_out.txt" || die "a second server on port $port said it listens"
grep -q "Address already in use" "$dir/second_err.txt" ||
  die "a second server on port $port: no bind error on stderr"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || die "exit status $rc after SIGTERM, not 0"
exit 0
