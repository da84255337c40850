#!/usr/bin/env python3
"""Regenerates the AES / key-wrap / CMAC / HKDF / KBKDF known-answer files in
this directory from the PyPI package `cryptography_vectors` (it ships NIST CAVP
response files and RFC test vectors as package data). Nothing is computed here:
every field is copied from a package file; only the choice of records is ours.

    python3 -m venv /tmp/vv && /tmp/vv/bin/pip install cryptography_vectors==50.0.2
    /tmp/vv/bin/python tests/vectors/extract.py

The subset is deterministic (the first record of each named CAVP section)."""
import os
import re

import cryptography_vectors as cv

ROOT = os.path.dirname(cv.__file__)
VER = getattr(cv, "__version__", "?")
OUT = os.environ.get("VECTORS_OUT") or os.path.dirname(os.path.abspath(__file__))
PKG = f"PyPI package cryptography_vectors {VER}"


def records(path):
    """CAVP-style records: `key = value` lines grouped by COUNT; `[k = v]`
    section headers are copied into each record as '@k'; a bare `[NAME]`
    header resets the sections and is stored as '@_'; `FAIL` sets 'FAIL'."""
    section, cur, out = {}, {}, []

    def flush():
        nonlocal cur
        if cur:
            out.append(cur)
        cur = {}

    for raw in open(os.path.join(ROOT, path)):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"\[(.*?)\s*=\s*(.*?)\]$", line)
        if m:
            flush()
            section[m.group(1).strip()] = m.group(2).strip()
            continue
        if line.startswith("["):
            flush()
            section = {"_": line.strip("[]")}
            continue
        if line == "FAIL":
            cur["FAIL"] = True
            continue
        if "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            if k.upper() == "COUNT":
                flush()
                for sk, sv in section.items():
                    cur["@" + sk] = sv
            cur[k] = v
    flush()
    return out


def hx(v):
    v = (v or "").strip().lower()
    assert re.fullmatch(r"[0-9a-f]*", v) and len(v) % 2 == 0, v
    return v if v else "-"


def write(name, comments, fmt, lines):
    with open(os.path.join(OUT, name), "w") as f:
        for c in comments:
            f.write(f"# {c}\n" if c else "#\n")
        f.write(f"# format: {fmt}\n")
        f.write("\n".join(lines) + "\n")
    return len(lines)


def first(recs, pred, what):
    for r in recs:
        if pred(r):
            return r
    raise SystemExit(f"no record for {what}")


# ---------------------------------------------------------------- ECB / CBC
def ecb_cbc():
    srcs, lines = [], []
    for mode in ["ECB", "CBC"]:
        for bits in [128, 192, 256]:
            def take(kind, direction, counts):
                p = f"ciphers/AES/{mode}/{mode}{kind}{bits}.rsp"
                if p not in srcs:
                    srcs.append(p)
                recs = [r for r in records(p) if r.get("@_") == direction]
                for c in counts:
                    r = first(recs, lambda r: r["COUNT"] == str(c), f"{p} {direction} {c}")
                    iv = hx(r["IV"]) if mode == "CBC" else "-"
                    lines.append(f"{mode} {hx(r['KEY'])} {iv} {hx(r['PLAINTEXT'])} {hx(r['CIPHERTEXT'])}")

            take("GFSbox", "ENCRYPT", [0])
            take("VarKey", "ENCRYPT", [bits // 2 - 1])   # key = 1^(bits/2) 0^(bits/2)
            take("MMT", "ENCRYPT", [1, 4, 9])            # 2, 5 and 10 blocks
            take("MMT", "DECRYPT", [6])                  # 7 blocks
    return write(
        "aes_ecb_cbc_cavp.txt",
        [f"Source: {PKG}; NIST CAVP AESAVS known-answer (GFSbox, VarKey) and",
         "multi-block message (MMT) tests, files inside the package:"]
        + [f"  cryptography_vectors/{s}" for s in srcs]
        + ["Per mode and key size: GFSbox COUNT 0, VarKey COUNT bits/2-1, MMT ENCRYPT",
           "COUNT 1/4/9 (2/5/10 blocks), MMT DECRYPT COUNT 6 (7 blocks). No padding.",
           "iv is '-' for ECB."],
        "mode keyhex ivhex plaintexthex ciphertexthex",
        lines,
    )


# ---------------------------------------------------------------- CTR
def ctr():
    srcs, lines = [], []
    for bits in [128, 192, 256]:
        p = f"ciphers/AES/CTR/aes-{bits}-ctr.txt"
        srcs.append(p)
        for r in records(p):
            lines.append(f"{hx(r['KEY'])} {hx(r['IV'])} {hx(r['PLAINTEXT'])} {hx(r['CIPHERTEXT'])}")
    return write(
        "aes_ctr.txt",
        [f"Source: {PKG}; RFC 3686 section 6 AES-CTR test vectors",
         "(all 9: test vectors #1-#3 for AES-128, #4-#6 AES-192, #7-#9 AES-256), files:"]
        + [f"  cryptography_vectors/{s}" for s in srcs]
        + ["The counter block is the full 16-byte initial counter block",
           "(nonce || IV || 32-bit big-endian block counter starting at 1); the counter",
           "never wraps below 32 bits in these vectors.",
           "NOTE: the NIST SP 800-38A appendix F.5 CTR vectors are NOT in this package",
           "(no file holds them), so they are not included."],
        "keyhex counterblockhex plaintexthex ciphertexthex",
        lines,
    )


# ---------------------------------------------------------------- GCM
def gcm():
    enc = {b: records(f"ciphers/AES/GCM/gcmEncryptExtIV{b}.rsp") for b in (128, 192, 256)}
    dec = {b: records(f"ciphers/AES/GCM/gcmDecrypt{b}.rsp") for b in (128, 192, 256)}

    def pick(recs, iv, tag, pt, aad, fail, what):
        return first(
            recs,
            lambda r: "Key" in r and r["@IVlen"] == str(iv) and r["@Taglen"] == str(tag)
            and r["@PTlen"] == str(pt) and r["@AADlen"] == str(aad) and bool(r.get("FAIL")) == fail,
            what,
        )

    def line(r, fail):
        pt = "-" if fail else hx(r.get("PT"))
        return f"{hx(r['Key'])} {hx(r['IV'])} {hx(r.get('AAD'))} {pt} {hx(r.get('CT'))} {hx(r['Tag'])} {'fail' if fail else 'pass'}"

    lines = []
    pts, aads = [104, 128, 256, 408], [128, 160, 384, 720]
    npt = naad = 0
    i = 0
    # Encrypt files: 96-bit IV x all four (empty|non-empty PT) x (empty|non-empty
    # AAD) x tags 128/112/104/96; 8-bit and 1024-bit IVs x the four PT/AAD cases
    # with the tag length rotating. Key sizes rotate 128/192/256.
    plan = []
    for tag in [128, 112, 104, 96]:
        for pe in (False, True):
            for ae in (False, True):
                plan.append((96, tag, pe, ae))
    for iv, tags in [(8, [128, 96, 112, 104]), (1024, [96, 128, 104, 112])]:
        for (pe, ae), tag in zip([(False, False), (False, True), (True, False), (True, True)], tags):
            plan.append((iv, tag, pe, ae))
    for iv, tag, pe, ae in plan:
        b = [128, 192, 256][i % 3]
        i += 1
        pt = aad = 0
        if pe:
            pt = pts[npt % 4]; npt += 1
        if ae:
            aad = aads[naad % 4]; naad += 1
        lines.append(line(pick(enc[b], iv, tag, pt, aad, False, (b, iv, tag, pt, aad)), False))
    # Decrypt files: three passing and nine failing records.
    for b, iv, tag, pt, aad in [(128, 96, 128, 128, 128), (192, 1024, 104, 408, 720), (256, 8, 96, 256, 160)]:
        lines.append(line(pick(dec[b], iv, tag, pt, aad, False, (b, iv, tag, pt, aad)), False))
    for b, iv, tag, pt, aad in [
        (128, 96, 128, 0, 0), (128, 8, 96, 128, 160), (128, 1024, 112, 408, 0),
        (192, 96, 104, 256, 384), (192, 8, 128, 0, 720), (192, 1024, 96, 104, 128),
        (256, 96, 96, 408, 720), (256, 8, 112, 104, 0), (256, 1024, 128, 128, 384),
    ]:
        lines.append(line(pick(dec[b], iv, tag, pt, aad, True, ("FAIL", b, iv, tag, pt, aad)), True))
    return write(
        "aes_gcm_cavp.txt",
        [f"Source: {PKG}; NIST CAVP GCMVS (SP 800-38D) test vectors, files:"]
        + [f"  cryptography_vectors/ciphers/AES/GCM/gcm{k}{b}.rsp" for k in ("EncryptExtIV", "Decrypt") for b in (128, 192, 256)]
        + ["First record of each chosen [Keylen/IVlen/PTlen/AADlen/Taglen] section.",
           "Encrypt-file records (all pass): 96-bit IV x {empty,non-empty} PT x",
           "{empty,non-empty} AAD x tag 128/112/104/96 bits; 8-bit (1-byte) and 1024-bit",
           "(128-byte) IVs x the four PT/AAD cases with rotating tag length. Decrypt-file",
           "records: 3 pass, 9 'fail' (CAVP FAIL: the tag must not verify; no plaintext,",
           "so '-'). The package's non-96-bit IVs are 8 and 1024 bits only. The tag",
           "length is the length of the tag field."],
        "keyhex ivhex aadhex plaintexthex ciphertexthex taghex result",
        lines,
    )


# ---------------------------------------------------------------- KW / KWP
def kw():
    srcs, lines = [], []
    lens = {"KW": [128, 192, 256, 320], "KWP": [8, 64, 72, 248]}
    for alg in ["KW", "KWP"]:
        for k, bits in enumerate([128, 192, 256]):
            L = lens[alg]
            ae = f"keywrap/kwtestvectors/{alg}_AE_{bits}.txt"
            ad = f"keywrap/kwtestvectors/{alg}_AD_{bits}.txt"
            srcs += [ae, ad]
            rae, rad = records(ae), records(ad)
            for n in (L[k % 4], L[(k + 1) % 4]):
                r = first(rae, lambda r: r["@PLAINTEXT LENGTH"] == str(n) and "K" in r, (ae, n))
                lines.append(f"{alg} {hx(r['K'])} {hx(r['P'])} {hx(r['C'])} pass")
            n = L[(k + 2) % 4]
            r = first(rad, lambda r: r["@PLAINTEXT LENGTH"] == str(n) and not r.get("FAIL"), (ad, n))
            lines.append(f"{alg} {hx(r['K'])} {hx(r['P'])} {hx(r['C'])} pass")
            for n in (L[(k + 3) % 4], L[k % 4]):
                r = first(rad, lambda r: r["@PLAINTEXT LENGTH"] == str(n) and r.get("FAIL"), (ad, n))
                lines.append(f"{alg} {hx(r['K'])} - {hx(r['C'])} fail")
    p = "keywrap/kwp_botan.txt"
    srcs.append(p + "  (COUNT 0 and 1, marked '# From RFC 5649' there)")
    for r in records(p)[:2]:
        lines.append(f"KWP {hx(r['Key'])} {hx(r['Input'])} {hx(r['Output'])} pass")
    return write(
        "aes_kw_rfc3394_kwp_rfc5649.txt",
        [f"Source: {PKG}; NIST CAVP SP 800-38F key wrap test vectors",
         "(kwtestvectors, KW = RFC 3394 AES Key Wrap, KWP = RFC 5649 with padding,",
         "forward cipher; the *_inv.txt inverse-cipher files are not used), plus the two",
         "RFC 5649 section 6 examples (the last two lines). Files:"]
        + [f"  cryptography_vectors/{s}" for s in srcs]
        + ["Per algorithm and KEK size: 2 AE (wrap) records, 1 passing and 2 FAIL AD",
           "(unwrap) records, first record of the PLAINTEXT LENGTH section; KW lengths",
           "128/192/256/320 bits, KWP 8/64/72/248 bits (the 4096-bit sections are left out).",
           "'fail' = unwrap must be rejected (integrity check or padding); plaintext '-'.",
           "NOTE: the RFC 3394 section 4 examples are NOT in this package (no file holds",
           "them), so they are not included."],
        "alg kekhex plaintexthex wrappedhex result",
        lines,
    )


# ---------------------------------------------------------------- CMAC
def cmac():
    srcs, lines = [], []
    for bits in [128, 192, 256]:
        p = f"CMAC/nist-800-38b-aes{bits}.txt"
        srcs.append(p)
        for r in records(p):
            lines.append(f"{hx(r['KEY'])} {hx(r.get('MESSAGE'))} {hx(r['OUTPUT'])}")
    return write(
        "aes_cmac_sp800_38b.txt",
        [f"Source: {PKG}; NIST SP 800-38B appendix D.1-D.3 AES-CMAC examples",
         "(all 12: messages of 0, 16, 40 and 64 bytes per key size), files:"]
        + [f"  cryptography_vectors/{s}" for s in srcs]
        + ["MACs are the full 16 bytes.",
           "NOTE: the CAVP CMACGenAES*.rsp / CMACVerAES*.rsp files are NOT in this package."],
        "keyhex messagehex machex",
        lines,
    )


# ---------------------------------------------------------------- HKDF
def hkdf():
    srcs, lines = [], []
    for name, hn in [("rfc-5869-HKDF-SHA256.txt", "SHA256"), ("rfc-5869-HKDF-SHA1.txt", "SHA1")]:
        p = "KDF/" + name
        srcs.append(p)
        for r in records(p):
            assert r["Hash"].replace("-", "") == hn
            lines.append(f"{hn} {hx(r['IKM'])} {hx(r['salt'])} {hx(r['info'])} {int(r['L'])} {hx(r['OKM'])} {hx(r['PRK'])}")
    return write(
        "hkdf_rfc5869.txt",
        [f"Source: {PKG}; RFC 5869 appendix A test cases 1-7",
         "(A.1-A.3 HMAC-SHA-256, A.4-A.7 HMAC-SHA-1), files:"]
        + [f"  cryptography_vectors/{s}" for s in srcs]
        + ["L is in bytes. '-' = empty. Test cases 3 and 6 have a zero-length salt, test",
           "case 7 has no salt (HashLen zero octets); both give the same HMAC key, and",
           "both are written '-'."],
        "hash ikmhex salthex infohex L okmhex prkhex",
        lines,
    )


# ---------------------------------------------------------------- KBKDF
def kbkdf():
    p = "KDF/nist-800-108-KBKDF-CTR.txt"
    recs = records(p)
    lines = []
    plan = [("BEFORE_FIXED", 8, 128), ("BEFORE_FIXED", 16, 160), ("BEFORE_FIXED", 32, 320),
            ("AFTER_FIXED", 24, 256), ("AFTER_FIXED", 32, 128), ("AFTER_FIXED", 8, 320)]
    for prf in ["HMAC_SHA256", "CMAC_AES128", "CMAC_AES256"]:
        for loc, rlen, L in plan:
            r = first(
                recs,
                lambda r: r.get("@PRF") == prf and r.get("@CTRLOCATION") == loc
                and r.get("@RLEN") == f"{rlen}_BITS" and r.get("L") == str(L),
                (prf, loc, rlen, L),
            )
            assert int(r["FixedInputDataByteLen"]) * 2 == len(r["FixedInputData"])
            lines.append(f"{prf} {rlen} {loc} {hx(r['KI'])} {hx(r['FixedInputData'])} {L} {hx(r['KO'])}")
    return write(
        "kbkdf_sp800_108_ctr.txt",
        [f"Source: {PKG}; NIST CAVP KBKDF (SP 800-108) counter-mode test vectors",
         "(CAVS 14.4), file:",
         f"  cryptography_vectors/{p}",
         "(the package's copy of the CAVP KDFCTR_gen.rsp). PRFs HMAC_SHA256, CMAC_AES128,",
         "CMAC_AES256; first record with the given [PRF]/[CTRLOCATION]/[RLEN] section",
         "and L. The counter i is big-endian, r bits wide, starting at 1; the PRF input",
         "is i||fixed (BEFORE_FIXED) or fixed||i (AFTER_FIXED), with no separate [L]2",
         "field (it is inside the CAVP fixed input). L is in bits.",
         "MIDDLE_FIXED records are left out: they have two fixed-data pieces",
         "(DataBeforeCtrData/DataAfterCtrData), which this one-fixed-input format cannot hold."],
        "prf rlen_bits location keyinhex fixedinputhex L_bits keyouthex",
        lines,
    )


if __name__ == "__main__":
    for fn in [ecb_cbc, ctr, gcm, kw, cmac, hkdf, kbkdf]:
        print(fn.__name__, fn())
