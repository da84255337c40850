#!/usr/bin/env bash
# Runs the whole FerroHSM vs SoftHSMv2 comparison and writes BENCHMARKS.md.
# Installs softhsm2 from Debian if it is missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
softhsm=/usr/lib/softhsm/libsofthsm2.so
if [ ! -e "$softhsm" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2
fi
cargo build --release --locked --lib
cargo bench --locked --bench p11bench -- \
  --module ferrohsm=target/release/libferrohsm.so \
  --module softhsm="$softhsm" \
  --out BENCHMARKS.md "$@"
# BENCHMARKS.md is wholly what the tool wrote from this run; analysis of
# earlier runs stays in benches/notes.md, not appended to new figures.
