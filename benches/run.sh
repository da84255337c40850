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
# The hand-written analysis of the targets follows the generated table.
case " $* " in *" --out "*) ;; *) cat benches/notes.md >> BENCHMARKS.md ;; esac
