#!/usr/bin/env bash
# Runs the test suite shipped in the PyPI sdist of python-pkcs11 against a
# PKCS#11 module, on a fresh FerroHSM store with a token set up by
# pkcs11-tool, and writes a JUnit report plus a readable summary.
#
#   tests/python-pkcs11/run.sh [MODULE] [RESULTS_DIR]
#
#   MODULE       default: target/release/libferrohsm.so of this checkout
#   RESULTS_DIR  default: /tmp/python-pkcs11-results; gets junit.xml,
#                pytest.log (with "pytest exit code: N" as its last line),
#                summary.txt (summarize.py's output, also printed)
#
# Environment:
#   AS_SOFTHSM=1  load the module through a symlink named libsofthsm2.so, so
#                 the suite also runs its "SoftHSMv2 only" tests (copy_object,
#                 set_pin, init_pin, SO login, get_token, get_slots/tokens,
#                 explicit EC parameters); .ci/test runs it so, and
#                 expected.txt records that run.
#   KEEP_WORK=1   keep the temporary venv/store/sdist directory (path printed).
#
# Needs (Debian packages, for CI): python3 + python3-venv + python3-dev
# (Python.h: the package builds a Cython extension), gcc, opensc
# (pkcs11-tool), and access to PyPI. Build deps of the sdist (setuptools,
# cython, setuptools-scm) come from PyPI as wheels into pip's isolated build
# environment.
#
# Exit status: 0 whatever the tests' results (the caller judges them, e.g.
# `summarize.py junit.xml --check expected.txt`); non-zero only when the
# harness itself cannot run (no venv, download/build failed, token setup
# failed, pytest crashed or collected nothing, no JUnit report).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module="$(realpath "${1:-$here/../../target/release/libferrohsm.so}")"
results="${2:-/tmp/python-pkcs11-results}"
version=0.10.1 # newest release; builds with Python 3.10-3.14 here
label=TEST user_pin=1234 so_pin=5678

[ -f "$module" ] || { echo "run.sh: no module at $module" >&2; exit 2; }
command -v pkcs11-tool >/dev/null || { echo "run.sh: pkcs11-tool (opensc) not found" >&2; exit 2; }
mkdir -p "$results"
results="$(realpath "$results")"
rm -f "$results/junit.xml" "$results/pytest.log" "$results/summary.txt"
work="$(mktemp -d)"
if [ "${KEEP_WORK:-0}" = 1 ]; then
  echo "run.sh: work directory $work kept" >&2
else
  trap 'rm -rf "$work"' EXIT
fi

# (a) venv
python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q --upgrade pip >/dev/null

# (b) the sdist, exactly as published. `--no-binary python-pkcs11` rather than
# `--no-binary :all:`: the latter would also build the sdist's build
# requirements (setuptools, cython, ...) from source, which takes many minutes.
"$py" -m pip download -q --no-deps --no-binary python-pkcs11 -d "$work/dl" "python-pkcs11==$version" >/dev/null
tar -xzf "$work/dl/python_pkcs11-$version.tar.gz" -C "$work"
src="$work/python_pkcs11-$version"
# The package (compiles pkcs11/_pkcs11.pyx) and the sdist's "testing"
# dependency group (pyproject.toml).
"$py" -m pip install -q "$src" "pytest>=8.3.4" "parameterized>=0.9.0" "cryptography>=44.0.0" >/dev/null

# (c) a fresh store and token for the suite.
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
pkcs11-tool --module "$module" --init-token --slot 0 --label "$label" --so-pin "$so_pin" >/dev/null
pkcs11-tool --module "$module" --token-label "$label" --init-pin --so-pin "$so_pin" --pin "$user_pin" >/dev/null

load="$module"
if [ "${AS_SOFTHSM:-0}" = 1 ]; then
  # tests/__init__.py decides "is SoftHSMv2" from the file name alone.
  mkdir -p "$work/alias"
  ln -s "$module" "$work/alias/libsofthsm2.so"
  load="$work/alias/libsofthsm2.so"
fi
# The variables tests/__init__.py reads.
export PKCS11_MODULE="$load" PKCS11_TOKEN_LABEL="$label" PKCS11_TOKEN_PIN="$user_pin" PKCS11_TOKEN_SO_PIN="$so_pin"
# test_multilib loads a second, different module beside ours in the same
# process: SoftHSMv2 (installed by .ci/test), on its own empty token
# directory (its one uninitialized slot is all the test needs).
unset PKCS11_MODULE2
softhsm=/usr/lib/softhsm/libsofthsm2.so
if [ -f "$softhsm" ]; then
  mkdir -p "$work/softhsm/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/softhsm/tokens" > "$work/softhsm/softhsm2.conf"
  export SOFTHSM2_CONF="$work/softhsm/softhsm2.conf" PKCS11_MODULE2="$softhsm"
fi

# (d) run the sdist's tests against the installed package (from the sdist
# root the uncompiled source tree would shadow it).
mkdir -p "$work/suite"
cp -r "$src/tests" "$work/suite/tests"
cd "$work/suite"
set +e
timeout 1200 "$py" -m pytest -q -p no:cacheprovider \
  --junitxml="$results/junit.xml" tests > "$results/pytest.log" 2>&1
rc=$?
set -e
echo "pytest exit code: $rc" >> "$results/pytest.log"
# 0: all passed, 1: some failed. Anything else (interrupted, internal error,
# usage error, no tests collected, timeout) means the harness did not work.
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  tail -n 40 "$results/pytest.log" >&2
  echo "run.sh: pytest did not complete (exit $rc)" >&2
  exit 3
fi
[ -s "$results/junit.xml" ] || { echo "run.sh: no JUnit report" >&2; exit 3; }
"$py" "$here/summarize.py" "$results/junit.xml" > "$results/summary.txt"
cat "$results/summary.txt"
# (e) test failures are reported, not turned into an exit status.
exit 0
