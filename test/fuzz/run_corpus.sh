#!/usr/bin/env bash
# run_corpus.sh TARGET CORPUS ARTIFACT_PREFIX RUNS [FLAG...]: the regression run of one fuzz target for
# `meson test`: every input of CORPUS, then RUNS new inputs mutated from them with a fixed
# seed, so a run is repeatable. The inputs libFuzzer finds go to a scratch directory that is
# removed afterwards (it writes new inputs to the first directory it is given), so the
# source corpus stays as it is; a crashing input is saved as ARTIFACT_PREFIX<kind>-<hash>.
# FLAGs go to libFuzzer as they are. An input that runs for a minute hangs.
set -euo pipefail
target=$1 corpus=$2 artifacts=$3 runs=$4
shift 4
scratch=$(mktemp -d)
trap 'rm -rf -- "$scratch"' EXIT
"$target" "$scratch" "$corpus" -runs="$runs" -seed=1 -artifact_prefix="$artifacts" \
  -timeout=60 -print_final_stats=1 "$@"
