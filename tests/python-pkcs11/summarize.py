#!/usr/bin/env python3
"""Summarizes a python-pkcs11 JUnit report: each test as PASS / FAIL / SKIP
with the first line of its message, grouped by file, with totals.

    summarize.py junit.xml               print the summary
    summarize.py junit.xml --check FILE  also compare with an expectations
                                         file (lines "test_id STATUS"); exit 1
                                         on any test whose status differs."""
import re
import sys
import xml.etree.ElementTree as ET

# Mechanisms the suite's @requires skips name by number ("Requires 0, 64").
MECHS = {
    0x0: "RSA_PKCS_KEY_PAIR_GEN", 0x1: "RSA_PKCS", 0x3: "RSA_X_509", 0x6: "SHA1_RSA_PKCS",
    0x9: "RSA_PKCS_OAEP", 0xD: "RSA_PKCS_PSS", 0xE: "SHA1_RSA_PKCS_PSS",
    0xF: "ML_KEM_KEY_PAIR_GEN", 0x17: "ML_KEM", 0x1C: "ML_DSA_KEY_PAIR_GEN", 0x1D: "ML_DSA",
    0x10: "DSA_KEY_PAIR_GEN", 0x11: "DSA", 0x12: "DSA_SHA1", 0x20: "DH_PKCS_KEY_PAIR_GEN",
    0x21: "DH_PKCS_DERIVE", 0x40: "SHA256_RSA_PKCS", 0x43: "SHA256_RSA_PKCS_PSS",
    0x120: "DES_KEY_GEN", 0x130: "DES2_KEY_GEN", 0x131: "DES3_KEY_GEN", 0x132: "DES3_ECB",
    0x133: "DES3_CBC", 0x136: "DES3_CBC_PAD", 0x1040: "EC_KEY_PAIR_GEN", 0x1041: "ECDSA",
    0x1042: "ECDSA_SHA1", 0x1044: "ECDSA_SHA256", 0x1050: "ECDH1_DERIVE",
    0x1055: "EC_EDWARDS_KEY_PAIR_GEN", 0x1057: "EDDSA", 0x2000: "DSA_PARAMETER_GEN",
    0x2001: "DH_PKCS_PARAMETER_GEN",
}


def mech_names(msg):
    """'Requires 0, 64' -> 'Requires RSA_PKCS_KEY_PAIR_GEN, SHA256_RSA_PKCS'."""
    m = re.fullmatch(r"Requires ([0-9, ]+)", msg)
    if not m:
        return msg
    nums = [int(x) for x in m.group(1).split(",")]
    return "Requires " + ", ".join(MECHS.get(n, f"0x{n:x}") for n in nums)


def results(path):
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        tid = f"{case.get('classname')}.{case.get('name')}"
        status, msg = "PASS", ""
        for tag, st in (("failure", "FAIL"), ("error", "FAIL"), ("skipped", "SKIP")):
            el = case.find(tag)
            if el is not None:
                status = st
                msg = (el.get("message") or el.text or "").strip().splitlines()[0:1]
                msg = mech_names(msg[0][:160]) if msg else ""
                break
        out[tid] = (status, msg)
    return out


def main():
    res = results(sys.argv[1])
    by_file = {}
    for tid, (st, msg) in sorted(res.items()):
        by_file.setdefault(tid.split(".")[1] if tid.count(".") > 1 else tid, []).append((tid, st, msg))
    totals = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for f, rows in by_file.items():
        counts = {k: sum(1 for r in rows if r[1] == k) for k in totals}
        print(f"## {f}: {counts['PASS']} pass, {counts['FAIL']} fail, {counts['SKIP']} skip")
        for tid, st, msg in rows:
            totals[st] += 1
            print(f"{st:4} {tid}" + (f"  -- {msg}" if msg else ""))
    print(f"\nTOTAL: {totals['PASS']} pass, {totals['FAIL']} fail, {totals['SKIP']} skip")
    if len(sys.argv) > 3 and sys.argv[2] == "--check":
        expected = {}
        for line in open(sys.argv[3]):
            line = line.strip()
            if line and not line.startswith("#"):
                tid, st = line.rsplit(None, 1)
                expected[tid] = st
        bad = [(t, expected.get(t), res[t][0]) for t in res if expected.get(t) != res[t][0]]
        missing = [t for t in expected if t not in res]
        for t, e, g in bad:
            print(f"UNEXPECTED {t}: expected {e}, got {g}")
        for t in missing:
            print(f"MISSING {t}")
        sys.exit(1 if bad or missing else 0)


main()
