#!/usr/bin/env bash
# Runs the whole FerroHSM vs SoftHSMv2 comparison (p11bench) and the KMS API
# load test against the moto server (kmsload), and writes BENCHMARKS.md.
# Installs softhsm2 from Debian if it is missing (needs root or sudo).
# The KMS API reference is the moto server: `pip install 'moto[server]'`
# (puts `moto_server` on PATH). If it is missing, the KMS API section of
# BENCHMARKS.md says "moto: ABSENT" and gives no ratio; nothing is skipped
# silently.
#
# Arguments go to p11bench; --quick also makes kmsload quick (and skips its
# 1,000,000-request memory run).
set -euo pipefail
cd "$(dirname "$0")/.."
softhsm=/usr/lib/softhsm/libsofthsm2.so
if [ ! -e "$softhsm" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2
fi
command -v moto_server >/dev/null ||
  echo "run.sh: moto_server not found (pip install 'moto[server]'); the KMS API section will say so" >&2
kms_args=(--requests 1000000)
for a in "$@"; do
  [ "$a" = "--quick" ] && kms_args=(--quick)
done
cargo build --release --locked --lib --bins
p11=$(mktemp) kms=$(mktemp)
trap 'rm -f "$p11" "$kms"' EXIT
cargo bench --locked --bench p11bench -- \
  --module ferrohsm=target/release/libferrohsm.so \
  --module softhsm="$softhsm" \
  --out "$p11" "$@"
cargo bench --locked --bench kmsload -- "${kms_args[@]}" --out "$kms"
# The store on PostgreSQL next to SQLite (docs/storage.md), when
# FERROHSM_BENCH_PG_URL names a server (the password in PGPASSWORD; a
# schema of its own is made and dropped): the store cases and the KMS API's
# Encrypt/GenerateDataKey, the same build on each store in one run.
pgs=$(mktemp) pgk=$(mktemp)
trap 'rm -f "$p11" "$kms" "$pgs" "$pgk"' EXIT
if [ -n "${FERROHSM_BENCH_PG_URL:-}" ]; then
  counts=1000
  [ "${FERROHSM_BENCH_PG_LONG:-}" = 1 ] && counts=1000,100000
  cargo bench --locked --bench p11bench -- \
    --module sqlite=target/release/libferrohsm.so \
    --module postgresql=target/release/libferrohsm.so --store postgresql="$FERROHSM_BENCH_PG_URL" \
    --only "token keygen,GCM-4k encrypt,objects,processes" --counts "$counts" --out "$pgs"
  cargo bench --locked --bench kmsload -- --no-moto --ops encrypt,gdk --conns 1,16,64 \
    --store-url "$FERROHSM_BENCH_PG_URL" --out "$pgk"
fi
# BENCHMARKS.md is wholly what the tools wrote from this run; analysis of
# earlier runs stays in benches/notes.md, not appended to new figures.
{
  cat "$p11"; echo; cat "$kms"
  if [ -s "$pgs" ]; then echo; cat "$pgs"; echo; cat "$pgk"; fi
} > BENCHMARKS.md
