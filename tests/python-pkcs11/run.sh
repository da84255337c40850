#!/usr/bin/env bash
# Runs the test suite shipped in the PyPI sdist of python-pkcs11 against a
# PKCS#11 module, on a fresh FerroHSM store with a token set up by
# pkcs11-tool, and writes a JUnit report plus a readable summary.
#
#   tests/python-pkcs11/run.sh [MODULE] [RESULTS_DIR]
#
# Needs: python3 (with headers, to build the package's Cython extension),
# gcc, pkcs11-tool (OpenSC), network access to PyPI. Exits non-zero only if
# the harness itself cannot run; test results are for the caller to judge
# (summarize.py --check compares them with the expectations file).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module="$(realpath "${1:-$here/../../target/release/libferrohsm.so}")"
results="${2:-/tmp/python-pkcs11-results}"
version=0.10.1
mkdir -p "$results"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q --upgrade pip >/dev/null
"$py" - "$version" "$work/sdist.tar.gz" <<'PY'
import json, sys, urllib.parse, urllib.request
version, dest = sys.argv[1], sys.argv[2]
index = "https://pypi.org/pypi/python-pkcs11/json"
d = json.load(urllib.request.urlopen(index))
files = d["releases"][version]
url = next(f["url"] for f in files if f["packagetype"] == "sdist")
if not url.startswith("http"):
    # Some PyPI mirrors answer relative links into their own file store.
    url = "https://files.pythonhosted.org/packages/" + url.split("/packages/")[-1]
urllib.request.urlretrieve(url, dest)
PY
tar -xzf "$work/sdist.tar.gz" -C "$work"
src="$work/python_pkcs11-$version"
"$py" -m pip install -q "$src" pytest parameterized cryptography oscrypto >/dev/null

# A fresh store and token for the suite.
store="$work/store"
mkdir -p "$store"
cat > "$store/ferrohsm.toml" <<TOML
[store]
path = "$store/store.db"
[kdf]
m_cost_kib = 64
t_cost = 1
p_cost = 1
[log]
level = "off"
TOML
export FERROHSM_CONF="$store/ferrohsm.toml"
export PKCS11_MODULE="$module" PKCS11_TOKEN_LABEL=TEST PKCS11_TOKEN_PIN=1234 PKCS11_TOKEN_SO_PIN=5678
pkcs11-tool --module "$module" --init-token --slot 0 --label TEST --so-pin 5678 >/dev/null
pkcs11-tool --module "$module" --token-label TEST --init-pin --so-pin 5678 --pin 1234 >/dev/null

# Run the sdist's tests against the installed package (from the sdist root
# the uncompiled source tree would shadow it).
mkdir -p "$work/suite"
cp -r "$src/tests" "$work/suite/tests"
cd "$work/suite"
set +e
timeout 1200 "$py" -m pytest -q -p no:cacheprovider --junitxml="$results/junit.xml" tests > "$results/pytest.log" 2>&1
echo "pytest exit code: $?" >> "$results/pytest.log"
set -e
"$py" "$here/summarize.py" "$results/junit.xml" > "$results/summary.txt"
cat "$results/summary.txt"
