#!/usr/bin/env bash
# Drives OpenSC's pkcs11-tool against a PKCS#11 module on a fresh FerroHSM
# store: its built-in self test (`--test`, without and with secret keys on
# the token), `--test-threads`, `--test-fork`, then a short battery of
# pkcs11-tool operations whose results are checked against openssl /
# coreutils (digests, HMAC sign/verify, AES encrypt/decrypt, objects,
# attributes, PINs).
#
#   tests/pkcs11-tool-test/run.sh [MODULE] [OUT_DIR]
#
#   MODULE   default: target/release/libferrohsm.so of this checkout
#   OUT_DIR  default: /tmp/pkcs11-tool-test-results; gets one log per step
#            (NN-name.log: command line, exit code, output) and summary.txt
#
# What `--test` covers (OpenSC 0.23, p11_test()): C_SeedRandom +
# C_GenerateRandom; C_Digest* (first CKF_DIGEST mechanism in multi-part vs
# one-shot, then MD5/RIPEMD160/SHA-1/SHA256 known answers, skipping those
# answering CKR_MECHANISM_INVALID); signatures, verify and decryption are
# tried only with RSA *private* keys (CKO_PRIVATE_KEY), key unwrap is
# compiled out in 0.23. Secret keys on the token therefore change nothing
# beyond the object search; the extra battery below covers them.
#
# Needs: pkcs11-tool (Debian: opensc), openssl, xxd, coreutils.
# Exit status: 0 whatever the checks' results (see summary.txt; its last
# line is "pkcs11-tool: N passed, N failed"); non-zero only when the harness
# cannot run (no module / pkcs11-tool, token setup failed).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module="$(realpath "${1:-$here/../../target/release/libferrohsm.so}")"
out="${2:-/tmp/pkcs11-tool-test-results}"
label=T so_pin=12345678 pin=1234

[ -f "$module" ] || { echo "run.sh: no module at $module" >&2; exit 2; }
for t in pkcs11-tool openssl xxd; do
  command -v "$t" >/dev/null || { echo "run.sh: $t not found" >&2; exit 2; }
done
mkdir -p "$out"
out="$(realpath "$out")"
rm -f "$out"/*.log "$out/summary.txt"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/ferrohsm.toml" <<TOML
[store]
path = "$work/store.db"
[kdf]
m_cost_kib = 64
t_cost = 1
p_cost = 1
TOML
export FERROHSM_CONF="$work/ferrohsm.toml"

p11() { pkcs11-tool --module "$module" "$@"; }
user() { p11 --token-label "$label" --login --pin "$pin" "$@"; }

n=0 passed=0 failed=0
summary() { echo "$*" | tee -a "$out/summary.txt"; }
# step NAME EXPECT CMD...: runs CMD, logs it; EXPECT is a shell condition
# evaluated afterwards with $rc (exit code) and $log (output file) set.
step() {
  local name="$1" expect="$2"; shift 2
  n=$((n + 1))
  log="$out/$(printf %02d "$n")-$name.log"
  { printf '$'; printf ' %q' "$@"; echo; } > "$log"
  "$@" >> "$log" 2>&1
  rc=$?
  echo "exit code: $rc" >> "$log"
  if eval "$expect"; then
    passed=$((passed + 1)); summary "PASS $name"
  else
    failed=$((failed + 1)); summary "FAIL $name  -- $(grep -m1 -iE 'error|fail|CKR_|mismatch|differ|unexpected' "$log" || echo "exit code $rc") (see $(basename "$log"))"
  fi
}
ok='[ $rc -eq 0 ]'
self_test_ok='[ $rc -eq 0 ] && grep -q "^No errors" "$log"'

# --- token setup (harness; must work) ---
p11 --init-token --slot 0 --label "$label" --so-pin "$so_pin" > "$out/00-init-token.log" 2>&1 &&
  p11 --init-pin --token-label "$label" --so-pin "$so_pin" --pin "$pin" >> "$out/00-init-token.log" 2>&1 ||
  { cat "$out/00-init-token.log" >&2; echo "run.sh: token setup failed" >&2; exit 3; }

# --- the built-in self tests ---
step test-empty-token "$self_test_ok" user --test
step test-no-login "$self_test_ok" p11 --token-label "$label" --test

step keygen-aes256 "$ok" user --keygen --key-type AES:32 --extractable --label aes256 --id 01
step keygen-generic "$ok" user --keygen --key-type GENERIC:32 --label hmac-gen --id 02
printf 'hello FerroHSM data object' > "$work/data.bin"
step write-data-object "$ok" user --write-object "$work/data.bin" --type data --label blob --application-label app1
step test-with-keys "$self_test_ok" user --test
step test-threads "$ok"' && ! grep -q "some errors" "$log"' \
  p11 --test-threads IN:GI:SL:T0 --test-threads IN:GI:SL:T0 --test-threads IN:SL:T0:GI -L
step test-fork "$ok" p11 --test-fork -L

# --- the battery: pkcs11-tool operations checked against reference tools ---
step list-mechanisms "$ok"' && grep -q "SHA256-HMAC" "$log" && grep -q "AES-KEY-GEN" "$log"' p11 -M
step list-objects '[ $rc -eq 0 ] && [ "$(grep -c "^Secret Key Object" "$log")" -eq 2 ] && grep -q "^Data object" "$log"' \
  user -O
step random-64 '[ $rc -eq 0 ] && [ "$(stat -c %s "$work/rand.bin")" -eq 64 ]' user --generate-random 64 -o "$work/rand.bin"

head -c 1000 /dev/urandom > "$work/msg.bin"
for h in SHA-1:sha1 SHA224:sha224 SHA256:sha256 SHA384:sha384 SHA512:sha512 SHA3-256:sha3-256 SHA3-512:sha3-512; do
  mech="${h%%:*}" alg="${h##*:}"
  want="$(openssl dgst -"$alg" -binary "$work/msg.bin" | xxd -p -c 256)"
  step "hash-$mech" '[ $rc -eq 0 ] && [ "$(xxd -p -c 256 "$work/h.bin")" = "'"$want"'" ]' \
    p11 --hash -m "$mech" -i "$work/msg.bin" -o "$work/h.bin"
done

# pkcs11-tool 0.23 picks the key for --sign/--verify/--encrypt/--decrypt by
# --id only (it ignores --label there and otherwise takes the first secret
# key found), so every such call below names the key by CKA_ID.
hmac_roundtrip() {
  user --sign -m SHA256-HMAC --id 02 -i "$work/msg.bin" -o "$work/mac-gen.bin" &&
    user --verify -m SHA256-HMAC --id 02 -i "$work/msg.bin" --signature-file "$work/mac-gen.bin"
}
# Known secret keys, imported, so results can be compared with openssl.
hk="$(head -c 32 /dev/urandom | xxd -p -c 64)"
echo "$hk" | xxd -r -p > "$work/hk.bin"
step import-generic-secret "$ok" user --write-object "$work/hk.bin" --type secrkey --label hk --id 10 --usage-sign
for h in SHA-1:sha1 SHA256:sha256 SHA384:sha384 SHA512:sha512; do
  mech="${h%%:*}-HMAC" alg="${h##*:}"
  want="$(openssl dgst -"$alg" -mac HMAC -macopt hexkey:"$hk" -binary "$work/msg.bin" | xxd -p -c 256)"
  step "sign-$mech" '[ $rc -eq 0 ] && [ "$(xxd -p -c 256 "$work/mac.bin")" = "'"$want"'" ]' \
    user --sign -m "$mech" --id 10 -i "$work/msg.bin" -o "$work/mac.bin"
  step "verify-$mech" '[ $rc -eq 0 ] && grep -q "Signature is valid" "$log"' \
    user --verify -m "$mech" --id 10 -i "$work/msg.bin" --signature-file "$work/mac.bin"
  cp "$work/mac.bin" "$work/mac-$mech.bin"
done
printf 'tampered' >> "$work/msg2.bin"; cat "$work/msg.bin" >> "$work/msg2.bin"
step verify-HMAC-wrong-data 'grep -q "Invalid signature\|CKR_SIGNATURE_INVALID" "$log"' \
  user --verify -m SHA256-HMAC --id 10 -i "$work/msg2.bin" --signature-file "$work/mac-SHA256-HMAC.bin"
step verify-HMAC-wrong-key 'grep -q "Invalid signature\|CKR_SIGNATURE_INVALID" "$log"' \
  user --verify -m SHA256-HMAC --id 02 -i "$work/msg.bin" --signature-file "$work/mac-SHA256-HMAC.bin"
step generated-generic-hmac-roundtrip '[ $rc -eq 0 ] && grep -q "Signature is valid" "$log"' hmac_roundtrip

ak="$(head -c 32 /dev/urandom | xxd -p -c 64)" iv="$(head -c 16 /dev/urandom | xxd -p -c 32)"
echo "$ak" | xxd -r -p > "$work/ak.bin"
step import-aes-key "$ok" user --write-object "$work/ak.bin" --type secrkey --key-type AES:32 --label ak --id 11 --usage-decrypt
want="$(openssl enc -aes-256-cbc -K "$ak" -iv "$iv" -in "$work/msg.bin" | xxd -p -c 4096)"
step encrypt-AES-CBC-PAD '[ $rc -eq 0 ] && [ "$(xxd -p -c 4096 "$work/ct.bin")" = "'"$want"'" ]' \
  user --encrypt -m AES-CBC-PAD --iv "$iv" --id 11 -i "$work/msg.bin" -o "$work/ct.bin"
step decrypt-AES-CBC-PAD '[ $rc -eq 0 ] && cmp -s "$work/pt.bin" "$work/msg.bin"' \
  user --decrypt -m AES-CBC-PAD --iv "$iv" --id 11 -i "$work/ct.bin" -o "$work/pt.bin"
roundtrip() {
  user --encrypt -m AES-CBC-PAD --iv "$iv" --id 01 -i "$work/msg.bin" -o "$work/ct2.bin" &&
    user --decrypt -m AES-CBC-PAD --iv "$iv" --id 01 -i "$work/ct2.bin" -o "$work/pt2.bin"
}
step generated-aes-roundtrip '[ $rc -eq 0 ] && cmp -s "$work/pt2.bin" "$work/msg.bin"' roundtrip

# Objects and attributes.
step read-data-object '[ $rc -eq 0 ] && cmp -s "$work/data-out.bin" "$work/data.bin"' \
  user --read-object --type data --label blob -o "$work/data-out.bin"
step read-extractable-key '[ $rc -eq 0 ] && [ "$(stat -c %s "$work/aes-out.bin")" -eq 32 ]' \
  user --read-object --type secrkey --label aes256 -o "$work/aes-out.bin"
step set-id "$ok" user --set-id 99 --type secrkey --label hmac-gen
step find-by-new-id '[ $rc -eq 0 ] && grep -q "ID:.*99" "$log" && grep -q "hmac-gen" "$log"' user -O --type secrkey --id 99
step delete-object "$ok" user --delete-object --type data --label blob
step objects-after-delete '[ $rc -eq 0 ] && ! grep -q "^Data object" "$log" && [ "$(grep -c "^Secret Key Object" "$log")" -eq 4 ]' user -O
step public-objects-without-login '[ $rc -eq 0 ]' p11 --token-label "$label" -O

# PINs.
step login-wrong-pin '[ $rc -ne 0 ] && grep -q "CKR_PIN_INCORRECT" "$log"' \
  p11 --token-label "$label" --login --pin 9999 -O
step change-pin "$ok" p11 --token-label "$label" --login --pin "$pin" --change-pin --new-pin 4321
step login-new-pin "$ok" p11 --token-label "$label" --login --pin 4321 -O
step change-pin-back "$ok" p11 --token-label "$label" --login --pin 4321 --change-pin --new-pin "$pin"
# pkcs11-tool opens a R/O session for listing: SO login must be refused there.
step so-login-ro-refused '[ $rc -ne 0 ] && grep -q "CKR_SESSION_READ_ONLY_EXISTS" "$log"' \
  p11 --token-label "$label" --login --login-type so --so-pin "$so_pin" -O
step so-login-init-pin "$ok" p11 --token-label "$label" --login --init-pin --so-pin "$so_pin" --pin "$pin"
step login-after-init-pin "$ok" user -O

summary "pkcs11-tool: $passed passed, $failed failed"
exit 0
