#!/usr/bin/env python3
"""Regenerates the RSA and ECDSA known-answer files in this directory from the
PyPI package `cryptography_vectors` (NIST CAVP response files and the RSA
Laboratories PKCS#1 v2.1 vectors it ships as package data). Nothing is
computed here: every field is copied from a package file; only the choice of
records is ours (deterministic: the first records of each named section).

    python3 -m venv /tmp/vv && /tmp/vv/bin/pip install cryptography_vectors==50.0.2
    /tmp/vv/bin/python tests/vectors/extract_asym.py
"""
import os
import re

import cryptography_vectors as cv

ROOT = os.path.dirname(cv.__file__)
VER = getattr(cv, "__version__", "?")
OUT = os.environ.get("VECTORS_OUT") or os.path.dirname(os.path.abspath(__file__))
PKG = f"PyPI package cryptography_vectors {VER}"


def path(rel):
    return os.path.join(ROOT, rel)


def even(x):
    return "0" + x if re.fullmatch(r"[0-9a-fA-F]+", x) and len(x) % 2 else x


def write(name, sources, fmt, rows):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(f"# Copied from {PKG}: {', '.join(sources)}\n")
        f.write(f"# format: {fmt}\n")
        for r in rows:
            # Hex of odd length (pyca writes `10001`) gets its leading zero.
            f.write(" ".join(even(x) if x else "-" for x in r) + "\n")
    print(f"{name}: {len(rows)} records")


def cavp(rel):
    """CAVP .rsp records: `k = v` lines; `[k = v]` / `[a,b]` headers and
    header-level `k = v` lines (before the first record field) carried into
    each record."""
    recs, hdr, cur = [], {}, {}
    first_field = None
    for raw in open(path(rel)):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"\[(.*)\]$", line)
        if m:
            if cur:
                recs.append(cur)
            cur, hdr, first_field = {}, {"@": m.group(1)}, None
            continue
        if "=" not in line:
            continue
        k, v = (s.strip() for s in line.split("=", 1))
        if first_field is None and k in ("n", "e", "p", "q", "d") and not cur:
            hdr[k] = v
            continue
        if first_field is None:
            first_field = k
        if k == first_field and cur:
            recs.append(cur)
            cur = {}
        if not cur:
            cur = dict(hdr)
        cur[k] = v
    if cur:
        recs.append(cur)
    return recs


def pkcs1_vectors(rel):
    """RSA Labs text vectors: `# Label:` lines followed by hex byte lines.
    Yields (example title, fields in order) with repeated labels kept in order."""
    examples, title, fields, label = [], None, [], None
    for raw in open(path(rel)):
        line = raw.rstrip("\n")
        s = line.strip()
        if s.startswith("# Example") or s.startswith("# ====") or s == "# Example":
            pass
        m = re.match(r"#\s*(.+?):\s*$", s)
        if s.startswith("# Example") or (s.startswith("# =====") and fields):
            if fields:
                examples.append((title, fields))
            title, fields, label = s, [], None
            continue
        if m:
            label = m.group(1)
            fields.append([label, ""])
            continue
        if s.startswith("#") or not s:
            if s.startswith("# ") and not m:
                label = None
            continue
        if label is not None and re.fullmatch(r"[0-9a-fA-F ]+", s):
            fields[-1][1] += s.replace(" ", "").lower()
    if fields:
        examples.append((title, fields))
    return examples


def key_of(fields):
    want = ["Modulus", "Public exponent", "Exponent", "Prime 1", "Prime 2", "Prime exponent 1", "Prime exponent 2",
            "Coefficient"]
    # The private-key block repeats the modulus; take the private key block.
    names = [f[0] for f in fields]
    start = names.index("Public exponent") - 1
    block = dict((k, v) for k, v in fields[start:start + 8])
    return [block[w] for w in want]


def main():
    # PKCS#1 v1.5 signatures with the private key (deterministic): sign KAT.
    rows = []
    for title, fields in pkcs1_vectors("asymmetric/RSA/pkcs1v15sign-vectors.txt"):
        if not title or not re.search(r"Example (1|15):", title):
            continue
        n, e, d, p, q, dp, dq, qi = key_of(fields)
        msgs = [(fields[i][1], fields[i + 1][1]) for i in range(len(fields) - 1)
                if fields[i][0] == "Message to be signed" and fields[i + 1][0] == "Signature"]
        for msg, sig in msgs[:3]:
            rows.append([n, e, d, p, q, dp, dq, qi, msg, sig])
    write("rsa_pkcs1_sign_sha1.txt", ["asymmetric/RSA/pkcs1v15sign-vectors.txt (examples 1 and 15)"],
          "n e d p q dp dq qinv msg sig (SHA-1, PKCS#1 v1.5)", rows)

    # PKCS#1 v1.5 verification, SHA-1/2, 2048-bit (CAVP SigGen15, all valid).
    rows, seen = [], {}
    for r in cavp("asymmetric/RSA/FIPS_186-2/SigGen15_186-3.rsp"):
        if r.get("@") != "mod = 2048":
            continue
        h = r["SHAAlg"]
        if seen.get(h, 0) >= 2:
            continue
        seen[h] = seen.get(h, 0) + 1
        rows.append([h, r["n"], r["e"], r["Msg"], r["S"].lower()])
    write("rsa_pkcs1_sigver.txt", ["asymmetric/RSA/FIPS_186-2/SigGen15_186-3.rsp ([mod = 2048])"],
          "hash n e msg sig", rows)

    # PSS verification (CAVP SigVerPSS 186-3, 2048-bit), valid and invalid.
    rows, seen = [], {}
    for r in cavp("asymmetric/RSA/FIPS_186-2/SigVerPSS_186-3.rsp"):
        if r.get("@") != "mod = 2048":
            continue
        h = r["SHAAlg"]
        res = r["Result"].strip()[0]
        if seen.get((h, res), 0) >= 2:
            continue
        seen[(h, res)] = seen.get((h, res), 0) + 1
        rows.append([h, r["n"], r["e"], str(len(r["SaltVal"]) // 2) if r["SaltVal"] != "00" else "0",
                     r["Msg"], r["S"], res])
    write("rsa_pss_sigver.txt", ["asymmetric/RSA/FIPS_186-2/SigVerPSS_186-3.rsp ([mod = 2048])"],
          "hash n e salt_len msg sig result (P or F)", rows)

    # OAEP decryption: SHA-1 (RSA Labs) and SHA-2 (pyca oaep-custom).
    rows = []
    for title, fields in pkcs1_vectors("asymmetric/RSA/pkcs-1v2-1d2-vec/oaep-vect.txt"):
        if not title or not re.search(r"Example (1|10):", title):
            continue
        key = key_of(fields)
        msgs = [(fields[i][1], fields[i + 2][1]) for i in range(len(fields) - 2)
                if fields[i][0] == "Message" and fields[i + 2][0] == "Encryption"]
        for msg, ct in msgs[:2]:
            rows.append(["SHA1", "SHA1"] + key + [msg, ct])
    for name in ["sha256-sha256", "sha384-sha1", "sha512-sha512", "sha224-sha256"]:
        rel = f"asymmetric/RSA/oaep-custom/oaep-{name}.txt"
        # The file name is mgf1-alg; the examples say which is which.
        m = re.search(r"alg=(\w+) mgf1=(\w+)", open(path(rel)).read())
        hash_, mgf = m.group(1), m.group(2)
        exs = pkcs1_vectors(rel)
        allf = [f for _, fs in exs for f in fs]
        key = key_of(allf)
        msgs = [(allf[i][1], allf[i + 1][1]) for i in range(len(allf) - 1)
                if allf[i][0] == "Message" and allf[i + 1][0] == "Encryption"]
        for msg, ct in msgs[:2]:
            rows.append([hash_.upper(), mgf.upper()] + key + [msg, ct])
    write("rsa_oaep.txt", ["asymmetric/RSA/pkcs-1v2-1d2-vec/oaep-vect.txt (examples 1 and 10)",
                           "asymmetric/RSA/oaep-custom/oaep-{sha256-sha256,sha384-sha1,sha512-sha512,sha224-sha256}.txt"],
          "hash mgf_hash n e d p q dp dq qinv msg ciphertext (empty label)", rows)

    # ECDSA verification, CAVP FIPS 186-3 SigVer, P-256/384/521.
    rows, seen = [], {}
    lens = {"P-256": 32, "P-384": 48, "P-521": 66}
    for r in cavp("asymmetric/ECDSA/FIPS_186-3/SigVer.rsp"):
        curve, _, h = r.get("@", "").partition(",")
        if curve not in lens:
            continue
        key = (curve, h, r["Result"].strip()[0])
        if seen.get(key, 0) >= 2:
            continue
        seen[key] = seen.get(key, 0) + 1
        pad = lambda x: x.rjust(2 * lens[curve], "0")
        rows.append([curve, h.replace("-", ""), r["Msg"], pad(r["Qx"]), pad(r["Qy"]), pad(r["R"]), pad(r["S"]),
                     r["Result"].strip()[0]])
    write("ecdsa_sigver.txt", ["asymmetric/ECDSA/FIPS_186-3/SigVer.rsp ([P-256|P-384|P-521,SHA-*])"],
          "curve hash msg qx qy r s result (P or F)", rows)

    # ECDSA verification on P-192 (kept apart: P-192 is legacy), same choice.
    rows, seen = [], {}
    for r in cavp("asymmetric/ECDSA/FIPS_186-3/SigVer.rsp"):
        curve, _, h = r.get("@", "").partition(",")
        if curve != "P-192":
            continue
        key = (h, r["Result"].strip()[0])
        if seen.get(key, 0) >= 2:
            continue
        seen[key] = seen.get(key, 0) + 1
        pad = lambda x: x.rjust(48, "0")
        rows.append([curve, h.replace("-", ""), r["Msg"], pad(r["Qx"]), pad(r["Qy"]), pad(r["R"]), pad(r["S"]),
                     r["Result"].strip()[0]])
    write("ecdsa_sigver_p192.txt", ["asymmetric/ECDSA/FIPS_186-3/SigVer.rsp ([P-192,SHA-*])"],
          "curve hash msg qx qy r s result (P or F)", rows)

    # ECDH: CAVP KAS ZZ-only (P-192, the records CAVS marks correct) and
    # RFC 7027's brainpool vectors as pyca reformatted them.
    rows = []
    for r in cavp("asymmetric/ECDH/KASValidityTest_ECCStaticUnified_NOKC_ZZOnly_resp.fax"):
        if r.get("@") == "EA - SHA1" and r["Result"].startswith("P") and len(rows) < 3:
            rows.append(["P-192", r["dsIUT"], r["QsIUTx"], r["QsIUTy"], r["dsCAVS"], r["QsCAVSx"], r["QsCAVSy"], r["Z"]])
    recs, cur = [], {}
    for raw in open(path("asymmetric/ECDH/brainpool.txt")):
        line = raw.strip()
        if "=" in line and not line.startswith("#"):
            k, v = (x.strip() for x in line.split("=", 1))
            if k == "COUNT" and cur:
                recs.append(cur)
                cur = {}
            cur[k] = v
    recs.append(cur)
    for r in recs:
        rows.append([r["curve"], r["dA"], r["x_qA"], r["y_qA"], r["dB"], r["x_qB"], r["y_qB"], r["x_Z"]])
    write("ecdh_p192_brainpool.txt",
          ["asymmetric/ECDH/KASValidityTest_ECCStaticUnified_NOKC_ZZOnly_resp.fax ([EA - SHA1], Result = P)",
           "asymmetric/ECDH/brainpool.txt (RFC 7027 A.1-A.3)"],
          "curve dA xQA yQA dB xQB yQB Z (the x-coordinate of dA*QB)", rows)


main()
