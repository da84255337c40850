//! Known-answer vectors for the asymmetric mechanisms, through the C ABI
//! (`cryptoki`), with keys imported from their components: NIST CAVP
//! PKCS#1 v1.5 and PSS verification (valid and invalid records), RSA Labs
//! PKCS#1 v1.5 signatures made with the private key (deterministic, so
//! compared byte for byte), OAEP decryption with SHA-1 and SHA-2 (RSA Labs
//! and pyca's SHA-2 set), and CAVP ECDSA verification on P-256/384/521.
//! Sources: tests/vectors/*.txt, written by tests/vectors/extract_asym.py.

#[macro_use]
mod common;

use common::vectors::{unhex, vectors};
use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

fn hash_type(h: &str) -> (MechanismType, PkcsMgfType, &'static aws_lc_rs::digest::Algorithm) {
    use aws_lc_rs::digest::*;
    match h {
        "SHA1" => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1, &SHA1_FOR_LEGACY_USE_ONLY),
        "SHA224" => (MechanismType::SHA224, PkcsMgfType::MGF1_SHA224, &SHA224),
        "SHA256" => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, &SHA256),
        "SHA384" => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, &SHA384),
        "SHA512" => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, &SHA512),
        other => panic!("hash {other}"),
    }
}

fn rsa_public(s: &Session, n: &str, e: &str) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Modulus(unhex(n)),
        Attribute::PublicExponent(unhex(e)),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
    ])
    .unwrap()
}

/// A private key from all eight components (n e d p q dp dq qinv).
fn rsa_private(s: &Session, f: &[String]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Modulus(unhex(&f[0])),
        Attribute::PublicExponent(unhex(&f[1])),
        Attribute::PrivateExponent(unhex(&f[2])),
        Attribute::Prime1(unhex(&f[3])),
        Attribute::Prime2(unhex(&f[4])),
        Attribute::Exponent1(unhex(&f[5])),
        Attribute::Exponent2(unhex(&f[6])),
        Attribute::Coefficient(unhex(&f[7])),
        Attribute::Sign(true),
        Attribute::Decrypt(true),
    ])
    .unwrap()
}

#[test]
fn rsa_pkcs1_v15_signatures() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "kat");
    let s = user_session(&p, slot);
    // Deterministic signatures made with the imported private key.
    let sign = vectors("rsa_pkcs1_sign_sha1.txt");
    assert_eq!(sign.len(), 6);
    for v in &sign {
        let private = rsa_private(&s, &v[..8]);
        let (msg, sig) = (unhex(&v[8]), unhex(&v[9]));
        assert_eq!(s.sign(&Mechanism::Sha1RsaPkcs, private, &msg).unwrap(), sig);
        let public = rsa_public(&s, &v[0], &v[1]);
        s.verify(&Mechanism::Sha1RsaPkcs, public, &msg, &sig).unwrap();
    }
    // CAVP SigGen15 records, 2048-bit, SHA-1..SHA-512, verified.
    let ver = vectors("rsa_pkcs1_sigver.txt");
    assert_eq!(ver.len(), 10);
    for v in &ver {
        let m = match v[0].as_str() {
            "SHA1" => Mechanism::Sha1RsaPkcs,
            "SHA224" => Mechanism::Sha224RsaPkcs,
            "SHA256" => Mechanism::Sha256RsaPkcs,
            "SHA384" => Mechanism::Sha384RsaPkcs,
            _ => Mechanism::Sha512RsaPkcs,
        };
        let public = rsa_public(&s, &v[1], &v[2]);
        let (mut msg, sig) = (unhex(&v[3]), unhex(&v[4]));
        s.verify(&m, public, &msg, &sig).unwrap_or_else(|e| panic!("{}: {e}", v[0]));
        msg[0] ^= 1;
        assert_eq!(rv(s.verify(&m, public, &msg, &sig)), RvError::SignatureInvalid);
    }
}

#[test]
fn rsa_pss_cavp_verification() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "kat");
    let s = user_session(&p, slot);
    let vs = vectors("rsa_pss_sigver.txt");
    assert_eq!(vs.len(), 20);
    let (mut pass, mut fail) = (0, 0);
    for v in &vs {
        let (hash, mgf, alg) = hash_type(&v[0]);
        let salt: u64 = v[3].parse().unwrap();
        let params = PkcsPssParams { hash_alg: hash, mgf, s_len: salt.into() };
        let public = rsa_public(&s, &v[1], &v[2]);
        let (msg, sig) = (unhex(&v[4]), unhex(&v[5]));
        let digest = aws_lc_rs::digest::digest(alg, &msg);
        // Over the caller's digest, and hashed by the token where the
        // cryptoki crate names the mechanism.
        let r = s.verify(&Mechanism::RsaPkcsPss(params), public, digest.as_ref(), &sig);
        let hashed = match v[0].as_str() {
            "SHA1" => Some(Mechanism::Sha1RsaPkcsPss(params)),
            "SHA256" => Some(Mechanism::Sha256RsaPkcsPss(params)),
            "SHA384" => Some(Mechanism::Sha384RsaPkcsPss(params)),
            "SHA512" => Some(Mechanism::Sha512RsaPkcsPss(params)),
            _ => None,
        };
        if v[6] == "P" {
            r.unwrap_or_else(|e| panic!("valid {} record refused: {e}", v[0]));
            if let Some(m) = hashed {
                s.verify(&m, public, &msg, &sig).unwrap();
            }
            pass += 1;
        } else {
            assert_eq!(rv(r), RvError::SignatureInvalid, "invalid {} record", v[0]);
            fail += 1;
        }
    }
    assert_eq!((pass, fail), (10, 10));
}

#[test]
fn rsa_oaep_decryption() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "kat");
    let s = user_session(&p, slot);
    let vs = vectors("rsa_oaep.txt");
    assert_eq!(vs.len(), 12);
    for v in &vs {
        let (hash, _, _) = hash_type(&v[0]);
        let (_, mgf, _) = hash_type(&v[1]);
        let private = rsa_private(&s, &v[2..10]);
        let m = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()));
        let (msg, ct) = (unhex(&v[10]), unhex(&v[11]));
        let got = s.decrypt(&m, private, &ct).unwrap_or_else(|e| panic!("{} / MGF1-{}: {e}", v[0], v[1]));
        assert_eq!(got, msg, "{} / MGF1-{}", v[0], v[1]);
        // The same ciphertext with a label, or another MGF, is refused.
        let labelled = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::data_specified(b"x")));
        assert_eq!(rv(s.decrypt(&labelled, private, &ct)), RvError::EncryptedDataInvalid);
    }
}

#[test]
fn ecdsa_cavp_verification() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "kat");
    let s = user_session(&p, slot);
    let vs = vectors("ecdsa_sigver.txt");
    assert_eq!(vs.len(), 60);
    let (mut pass, mut fail) = (0, 0);
    for v in &vs {
        let params: Vec<u8> = match v[0].as_str() {
            "P-256" => vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            "P-384" => vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
            _ => vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        };
        let mut point = vec![4u8];
        point.extend(unhex(&v[3]));
        point.extend(unhex(&v[4]));
        let mut der = vec![0x04];
        if point.len() >= 0x80 {
            der.push(0x81);
        }
        der.push(point.len() as u8);
        der.extend(&point);
        let m = match v[1].as_str() {
            "SHA1" => Mechanism::EcdsaSha1,
            "SHA224" => Mechanism::EcdsaSha224,
            "SHA256" => Mechanism::EcdsaSha256,
            "SHA384" => Mechanism::EcdsaSha384,
            _ => Mechanism::EcdsaSha512,
        };
        let sig = [unhex(&v[5]), unhex(&v[6])].concat();
        let public = s.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(params),
            Attribute::EcPoint(der),
            Attribute::Verify(true),
        ]);
        let outcome = match public {
            Ok(k) => s.verify(&m, k, &unhex(&v[2]), &sig),
            // A record whose Q was altered may not be on the curve at all:
            // then the key itself is refused, which only an F record may see.
            Err(e) => {
                assert_eq!(v[7], "F", "valid key refused: {e}");
                fail += 1;
                continue;
            }
        };
        if v[7] == "P" {
            outcome.unwrap_or_else(|e| panic!("valid {} {} record refused: {e}", v[0], v[1]));
            pass += 1;
        } else {
            assert_eq!(rv(outcome), RvError::SignatureInvalid, "invalid {} {} record", v[0], v[1]);
            fail += 1;
        }
    }
    assert_eq!((pass, fail), (30, 30));
}
