#!/bin/sh
# demo_help.sh PROGRAM: a demo's command line (demo/demo_main.hpp). --help and -h print the
# usage on stdout, nothing on stderr, and exit 0; an option it does not know exits 2 with the
# usage on stderr. Registered per demo by demo/meson.build.
set -u
exe=$1
name=${exe##*/}
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
status=0

fail() {
  echo "$name: $*"
  echo "--- stdout:"
  cat "$out"
  echo "--- stderr:"
  cat "$err"
  status=1
}

for flag in --help -h; do
  rc=0
  "$exe" "$flag" >"$out" 2>"$err" </dev/null || rc=$?
  [ "$rc" -eq 0 ] || fail "$flag: exit status $rc, not 0"
  grep -qi usage "$out" || fail "$flag: no usage on stdout"
  [ ! -s "$err" ] || fail "$flag: something on stderr"
done

rc=0
"$exe" --no-such-option >"$out" 2>"$err" </dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "--no-such-option: exit status $rc, not 2"
grep -qi usage "$err" || fail "--no-such-option: no usage on stderr"

exit $status
