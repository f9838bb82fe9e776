# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source it
# Shared by scripts/main, scripts/test and scripts/fuzz: the packages ringo needs and how to
# install them, how a build directory is set up.
# Source it; do not run it.

# What building ringo and running its demos needs (Debian 12 package names); libssl-dev for
# the TLS classes (meson option `tls`, built when it is found).
RINGO_BUILD_PACKAGES=(g++ meson ninja-build pkg-config liburing-dev libfmt-dev libssl-dev)
# What the test suite needs on top: Catch2, clang 16 (clang 14 cannot compile libstdc++ 12's
# <ranges>), clang's sanitizer runtimes, cmake (the CMake consumer test) and doxygen (the API
# reference, which the test `docs` builds); qemu and a static busybox for scripts/in_vm, which
# runs a test in a VM booting Debian's kernel, whose tls module kernel TLS needs.
RINGO_TEST_PACKAGES=("${RINGO_BUILD_PACKAGES[@]}" catch2 clang-16 libclang-rt-16-dev cmake doxygen
  qemu-system-x86 busybox-static)
# What the fuzz targets (test/fuzz) need: clang 16 and its runtimes, libFuzzer among them.
RINGO_FUZZ_PACKAGES=("${RINGO_BUILD_PACKAGES[@]}" clang-16 libclang-rt-16-dev)
# The fuzz build (build/fuzz, for clang++-16), the same for scripts/fuzz and scripts/test:
# optimized, since a fuzzer's worth is its inputs per second, and under ASan and UBSan.
RINGO_FUZZ_SETUP=(-Dfuzz=true -Dwerror=true -Dbuildtype=debugoptimized
  -Db_sanitize=address,undefined -Db_lundef=false
  -Dtests=disabled -Ddemos=disabled -Dbenchmarks=disabled)

# The source root, whatever directory the script was started from.
RINGO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

ringo_log() { printf '%s\n' "$*"; }
ringo_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# ringo_install_packages PKG...: installs those of the packages that are not installed yet.
# Runs `apt-get update` only when something is missing; uses sudo only when not root.
ringo_install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    ringo_log "packages: all ${#} present"
    return 0
  fi
  command -v apt-get >/dev/null || ringo_die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || ringo_die "missing packages (${missing[*]}): run as root or install sudo"
    sudo=(sudo)
  fi
  ringo_log "packages: installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# ringo_setup BUILDDIR OPTION...: configures BUILDDIR for the compiler $CXX with the options,
# reconfiguring it when it is already a build directory for that compiler (and starting afresh
# when that fails, or when it was set up for another compiler: meson cannot change that).
ringo_setup() {
  local dir=$1
  shift
  local cxx=${CXX:-c++} stamp=$dir/ringo-compiler.txt
  if [[ -f $dir/meson-private/coredata.dat && -f $stamp && $(<"$stamp") == "$cxx" ]]; then
    meson setup --reconfigure "$dir" "$RINGO_ROOT" "$@" ||
      meson setup --wipe "$dir" "$RINGO_ROOT" "$@" || return
  else
    rm -rf -- "$dir"
    meson setup "$dir" "$RINGO_ROOT" "$@" || return
  fi
  printf '%s\n' "$cxx" >"$stamp"
}

# ringo_lsan_works: whether LeakSanitizer can run here. It stops the process with ptrace to
# scan it, which some sandboxes forbid; then it dies with "LeakSanitizer has encountered a
# fatal error" instead of reporting. Checked on a program that leaks on purpose.
ringo_lsan_works() {
  local dir rc=0
  dir=$(mktemp -d)
  printf '#include <cstdlib>\nvoid* volatile p;\nint main() { p = std::malloc(64); p = nullptr; }\n' >"$dir/leak.cpp"
  g++ -fsanitize=address -o "$dir/leak" "$dir/leak.cpp" &&
    { "$dir/leak" 2>"$dir/err" || true; } &&
    grep -q 'LeakSanitizer: detected memory leaks' "$dir/err" || rc=1
  rm -rf -- "$dir"
  return "$rc"
}
