//! Key types and sizes beyond the common ones, through the `cryptoki`
//! crate: RSA key generation at any size from 1024 to 16384 bits, EdDSA
//! with CK_EDDSA_PARAMS (Ed25519ctx, Ed25519ph), Ed448 (pure, context,
//! Ed448ph) and X448, brainpool curves, and the exact return codes for
//! what is refused. KATs: RFC 8032 §7.2-7.5, RFC 7748 §6.2; OpenSSL
//! checks signatures and reads the PKCS#8 / SPKI encodings.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;

use common::vectors::unhex;
use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

fn session() -> (World, Module, Session) {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "breadth");
    let s = user_session(&p, slot);
    (w, p, s)
}

fn bytes_attr(s: &Session, o: ObjectHandle, t: AttributeType) -> Vec<u8> {
    match s.get_attributes(o, &[t]).unwrap().into_iter().next() {
        Some(
            Attribute::Modulus(b)
            | Attribute::EcPoint(b)
            | Attribute::EcParams(b)
            | Attribute::Value(b)
            | Attribute::PublicKeyInfo(b),
        ) => b,
        other => panic!("{t:?}: {other:?}"),
    }
}

/// Bits of a big-endian unsigned number.
fn bit_len(b: &[u8]) -> usize {
    let b = &b[b.iter().position(|x| *x != 0).unwrap_or(b.len())..];
    b.first().map_or(0, |x| 8 * b.len() - x.leading_zeros() as usize)
}

#[test]
fn rsa_keys_of_any_size() {
    let (_w, _p, s) = session();
    for bits in [1032u64, 3092, 4000] {
        let public_tmpl = [Attribute::ModulusBits(bits.into()), Attribute::Encrypt(true), Attribute::Verify(true)];
        let private_tmpl = [Attribute::Sign(true), Attribute::Decrypt(true)];
        let (public, private) =
            s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public_tmpl, &private_tmpl).unwrap();
        match &s.get_attributes(public, &[AttributeType::ModulusBits]).unwrap()[..] {
            [Attribute::ModulusBits(b)] => assert_eq!(u64::from(*b), bits),
            other => panic!("{other:?}"),
        }
        let n = bytes_attr(&s, public, AttributeType::Modulus);
        assert_eq!(bit_len(&n), bits as usize, "CKA_MODULUS has exactly the bits asked for");
        assert_eq!(bytes_attr(&s, private, AttributeType::Modulus), n);
        let data = b"any size";
        let sig = s.sign(&Mechanism::Sha256RsaPkcs, private, data).unwrap();
        assert_eq!(sig.len(), (bits as usize).div_ceil(8));
        s.verify(&Mechanism::Sha256RsaPkcs, public, data, &sig).unwrap();
        assert_eq!(rv(s.verify(&Mechanism::Sha256RsaPkcs, public, b"other", &sig)), RvError::SignatureInvalid);
        let ct = s.encrypt(&Mechanism::RsaPkcs, public, data).unwrap();
        assert_eq!(s.decrypt(&Mechanism::RsaPkcs, private, &ct).unwrap(), data);
        let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            PkcsOaepSource::empty(),
        ));
        let ct = s.encrypt(&oaep, public, data).unwrap();
        assert_eq!(s.decrypt(&oaep, private, &ct).unwrap(), data);
    }
    let gen =
        |bits: u64| rv(s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &[Attribute::ModulusBits(bits.into())], &[]));
    assert_eq!(gen(1016), RvError::KeySizeRange);
    assert_eq!(gen(1023), RvError::KeySizeRange);
    assert_eq!(gen(16385), RvError::KeySizeRange);
    assert_eq!(gen(16392), RvError::KeySizeRange);
}

const P192: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const ED448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
const X448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6f];
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const BP256: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07];
const BP384: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b];
const BP512: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d];

fn eddsa(scheme: EddsaSignatureScheme) -> Mechanism {
    Mechanism::Eddsa(EddsaParams::new(scheme))
}

/// An Edwards or Montgomery private key from its RFC test-vector bytes.
fn import_private(s: &Session, kt: KeyType, params: &[u8], value: &[u8]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(kt),
        Attribute::EcParams(params.to_vec()),
        Attribute::Value(value.to_vec()),
        Attribute::Sign(kt == KeyType::EC_EDWARDS),
        Attribute::Derive(kt == KeyType::EC_MONTGOMERY),
    ])
    .unwrap()
}

fn import_public(s: &Session, kt: KeyType, params: &[u8], point: &[u8]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(kt),
        Attribute::EcParams(params.to_vec()),
        Attribute::EcPoint(point.to_vec()),
        Attribute::Verify(true),
    ])
    .unwrap()
}

/// The raw point inside CKA_EC_POINT (a DER OCTET STRING).
fn raw_point(s: &Session, o: ObjectHandle) -> Vec<u8> {
    let v = bytes_attr(s, o, AttributeType::EcPoint);
    assert_eq!(v[0], 0x04);
    let skip = if v[1] == 0x81 { 3 } else { 2 };
    v[skip..].to_vec()
}

fn secret_template(len: u64) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen(len.into()),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ]
}

fn ecdh(s: &Session, private: ObjectHandle, peer: &[u8], len: u64) -> Result<Vec<u8>, RvError> {
    let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer));
    match s.derive_key(&m, private, &secret_template(len)) {
        Ok(k) => Ok(bytes_attr(s, k, AttributeType::Value)),
        Err(e) => Err(rv::<()>(Err(e))),
    }
}

/// Runs openssl in `dir`; returns whether it succeeded.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl").current_dir(dir).args(args).output().expect("openssl must be installed").status.success()
}

/// OpenSSL verifies `sig` over `data` with the object's SubjectPublicKeyInfo.
fn openssl_verifies(s: &Session, dir: &Path, public: ObjectHandle, data: &[u8], sig: &[u8], opts: &[&str]) -> bool {
    std::fs::write(dir.join("pub.der"), bytes_attr(s, public, AttributeType::PublicKeyInfo)).unwrap();
    std::fs::write(dir.join("data"), data).unwrap();
    std::fs::write(dir.join("sig"), sig).unwrap();
    let mut args = vec!["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "data"];
    args.extend_from_slice(&["-sigfile", "sig"]);
    args.extend_from_slice(opts);
    openssl(dir, &args)
}

#[test]
fn eddsa_params_ed25519ctx_and_ed25519ph() {
    let (_w, _p, s) = session();
    // RFC 8032 §7.2 (Ed25519ctx, context "foo") and §7.3 (Ed25519ph, "abc").
    let k = import_private(
        &s,
        KeyType::EC_EDWARDS,
        ED25519,
        &unhex("0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6"),
    );
    let public = import_public(
        &s,
        KeyType::EC_EDWARDS,
        ED25519,
        &unhex("dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292"),
    );
    let msg = unhex("f726936d19c800494e3fdaff20b276a8");
    let foo = eddsa(EddsaSignatureScheme::Ed25519ctx(b"foo"));
    let expect = unhex("55a4cc2f70a54e04288c5f4cd1e45a7bb520b36292911876cada7323198dd87a8b36950b95130022907a7fb7c4e9b2d5f6cca685a587b4b21f4b888e4e7edb0d");
    assert_eq!(s.sign(&foo, k, &msg).unwrap(), expect);
    s.verify(&foo, public, &msg, &expect).unwrap();
    let bar = eddsa(EddsaSignatureScheme::Ed25519ctx(b"bar"));
    assert_eq!(rv(s.verify(&bar, public, &msg, &expect)), RvError::SignatureInvalid);
    assert_eq!(rv(s.verify(&eddsa(EddsaSignatureScheme::Pure), public, &msg, &expect)), RvError::SignatureInvalid);

    let k = import_private(
        &s,
        KeyType::EC_EDWARDS,
        ED25519,
        &unhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42"),
    );
    let ph = eddsa(EddsaSignatureScheme::Ed25519ph(b""));
    let expect = unhex("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406");
    assert_eq!(s.sign(&ph, k, b"abc").unwrap(), expect);
    // Multi-part gives the same signature.
    s.sign_init(&ph, k).unwrap();
    s.sign_update(b"a").unwrap();
    s.sign_update(b"bc").unwrap();
    assert_eq!(s.sign_final().unwrap(), expect);
    let public = import_public(
        &s,
        KeyType::EC_EDWARDS,
        ED25519,
        &unhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf"),
    );
    s.verify(&ph, public, b"abc", &expect).unwrap();
    assert_eq!(rv(s.verify(&ph, public, b"abd", &expect)), RvError::SignatureInvalid);
    let long = [7u8; 256];
    assert_eq!(rv(s.sign(&eddsa(EddsaSignatureScheme::Ed25519ctx(&long)), k, b"x")), RvError::MechanismParamInvalid);
    assert_eq!(rv(s.sign(&eddsa(EddsaSignatureScheme::Ed25519ph(&long)), k, b"x")), RvError::MechanismParamInvalid);
    let max = eddsa(EddsaSignatureScheme::Ed25519ph(&long[..255]));
    let sig = s.sign(&max, k, b"x").unwrap();
    s.verify(&max, public, b"x", &sig).unwrap();
}

#[test]
fn ed448_keys_sign_with_every_scheme() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    // RFC 8032 §7.4 "1 octet" and "1 octet (with context)".
    let sk = unhex("c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463afbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e");
    let k = import_private(&s, KeyType::EC_EDWARDS, ED448, &sk);
    let pk = unhex("43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c0866aea01eb00742802b8438ea4cb82169c235160627b4c3a9480");
    assert_eq!(raw_point(&s, k), pk, "the public point is derived from the private key");
    let public = import_public(&s, KeyType::EC_EDWARDS, ED448, &pk);
    let expect = unhex("26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd0087810f4352541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e0dbcc0aae1cbcee1afb2e027df36bc04dcecbf154336c19f0af7e0a6472905e799f1953d2a0ff3348ab21aa4adafd1d234441cf807c03a00");
    for m in [eddsa(EddsaSignatureScheme::Pure), eddsa(EddsaSignatureScheme::Ed448(b""))] {
        assert_eq!(s.sign(&m, k, &[0x03]).unwrap(), expect);
        s.verify(&m, public, &[0x03], &expect).unwrap();
    }
    let ctx = eddsa(EddsaSignatureScheme::Ed448(b"foo"));
    let expect = unhex("d4f8f6131770dd46f40867d6fd5d5055de43541f8c5e35abbcd001b32a89f7d2151f7647f11d8ca2ae279fb842d607217fce6e042f6815ea000c85741de5c8da1144a6a1aba7f96de42505d7a7298524fda538fccbbb754f578c1cad10d54d0d5428407e85dcbc98a49155c13764e66c3c00");
    assert_eq!(s.sign(&ctx, k, &[0x03]).unwrap(), expect);
    s.verify(&ctx, public, &[0x03], &expect).unwrap();
    assert_eq!(rv(s.verify(&eddsa(EddsaSignatureScheme::Pure), public, &[0x03], &expect)), RvError::SignatureInvalid);
    assert_eq!(rv(s.verify(&ctx, public, &[0x03], &expect[1..])), RvError::SignatureLenRange);

    // RFC 8032 §7.5 Ed448ph "abc".
    let k = import_private(&s, KeyType::EC_EDWARDS, ED448, &unhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42ef7822e0d5104127dc05d6dbefde69e3ab2cec7c867c6e2c49"));
    let ph = eddsa(EddsaSignatureScheme::Ed448ph(b""));
    let expect = unhex("822f6901f7480f3d5f562c592994d9693602875614483256505600bbc281ae381f54d6bce2ea911574932f52a4e6cadd78769375ec3ffd1b801a0d9b3f4030cd433964b6457ea39476511214f97469b57dd32dbc560a9a94d00bff07620464a3ad203df7dc7ce360c3cd3696d9d9fab90f00");
    assert_eq!(s.sign(&ph, k, b"abc").unwrap(), expect);
    let ph_foo = eddsa(EddsaSignatureScheme::Ed448ph(b"foo"));
    let expect = unhex("c32299d46ec8ff02b54540982814dce9a05812f81962b649d528095916a2aa481065b1580423ef927ecf0af5888f90da0f6a9a85ad5dc3f280d91224ba9911a3653d00e484e2ce232521481c8658df304bb7745a73514cdb9bf3e15784ab71284f8d0704a608c54a6b62d97beb511d132100");
    assert_eq!(s.sign(&ph_foo, k, b"abc").unwrap(), expect);
    assert_eq!(rv(s.sign(&eddsa(EddsaSignatureScheme::Ed448(&[1; 256])), k, b"abc")), RvError::MechanismParamInvalid);

    // A generated pair, named by a printable curve name too, checked by OpenSSL.
    for params in [ED448, b"\x13\x0aedwards448"] {
        let (public, private) = s
            .generate_key_pair(
                &Mechanism::EccEdwardsKeyPairGen,
                &[Attribute::EcParams(params.to_vec()), Attribute::Verify(true)],
                &[Attribute::Sign(true)],
            )
            .unwrap();
        assert_eq!(raw_point(&s, public).len(), 57);
        let data = b"ed448 from the token";
        let sig = s.sign(&eddsa(EddsaSignatureScheme::Pure), private, data).unwrap();
        assert_eq!(sig.len(), 114);
        s.verify(&eddsa(EddsaSignatureScheme::Pure), public, data, &sig).unwrap();
        assert!(openssl_verifies(&s, dir, public, data, &sig, &["-rawin"]), "OpenSSL rejects our Ed448");
    }
    // Edwards key generation on a Montgomery curve, and the reverse.
    let gen = |m: &Mechanism, p: &[u8]| rv(s.generate_key_pair(m, &[Attribute::EcParams(p.to_vec())], &[]));
    assert_eq!(gen(&Mechanism::EccEdwardsKeyPairGen, X448), RvError::CurveNotSupported);
    assert_eq!(gen(&Mechanism::EccMontgomeryKeyPairGen, ED448), RvError::CurveNotSupported);
    // An Ed448 public point that is not on the curve.
    let bad = s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC_EDWARDS),
        Attribute::EcParams(ED448.to_vec()),
        Attribute::EcPoint([vec![0x04, 57], vec![0xff; 57]].concat()),
    ]);
    assert_eq!(rv(bad), RvError::AttributeValueInvalid);
}

#[test]
fn x448_ecdh() {
    let (_w, _p, s) = session();
    // RFC 7748 §6.2: Alice's private key, Bob's public key, the shared secret.
    let alice = import_private(&s, KeyType::EC_MONTGOMERY, X448, &unhex("9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b"));
    assert_eq!(
        raw_point(&s, alice),
        unhex("9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0")
    );
    let bob_public = unhex("3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609");
    let shared = unhex("07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d");
    assert_eq!(ecdh(&s, alice, &bob_public, 56).unwrap(), shared);
    // Shorter keys take the trailing bytes of Z, as for every curve.
    assert_eq!(ecdh(&s, alice, &bob_public, 16).unwrap(), shared[40..]);
    assert_eq!(ecdh(&s, alice, &bob_public, 57), Err(RvError::TemplateInconsistent));
    // The DER-wrapped point is accepted as well.
    assert_eq!(ecdh(&s, alice, &[vec![0x04, 56], bob_public.clone()].concat(), 56).unwrap(), shared);
    // A low-order peer point (u = 1) and a wrong length are refused.
    let mut one = vec![0u8; 56];
    one[0] = 1;
    assert_eq!(ecdh(&s, alice, &one, 32), Err(RvError::MechanismParamInvalid));
    assert_eq!(ecdh(&s, alice, &bob_public[1..], 32), Err(RvError::MechanismParamInvalid));

    // Two generated pairs agree.
    let pair = || {
        s.generate_key_pair(
            &Mechanism::EccMontgomeryKeyPairGen,
            &[Attribute::EcParams(b"\x13\x08curve448".to_vec())],
            &[Attribute::Derive(true)],
        )
        .unwrap()
    };
    let ((pa, ka), (pb, kb)) = (pair(), pair());
    let z = ecdh(&s, ka, &raw_point(&s, pb), 56).unwrap();
    assert_eq!(z, ecdh(&s, kb, &raw_point(&s, pa), 56).unwrap());
    let spki = bytes_attr(&s, pa, AttributeType::PublicKeyInfo);
    assert_eq!(spki[..12], unhex("3042300506032b656f033900")[..]);
}

#[test]
fn new_curves_wrap_as_pkcs8_and_unwrap() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    let kek = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![9; 32]),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
        ])
        .unwrap();
    let kwp = Mechanism::AesKeyWrapPad;
    for (mech, params, kt) in [
        (Mechanism::EccEdwardsKeyPairGen, ED448, KeyType::EC_EDWARDS),
        (Mechanism::EccMontgomeryKeyPairGen, X448, KeyType::EC_MONTGOMERY),
        (Mechanism::EccKeyPairGen, BP384, KeyType::EC),
        (Mechanism::EccKeyPairGen, P192, KeyType::EC),
    ] {
        let (public, private) = s
            .generate_key_pair(
                &mech,
                &[Attribute::EcParams(params.to_vec())],
                &[Attribute::Extractable(true), Attribute::Sign(kt != KeyType::EC_MONTGOMERY), Attribute::Derive(true)],
            )
            .unwrap();
        let wrapped = s.wrap_key(&kwp, kek, private).unwrap();
        let back = s
            .unwrap_key(
                &kwp,
                kek,
                &wrapped,
                &[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(kt),
                    Attribute::Sign(kt != KeyType::EC_MONTGOMERY),
                    Attribute::Derive(kt != KeyType::EC_EDWARDS),
                ],
            )
            .unwrap();
        assert_eq!(raw_point(&s, back), raw_point(&s, public));
        assert_eq!(bytes_attr(&s, back, AttributeType::EcParams), params);
        // The PKCS#8 inside is RFC 8410's: OpenSSL reads it (RFC 5649 unwrap outside the token).
        std::fs::write(dir.join("wrapped"), &wrapped).unwrap();
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(["enc", "-d", "-id-aes256-wrap-pad", "-K", &"09".repeat(32), "-iv", "A65959A6", "-in", "wrapped"])
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::write(dir.join("key.der"), &out.stdout).unwrap();
        assert!(openssl(
            dir,
            &["pkey", "-inform", "DER", "-in", "key.der", "-pubout", "-outform", "DER", "-out", "p.der"]
        ));
        assert_eq!(std::fs::read(dir.join("p.der")).unwrap(), bytes_attr(&s, public, AttributeType::PublicKeyInfo));
        // The wrong key type in the unwrap template.
        let other = if kt == KeyType::EC_MONTGOMERY { KeyType::EC_EDWARDS } else { KeyType::EC_MONTGOMERY };
        let wrong =
            s.unwrap_key(&kwp, kek, &wrapped, &[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::KeyType(other)]);
        assert_eq!(rv(wrong), RvError::TemplateInconsistent);
    }
    // PKCS#8 made by OpenSSL unwraps, with the public key OpenSSL derives;
    // the Ed448 one signs as OpenSSL's key does.
    let gens: [(&[&str], KeyType); 4] = [
        (&["-algorithm", "ED448"], KeyType::EC_EDWARDS),
        (&["-algorithm", "X448"], KeyType::EC_MONTGOMERY),
        (&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-192"], KeyType::EC),
        (&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:brainpoolP512r1"], KeyType::EC),
    ];
    for (args, kt) in gens {
        let mut cmd = vec!["genpkey"];
        cmd.extend_from_slice(args);
        cmd.extend_from_slice(&["-outform", "DER", "-out", "ossl.der"]);
        assert!(openssl(dir, &cmd), "{args:?}");
        let pub_out = ["pkey", "-inform", "DER", "-in", "ossl.der", "-pubout", "-outform", "DER", "-out", "op.der"];
        assert!(openssl(dir, &pub_out));
        // (genpkey's DER for EC is SEC 1; `pkcs8 -topk8` makes it PKCS#8.)
        let topk8 =
            ["pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", "ossl.der", "-outform", "DER", "-out", "p8"];
        assert!(openssl(dir, &topk8));
        let plain = std::fs::read(dir.join("p8")).unwrap();
        std::fs::write(dir.join("plain"), &plain).unwrap();
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(["enc", "-e", "-id-aes256-wrap-pad", "-K", &"09".repeat(32), "-iv", "A65959A6", "-in", "plain"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let tmpl = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(kt),
            Attribute::Sign(kt != KeyType::EC_MONTGOMERY),
        ];
        let k = s.unwrap_key(&kwp, kek, &out.stdout, &tmpl).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(bytes_attr(&s, k, AttributeType::PublicKeyInfo), std::fs::read(dir.join("op.der")).unwrap());
        if kt == KeyType::EC_EDWARDS {
            let sig = s.sign(&eddsa(EddsaSignatureScheme::Pure), k, b"openssl").unwrap();
            std::fs::write(dir.join("data"), b"openssl").unwrap();
            std::fs::write(dir.join("sig"), &sig).unwrap();
            let verify = ["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "op.der", "-rawin"];
            assert!(openssl(dir, &[&verify[..], &["-in", "data", "-sigfile", "sig"]].concat()));
        }
    }
}

fn ec_private(s: &Session, params: &[u8], d: &[u8]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::EcParams(params.to_vec()),
        Attribute::Value(d.to_vec()),
        Attribute::Derive(true),
        Attribute::Sign(true),
    ])
    .unwrap()
}

/// ECDH known answers: CAVP KAS (P-192) and RFC 7027 (brainpool).
#[test]
fn ecdh_kats_p192_and_brainpool() {
    let (_w, _p, s) = session();
    let vs = common::vectors::vectors("ecdh_p192_brainpool.txt");
    assert_eq!(vs.len(), 6);
    for v in vs {
        let params = match v[0].as_str() {
            "P-192" => P192,
            "brainpoolP256r1" => BP256,
            "brainpoolP384r1" => BP384,
            _ => BP512,
        };
        let f: Vec<Vec<u8>> = v[1..].iter().map(|x| unhex(&x.to_lowercase())).collect();
        let (qa, qb) = ([&[4u8][..], &f[1], &f[2]].concat(), [&[4u8][..], &f[4], &f[5]].concat());
        let (a, b) = (ec_private(&s, params, &f[0]), ec_private(&s, params, &f[3]));
        assert_eq!(raw_point(&s, a), qa, "{}: QA = dA·G", v[0]);
        assert_eq!(raw_point(&s, b), qb, "{}: QB = dB·G", v[0]);
        let len = f[6].len() as u64;
        assert_eq!(ecdh(&s, a, &qb, len).unwrap(), f[6], "{}: Z from Alice's side", v[0]);
        assert_eq!(ecdh(&s, b, &qa, len).unwrap(), f[6], "{}: Z from Bob's side", v[0]);
        // A point off the curve.
        let mut off = qb.clone();
        *off.last_mut().unwrap() ^= 1;
        assert_eq!(ecdh(&s, a, &off, len), Err(RvError::MechanismParamInvalid));
    }
}

#[test]
fn p192_and_brainpool_pairs_sign_and_derive() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    let data = b"brainpool";
    for (params, name, len, m) in [
        (P192, &b"prime192v1"[..], 24, Mechanism::EcdsaSha256),
        (BP256, &b"brainpoolP256r1"[..], 32, Mechanism::EcdsaSha256),
        (BP384, b"brainpoolP384r1", 48, Mechanism::EcdsaSha384),
        (BP512, b"brainpoolP512r1", 64, Mechanism::EcdsaSha512),
    ] {
        let printable = [&[0x13, name.len() as u8][..], name].concat();
        for p in [params, &printable[..]] {
            let (public, private) = s
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &[Attribute::EcParams(p.to_vec()), Attribute::Verify(true)],
                    &[Attribute::Sign(true), Attribute::Derive(true)],
                )
                .unwrap();
            assert_eq!(raw_point(&s, public).len(), 1 + 2 * len);
            let sig = s.sign(&m, private, data).unwrap();
            assert_eq!(sig.len(), 2 * len);
            s.verify(&m, public, data, &sig).unwrap();
            assert_eq!(rv(s.verify(&m, public, b"other", &sig)), RvError::SignatureInvalid);
            // OpenSSL checks the signature (DER) with the SPKI the token made.
            let der = ecdsa_der(&sig);
            let digest = match len {
                24 | 32 => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data),
                48 => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, data),
                _ => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, data),
            };
            assert!(openssl_verifies(&s, dir, public, digest.as_ref(), &der, &[]), "OpenSSL rejects our ECDSA");
            let (public2, private2) = s
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &[Attribute::EcParams(p.to_vec())],
                    &[Attribute::Derive(true)],
                )
                .unwrap();
            let z = ecdh(&s, private, &raw_point(&s, public2), len as u64).unwrap();
            assert_eq!(z, ecdh(&s, private2, &raw_point(&s, public), len as u64).unwrap());
        }
    }
}

/// r ‖ s → DER ECDSA-Sig-Value, for OpenSSL.
fn ecdsa_der(rs: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let mut b = b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
        if b.is_empty() || b[0] & 0x80 != 0 {
            b.insert(0, 0);
        }
        [vec![0x02, b.len() as u8], b].concat()
    };
    let (r, s) = rs.split_at(rs.len() / 2);
    let body = [int(r), int(s)].concat();
    let head = if body.len() >= 0x80 { vec![0x30, 0x81, body.len() as u8] } else { vec![0x30, body.len() as u8] };
    [head, body].concat()
}

/// CAVP FIPS 186-3 SigVer, P-192 records: valid ones verify, altered ones
/// do not (or their public key is refused, when Q itself was altered).
#[test]
fn p192_ecdsa_sigver_kat() {
    let (_w, _p, s) = session();
    let vs = common::vectors::vectors("ecdsa_sigver_p192.txt");
    assert_eq!(vs.len(), 20);
    let (mut pass, mut fail) = (0, 0);
    for v in &vs {
        let point = [vec![0x04, 49, 4], unhex(&v[3]), unhex(&v[4])].concat();
        let m = match v[1].as_str() {
            "SHA1" => Mechanism::EcdsaSha1,
            "SHA224" => Mechanism::EcdsaSha224,
            "SHA256" => Mechanism::EcdsaSha256,
            "SHA384" => Mechanism::EcdsaSha384,
            _ => Mechanism::EcdsaSha512,
        };
        let sig = [unhex(&v[5]), unhex(&v[6])].concat();
        let public = match s.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(P192.to_vec()),
            Attribute::EcPoint(point),
            Attribute::Verify(true),
        ]) {
            Ok(k) => k,
            Err(e) => {
                assert_eq!(v[7], "F", "valid key refused: {e}");
                fail += 1;
                continue;
            }
        };
        let outcome = s.verify(&m, public, &unhex(&v[2]), &sig);
        if v[7] == "P" {
            outcome.unwrap_or_else(|e| panic!("valid {} record refused: {e}", v[1]));
            pass += 1;
        } else {
            assert_eq!(rv(outcome), RvError::SignatureInvalid, "invalid {} record", v[1]);
            fail += 1;
        }
    }
    assert_eq!((pass, fail), (10, 10));
}

/// CKA_EC_PARAMS with explicit parameters (SEC 1 specifiedCurve, as
/// `openssl ecparam -param_enc explicit` writes them and SoftHSM accepts):
/// a public key on a built-in curve spelled out so imports, verifies and
/// answers its parameters as given; explicit P-192 (not built in) and a
/// curve that is none of ours are CKR_CURVE_NOT_SUPPORTED.
#[test]
fn explicit_curve_parameters() {
    let (w, _p, s) = session();
    let dir = w.dir.path();
    let explicit = |name: &str| {
        let out = dir.join(format!("{name}.der"));
        let o = out.to_str().unwrap();
        assert!(openssl(dir, &["ecparam", "-name", name, "-param_enc", "explicit", "-outform", "DER", "-out", o]));
        std::fs::read(&out).unwrap()
    };
    let p256 = explicit("prime256v1");
    assert_eq!(p256[0], 0x30);
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(P256.to_vec()), Attribute::Verify(true)],
            &[Attribute::Sign(true)],
        )
        .unwrap();
    let sig = s.sign(&Mechanism::EcdsaSha256, private, b"explicit").unwrap();
    let point = bytes_attr(&s, public, AttributeType::EcPoint);
    let imported = import_public(&s, KeyType::EC, &p256, &point);
    assert_eq!(bytes_attr(&s, imported, AttributeType::EcParams), p256);
    s.verify(&Mechanism::EcdsaSha256, imported, b"explicit", &sig).unwrap();
    let bp384 = explicit("brainpoolP384r1");
    let (_, bp_private) = s
        .generate_key_pair(&Mechanism::EccKeyPairGen, &[Attribute::EcParams(bp384.clone())], &[Attribute::Sign(true)])
        .unwrap();
    assert_eq!(bytes_attr(&s, bp_private, AttributeType::EcParams), bp384);
    assert_eq!(s.sign(&Mechanism::EcdsaSha384, bp_private, b"x").unwrap().len(), 96);
    let refused = |params: Vec<u8>| {
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(params),
            Attribute::EcPoint(point.clone()),
        ]))
    };
    assert_eq!(refused(explicit("prime192v1")), RvError::CurveNotSupported);
    assert_eq!(refused(explicit("secp224r1")), RvError::CurveNotSupported);
    let mut changed = p256.clone();
    let n = changed.len();
    changed[n - 5] ^= 1; // the order
    assert_eq!(refused(changed), RvError::CurveNotSupported);
    assert_eq!(refused(p256[..p256.len() - 1].to_vec()), RvError::CurveNotSupported);
}
