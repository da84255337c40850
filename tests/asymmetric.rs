//! RSA, EC, Ed25519 and X25519 through the `cryptoki` crate: key pairs,
//! every signature and encryption mechanism, import from components,
//! PKCS#8 wrapping, ECDH, certificates, CKA_ALWAYS_AUTHENTICATE, and the
//! exact return codes for wrong input. Signatures and ciphertexts are
//! cross-checked with the OpenSSL command line (an independent engine).

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;

use common::vectors::unhex;
use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};

const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

fn session() -> (World, Module, Session) {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "asym");
    let s = user_session(&p, slot);
    (w, p, s)
}

fn rsa_pair(s: &Session, bits: u64, e: &[u8], extra: Vec<Attribute>) -> (ObjectHandle, ObjectHandle) {
    let public = vec![Attribute::ModulusBits(bits.into()), Attribute::PublicExponent(e.to_vec())];
    let mut private = vec![Attribute::Sign(true), Attribute::Decrypt(true)];
    private.extend(extra);
    s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private).unwrap()
}

fn ec_pair(s: &Session, mech: Mechanism, params: &[u8], extra: Vec<Attribute>) -> (ObjectHandle, ObjectHandle) {
    let mut private = vec![Attribute::Sign(true), Attribute::Derive(true)];
    private.extend(extra);
    s.generate_key_pair(&mech, &[Attribute::EcParams(params.to_vec())], &private).unwrap()
}

fn bytes_attr(s: &Session, o: ObjectHandle, t: AttributeType) -> Vec<u8> {
    let v = s.get_attributes(o, &[t]).unwrap();
    match v.into_iter().next() {
        Some(
            Attribute::Modulus(b)
            | Attribute::PublicExponent(b)
            | Attribute::PublicKeyInfo(b)
            | Attribute::EcPoint(b)
            | Attribute::EcParams(b)
            | Attribute::Value(b)
            | Attribute::Subject(b)
            | Attribute::Issuer(b)
            | Attribute::SerialNumber(b)
            | Attribute::CheckValue(b),
        ) => b,
        other => panic!("{t:?}: {other:?}"),
    }
}

fn info(s: &Session, o: ObjectHandle, t: AttributeType) -> AttributeInfo {
    s.get_attribute_info(o, &[t]).unwrap().remove(0)
}

/// Runs openssl, asserting success; returns stdout.
fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl must be installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Writes the key's SPKI as pub.pem in `dir`.
fn spki_pem(s: &Session, dir: &Path, public: ObjectHandle) {
    std::fs::write(dir.join("pub.der"), bytes_attr(s, public, AttributeType::PublicKeyInfo)).unwrap();
    openssl(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem"]);
}

/// OpenSSL verifies a signature over `data`; `opts` are pkeyutl options.
fn openssl_verifies(dir: &Path, data: &[u8], sig: &[u8], opts: &[&str]) -> bool {
    std::fs::write(dir.join("data"), data).unwrap();
    std::fs::write(dir.join("sig"), sig).unwrap();
    let mut args = vec!["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "data", "-sigfile", "sig"];
    args.extend_from_slice(opts);
    Command::new("openssl").current_dir(dir).args(&args).output().unwrap().status.success()
}

/// r ‖ s → DER ECDSA-Sig-Value, for OpenSSL.
fn ecdsa_der(rs: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let mut b = b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
        if b.is_empty() || b[0] & 0x80 != 0 {
            b.insert(0, 0);
        }
        let mut out = vec![0x02, b.len() as u8];
        out.extend(b);
        out
    };
    let (r, s) = rs.split_at(rs.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend(body);
    out
}

fn sha(md: &str, data: &[u8]) -> Vec<u8> {
    use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA384, SHA512};
    let alg = match md {
        "sha1" => &SHA1_FOR_LEGACY_USE_ONLY,
        "sha256" => &SHA256,
        "sha384" => &SHA384,
        _ => &SHA512,
    };
    digest(alg, data).as_ref().to_vec()
}

fn pss(hash: MechanismType, mgf: PkcsMgfType, salt: u64) -> PkcsPssParams {
    PkcsPssParams { hash_alg: hash, mgf, s_len: salt.into() }
}

#[test]
fn rsa_pair_attributes_and_every_signature_mechanism() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    let (public, private) = rsa_pair(&s, 2048, &[1, 0, 1], vec![]);
    // Public parts readable on both halves, private parts sensitive.
    for o in [public, private] {
        assert_eq!(bytes_attr(&s, o, AttributeType::Modulus).len(), 256);
        assert_eq!(bytes_attr(&s, o, AttributeType::PublicExponent), vec![1, 0, 1]);
    }
    assert_eq!(
        bytes_attr(&s, public, AttributeType::PublicKeyInfo),
        bytes_attr(&s, private, AttributeType::PublicKeyInfo)
    );
    for t in [AttributeType::PrivateExponent, AttributeType::Prime1, AttributeType::Coefficient] {
        assert!(matches!(info(&s, private, t), AttributeInfo::Sensitive), "{t:?}");
    }
    let attrs = s.get_attributes(public, &[AttributeType::ModulusBits, AttributeType::Local]).unwrap();
    assert!(attrs.iter().any(|a| matches!(a, Attribute::ModulusBits(b) if u64::from(*b) == 2048)));
    assert!(attrs.iter().any(|a| matches!(a, Attribute::Local(true))));
    spki_pem(&s, dir, public);

    let data = b"FerroHSM signs this";
    let digest = sha("sha256", data);
    // PKCS#1 v1.5 over SHA-256, hashed by the token and by the caller.
    let sig = s.sign(&Mechanism::Sha256RsaPkcs, private, data).unwrap();
    s.verify(&Mechanism::Sha256RsaPkcs, public, data, &sig).unwrap();
    assert!(openssl_verifies(dir, &digest, &sig, &["-pkeyopt", "digest:sha256"]));
    let mut info_sha256 =
        vec![0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 1, 0x65, 3, 4, 2, 1, 5, 0, 4, 0x20];
    info_sha256.extend_from_slice(&digest);
    let raw_sig = s.sign(&Mechanism::RsaPkcs, private, &info_sha256).unwrap();
    assert_eq!(raw_sig, sig, "deterministic PKCS#1 v1.5: same signature both ways");
    s.verify(&Mechanism::RsaPkcs, public, &info_sha256, &raw_sig).unwrap();
    for m in [Mechanism::Sha1RsaPkcs, Mechanism::Sha224RsaPkcs, Mechanism::Sha384RsaPkcs, Mechanism::Sha512RsaPkcs] {
        let sig = s.sign(&m, private, data).unwrap();
        s.verify(&m, public, data, &sig).unwrap();
        assert_eq!(rv(s.verify(&m, public, b"other", &sig)), RvError::SignatureInvalid);
    }
    // PSS, hashed by the token and over the caller's digest.
    let p = pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32);
    let sig = s.sign(&Mechanism::Sha256RsaPkcsPss(p), private, data).unwrap();
    s.verify(&Mechanism::Sha256RsaPkcsPss(p), public, data, &sig).unwrap();
    s.verify(&Mechanism::RsaPkcsPss(p), public, &digest, &sig).unwrap();
    let pss_opts = ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_pss_saltlen:32"];
    assert!(openssl_verifies(dir, &digest, &sig, &pss_opts));
    for (m, h, mgf) in [
        (
            Mechanism::Sha1RsaPkcsPss as fn(PkcsPssParams) -> Mechanism<'static>,
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
        ),
        (Mechanism::Sha384RsaPkcsPss, MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        (Mechanism::Sha512RsaPkcsPss, MechanismType::SHA512, PkcsMgfType::MGF1_SHA1),
    ] {
        let m = m(pss(h, mgf, 20));
        let sig = s.sign(&m, private, data).unwrap();
        s.verify(&m, public, data, &sig).unwrap();
    }
    // Multi-part signing equals single-part.
    s.sign_init(&Mechanism::Sha256RsaPkcs, private).unwrap();
    s.sign_update(&data[..5]).unwrap();
    s.sign_update(&data[5..]).unwrap();
    assert_eq!(s.sign_final().unwrap(), s.sign(&Mechanism::Sha256RsaPkcs, private, data).unwrap());
    // Raw RSA: input shorter than the modulus is left-padded.
    let sig = s.sign(&Mechanism::RsaX509, private, &[1, 2, 3]).unwrap();
    assert_eq!(sig.len(), 256);
    s.verify(&Mechanism::RsaX509, public, &[1, 2, 3], &sig).unwrap();

    // Wrong parameters and lengths get their own codes.
    let bad = pss(MechanismType::SHA1, PkcsMgfType::MGF1_SHA1, 20);
    assert_eq!(rv(s.sign(&Mechanism::Sha256RsaPkcsPss(bad), private, data)), RvError::MechanismParamInvalid);
    let huge_salt = pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 300);
    assert_eq!(rv(s.sign(&Mechanism::RsaPkcsPss(huge_salt), private, &digest)), RvError::MechanismParamInvalid);
    assert_eq!(rv(s.sign(&Mechanism::RsaPkcsPss(p), private, &digest[..20])), RvError::DataLenRange);
    assert_eq!(rv(s.sign(&Mechanism::RsaPkcs, private, &[0u8; 250])), RvError::DataLenRange);
    assert_eq!(rv(s.verify(&Mechanism::Sha256RsaPkcs, public, data, &sig[..255])), RvError::SignatureLenRange);
    assert_eq!(rv(s.sign(&Mechanism::Sha256RsaPkcs, public, data)), RvError::KeyTypeInconsistent);
    assert_eq!(rv(s.sign(&Mechanism::EcdsaSha256, private, data)), RvError::KeyTypeInconsistent);
}

#[test]
fn rsa_encryption_pkcs1_oaep_raw_against_openssl() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    let (public, private) = rsa_pair(&s, 2048, &[1, 0, 1], vec![]);
    spki_pem(&s, dir, public);
    let msg = b"a data key, say";
    std::fs::write(dir.join("msg"), msg).unwrap();

    // OpenSSL encrypts, the token decrypts.
    let cases: Vec<(Vec<&str>, Mechanism)> = vec![
        (vec![], Mechanism::RsaPkcs),
        (
            vec!["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1"],
            Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
                MechanismType::SHA1,
                PkcsMgfType::MGF1_SHA1,
                PkcsOaepSource::empty(),
            )),
        ),
        (
            vec![
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha512",
                "-pkeyopt",
                "rsa_oaep_label:6c6162656c",
            ],
            Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
                MechanismType::SHA256,
                PkcsMgfType::MGF1_SHA512,
                PkcsOaepSource::data_specified(b"label"),
            )),
        ),
    ];
    for (opts, m) in &cases {
        let mut args = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "msg"];
        args.extend_from_slice(opts);
        let ct = openssl(dir, &args);
        assert_eq!(s.decrypt(m, private, &ct).unwrap(), msg);
        // And the token's own ciphertext round-trips.
        let ct = s.encrypt(m, public, msg).unwrap();
        assert_eq!(ct.len(), 256);
        assert_eq!(s.decrypt(m, private, &ct).unwrap(), msg);
    }
    // Raw RSA: the plaintext comes back left-padded to the modulus.
    let ct = s.encrypt(&Mechanism::RsaX509, public, msg).unwrap();
    let pt = s.decrypt(&Mechanism::RsaX509, private, &ct).unwrap();
    assert_eq!(pt.len(), 256);
    assert!(pt.ends_with(msg) && pt[..256 - msg.len()].iter().all(|b| *b == 0));

    // Every kind of PKCS#1 v1.5 failure looks the same.
    let ct = s.encrypt(&Mechanism::RsaPkcs, public, msg).unwrap();
    let mut flipped = ct.clone();
    flipped[100] ^= 1;
    assert_eq!(rv(s.decrypt(&Mechanism::RsaPkcs, private, &flipped)), RvError::EncryptedDataInvalid);
    let not_type2 = s.encrypt(&Mechanism::RsaX509, public, &[0x42; 200]).unwrap();
    assert_eq!(rv(s.decrypt(&Mechanism::RsaPkcs, private, &not_type2)), RvError::EncryptedDataInvalid);
    assert_eq!(rv(s.decrypt(&Mechanism::RsaPkcs, private, &ct[1..])), RvError::EncryptedDataLenRange);
    let oaep = &cases[2].1;
    assert_eq!(rv(s.decrypt(oaep, private, &ct)), RvError::EncryptedDataInvalid);
    assert_eq!(rv(s.encrypt(&Mechanism::RsaPkcs, public, &[0u8; 246])), RvError::DataLenRange);
    assert_eq!(rv(s.encrypt(&Mechanism::RsaPkcs, private, msg)), RvError::KeyTypeInconsistent);
}

#[test]
fn rsa_generation_rules() {
    let (_w, _p, s) = session();
    let (public, _) = rsa_pair(&s, 3072, &[3], vec![]);
    assert_eq!(bytes_attr(&s, public, AttributeType::PublicExponent), vec![3]);
    assert_eq!(bytes_attr(&s, public, AttributeType::Modulus).len(), 384);
    let gen = |public: &[Attribute]| rv(s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, public, &[]));
    assert_eq!(gen(&[]), RvError::TemplateIncomplete);
    assert_eq!(gen(&[Attribute::ModulusBits(512.into())]), RvError::KeySizeRange);
    assert_eq!(gen(&[Attribute::ModulusBits(16392.into())]), RvError::KeySizeRange);
    let even = [Attribute::ModulusBits(2048.into()), Attribute::PublicExponent(vec![1, 0, 0])];
    assert_eq!(gen(&even), RvError::AttributeValueInvalid);
    let wrong_class = [Attribute::ModulusBits(2048.into()), Attribute::Class(ObjectClass::PRIVATE_KEY)];
    assert_eq!(gen(&wrong_class), RvError::TemplateInconsistent);
    let with_modulus = [Attribute::ModulusBits(2048.into()), Attribute::Modulus(vec![1; 256])];
    assert_eq!(gen(&with_modulus), RvError::TemplateInconsistent);
    let ec = rv(s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[Attribute::EcParams(P256.to_vec()), Attribute::KeyType(KeyType::RSA)],
        &[],
    ));
    assert_eq!(ec, RvError::TemplateInconsistent);
}

#[test]
fn ec_pairs_ecdsa_and_ecdh_on_every_curve() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    let data = b"sign me on a curve";
    for (params, len, md) in
        [(P256, 32, "sha256"), (P384, 48, "sha384"), (P521, 66, "sha512"), (SECP256K1, 32, "sha256")]
    {
        let (public, private) = ec_pair(&s, Mechanism::EccKeyPairGen, params, vec![]);
        let point = bytes_attr(&s, public, AttributeType::EcPoint);
        assert_eq!(point, bytes_attr(&s, private, AttributeType::EcPoint));
        let raw_len = 1 + 2 * len;
        assert_eq!(&point[point.len() - raw_len..][..1], &[4], "uncompressed point in an OCTET STRING");
        assert_eq!(point[0], 0x04);
        assert!(matches!(info(&s, private, AttributeType::Value), AttributeInfo::Sensitive));
        spki_pem(&s, dir, public);
        let (m, digest) = match md {
            "sha256" => (Mechanism::EcdsaSha256, sha(md, data)),
            "sha384" => (Mechanism::EcdsaSha384, sha(md, data)),
            _ => (Mechanism::EcdsaSha512, sha(md, data)),
        };
        let sig = s.sign(&m, private, data).unwrap();
        assert_eq!(sig.len(), 2 * len);
        s.verify(&m, public, data, &sig).unwrap();
        s.verify(&Mechanism::Ecdsa, public, &digest, &sig).unwrap();
        assert!(openssl_verifies(dir, &digest, &ecdsa_der(&sig), &[]), "OpenSSL rejects our ECDSA on {md}");
        let sig = s.sign(&Mechanism::Ecdsa, private, &digest).unwrap();
        s.verify(&m, public, data, &sig).unwrap();
        assert_eq!(rv(s.verify(&m, public, b"not it", &sig)), RvError::SignatureInvalid);
        assert_eq!(rv(s.verify(&m, public, data, &sig[1..])), RvError::SignatureLenRange);
        for m in [Mechanism::EcdsaSha1, Mechanism::EcdsaSha224] {
            let sig = s.sign(&m, private, data).unwrap();
            s.verify(&m, public, data, &sig).unwrap();
        }

        // ECDH: both sides derive the same key, raw and through the X9.63 KDF.
        let (public2, private2) = ec_pair(&s, Mechanism::EccKeyPairGen, params, vec![]);
        let point2 = bytes_attr(&s, public2, AttributeType::EcPoint);
        let out = |bytes: u64| {
            vec![
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::ValueLen(bytes.into()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ]
        };
        let derive = |base, peer: &[u8], kdf: EcKdf, n| {
            let k = s.derive_key(&Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(kdf, peer)), base, &out(n)).unwrap();
            bytes_attr(&s, k, AttributeType::Value)
        };
        let a = derive(private, &point2, EcKdf::null(), len as u64);
        let b = derive(private2, &point, EcKdf::null(), len as u64);
        assert_eq!(a, b);
        // A raw (not DER-wrapped) peer point is accepted too.
        assert_eq!(derive(private2, &point[point.len() - raw_len..], EcKdf::null(), len as u64), a);
        let k1 = derive(private, &point2, EcKdf::sha256(b"info"), 40);
        assert_eq!(k1, derive(private2, &point, EcKdf::sha256(b"info"), 40));
        // X9.63: SHA-256(Z ‖ 00000001 ‖ info) ‖ SHA-256(Z ‖ 00000002 ‖ info), truncated.
        let mut expect = sha("sha256", &[&a[..], &[0, 0, 0, 1], b"info"].concat());
        expect.extend(sha("sha256", &[&a[..], &[0, 0, 0, 2], b"info"].concat()));
        assert_eq!(k1, expect[..40]);
        let too_long = s.derive_key(
            &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &point2)),
            private,
            &out(len as u64 + 1),
        );
        assert_eq!(rv(too_long), RvError::TemplateInconsistent);
        let off_curve = [vec![4u8], vec![1u8; 2 * len]].concat();
        let bad =
            s.derive_key(&Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &off_curve)), private, &out(16));
        assert_eq!(rv(bad), RvError::MechanismParamInvalid);
    }
    // brainpoolP320r1: a well-formed curve the token does not have.
    let brainpool = [0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x09];
    let bp = rv(s.generate_key_pair(&Mechanism::EccKeyPairGen, &[Attribute::EcParams(brainpool.to_vec())], &[]));
    assert_eq!(bp, RvError::CurveNotSupported);
    let named = s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[Attribute::EcParams(b"\x13\x0aprime256v1".to_vec())],
        &[Attribute::Sign(true)],
    );
    assert!(named.is_ok(), "a printable curve name is accepted");
    assert_eq!(
        rv(s.generate_key_pair(&Mechanism::EccKeyPairGen, &[], &[])),
        RvError::TemplateIncomplete,
        "CKA_EC_PARAMS is required"
    );
}

#[test]
fn ed25519_and_x25519() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    let (public, private) = ec_pair(&s, Mechanism::EccEdwardsKeyPairGen, ED25519, vec![]);
    let data = b"edwards";
    let sig = s.sign(&Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)), private, data).unwrap();
    assert_eq!(sig.len(), 64);
    s.verify(&Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed25519)), public, data, &sig).unwrap();
    spki_pem(&s, dir, public);
    assert!(openssl_verifies(dir, data, &sig, &["-rawin"]), "OpenSSL rejects our Ed25519");
    // CK_EDDSA_PARAMS without prehash and with an empty (NULL, 0) context
    // is Ed25519 itself: the same deterministic signature.
    let empty = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed25519ctx(b"")));
    assert_eq!(s.sign(&empty, private, data).unwrap(), sig);
    s.verify(&empty, public, data, &sig).unwrap();
    // A context makes it Ed25519ctx: another signature, bound to the context.
    let ctx = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed25519ctx(b"ctx")));
    let ctx_sig = s.sign(&ctx, private, data).unwrap();
    assert_ne!(ctx_sig, sig);
    s.verify(&ctx, public, data, &ctx_sig).unwrap();
    assert_eq!(rv(s.verify(&empty, public, data, &ctx_sig)), RvError::SignatureInvalid);

    // RFC 8032 §7.1 test 2, imported from its private key.
    let seed = unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    let imported = s
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::EcParams(ED25519.to_vec()),
            Attribute::Value(seed),
            Attribute::Sign(true),
        ])
        .unwrap();
    let expect = unhex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
    let sig = s.sign(&Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)), imported, &[0x72]).unwrap();
    assert_eq!(sig, expect);
    let point = bytes_attr(&s, imported, AttributeType::EcPoint);
    assert_eq!(point[2..], unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"));

    // X25519: RFC 7748 §6.1 from Alice's side, then two fresh pairs.
    let (_, bob_gen) = ec_pair(&s, Mechanism::EccMontgomeryKeyPairGen, X25519, vec![]);
    let alice = s
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC_MONTGOMERY),
            Attribute::EcParams(X25519.to_vec()),
            Attribute::Value(unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")),
            Attribute::Derive(true),
        ])
        .unwrap();
    let bob_public = unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let tmpl = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen(32.into()),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    let k = s
        .derive_key(&Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &bob_public)), alice, &tmpl)
        .unwrap();
    assert_eq!(
        bytes_attr(&s, k, AttributeType::Value),
        unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    );
    let alice_point = bytes_attr(&s, alice, AttributeType::EcPoint);
    let k2 = s
        .derive_key(&Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &alice_point)), bob_gen, &tmpl)
        .unwrap();
    assert_eq!(bytes_attr(&s, k2, AttributeType::Value).len(), 32);
    assert_eq!(
        rv(s.generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &[Attribute::EcParams(X25519.to_vec())], &[])),
        RvError::CurveNotSupported
    );
}

#[test]
fn imported_keys_are_checked_and_completed() {
    let (_w, _p, s) = session();
    // An RSA key from its components (exported from a generated one).
    let (public, _) = rsa_pair(&s, 2048, &[1, 0, 1], vec![Attribute::Sensitive(false), Attribute::Extractable(true)]);
    let n = bytes_attr(&s, public, AttributeType::Modulus);
    let imported_pub = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Modulus(n.clone()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Verify(true),
        ])
        .unwrap();
    assert_eq!(
        bytes_attr(&s, imported_pub, AttributeType::PublicKeyInfo),
        bytes_attr(&s, public, AttributeType::PublicKeyInfo)
    );
    let attrs = s.get_attributes(imported_pub, &[AttributeType::ModulusBits, AttributeType::Local]).unwrap();
    assert!(attrs.iter().any(|a| matches!(a, Attribute::ModulusBits(b) if u64::from(*b) == 2048)));
    assert!(attrs.iter().any(|a| matches!(a, Attribute::Local(false))));
    let missing = s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Modulus(n.clone()),
        Attribute::PublicExponent(vec![1, 0, 1]),
    ]);
    assert_eq!(rv(missing), RvError::TemplateIncomplete);
    let inconsistent = s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Modulus(n.clone()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::PrivateExponent(vec![7; 256]),
        Attribute::Prime1(vec![3; 128]),
        Attribute::Prime2(vec![5; 128]),
        Attribute::Exponent1(vec![1; 128]),
        Attribute::Exponent2(vec![1; 128]),
        Attribute::Coefficient(vec![1; 128]),
    ]);
    assert_eq!(rv(inconsistent), RvError::AttributeValueInvalid);
    let bits_given = s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Modulus(n),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::ModulusBits(2048.into()),
    ]);
    assert_eq!(rv(bits_given), RvError::TemplateInconsistent);
    // EC public key from a point not on the curve.
    let off = s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::EcParams(P256.to_vec()),
        Attribute::EcPoint([vec![4u8, 65, 4], vec![1u8; 64]].concat()),
    ]);
    assert_eq!(rv(off), RvError::AttributeValueInvalid);
}

#[test]
fn private_keys_wrap_as_pkcs8_and_unwrap() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    let kek = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(32.into()), Attribute::Wrap(true), Attribute::Unwrap(true)],
        )
        .unwrap();
    // RFC 5649. The cryptoki crate names only CKM_AES_KEY_WRAP_PAD (0x210A),
    // which this module answers as RFC 5649 too; CKM_AES_KEY_WRAP_KWP
    // (0x210B) is driven through the raw ABI in `kwp_wraps_private_keys_raw`.
    let kwp = Mechanism::AesKeyWrapPad;
    let extractable = vec![Attribute::Extractable(true)];
    let pairs = [
        (rsa_pair(&s, 2048, &[1, 0, 1], extractable.clone()), KeyType::RSA, Mechanism::Sha256RsaPkcs),
        (ec_pair(&s, Mechanism::EccKeyPairGen, P384, extractable.clone()), KeyType::EC, Mechanism::EcdsaSha384),
        (
            ec_pair(&s, Mechanism::EccEdwardsKeyPairGen, ED25519, extractable.clone()),
            KeyType::EC_EDWARDS,
            Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
        ),
    ];
    for ((public, private), kt, sign) in pairs {
        let wrapped = s.wrap_key(&kwp, kek, private).unwrap();
        let back = s
            .unwrap_key(
                &kwp,
                kek,
                &wrapped,
                &[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(kt),
                    Attribute::Sign(true),
                    Attribute::Extractable(true),
                ],
            )
            .unwrap();
        let sig = s.sign(&sign, back, b"round trip").unwrap();
        s.verify(&sign, public, b"round trip", &sig).unwrap();
        let attrs = s.get_attributes(back, &[AttributeType::Local, AttributeType::Sensitive]).unwrap();
        assert!(attrs.contains(&Attribute::Local(false)) && attrs.contains(&Attribute::Sensitive(true)));
        // The PKCS#8 inside is standard: OpenSSL reads it.
        let again = s.wrap_key(&kwp, kek, back).unwrap();
        assert!(!again.is_empty());
        let pkcs8 = {
            let aes = s
                .create_object(&[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::Value(vec![9; 32]),
                    Attribute::Wrap(true),
                    Attribute::Unwrap(true),
                ])
                .unwrap();
            let wrapped = s.wrap_key(&kwp, aes, back).unwrap();
            // Unwrap with the same KEK bytes outside the token: RFC 5649 via OpenSSL.
            std::fs::write(dir.join("wrapped"), &wrapped).unwrap();
            openssl(
                dir,
                &["enc", "-d", "-id-aes256-wrap-pad", "-K", &"09".repeat(32), "-iv", "A65959A6", "-in", "wrapped"],
            )
        };
        std::fs::write(dir.join("key.der"), &pkcs8).unwrap();
        openssl(dir, &["pkey", "-inform", "DER", "-in", "key.der", "-noout"]);
        // A wrong key type in the template is refused.
        let wrong = s.unwrap_key(
            &kwp,
            kek,
            &wrapped,
            &[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::KeyType(KeyType::DSA)],
        );
        assert_eq!(rv(wrong), RvError::TemplateInconsistent);
    }
    // Not extractable: refused.
    let (_, locked) = ec_pair(&s, Mechanism::EccKeyPairGen, P256, vec![]);
    assert_eq!(rv(s.wrap_key(&kwp, kek, locked)), RvError::KeyUnextractable);
}

#[test]
fn rsa_wraps_secret_keys() {
    let (_w, _p, s) = session();
    let (public, private) = rsa_pair(&s, 2048, &[1, 0, 1], vec![Attribute::Unwrap(true)]);
    let aes = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(32.into()), Attribute::Extractable(true), Attribute::Encrypt(true)],
        )
        .unwrap();
    let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ));
    for m in [Mechanism::RsaPkcs, oaep] {
        let wrapped = s.wrap_key(&m, public, aes).unwrap();
        assert_eq!(wrapped.len(), 256);
        let back = s
            .unwrap_key(
                &m,
                private,
                &wrapped,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::Decrypt(true),
                ],
            )
            .unwrap();
        let iv = [7u8; 16];
        let ct = s.encrypt(&Mechanism::AesCbcPad(iv), aes, b"same key").unwrap();
        assert_eq!(s.decrypt(&Mechanism::AesCbcPad(iv), back, &ct).unwrap(), b"same key");
    }
    assert_eq!(rv(s.wrap_key(&Mechanism::RsaPkcs, private, aes)), RvError::WrappingKeyTypeInconsistent);
}

#[test]
fn certificates_are_parsed_and_checked() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=FerroHSM test",
            "-days",
            "2",
            "-outform",
            "DER",
            "-out",
            "c.der",
        ],
    );
    let der = std::fs::read(dir.join("c.der")).unwrap();
    let cert = s
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Value(der.clone()),
            Attribute::Token(true),
            Attribute::Label(b"tls".to_vec()),
            Attribute::Id(vec![1]),
        ])
        .unwrap();
    let subject = bytes_attr(&s, cert, AttributeType::Subject);
    assert!(subject.windows(13).any(|w| w == b"FerroHSM test"), "subject filled from the DER");
    assert_eq!(bytes_attr(&s, cert, AttributeType::Issuer), subject, "self-signed");
    let serial = bytes_attr(&s, cert, AttributeType::SerialNumber);
    assert_eq!(serial[0], 0x02, "DER INTEGER");
    assert_eq!(bytes_attr(&s, cert, AttributeType::CheckValue), sha("sha1", &der)[..3]);
    let attrs = s.get_attributes(cert, &[AttributeType::Private]).unwrap();
    assert!(attrs.contains(&Attribute::Private(false)));
    let no_type = s.create_object(&[Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Value(der.clone())]);
    assert_eq!(rv(no_type), RvError::TemplateIncomplete);
    let bad_kcv = s.create_object(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Value(der),
        Attribute::CheckValue(vec![0, 0, 0]),
    ]);
    assert_eq!(rv(bad_kcv), RvError::AttributeValueInvalid);
    let garbage = s.create_object(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Value(vec![1, 2, 3]),
    ]);
    assert_eq!(rv(garbage), RvError::TemplateIncomplete, "no subject given or parsable");
}

#[test]
fn always_authenticate_needs_a_context_login_per_operation() {
    let (_w, _p, s) = session();
    let (public, private) = ec_pair(&s, Mechanism::EccKeyPairGen, P256, vec![Attribute::AlwaysAuthenticate(true)]);
    let m = Mechanism::EcdsaSha256;
    // Without the context login the operation ends with USER_NOT_LOGGED_IN.
    assert_eq!(rv(s.sign(&m, private, b"x")), RvError::UserNotLoggedIn);
    // A context login with nothing pending is refused.
    assert_eq!(rv(s.login(UserType::ContextSpecific, Some(&pin(USER_PIN)))), RvError::OperationNotInitialized);
    s.sign_init(&m, private).unwrap();
    assert_eq!(rv(s.login(UserType::ContextSpecific, Some(&pin("wrong-pin")))), RvError::PinIncorrect);
    s.login(UserType::ContextSpecific, Some(&pin(USER_PIN))).unwrap();
    s.sign_update(b"x").unwrap();
    let sig = s.sign_final().unwrap();
    s.verify(&m, public, b"x", &sig).unwrap();
    // The next operation needs another one.
    s.sign_init(&m, private).unwrap();
    assert_eq!(rv(s.sign_update(b"x")), RvError::UserNotLoggedIn);
}

#[test]
fn private_components_never_reach_the_database_in_plaintext() {
    let (w, p, s) = session();
    // Import known key material as token objects, then grep the store.
    let scalar = unhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::EcParams(P256.to_vec()),
        Attribute::Value(scalar.clone()),
        Attribute::Token(true),
    ])
    .unwrap();
    let (_, gen) = ec_pair(
        &s,
        Mechanism::EccKeyPairGen,
        P256,
        vec![Attribute::Token(true), Attribute::Sensitive(false), Attribute::Extractable(true)],
    );
    let gen_scalar = bytes_attr(&s, gen, AttributeType::Value);
    assert_eq!(gen_scalar.len(), 32);
    drop(s);
    p.finalize().unwrap();
    if let Some(pg) = &w.pg {
        // On PostgreSQL: every row of every table, as the server's
        // administrator can read them (bytea as hex text).
        let tables = common::pg::sql(
            &pg.base,
            &pg.name,
            &format!("SELECT tablename FROM pg_tables WHERE schemaname = '{}'", pg.name),
        );
        assert!(tables.len() >= 5, "{tables:?}");
        let mut dump = String::new();
        for t in tables {
            dump.extend(common::pg::sql(&pg.base, &pg.name, &format!("SELECT x::text FROM {t} x")));
        }
        assert!(dump.len() > 1000);
        for secret in [&scalar, &gen_scalar] {
            let hex: String = secret[..16].iter().map(|b| format!("{b:02x}")).collect();
            assert!(!dump.contains(&hex), "private scalar found in the database");
        }
        return;
    }
    let mut db = std::fs::read(&w.db).unwrap();
    for ext in ["-wal", "-shm"] {
        if let Ok(more) = std::fs::read(format!("{}{ext}", w.db.display())) {
            db.extend(more);
        }
    }
    for secret in [&scalar, &gen_scalar] {
        assert!(!db.windows(16).any(|x| x == &secret[..16]), "private scalar found in the store file");
    }
}
