//! DSA and PKCS #3 DH through the C ABI: NIST CAVP FIPS 186-3 SigVer
//! vectors (valid and each kind of invalid signature, CKM_DSA_SHA1 and
//! CKM_DSA_SHA224, and CKM_DSA over the digest), the published private
//! keys signing, domain parameter and key pair generation, DH agreement
//! cross-checked with the OpenSSL command line on the RFC 7919 ffdhe2048
//! group, PKCS #8 wrap/unwrap of DSA and DH private keys, and the exact
//! return code of each bad input.

#[macro_use]
mod common;

use std::process::Command;
use std::ptr::null_mut;

use common::dlog::*;
use common::raw::*;
use common::vectors::{unhex, vectors};
use common::*;
use cryptoki_sys::*;
use sha2::Digest;

fn digest(hash: &str, msg: &[u8]) -> Vec<u8> {
    match hash {
        "SHA1" => sha1::Sha1::digest(msg).to_vec(),
        "SHA224" => sha2::Sha224::digest(msg).to_vec(),
        other => panic!("{other}"),
    }
}

#[test]
fn dsa_cavp_sigver_and_the_published_keys_sign() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let (mut group, mut hash) = (Vec::new(), String::new());
    let (mut pass, mut fail) = (0, 0);
    for v in vectors("dsa_sigver_fips186_3.txt") {
        if v[0] == "GROUP" {
            hash = v[1].clone();
            group = vec![unhex(&v[2]), unhex(&v[3]), unhex(&v[4])];
            continue;
        }
        let (msg, x, y, rr, s) = (unhex(&v[1]), unhex(&v[2]), unhex(&v[3]), unhex(&v[4]), unhex(&v[5]));
        let (p, q, g) = (&group[0], &group[1], &group[2]);
        let mech = if hash == "SHA1" { CKM_DSA_SHA1 } else { CKM_DSA_SHA224 };
        let (rv, public) = create_key(&r, h, CKO_PUBLIC_KEY, p, Some(q), g, &y);
        assert_eq!(rv, CKR_OK);
        let sig = [rr.as_slice(), s.as_slice()].concat();
        let want = if v[6] == "P" { CKR_OK } else { CKR_SIGNATURE_INVALID };
        assert_eq!(verify(&r, h, mech, public, &msg, &sig), want, "{} {}", hash, v[6]);
        // CKM_DSA over the digest gives the same answer.
        assert_eq!(verify(&r, h, CKM_DSA, public, &digest(&hash, &msg), &sig), want);
        if want == CKR_OK {
            pass += 1;
            // The published private key signs; its signature verifies with
            // the published public key (and is of the subprime's length).
            let (rv, private) = create_key(&r, h, CKO_PRIVATE_KEY, p, Some(q), g, &x);
            assert_eq!(rv, CKR_OK);
            let (rv, mine) = sign(&r, h, mech, private, &msg);
            assert_eq!((rv, mine.len()), (CKR_OK, 2 * q.len()));
            assert_eq!(verify(&r, h, mech, public, &msg, &mine), CKR_OK);
            // The private key's SPKI is the public key's.
            assert_eq!(get(&r, h, private, CKA_PUBLIC_KEY_INFO), get(&r, h, public, CKA_PUBLIC_KEY_INFO));
            // Bad lengths.
            assert_eq!(verify(&r, h, mech, public, &msg, &sig[1..]), CKR_SIGNATURE_LEN_RANGE);
            assert_eq!(sign(&r, h, CKM_DSA, private, &[]).0, CKR_DATA_LEN_RANGE);
            assert_eq!(sign(&r, h, CKM_DSA, private, &[1; 65]).0, CKR_DATA_LEN_RANGE);
        } else {
            fail += 1;
        }
    }
    assert_eq!((pass, fail), (4, 6));
}

/// p, g of RFC 7919's ffdhe2048, as OpenSSL names the group (its DER
/// DHParameter read here).
fn ffdhe2048(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    openssl(&["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", "dh.pem"], dir);
    openssl(&["dhparam", "-in", "dh.pem", "-outform", "DER", "-out", "dh.der"], dir);
    let der = std::fs::read(dir.join("dh.der")).unwrap();
    let ints = der_ints(&der);
    (ints[0].clone(), ints[1].clone())
}

fn tlv(d: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (d[0], d[1] as usize);
    let (len, off) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        (d[2..2 + n].iter().fold(0usize, |a, b| a << 8 | *b as usize), 2 + n)
    };
    (tag, &d[off..off + len], &d[off + len..])
}

/// The public value y of a DSA/DH SubjectPublicKeyInfo: its BIT STRING
/// holds the INTEGER.
fn spki_y(d: &[u8]) -> Vec<u8> {
    let (_, mut body, _) = tlv(d);
    while !body.is_empty() {
        let (tag, v, rest) = tlv(body);
        if tag == 3 {
            let (_, int, _) = tlv(&v[1..]);
            return int.iter().skip_while(|b| **b == 0).copied().collect();
        }
        body = rest;
    }
    panic!("no BIT STRING")
}

/// The INTEGERs of a DER SEQUENCE (one level).
fn der_ints(d: &[u8]) -> Vec<Vec<u8>> {
    let (_, mut body, _) = tlv(d);
    let mut out = Vec::new();
    while !body.is_empty() {
        let (tag, v, rest) = tlv(body);
        if tag == 2 {
            out.push(v.iter().skip_while(|b| **b == 0).copied().collect());
        }
        body = rest;
    }
    out
}

fn openssl(args: &[&str], dir: &std::path::Path) -> Vec<u8> {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn dh_agrees_with_openssl_on_ffdhe2048() {
    let w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let dir = w.dir.path();
    let (p, g) = ffdhe2048(dir);
    assert_eq!((p.len(), g.as_slice()), (256, &[2u8][..]));
    let (rv, hpub, hpriv) = key_pair(&r, h, &p, None, &g, Some(256), &Opts::default());
    assert_eq!(rv, CKR_OK);
    assert_eq!(get(&r, h, hpriv, CKA_VALUE_BITS), Some(256u64.to_ne_bytes().to_vec()));
    let spki = get(&r, h, hpub, CKA_PUBLIC_KEY_INFO).unwrap();
    std::fs::write(dir.join("ours.der"), &spki).unwrap();
    // OpenSSL's peer key in the same group; its public value from its SPKI.
    openssl(&["genpkey", "-paramfile", "dh.pem", "-out", "peer.pem"], dir);
    openssl(&["pkey", "-in", "peer.pem", "-pubout", "-outform", "DER", "-out", "peer.der"], dir);
    let peer_spki = std::fs::read(dir.join("peer.der")).unwrap();
    let y = spki_y(&peer_spki);
    assert!(y.len() > 200, "peer public value");
    let (rv, ours) = dh_derive(&r, h, hpriv, &y, None);
    assert_eq!(rv, CKR_OK);
    assert_eq!(ours.len(), 256, "the secret is the prime's length, leading zeros kept");
    // OpenSSL reads our SPKI and derives the same secret (padded).
    let theirs = openssl(
        &[
            "pkeyutl",
            "-derive",
            "-inkey",
            "peer.pem",
            "-peerkey",
            "ours.der",
            "-peerform",
            "DER",
            "-pkeyopt",
            "dh_pad:1",
        ],
        dir,
    );
    assert_eq!(ours, theirs);
    // A shorter key takes the trailing bytes.
    assert_eq!(dh_derive(&r, h, hpriv, &y, Some(16)).1, ours[240..]);
    // Bad peers and lengths.
    assert_eq!(dh_derive(&r, h, hpriv, &[1], None).0, CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(dh_derive(&r, h, hpriv, &p, None).0, CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(dh_derive(&r, h, hpriv, &y, Some(257)).0, CKR_TEMPLATE_INCONSISTENT);
    let mut m = CK_MECHANISM { mechanism: CKM_DH_PKCS_DERIVE, pParameter: null_mut(), ulParameterLen: 0 };
    let (mut class, mut kt) = (CKO_SECRET_KEY, CKK_GENERIC_SECRET);
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt)];
    let mut o = 0;
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, hpriv, t.as_mut_ptr(), 2, &mut o)), CKR_MECHANISM_PARAM_INVALID);
    // Two keys of the token agree with each other.
    let (_, bpub, bpriv) = key_pair(&r, h, &p, None, &g, None, &Opts::default());
    let ya = get(&r, h, hpub, CKA_VALUE).unwrap();
    let yb = get(&r, h, bpub, CKA_VALUE).unwrap();
    assert_eq!(dh_derive(&r, h, bpriv, &ya, None).1, dh_derive(&r, h, hpriv, &yb, None).1);
    // A private key created from components agrees as the generated one.
    assert_eq!(get(&r, h, hpriv, CKA_VALUE), None, "sensitive");
}

#[test]
fn generation_wrap_and_bad_input() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    // DSA domain parameters of 1024 bits, then a key pair from them.
    let mut class = CKO_DOMAIN_PARAMETERS;
    let mut bits: CK_ULONG = 1024;
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_PRIME_BITS, &mut bits)];
    let mut params = 0;
    let mut m = mech(CKM_DSA_PARAMETER_GEN);
    assert_eq!(call!(r, C_GenerateKey(h, &mut m, t.as_mut_ptr(), 2, &mut params)), CKR_OK);
    let (p, q, g) = (
        get(&r, h, params, CKA_PRIME).unwrap(),
        get(&r, h, params, CKA_SUBPRIME).unwrap(),
        get(&r, h, params, CKA_BASE).unwrap(),
    );
    assert_eq!((p.len(), q.len()), (128, 20));
    assert_eq!(get(&r, h, params, CKA_PRIME_BITS), Some(1024u64.to_ne_bytes().to_vec()));
    assert_eq!(get(&r, h, params, CKA_LOCAL), Some(vec![1]));
    assert_eq!(get(&r, h, params, CKA_KEY_TYPE), Some(CKK_DSA.to_ne_bytes().to_vec()));
    let opts = Opts { extractable: true, ..Opts::default() };
    let (rv, dpub, dpriv) = key_pair(&r, h, &p, Some(&q), &g, None, &opts);
    assert_eq!(rv, CKR_OK);
    let (rv, sig) = sign(&r, h, CKM_DSA_SHA256, dpriv, b"message");
    assert_eq!((rv, sig.len()), (CKR_OK, 40));
    assert_eq!(verify(&r, h, CKM_DSA_SHA256, dpub, b"message", &sig), CKR_OK);
    assert_eq!(verify(&r, h, CKM_DSA_SHA256, dpub, b"massage", &sig), CKR_SIGNATURE_INVALID);
    for m in [CKM_DSA_SHA1, CKM_DSA_SHA224, CKM_DSA_SHA384, CKM_DSA_SHA512] {
        let (rv, sig) = sign(&r, h, m, dpriv, b"message");
        assert_eq!(rv, CKR_OK);
        assert_eq!(verify(&r, h, m, dpub, b"message", &sig), CKR_OK);
    }

    // PKCS #8 wrap and unwrap of the DSA private key under AES (CBC_PAD).
    let kek = secret_key(&r, h, CKK_AES, &[7; 32]);
    let mut iv = [1u8; 16];
    let mut wm = mech_with(CKM_AES_CBC_PAD, &mut iv);
    let mut wrapped = vec![0u8; 1024];
    let mut wl = wrapped.len() as CK_ULONG;
    assert_eq!(call!(r, C_WrapKey(h, &mut wm, kek, dpriv, wrapped.as_mut_ptr(), &mut wl)), CKR_OK);
    wrapped.truncate(wl as usize);
    let (mut class, mut kt, mut yes) = (CKO_PRIVATE_KEY, CKK_DSA, 1u8);
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt), attr(CKA_SIGN, &mut yes)];
    let mut back = 0;
    assert_eq!(call!(r, C_UnwrapKey(h, &mut wm, kek, wrapped.as_mut_ptr(), wl, t.as_mut_ptr(), 3, &mut back)), CKR_OK);
    let (rv, sig) = sign(&r, h, CKM_DSA_SHA256, back, b"after unwrap");
    assert_eq!(rv, CKR_OK);
    assert_eq!(verify(&r, h, CKM_DSA_SHA256, dpub, b"after unwrap", &sig), CKR_OK);
    assert_eq!(get(&r, h, back, CKA_SUBPRIME), Some(q.clone()));

    // DH parameters (1024 bits: a safe prime takes a while), a key pair, a
    // wrapped and unwrapped private key that still agrees.
    let mut class = CKO_DOMAIN_PARAMETERS;
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_PRIME_BITS, &mut bits)];
    let mut m = mech(CKM_DH_PKCS_PARAMETER_GEN);
    let mut dh_params = 0;
    assert_eq!(call!(r, C_GenerateKey(h, &mut m, t.as_mut_ptr(), 2, &mut dh_params)), CKR_OK);
    let (dp, dg) = (get(&r, h, dh_params, CKA_PRIME).unwrap(), get(&r, h, dh_params, CKA_BASE).unwrap());
    assert_eq!((dp.len(), dg.as_slice()), (128, &[2u8][..]));
    assert_eq!(get(&r, h, dh_params, CKA_SUBPRIME), None);
    let (rv, apub, apriv) = key_pair(&r, h, &dp, None, &dg, None, &opts);
    assert_eq!(rv, CKR_OK);
    let (_, bpub, bpriv) = key_pair(&r, h, &dp, None, &dg, None, &Opts::default());
    let yb = get(&r, h, bpub, CKA_VALUE).unwrap();
    let ya = get(&r, h, apub, CKA_VALUE).unwrap();
    let secret = dh_derive(&r, h, apriv, &yb, None).1;
    assert_eq!(secret, dh_derive(&r, h, bpriv, &ya, None).1);
    let mut wrapped = vec![0u8; 1024];
    let mut wl = wrapped.len() as CK_ULONG;
    assert_eq!(call!(r, C_WrapKey(h, &mut wm, kek, apriv, wrapped.as_mut_ptr(), &mut wl)), CKR_OK);
    let (mut class, mut kt, mut yes, mut yes2) = (CKO_PRIVATE_KEY, CKK_DH, 1u8, 1u8);
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_DERIVE, &mut yes),
        attr(CKA_SIGN, &mut yes2),
    ];
    assert_eq!(call!(r, C_UnwrapKey(h, &mut wm, kek, wrapped.as_mut_ptr(), wl, t.as_mut_ptr(), 4, &mut back)), CKR_OK);
    assert_eq!(dh_derive(&r, h, back, &yb, None).1, secret);
    // The unwrapped DH key (CKA_SIGN true) is no DSA key.
    assert_eq!(sign(&r, h, CKM_DSA_SHA1, back, b"x").0, CKR_KEY_TYPE_INCONSISTENT);

    // Bad input.
    let mut small: CK_ULONG = 1000;
    let mut t = [attr(CKA_PRIME_BITS, &mut small)];
    let mut m = mech(CKM_DSA_PARAMETER_GEN);
    let mut o = 0;
    assert_eq!(call!(r, C_GenerateKey(h, &mut m, t.as_mut_ptr(), 1, &mut o)), CKR_KEY_SIZE_RANGE);
    let mut m = mech(CKM_DSA_PARAMETER_GEN);
    assert_eq!(call!(r, C_GenerateKey(h, &mut m, null_mut(), 0, &mut o)), CKR_TEMPLATE_INCOMPLETE);
    // A key pair without the subprime.
    let mut pp = p.clone();
    let mut gg = g.clone();
    let mut pubt = [bytes_attr(CKA_PRIME, &mut pp), bytes_attr(CKA_BASE, &mut gg)];
    let mut m = mech(CKM_DSA_KEY_PAIR_GEN);
    let (mut a, mut b) = (0, 0);
    assert_eq!(
        call!(r, C_GenerateKeyPair(h, &mut m, pubt.as_mut_ptr(), 2, null_mut(), 0, &mut a, &mut b)),
        CKR_TEMPLATE_INCOMPLETE
    );
    // x not below q; y outside the group; a 512-bit prime.
    assert_eq!(create_key(&r, h, CKO_PRIVATE_KEY, &p, Some(&q), &g, &q).0, CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(create_key(&r, h, CKO_PUBLIC_KEY, &p, Some(&q), &g, &p).0, CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(create_key(&r, h, CKO_PUBLIC_KEY, &p[..64], Some(&q), &g[..64], &[5]).0, CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(create_key(&r, h, CKO_PUBLIC_KEY, &dp, None, &dg, &[1]).0, CKR_ATTRIBUTE_VALUE_INVALID);
    // That DSA private key was made extractable and not sensitive: its x
    // reads back, below q.
    assert!(get(&r, h, dpriv, CKA_VALUE).is_some_and(|x| x.len() <= q.len() && (x.len() < q.len() || x < q)));
    // Domain parameters created from components.
    let (mut class, mut kt) = (CKO_DOMAIN_PARAMETERS, CKK_DSA);
    let (mut p2, mut q2, mut g2) = (p.clone(), q.clone(), g.clone());
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        bytes_attr(CKA_PRIME, &mut p2),
        bytes_attr(CKA_SUBPRIME, &mut q2),
        bytes_attr(CKA_BASE, &mut g2),
    ];
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 5, &mut o)), CKR_OK);
    assert_eq!(get(&r, h, o, CKA_PRIME_BITS), Some(1024u64.to_ne_bytes().to_vec()));
    assert_eq!(get(&r, h, o, CKA_LOCAL), Some(vec![0]));
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 4, &mut o)), CKR_TEMPLATE_INCOMPLETE);
    // DSA/DH components on another key type.
    let (mut class, mut kt, mut base) = (CKO_PUBLIC_KEY, CKK_EC, vec![2u8]);
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt), bytes_attr(CKA_BASE, &mut base)];
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 3, &mut o)), CKR_ATTRIBUTE_TYPE_INVALID);
    let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
    assert_eq!(call!(r, C_GetMechanismInfo(0, CKM_DSA_KEY_PAIR_GEN, &mut info)), CKR_OK);
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize, info.flags), (1024, 3072, CKF_GENERATE_KEY_PAIR));
}
