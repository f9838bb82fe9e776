#!/usr/bin/env bash
# Builds and runs the consumer project (this directory) the two ways users take ringo:
#   check.sh subproject SOURCE_ROOT BUILD_ROOT SANITIZE COMPILER...
#     copies the project to a temporary directory with subprojects/ringo -> SOURCE_ROOT,
#     configures it with meson (ringo from the subproject) and runs the program;
#   check.sh pkgconfig SOURCE_ROOT BUILD_ROOT SANITIZE COMPILER...
#     builds it against BUILD_ROOT's uninstalled pkg-config file, once with meson's
#     dependency('ringo') and once by hand with `pkg-config --cflags --libs`, and runs both;
#   check.sh cmake SOURCE_ROOT BUILD_ROOT SANITIZE COMPILER...
#     installs BUILD_ROOT into a temporary DESTDIR, builds the CMake project cmake/ against it
#     with find_package(ringo 0.1 CONFIG REQUIRED) and runs it; checks that asking for ringo 9.0
#     is refused. Exits 77 when cmake is not installed. In a sanitized build the project is
#     compiled with the same -fsanitize, as a user of a sanitized libringo must.
# The other two exit 77 (meson's "skipped") in a sanitized build: an unsanitized consumer
# cannot link a sanitized libringo without the sanitizer's runtime.
set -euo pipefail

if (($# < 5)); then
  echo "usage: $0 subproject|pkgconfig|cmake SOURCE_ROOT BUILD_ROOT SANITIZE COMPILER..." >&2
  exit 2
fi
mode=$1 src=$2 build=$3 sanitize=$4
shift 4
compiler=("$@")

if [[ $sanitize != none && $mode != cmake ]]; then
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

# cmake_refuses WHAT PATTERN COMMAND...: the CMake configure COMMAND must fail, and its output
# (CMake wraps its messages: the lines are joined before looking) must contain PATTERN.
cmake_refuses() {
  local what=$1 pattern=$2
  shift 2
  if "$@" >"$tmp/out.txt" 2>&1; then
    echo "$what: accepted, but should have been refused:" >&2
    cat "$tmp/out.txt" >&2
    exit 1
  fi
  if ! tr -s ' \n' ' ' <"$tmp/out.txt" | grep -F "$pattern" >/dev/null; then
    echo "$what: refused, but without saying '$pattern':" >&2
    cat "$tmp/out.txt" >&2
    exit 1
  fi
  echo "$what: refused, as it should be"
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
  cmake)
    if ! command -v cmake >/dev/null; then
      echo "skipped: cmake is not installed"
      exit 77
    fi
    # The build keeps its configured prefix: DESTDIR puts the installed tree under $tmp/root.
    quietly meson install -C "$build" --no-rebuild --destdir "$tmp/root"
    prefix=$(meson introspect "$build" --buildoptions |
      python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
    config=$(find "$tmp/root" -path '*/cmake/ringo/ringoConfig.cmake')
    if [[ -z $config || ! -f $(dirname -- "$config")/ringoConfigVersion.cmake ]]; then
      echo "meson install did not install <libdir>/cmake/ringo/ringoConfig.cmake and ringoConfigVersion.cmake" >&2
      exit 1
    fi
    # find_package() finds the package under the prefix as a user's CMAKE_PREFIX_PATH=/opt/x does.
    # The package was made for the configured prefix: used under $tmp/root, it must find its
    # files relative to its own place.
    # Without LD_LIBRARY_PATH (meson test points it at the build tree) the program must load
    # the installed library through the RPATH that CMake gives it.
    unset LD_LIBRARY_PATH
    cxxflags="-Wall -Wextra -Werror"
    [[ $sanitize == none ]] || cxxflags+=" -fsanitize=$sanitize"
    cmake_args=(-G Ninja -DCMAKE_PREFIX_PATH="$tmp/root$prefix" -DCMAKE_CXX_FLAGS="$cxxflags")
    mkdir "$tmp/project/cmake"
    cp -- "$src/test/consumer/cmake/CMakeLists.txt" "$tmp/project/cmake/"
    quietly env CXX="${compiler[*]}" cmake -S "$tmp/project/cmake" -B "$tmp/build" "${cmake_args[@]}"
    quietly cmake --build "$tmp/build"
    # (Nothing to load when ringo was built as a static library.)
    loaded=$(ldd "$tmp/build/consumer" | awk '$1 ~ /^libringo\./ { print $3 }')
    if [[ -n $loaded && $loaded != "$tmp/root/"* ]]; then
      echo "the CMake-built program does not load the installed libringo:" >&2
      ldd "$tmp/build/consumer" >&2
      exit 1
    fi
    "$tmp/build/consumer"

    # A version the installed package is not compatible with is refused, naming the version;
    # so is a project where pkg-config finds no liburing, with the package's own reason.
    mkdir "$tmp/project/cmake-9"
    sed 's/find_package(ringo 0\.1 /find_package(ringo 9.0 /' "$tmp/project/cmake/CMakeLists.txt" \
      >"$tmp/project/cmake-9/CMakeLists.txt"
    if ! grep -F 'find_package(ringo 9.0 ' "$tmp/project/cmake-9/CMakeLists.txt" >/dev/null; then
      echo "test/consumer/cmake/CMakeLists.txt no longer says find_package(ringo 0.1 ...)" >&2
      exit 1
    fi
    cmake_refuses 'find_package(ringo 9.0 CONFIG REQUIRED)' 'compatible with requested version "9.0"' \
      env CXX="${compiler[*]}" cmake -S "$tmp/project/cmake-9" -B "$tmp/build-9" "${cmake_args[@]}"
    mkdir "$tmp/no-pkgconfig"
    cmake_refuses 'find_package(ringo) without liburing' 'Reason given by package: ringo needs liburing >=' \
      env -u PKG_CONFIG_PATH PKG_CONFIG_LIBDIR="$tmp/no-pkgconfig" CXX="${compiler[*]}" \
      cmake -S "$tmp/project/cmake" -B "$tmp/build-no-liburing" "${cmake_args[@]}"
    ;;
  *)
    echo "unknown mode '$mode': use subproject, pkgconfig or cmake" >&2
    exit 2
    ;;
esac
