#!/usr/bin/env bash
# Builds and runs the consumer project (this directory) the two ways users take ringo:
#   check.sh subproject SOURCE_ROOT BUILD_ROOT SANITIZE COMPILER...
#     copies the project to a temporary directory with subprojects/ringo -> SOURCE_ROOT,
#     configures it with meson (ringo from the subproject) and runs the program;
#   check.sh pkgconfig SOURCE_ROOT BUILD_ROOT SANITIZE COMPILER...
#     builds it against BUILD_ROOT's uninstalled pkg-config file, once with meson's
#     dependency('ringo') and once by hand with `pkg-config --cflags --libs`, and runs both.
# Exits 77 (meson's "skipped") in a sanitized build: an unsanitized consumer cannot link a
# sanitized libringo without the sanitizer's runtime.
set -euo pipefail

if (($# < 5)); then
  echo "usage: $0 subproject|pkgconfig SOURCE_ROOT BUILD_ROOT SANITIZE COMPILER..." >&2
  exit 2
fi
mode=$1 src=$2 build=$3 sanitize=$4
shift 4
compiler=("$@")

if [[ $sanitize != none ]]; then
  echo "skipped: this build uses -Db_sanitize=$sanitize"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringo-consumer.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
mkdir "$tmp/project"
cp -- "$src/test/consumer/meson.build" "$src/test/consumer/main.cpp" "$tmp/project/"

# meson's output is kept in a file and shown only when something fails.
quietly() {
  if ! "$@" >"$tmp/out.txt" 2>&1; then
    echo "failed: $*" >&2
    cat "$tmp/out.txt" >&2
    [[ ! -f $tmp/build/meson-logs/meson-log.txt ]] || tail -n 40 "$tmp/build/meson-logs/meson-log.txt" >&2
    exit 1
  fi
}

# expect_found HOW: meson's configure output must say ringo was found that way.
expect_found() {
  if ! grep -q "ringo found as: $1" "$tmp/out.txt"; then
    echo "ringo was not found as '$1':" >&2
    cat "$tmp/out.txt" >&2
    exit 1
  fi
}

case $mode in
  subproject)
    mkdir "$tmp/project/subprojects"
    ln -s -- "$src" "$tmp/project/subprojects/ringo"
    quietly env CXX="${compiler[*]}" meson setup "$tmp/build" "$tmp/project" \
      --force-fallback-for=ringo -Dwerror=true
    expect_found internal
    quietly meson compile -C "$tmp/build"
    "$tmp/build/consumer"
    ;;
  pkgconfig)
    pcdir=$build/meson-uninstalled
    if [[ ! -f $pcdir/ringo-uninstalled.pc ]]; then
      echo "no $pcdir/ringo-uninstalled.pc: the build generates no pkg-config file" >&2
      exit 1
    fi
    export LD_LIBRARY_PATH=$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

    # 1. A meson project: dependency('ringo') resolved by pkg-config, never by a subproject.
    quietly env CXX="${compiler[*]}" meson setup "$tmp/build" "$tmp/project" \
      --wrap-mode=nofallback -Dpkg_config_path="$pcdir" -Dwerror=true
    expect_found pkgconfig
    quietly meson compile -C "$tmp/build"
    "$tmp/build/consumer"

    # 2. By hand, as a Makefile does.
    pc=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs ringo-uninstalled)
    read -r -a flags <<<"$pc"
    "${compiler[@]}" -std=c++20 -Wall -Wextra -Werror -o "$tmp/consumer-by-hand" \
      "$tmp/project/main.cpp" "${flags[@]}"
    "$tmp/consumer-by-hand"
    ;;
  *)
    echo "unknown mode '$mode': use subproject or pkgconfig" >&2
    exit 2
    ;;
esac
