//! PKCS#11 3.2 post-quantum keys through the `cryptoki` crate (which takes
//! the module's 3.2 interface): ML-KEM-512/768/1024 and ML-DSA-44/65/87
//! key pairs at each parameter set, their attributes, ML-DSA signatures
//! with context strings and the hedge variants, the FIPS 203/204 known
//! answers through the module, encapsulation into secret key objects,
//! PKCS#8 wrapping, and the exact return codes for wrong input.

#[macro_use]
mod common;

use common::vectors::{unhex, vectors};
use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, KeyType, MlDsaParameterSetType, MlKemParameterSetType, ObjectClass, ObjectHandle,
    ParameterSetType, SlhDsaParameterSetType,
};
use cryptoki::session::Session;
use cryptoki_sys::CKR_PARAMETER_SET_NOT_SUPPORTED;

fn session() -> (World, Module, Session) {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "pq");
    let s = user_session(&p, slot);
    (w, p, s)
}

const DSA_SETS: [(MlDsaParameterSetType, usize, usize, usize); 3] = [
    (MlDsaParameterSetType::ML_DSA_44, 1312, 2560, 2420),
    (MlDsaParameterSetType::ML_DSA_65, 1952, 4032, 3309),
    (MlDsaParameterSetType::ML_DSA_87, 2592, 4896, 4627),
];
const KEM_SETS: [(MlKemParameterSetType, usize, usize, usize); 3] = [
    (MlKemParameterSetType::ML_KEM_512, 800, 1632, 768),
    (MlKemParameterSetType::ML_KEM_768, 1184, 2400, 1088),
    (MlKemParameterSetType::ML_KEM_1024, 1568, 3168, 1568),
];

fn value(s: &Session, o: ObjectHandle, t: AttributeType) -> Vec<u8> {
    match s.get_attributes(o, &[t]).unwrap().into_iter().next() {
        Some(Attribute::Value(b) | Attribute::Seed(b) | Attribute::PublicKeyInfo(b)) => b,
        other => panic!("{t:?}: {other:?}"),
    }
}

fn readable() -> Vec<Attribute> {
    vec![Attribute::Sensitive(false), Attribute::Extractable(true)]
}

fn dsa_pair(s: &Session, set: MlDsaParameterSetType, extra: Vec<Attribute>) -> (ObjectHandle, ObjectHandle) {
    let mut private = vec![Attribute::Sign(true)];
    private.extend(extra);
    s.generate_key_pair(&Mechanism::MlDsaKeyPairGen, &[Attribute::ParameterSet(set.into())], &private).unwrap()
}

fn kem_pair(s: &Session, set: MlKemParameterSetType, extra: Vec<Attribute>) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(&Mechanism::MlKemKeyPairGen, &[Attribute::ParameterSet(set.into())], &extra).unwrap()
}

fn ml_dsa(hedge: HedgeType, ctx: Option<&[u8]>) -> Mechanism<'_> {
    Mechanism::MlDsa(SignAdditionalContext::new(hedge, ctx))
}

#[test]
fn key_pairs_at_every_parameter_set_and_their_attributes() {
    let (_w, p, s) = session();
    let slot = s.get_session_info().unwrap().slot_id();
    let mechs = p.get_mechanism_list(slot).unwrap();
    for m in [
        MechanismType::ML_KEM_KEY_PAIR_GEN,
        MechanismType::ML_KEM,
        MechanismType::ML_DSA_KEY_PAIR_GEN,
        MechanismType::ML_DSA,
    ] {
        assert!(mechs.contains(&m), "{m}");
    }
    let info = p.get_mechanism_info(slot, MechanismType::ML_KEM).unwrap();
    assert!(info.encapsulate() && info.decapsulate());
    assert!(p.get_mechanism_info(slot, MechanismType::ML_DSA).unwrap().sign());

    for (set, pub_len, priv_len, _) in DSA_SETS {
        let (public, private) = dsa_pair(&s, set, vec![]);
        let want: ParameterSetType = set.into();
        for o in [public, private] {
            let a = s.get_attributes(o, &[AttributeType::ParameterSet, AttributeType::KeyType]).unwrap();
            assert!(a.contains(&Attribute::ParameterSet(want)), "{set}");
            assert!(a.contains(&Attribute::KeyType(KeyType::ML_DSA)));
        }
        // The public key's CKA_VALUE is the raw FIPS 204 encoding; its SPKI
        // carries the same bytes under id-ml-dsa-*.
        let raw = value(&s, public, AttributeType::Value);
        assert_eq!(raw.len(), pub_len, "{set}");
        let spki = value(&s, public, AttributeType::PublicKeyInfo);
        assert!(spki.ends_with(&raw));
        // The private key's value and seed are sensitive by default.
        let secret = s.get_attributes(private, &[AttributeType::Value, AttributeType::Seed]).unwrap();
        assert!(secret.is_empty(), "{secret:?}");
        let a = s.get_attributes(private, &[AttributeType::KeyGenMechanism, AttributeType::Local]).unwrap();
        assert!(a.contains(&Attribute::KeyGenMechanism(MechanismType::ML_DSA_KEY_PAIR_GEN)));
        assert!(a.contains(&Attribute::Local(true)));
        // Readable when generated so: a 32-byte seed and the expanded key.
        let (_, open) = dsa_pair(&s, set, readable());
        assert_eq!(value(&s, open, AttributeType::Seed).len(), 32);
        assert_eq!(value(&s, open, AttributeType::Value).len(), priv_len);
    }
    for (set, pub_len, priv_len, _) in KEM_SETS {
        let (public, private) = kem_pair(&s, set, readable());
        assert_eq!(value(&s, public, AttributeType::Value).len(), pub_len, "{set}");
        assert_eq!(value(&s, private, AttributeType::Value).len(), priv_len);
        assert_eq!(value(&s, private, AttributeType::Seed).len(), 64);
        let a = s.get_attributes(public, &[AttributeType::Encapsulate, AttributeType::KeyType]).unwrap();
        assert!(a.contains(&Attribute::Encapsulate(true)) && a.contains(&Attribute::KeyType(KeyType::ML_KEM)));
        let a = s.get_attributes(private, &[AttributeType::Decapsulate]).unwrap();
        assert_eq!(a, vec![Attribute::Decapsulate(true)]);
    }

    // No parameter set: incomplete; one the key type does not have: the
    // 3.2 code CKR_PARAMETER_SET_NOT_SUPPORTED; two that differ: inconsistent.
    let gen = |m: &Mechanism, public: &[Attribute], private: &[Attribute]| rv(s.generate_key_pair(m, public, private));
    assert_eq!(gen(&Mechanism::MlDsaKeyPairGen, &[], &[]), RvError::TemplateIncomplete);
    let slh: ParameterSetType = SlhDsaParameterSetType::SHAKE_256F.into();
    assert_eq!(
        gen(&Mechanism::MlDsaKeyPairGen, &[Attribute::ParameterSet(slh)], &[]),
        RvError::UnknownErrorCode(CKR_PARAMETER_SET_NOT_SUPPORTED)
    );
    assert_eq!(
        gen(
            &Mechanism::MlKemKeyPairGen,
            &[Attribute::ParameterSet(MlKemParameterSetType::ML_KEM_512.into())],
            &[Attribute::ParameterSet(MlKemParameterSetType::ML_KEM_768.into())]
        ),
        RvError::TemplateInconsistent
    );
    // Key material is the token's to make.
    assert_eq!(
        gen(
            &Mechanism::MlDsaKeyPairGen,
            &[Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_44.into()), Attribute::Value(vec![0; 1312])],
            &[]
        ),
        RvError::TemplateInconsistent
    );
    assert_eq!(
        gen(
            &Mechanism::MlDsaKeyPairGen,
            &[Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_44.into())],
            &[Attribute::KeyType(KeyType::ML_KEM)]
        ),
        RvError::TemplateInconsistent
    );
}

#[test]
fn ml_dsa_signs_with_contexts_and_hedge_variants() {
    let (_w, _p, s) = session();
    let msg = b"post-quantum message";
    for (set, _, _, sig_len) in DSA_SETS {
        let (public, private) = dsa_pair(&s, set, vec![]);
        // No parameter: hedged, empty context.
        let plain = s.sign(&Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Preferred, None)), private, msg);
        let plain = plain.unwrap();
        assert_eq!(plain.len(), sig_len, "{set}");
        s.verify(&ml_dsa(HedgeType::Preferred, None), public, msg, &plain).unwrap();
        s.verify(&ml_dsa(HedgeType::Required, Some(b"")), public, msg, &plain).unwrap();

        let ctx = b"application context";
        let hedged = ml_dsa(HedgeType::Required, Some(ctx));
        let a = s.sign(&hedged, private, msg).unwrap();
        let b = s.sign(&hedged, private, msg).unwrap();
        assert_ne!(a, b, "hedged signatures differ");
        s.verify(&hedged, public, msg, &a).unwrap();
        s.verify(&hedged, public, msg, &b).unwrap();
        // The context is part of what is signed.
        assert_eq!(
            rv(s.verify(&ml_dsa(HedgeType::Required, Some(b"other")), public, msg, &a)),
            RvError::SignatureInvalid
        );
        assert_eq!(rv(s.verify(&ml_dsa(HedgeType::Preferred, None), public, msg, &a)), RvError::SignatureInvalid);
        assert_eq!(rv(s.verify(&hedged, public, b"other message", &a)), RvError::SignatureInvalid);

        let det = ml_dsa(HedgeType::DeterministicRequired, Some(ctx));
        let d1 = s.sign(&det, private, msg).unwrap();
        assert_eq!(d1, s.sign(&det, private, msg).unwrap(), "deterministic");
        s.verify(&hedged, public, msg, &d1).unwrap();
        // Multi-part gives the same deterministic signature.
        s.sign_init(&det, private).unwrap();
        s.sign_update(&msg[..5]).unwrap();
        s.sign_update(&msg[5..]).unwrap();
        assert_eq!(s.sign_final().unwrap(), d1);

        // Bad input: a context over 255 bytes, a short signature, a flipped bit.
        let long = [7u8; 256];
        assert_eq!(
            rv(s.sign(&ml_dsa(HedgeType::Preferred, Some(&long)), private, msg)),
            RvError::MechanismParamInvalid
        );
        s.sign(&ml_dsa(HedgeType::Preferred, Some(&long[..255])), private, msg).unwrap();
        assert_eq!(rv(s.verify(&hedged, public, msg, &a[1..])), RvError::SignatureLenRange);
        let mut bad = a.clone();
        bad[10] ^= 1;
        assert_eq!(rv(s.verify(&hedged, public, msg, &bad)), RvError::SignatureInvalid);
        // The wrong halves.
        assert_eq!(rv(s.sign(&hedged, public, msg)), RvError::KeyTypeInconsistent);
    }
    // An ML-KEM key does not sign; an EC key is not an ML-DSA key.
    let (_, kem_private) = kem_pair(&s, MlKemParameterSetType::ML_KEM_768, vec![Attribute::Sign(true)]);
    assert_eq!(rv(s.sign(&ml_dsa(HedgeType::Preferred, None), kem_private, b"x")), RvError::KeyTypeInconsistent);
    let (ec_pub, ec) = s
        .generate_key_pair(&Mechanism::EccKeyPairGen, &[Attribute::EcParams(P256.to_vec())], &[Attribute::Sign(true)])
        .unwrap();
    assert_eq!(rv(s.sign(&ml_dsa(HedgeType::Preferred, None), ec, b"x")), RvError::KeyTypeInconsistent);
    // The 3.2 attributes are for ML-KEM / ML-DSA keys: an EC public key
    // with a CKA_VALUE or a parameter set is refused.
    let point = match s.get_attributes(ec_pub, &[AttributeType::EcPoint]).unwrap().into_iter().next() {
        Some(Attribute::EcPoint(p)) => p,
        other => panic!("{other:?}"),
    };
    let ec_import = |extra: Attribute| {
        s.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(P256.to_vec()),
            Attribute::EcPoint(point.clone()),
            extra,
        ])
    };
    assert_eq!(rv(ec_import(Attribute::Value(vec![1; 65]))), RvError::AttributeTypeInvalid);
    let set: ParameterSetType = MlDsaParameterSetType::ML_DSA_44.into();
    assert_eq!(rv(ec_import(Attribute::ParameterSet(set))), RvError::AttributeTypeInvalid);
    ec_import(Attribute::Label(b"plain".to_vec())).unwrap();
}

/// FIPS 204 known answers (tests/vectors/ml_dsa_kat.txt) through the
/// module: a private key made from its seed ξ expands to the vector's sk;
/// the deterministic signature with the vector's context is the vector's,
/// and the vector's public key verifies it.
#[test]
fn ml_dsa_known_answers_through_the_module() {
    let (_w, _p, s) = session();
    let mut n = 0;
    for r in vectors("ml_dsa_kat.txt") {
        let set: ParameterSetType = match r[0].as_str() {
            "44" => MlDsaParameterSetType::ML_DSA_44,
            "65" => MlDsaParameterSetType::ML_DSA_65,
            _ => MlDsaParameterSetType::ML_DSA_87,
        }
        .into();
        let (xi, pk, sk, msg, ctx, sig) =
            (unhex(&r[1]), unhex(&r[2]), unhex(&r[3]), unhex(&r[4]), unhex(&r[5]), unhex(&r[6]));
        let common =
            |class| vec![Attribute::Class(class), Attribute::KeyType(KeyType::ML_DSA), Attribute::ParameterSet(set)];
        let mut t = common(ObjectClass::PRIVATE_KEY);
        t.extend([Attribute::Seed(xi.clone()), Attribute::Sign(true)]);
        t.extend(readable());
        let private = s.create_object(&t).unwrap();
        assert_eq!(value(&s, private, AttributeType::Value), sk, "KeyGen({})", r[0]);
        assert!(value(&s, private, AttributeType::PublicKeyInfo).ends_with(&pk));
        let mut t = common(ObjectClass::PUBLIC_KEY);
        t.extend([Attribute::Value(pk.clone()), Attribute::Verify(true)]);
        let public = s.create_object(&t).unwrap();

        let det = ml_dsa(HedgeType::DeterministicRequired, Some(&ctx));
        assert_eq!(s.sign(&det, private, &msg).unwrap(), sig, "Sign({})", r[0]);
        s.verify(&ml_dsa(HedgeType::Preferred, Some(&ctx)), public, &msg, &sig).unwrap();
        let mut bad = sig.clone();
        bad[0] ^= 0x80;
        assert_eq!(rv(s.verify(&det, public, &msg, &bad)), RvError::SignatureInvalid);

        // The expanded key alone, and with its seed, are the same key; a
        // seed that is not its own is refused.
        let mut t = common(ObjectClass::PRIVATE_KEY);
        t.extend([Attribute::Value(sk.clone()), Attribute::Sign(true)]);
        let expanded = s.create_object(&t).unwrap();
        assert_eq!(s.sign(&det, expanded, &msg).unwrap(), sig);
        let mut t = common(ObjectClass::PRIVATE_KEY);
        t.extend([Attribute::Value(sk.clone()), Attribute::Seed(vec![0; 32])]);
        assert_eq!(rv(s.create_object(&t)), RvError::AttributeValueInvalid);
        // A public key of the wrong length for its set.
        let mut t = common(ObjectClass::PUBLIC_KEY);
        t.push(Attribute::Value(pk[1..].to_vec()));
        assert_eq!(rv(s.create_object(&t)), RvError::AttributeValueInvalid);
        n += 1;
    }
    assert_eq!(n, 6);
}

fn secret_template(extra: Vec<Attribute>) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::GENERIC_SECRET)];
    t.extend(readable());
    t.extend(extra);
    t
}

#[test]
fn ml_kem_encapsulates_into_secret_key_objects() {
    let (_w, _p, s) = session();
    for (set, _, _, ct_len) in KEM_SETS {
        let (public, private) = kem_pair(&s, set, vec![]);
        let (ct, mine) = s.encapsulate_key(&Mechanism::MlKem, public, &secret_template(vec![])).unwrap();
        assert_eq!(ct.len(), ct_len, "{set}");
        let theirs = s.decapsulate_key(&Mechanism::MlKem, private, &secret_template(vec![]), &ct).unwrap();
        let v = value(&s, mine, AttributeType::Value);
        assert_eq!(v.len(), 32);
        assert_eq!(v, value(&s, theirs, AttributeType::Value));
        let a = s.get_attributes(theirs, &[AttributeType::ValueLen, AttributeType::Local]).unwrap();
        assert!(a.contains(&Attribute::ValueLen(32.into())) && a.contains(&Attribute::Local(false)));

        // An AES-256 key from the same secret works as one.
        let aes = vec![Attribute::KeyType(KeyType::AES), Attribute::Encrypt(true), Attribute::Decrypt(true)];
        let mut t = secret_template(vec![]);
        t.retain(|a| a.attribute_type() != AttributeType::KeyType);
        t.extend(aes.clone());
        let (ct, k1) = s.encapsulate_key(&Mechanism::MlKem, public, &t).unwrap();
        let k2 = s.decapsulate_key(&Mechanism::MlKem, private, &t, &ct).unwrap();
        let iv = [3u8; 16];
        let c = s.encrypt(&Mechanism::AesCbcPad(iv), k1, b"sixteen bytes+").unwrap();
        assert_eq!(s.decrypt(&Mechanism::AesCbcPad(iv), k2, &c).unwrap(), b"sixteen bytes+");
        // The default key type is a generic secret.
        let (_, g) =
            s.encapsulate_key(&Mechanism::MlKem, public, &[Attribute::Class(ObjectClass::SECRET_KEY)]).unwrap();
        let a = s.get_attributes(g, &[AttributeType::KeyType]).unwrap();
        assert_eq!(a, vec![Attribute::KeyType(KeyType::GENERIC_SECRET)]);

        // A wrong ciphertext of the right length gives another secret
        // (implicit rejection), not an error; a wrong length is refused.
        let mut bad = ct.clone();
        bad[0] ^= 1;
        let other = s.decapsulate_key(&Mechanism::MlKem, private, &secret_template(vec![]), &bad).unwrap();
        assert_ne!(value(&s, other, AttributeType::Value), value(&s, k1, AttributeType::Value));
        assert_eq!(
            rv(s.decapsulate_key(&Mechanism::MlKem, private, &secret_template(vec![]), &ct[1..])),
            RvError::EncryptedDataLenRange
        );
        // A shorter key (CKA_VALUE_LEN up to 32) is the secret's leading
        // bytes, the same on both sides: an AES-128 key.
        let mut t = secret_template(vec![Attribute::ValueLen(16.into())]);
        t.retain(|a| a.attribute_type() != AttributeType::KeyType);
        t.extend(aes.clone());
        let (ct16, a1) = s.encapsulate_key(&Mechanism::MlKem, public, &t).unwrap();
        let a2 = s.decapsulate_key(&Mechanism::MlKem, private, &t, &ct16).unwrap();
        let (v1, v2) = (value(&s, a1, AttributeType::Value), value(&s, a2, AttributeType::Value));
        assert_eq!((v1.len(), &v1), (16, &v2));
        let whole = s.decapsulate_key(&Mechanism::MlKem, private, &secret_template(vec![]), &ct16).unwrap();
        assert_eq!(&value(&s, whole, AttributeType::Value)[..16], &v1[..]);
        let c = s.encrypt(&Mechanism::AesEcb, a1, &[7; 16]).unwrap();
        assert_eq!(s.decrypt(&Mechanism::AesEcb, a2, &c).unwrap(), [7; 16]);
        // Template rules: a secret key, at most 32 bytes, a length its
        // type takes, no value given.
        let enc = |t: Vec<Attribute>| rv(s.encapsulate_key(&Mechanism::MlKem, public, &t));
        assert_eq!(enc(secret_template(vec![Attribute::ValueLen(33.into())])), RvError::TemplateInconsistent);
        assert_eq!(enc(secret_template(vec![Attribute::ValueLen(0.into())])), RvError::TemplateInconsistent);
        let mut aes20 = t.clone();
        aes20.retain(|a| a.attribute_type() != AttributeType::ValueLen);
        aes20.push(Attribute::ValueLen(20.into()));
        assert_eq!(enc(aes20), RvError::TemplateInconsistent);
        assert_eq!(enc(secret_template(vec![Attribute::Value(vec![0; 32])])), RvError::TemplateInconsistent);
        assert_eq!(enc(vec![Attribute::Class(ObjectClass::PRIVATE_KEY)]), RvError::TemplateInconsistent);
        assert_eq!(enc(vec![Attribute::KeyType(KeyType::DES3)]), RvError::TemplateInconsistent);
        // The wrong halves, the wrong key type, a key not for encapsulation.
        assert_eq!(rv(s.encapsulate_key(&Mechanism::MlKem, private, &[])), RvError::KeyTypeInconsistent);
        assert_eq!(rv(s.decapsulate_key(&Mechanism::MlKem, public, &[], &ct)), RvError::KeyTypeInconsistent);
    }
    let (dsa_public, _) = dsa_pair(&s, MlDsaParameterSetType::ML_DSA_44, vec![]);
    s.update_attributes(dsa_public, &[Attribute::Encapsulate(true)]).unwrap();
    assert_eq!(rv(s.encapsulate_key(&Mechanism::MlKem, dsa_public, &[])), RvError::KeyTypeInconsistent);
    let (no_encaps, _) = kem_pair(&s, MlKemParameterSetType::ML_KEM_512, vec![]);
    s.update_attributes(no_encaps, &[Attribute::Encapsulate(false)]).unwrap();
    assert_eq!(rv(s.encapsulate_key(&Mechanism::MlKem, no_encaps, &[])), RvError::KeyFunctionNotPermitted);
}

/// FIPS 203 known answers (tests/vectors/ml_kem_kat.txt) through the
/// module: a private key made from d ‖ z expands to the vector's dk, and
/// decapsulation of the vector's ciphertexts gives its shared secrets
/// (the implicit-rejection one included).
#[test]
fn ml_kem_known_answers_through_the_module() {
    let (_w, _p, s) = session();
    let mut n = 0;
    for r in vectors("ml_kem_kat.txt") {
        let set: ParameterSetType = match r[0].as_str() {
            "512" => MlKemParameterSetType::ML_KEM_512,
            "768" => MlKemParameterSetType::ML_KEM_768,
            _ => MlKemParameterSetType::ML_KEM_1024,
        }
        .into();
        let seed = [unhex(&r[1]), unhex(&r[2])].concat();
        let mut t = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::ML_KEM),
            Attribute::ParameterSet(set),
            Attribute::Seed(seed),
        ];
        t.extend(readable());
        let private = s.create_object(&t).unwrap();
        assert_eq!(value(&s, private, AttributeType::Value), unhex(&r[3]), "KeyGen({})", r[0]);
        for (ct, ss) in [(&r[5], &r[6]), (&r[7], &r[8])] {
            let k = s.decapsulate_key(&Mechanism::MlKem, private, &secret_template(vec![]), &unhex(ct)).unwrap();
            assert_eq!(value(&s, k, AttributeType::Value), unhex(ss), "Decaps({})", r[0]);
        }
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn post_quantum_private_keys_wrap_as_pkcs8() {
    let (_w, _p, s) = session();
    let kek = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(32.into()), Attribute::Wrap(true), Attribute::Unwrap(true)],
        )
        .unwrap();
    let kwp = Mechanism::AesKeyWrapPad;
    let unwrap_template = |kt| {
        vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(kt),
            Attribute::Sign(true),
            Attribute::Extractable(true),
        ]
    };
    for (set, _, _, _) in DSA_SETS {
        let (public, private) = dsa_pair(&s, set, vec![Attribute::Extractable(true)]);
        let wrapped = s.wrap_key(&kwp, kek, private).unwrap();
        let back = s.unwrap_key(&kwp, kek, &wrapped, &unwrap_template(KeyType::ML_DSA)).unwrap();
        let a = s.get_attributes(back, &[AttributeType::ParameterSet, AttributeType::Local]).unwrap();
        assert!(a.contains(&Attribute::ParameterSet(set.into())) && a.contains(&Attribute::Local(false)));
        let m = ml_dsa(HedgeType::Preferred, Some(b"wrapped"));
        let sig = s.sign(&m, back, b"round trip").unwrap();
        s.verify(&m, public, b"round trip", &sig).unwrap();
        // The seed travels with the key: both give the same deterministic signature.
        let det = ml_dsa(HedgeType::DeterministicRequired, None);
        assert_eq!(s.sign(&det, back, b"x").unwrap(), s.sign(&det, private, b"x").unwrap());
        // Wrapped again, it is the same PKCS#8.
        assert_eq!(s.wrap_key(&kwp, kek, back).unwrap().len(), wrapped.len());
        // The PKCS#8 names its algorithm: another key type is refused.
        assert_eq!(
            rv(s.unwrap_key(&kwp, kek, &wrapped, &unwrap_template(KeyType::ML_KEM))),
            RvError::TemplateInconsistent
        );
        let mut wrong_set = unwrap_template(KeyType::ML_DSA);
        let other = if set == MlDsaParameterSetType::ML_DSA_44 {
            MlDsaParameterSetType::ML_DSA_65
        } else {
            MlDsaParameterSetType::ML_DSA_44
        };
        wrong_set.push(Attribute::ParameterSet(other.into()));
        assert_eq!(rv(s.unwrap_key(&kwp, kek, &wrapped, &wrong_set)), RvError::TemplateInconsistent);
    }
    // ML-KEM through AES-GCM wrapping: the unwrapped key decapsulates what
    // the original public key encapsulated.
    let mut gcm_iv = [5u8; 12];
    let gcm = Mechanism::AesGcm(cryptoki::mechanism::aead::GcmParams::new(&mut gcm_iv, &[], 128.into()).unwrap());
    for (set, _, _, _) in KEM_SETS {
        let (public, private) = kem_pair(&s, set, vec![Attribute::Extractable(true)]);
        let wrapped = s.wrap_key(&gcm, kek, private).unwrap();
        let mut t = unwrap_template(KeyType::ML_KEM);
        t.retain(|a| a.attribute_type() != AttributeType::Sign);
        let back = s.unwrap_key(&gcm, kek, &wrapped, &t).unwrap();
        let (ct, k1) = s.encapsulate_key(&Mechanism::MlKem, public, &secret_template(vec![])).unwrap();
        let k2 = s.decapsulate_key(&Mechanism::MlKem, back, &secret_template(vec![]), &ct).unwrap();
        assert_eq!(value(&s, k1, AttributeType::Value), value(&s, k2, AttributeType::Value), "{set}");
    }
    // Not extractable: refused.
    let (_, locked) = dsa_pair(&s, MlDsaParameterSetType::ML_DSA_44, vec![]);
    assert_eq!(rv(s.wrap_key(&kwp, kek, locked)), RvError::KeyUnextractable);
}
