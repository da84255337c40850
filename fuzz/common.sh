# Sourced by run-campaign.sh and ci.sh: the toolchain and cargo-fuzz.
# cargo-fuzz needs rustc's -Z sanitizer and coverage flags: the nightly
# toolchain when it is installed, else the machine's one toolchain with
# RUSTC_BOOTSTRAP=1 (which lets a stable rustc take -Z flags; the
# sanitizer runtimes ship with the x86_64 Linux standard library).
cd "$(dirname "${BASH_SOURCE[0]}")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# FUZZ_NIGHTLY=0 takes the second way even where nightly is installed.
if [ "${FUZZ_NIGHTLY:-1}" != 0 ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ_CARGO=(cargo +nightly)
else
  export RUSTC_BOOTSTRAP=1
  FUZZ_CARGO=(cargo)
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
TARGETS=(pkcs11_objects pkcs11_crypto pkcs11_keys store_record kms_ciphertext config kms_http)
# Flags for every run: a hang is an input slower than 10 s; 2 GiB of RSS
# (and any single allocation past it) is an out-of-memory finding; leaks
# are reported (AddressSanitizer's LeakSanitizer).
LIBFUZZER_FLAGS=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -detect_leaks=1 -print_final_stats=1)
# Where `cargo fuzz build` puts the targets: runs use the binaries
# directly, so nothing is rebuilt between targets (`cargo fuzz run` would).
# FUZZ_PROFILE=dev (CI) builds without optimisation: about a third of the
# compile time, slower executions.
if [ "${FUZZ_PROFILE:-release}" = dev ]; then
  FUZZ_BUILD=(fuzz build --dev)
  FUZZ_BIN="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/debug"
else
  FUZZ_BUILD=(fuzz build)
  FUZZ_BIN="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
fi
# As `cargo fuzz run` sets it: the bundled SQLite defines file-local
# statics of one name twice, which AddressSanitizer would take for an
# ODR violation at start-up.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"
