#!/usr/bin/env bash
# CI's fuzzing step (.ci/run): builds the fuzz targets, replays each
# target's committed corpus (fuzz/corpus/<target>/, every input once:
# any crash, timeout, leak or out-of-memory fails), then fuzzes each for
# SECONDS (default 15) from that corpus into a scratch copy. Exits
# non-zero on any finding and prints what it found. Built with
# `cargo fuzz build --dev` (AddressSanitizer, debug assertions, no
# optimisation): about a third of the optimised build's compile time.
set -uo pipefail
secs="${1:-15}"
export FUZZ_PROFILE="${FUZZ_PROFILE:-dev}"
# The machine's own toolchain (with RUSTC_BOOTSTRAP=1), nightly or not:
# a new machine has no other, so CI takes that one way everywhere.
export FUZZ_NIGHTLY="${FUZZ_NIGHTLY:-0}"
source "$(dirname "$0")/common.sh"
start=$(date +%s)
"${FUZZ_CARGO[@]}" "${FUZZ_BUILD[@]}" || exit 1
echo "fuzz: build took $(( $(date +%s) - start )) s"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# The targets' scratch stores (fuzz/src/lib.rs) go there too.
export TMPDIR="$scratch"
failed=0
passed=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$scratch/$t/corpus" "$scratch/$t/artifacts"
  if ! "$FUZZ_BIN/$t" "corpus/$t" -runs=0 "${LIBFUZZER_FLAGS[@]}" \
      -artifact_prefix="$scratch/$t/artifacts/" >"$scratch/$t/replay.log" 2>&1; then
    echo "fuzz: $t: replaying its corpus failed"; tail -n 60 "$scratch/$t/replay.log"; failed=$((failed + 1)); continue
  fi
  cp -r "corpus/$t/." "$scratch/$t/corpus/"
  if ! "$FUZZ_BIN/$t" "$scratch/$t/corpus" -max_total_time="$secs" "${LIBFUZZER_FLAGS[@]}" \
      -artifact_prefix="$scratch/$t/artifacts/" >"$scratch/$t/fuzz.log" 2>&1; then
    echo "fuzz: $t: a finding in $secs s of fuzzing"; tail -n 60 "$scratch/$t/fuzz.log"
    for f in "$scratch/$t/artifacts/"*; do [ -f "$f" ] && { echo "input ($f):"; od -A x -t x1z "$f" | head -40; }; done
    failed=$((failed + 1)); continue
  fi
  python3 summarize.py "$t" "$scratch/$t/fuzz.log" "$scratch/$t/corpus" "$scratch/$t/artifacts"
  passed=$((passed + 1))
done
echo "fuzz: $(( $(date +%s) - start )) s in all"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
