#!/usr/bin/env python3
"""Summarizes a python-pkcs11 JUnit report: each test as PASS / FAIL / SKIP
with the first line of its message, grouped by file, with totals.

    summarize.py junit.xml               print the summary
    summarize.py junit.xml --check FILE  also compare with an expectations
                                         file (lines "test_id STATUS"); exit 1
                                         on any test whose status differs."""
import sys
import xml.etree.ElementTree as ET


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
                msg = msg[0][:160] if msg else ""
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
