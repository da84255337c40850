#!/usr/bin/env python3
"""Writes the ML-KEM and ML-DSA known-answer files in this directory from the
PyPI package `cryptography_vectors` (asymmetric/MLKEM/kat_MLKEM_*.rsp and
asymmetric/MLDSA/kat_MLDSA_*_det_pure.rsp: the FIPS 203 / FIPS 204 KAT
response files, deterministic pure ML-DSA with a context string). Nothing is
computed: every field is copied; the ML-DSA signature is the first
signature-length bytes of `sm` (signature ‖ message), and ML-KEM's `pk` is
left out because FIPS 203's dk contains ek (dk = dk_PKE ‖ ek ‖ H(ek) ‖ z).
Only the choice of records is ours: the first RECORDS of each file.

    python3 -m venv /tmp/vv && /tmp/vv/bin/pip install cryptography_vectors==50.0.2
    /tmp/vv/bin/python tests/vectors/extract_pq.py
"""
import os

import cryptography_vectors as cv

ROOT = os.path.dirname(cv.__file__)
VER = getattr(cv, "__version__", "?")
OUT = os.environ.get("VECTORS_OUT") or os.path.dirname(os.path.abspath(__file__))
RECORDS = 2
SIG_LEN = {"44": 2420, "65": 3309, "87": 4627}


def records(rel):
    recs, cur = [], {}
    with open(os.path.join(ROOT, rel)) as f:
        for line in f:
            line = line.strip()
            if not line or " = " not in line:
                continue
            k, v = line.split(" = ", 1)
            if k == "count" and cur:
                recs.append(cur)
                cur = {}
                if len(recs) == RECORDS:
                    break
            cur[k] = v
    if cur and len(recs) < RECORDS:
        recs.append(cur)
    return recs


def hx(v):
    return v.lower() if v else "-"


with open(os.path.join(OUT, "ml_kem_kat.txt"), "w") as out:
    out.write(f"# Copied from PyPI package cryptography_vectors {VER}: asymmetric/MLKEM/kat_MLKEM_{{512,768,1024}}.rsp\n")
    out.write("# (first records; written by extract_pq.py)\n")
    out.write("# format: set d z dk m ct ss ct_n ss_n  (ct_n: a ciphertext dk rejects implicitly, giving ss_n)\n")
    for s in ("512", "768", "1024"):
        for r in records(f"asymmetric/MLKEM/kat_MLKEM_{s}.rsp"):
            f = [s, r["d"], r["z"], r["sk"], r["msg"], r["ct"], r["ss"], r["ct_n"], r["ss_n"]]
            out.write(" ".join(hx(x) for x in f) + "\n")

with open(os.path.join(OUT, "ml_dsa_kat.txt"), "w") as out:
    out.write(f"# Copied from PyPI package cryptography_vectors {VER}: asymmetric/MLDSA/kat_MLDSA_{{44,65,87}}_det_pure.rsp\n")
    out.write("# (first records; written by extract_pq.py)\n")
    out.write("# format: set xi pk sk msg ctx sig  (deterministic pure ML-DSA; sig = sm's first signature-length bytes)\n")
    for s in ("44", "65", "87"):
        for r in records(f"asymmetric/MLDSA/kat_MLDSA_{s}_det_pure.rsp"):
            sig = r["sm"][: 2 * SIG_LEN[s]]
            f = [s, r["xi"], r["pk"], r["sk"], r["msg"], r.get("ctx", ""), sig]
            out.write(" ".join(hx(x) for x in f) + "\n")
