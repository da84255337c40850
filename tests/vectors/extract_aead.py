#!/usr/bin/env python3
"""Regenerates aes_ccm_cavp.txt and chacha20_poly1305.txt in this directory
from the PyPI package `cryptography_vectors` (NIST CAVP CCM response files;
the ChaCha20-Poly1305 records OpenSSL's and BoringSSL's test suites carry,
RFC 7539/8439 among them). Nothing is computed: every field is copied from a
package file; only the choice of records is ours.

    python3 -m venv /tmp/vv && /tmp/vv/bin/pip install cryptography_vectors==50.0.2
    /tmp/vv/bin/python tests/vectors/extract_aead.py

CCM subset (deterministic): DVPT (decryption-verification: Nlen 7/13 x
Tlen 4/16 x Alen 0/32 x Plen 0/24), the first passing and the first failing
record of each section; VTT (Tlen 4..16) and VNT (Nlen 7..13), the first
record of each section; for AES-128, -192 and -256."""
import os
import re

import cryptography_vectors as cv

ROOT = os.path.dirname(cv.__file__)
VER = getattr(cv, "__version__", "?")
OUT = os.environ.get("VECTORS_OUT") or os.path.dirname(os.path.abspath(__file__))
PKG = f"PyPI package cryptography_vectors {VER}"


def ccm_records(path):
    """Records of a CAVP CCM file with the lengths and key/nonce in force."""
    ctx, out, cur = {}, [], None
    for raw in open(os.path.join(ROOT, path)):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            for k, v in re.findall(r"(\w+)\s*=\s*(\w+)", line):
                ctx[k] = v
            ctx["_section"] = line
            cur = None  # what follows a header, up to a Count, is the section's
            continue
        k, _, v = (p.strip() for p in line.partition("="))
        if k == "Count":
            cur = dict(ctx)
            out.append(cur)
        elif cur is None:
            ctx[k] = v
        else:
            cur[k] = v
    return out


def ccm_line(r):
    alen, plen, tlen = int(r["Alen"]), int(r["Plen"]), int(r["Tlen"])
    aad = r["Adata"][: 2 * alen] or "-"
    ok = r.get("Result", "Pass") == "Pass"
    payload = r.get("Payload", "")[: 2 * plen] if ok else ""
    return f'{r["Key"]} {r["Nonce"]} {aad} {payload or "-"} {r["CT"]} {tlen} {"pass" if ok else "fail"}'


def ccm():
    lines, files = [], []
    for bits in (128, 192, 256):
        f = f"ciphers/AES/CCM/DVPT{bits}.rsp"
        files.append(f)
        seen = set()
        for r in ccm_records(f):
            key = (r["_section"], r.get("Result"))
            if key in seen:
                continue
            seen.add(key)
            lines.append(ccm_line(r))
        for kind in ("VTT", "VNT"):
            f = f"ciphers/AES/CCM/{kind}{bits}.rsp"
            files.append(f)
            seen = set()
            for r in ccm_records(f):
                if r["_section"] in seen:
                    continue
                seen.add(r["_section"])
                lines.append(ccm_line(r))
    with open(os.path.join(OUT, "aes_ccm_cavp.txt"), "w") as o:
        o.write(f"# Source: {PKG}, files:\n")
        for f in files:
            o.write(f"#   {f} (NIST CAVP CCM)\n")
        o.write("# Extracted by tests/vectors/extract_aead.py (deterministic subset).\n")
        o.write("# format: key nonce aad payload ciphertext||tag tag_len pass|fail\n")
        o.write("\n".join(lines) + "\n")


def chacha_records(path):
    out, cur = [], None
    for raw in open(os.path.join(ROOT, path)):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        k, _, v = (p.strip() for p in line.partition("="))
        if k == "COUNT":
            cur = {}
            out.append(cur)
        elif cur is not None:
            cur[k.upper()] = v
    return out


def field(v):
    if v.startswith('"'):
        return v.strip('"').encode().hex() or "-"
    return v or "-"


def chacha():
    lines = []
    for r in chacha_records("ciphers/ChaCha20Poly1305/openssl.txt"):
        if len(r["IV"]) != 24:
            continue
        ok = "RESULT" not in r
        lines.append(f'{r["KEY"]} {r["IV"]} {field(r["AAD"])} {field(r["PLAINTEXT"])} '
                     f'{field(r["CIPHERTEXT"])} {r["TAG"]} {"pass" if ok else "fail"}')
    for r in chacha_records("ciphers/ChaCha20Poly1305/boringssl.txt"):
        if len(r["NONCE"]) != 24 or len(r["TAG"]) != 32:
            continue
        lines.append(f'{r["KEY"]} {r["NONCE"]} {field(r["AD"])} {field(r["IN"])} '
                     f'{field(r["CT"])} {r["TAG"]} pass')
    with open(os.path.join(OUT, "chacha20_poly1305.txt"), "w") as o:
        o.write(f"# Source: {PKG}, files:\n")
        o.write("#   ciphers/ChaCha20Poly1305/openssl.txt (OpenSSL evpciph.txt records)\n")
        o.write("#   ciphers/ChaCha20Poly1305/boringssl.txt (RFC 7539 section 2.8.2 and padding cases)\n")
        o.write("# Extracted by tests/vectors/extract_aead.py (records with a 96-bit nonce).\n")
        o.write("# format: key nonce aad plaintext ciphertext tag pass|fail\n")
        o.write("\n".join(lines) + "\n")


ccm()
chacha()
