#!/usr/bin/env bash
# Folds a campaign's grown corpus into the committed seeds:
# `fuzz/minimize-corpus.sh TARGET...` merges fuzz/corpus-work/<target>/ and
# fuzz/corpus/<target>/ into the smallest set of inputs that reaches every
# edge the two reach (libFuzzer -merge=1, counters and value profiles off,
# so the set stays small), and makes that fuzz/corpus/<target>/. Seeds with
# a name (regression inputs, hand-written seeds) are kept whatever the merge
# says; libFuzzer names its own inputs by their SHA-1.
set -euo pipefail
source "$(dirname "$0")/common.sh"
mkdir -p logs
for t in "$@"; do
  new="$(mktemp -d)"
  tmp="$(mktemp -d)"
  TMPDIR="$tmp" nice -n 10 "$FUZZ_BIN/$t" -merge=1 -use_counters=0 -use_value_profile=0 -timeout=10 -rss_limit_mb=2048 \
    "$new" "corpus/$t" "corpus-work/$t" >"logs/$t.merge.log" 2>&1
  rm -rf "$tmp"
  for f in "corpus/$t"/*; do
    [ -f "$f" ] || continue
    [[ "$(basename "$f")" =~ ^[0-9a-f]{40}$ ]] || cp "$f" "$new/"
  done
  rm -rf "corpus/$t"
  mv "$new" "corpus/$t"
  chmod 755 "corpus/$t"
  echo "$t: $(ls "corpus/$t" | wc -l) seeds, $(du -sk "corpus/$t" | cut -f1) KiB"
done
