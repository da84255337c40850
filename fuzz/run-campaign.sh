#!/usr/bin/env bash
# A long fuzzing campaign: `fuzz/run-campaign.sh HOURS [TARGET...]` builds
# the targets once, then runs each (default: all seven) for an equal share
# of HOURS, one after the other, niced, one in-process libFuzzer at a time
# (no -jobs, which would fork a worker and send its output to fuzz-N.log).
# Each grows its working corpus in fuzz/corpus-work/<target>/ (not
# committed), seeded from fuzz/corpus/<target>/; logs go to
# fuzz/logs/<target>.log and findings to fuzz/artifacts/<target>/. Prints
# one summary line per target (execs, exec/s, cov, ft, corpus, findings).
# Minimise a finding with `cargo fuzz tmin <target> <file>`; fold new
# coverage back into the committed seeds with
# `cargo fuzz cmin <target> corpus-work/<target>` (see docs/reliability.md).
set -uo pipefail
hours="${1:?usage: run-campaign.sh HOURS [TARGET...]}"
shift
source "$(dirname "$0")/common.sh"
[ $# -gt 0 ] && TARGETS=("$@")
secs=$(python3 -c "print(max(1, int(float('$hours') * 3600 / ${#TARGETS[@]})))")
nice -n 10 "${FUZZ_CARGO[@]}" "${FUZZ_BUILD[@]}" || exit 1
mkdir -p logs
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus-work/$t" "artifacts/$t" "corpus/$t"
  # The target's scratch store (fuzz/src/lib.rs), removed after the run.
  tmp="$(mktemp -d)"
  TMPDIR="$tmp" nice -n 10 "$FUZZ_BIN/$t" "corpus-work/$t" "corpus/$t" -max_total_time="$secs" "${LIBFUZZER_FLAGS[@]}" \
    -artifact_prefix="$PWD/artifacts/$t/" >"logs/$t.log" 2>&1 || status=1
  rm -rf "$tmp"
  python3 summarize.py "$t" "logs/$t.log" "corpus-work/$t" "artifacts/$t"
done
exit $status
