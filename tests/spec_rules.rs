//! Return-code and attribute rules strict suites check (PKCS#11 3.0 base
//! spec), through the `cryptoki` crate: the SO marks a wrapping key
//! trusted and a CKA_WRAP_WITH_TRUSTED key is then wrapped with it;
//! X.509 certificates with the standard optional attributes.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;

#[test]
fn the_so_marks_a_public_wrapping_key_trusted_and_wrap_with_trusted_keys_wrap_under_it() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "t");
    let s = user_session(&p, slot);
    // A wrapping key the SO can see (CKA_PRIVATE false), and a key that
    // may only be wrapped by a trusted key.
    let kek = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Wrap(true),
            Attribute::Label(b"kek".to_vec()),
            Attribute::Value(vec![3; 32]),
        ])
        .unwrap();
    let precious = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Extractable(true),
                Attribute::WrapWithTrusted(true),
            ],
        )
        .unwrap();
    assert_eq!(rv(s.wrap_key(&Mechanism::AesKeyWrap, kek, precious)), RvError::KeyNotWrappable);
    // The user may not mark it trusted.
    assert_eq!(rv(s.update_attributes(kek, &[Attribute::Trusted(true)])), RvError::AttributeReadOnly);
    drop(s);

    let so = p.open_rw_session(slot).unwrap();
    so.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    let found = so.find_objects(&[Attribute::Label(b"kek".to_vec())]).unwrap();
    assert_eq!(found.len(), 1, "the SO sees public objects");
    so.update_attributes(found[0], &[Attribute::Trusted(true)]).unwrap();
    assert_eq!(so.get_attributes(found[0], &[AttributeType::Trusted]).unwrap(), vec![Attribute::Trusted(true)]);
    // The SO may create a trusted public key too.
    so.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Wrap(true),
        Attribute::Trusted(true),
        Attribute::Value(vec![4; 16]),
    ])
    .unwrap();
    drop(so);

    let s = user_session(&p, slot);
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, kek, precious).unwrap();
    assert_eq!(wrapped.len(), 40);
    // Trusted cannot be turned off by the user either.
    assert_eq!(rv(s.update_attributes(kek, &[Attribute::Trusted(false)])), RvError::AttributeReadOnly);
}

/// A self-signed P-256 certificate (DER), made by OpenSSL at test time.
fn certificate() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let crt = dir.path().join("c.der");
    let ok = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=t"])
        .args(["-days", "1", "-outform", "DER", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    std::fs::read(crt).unwrap()
}

#[test]
fn an_x509_certificate_takes_the_standard_optional_attributes() {
    use common::raw::*;
    use cryptoki_sys::*;
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let mut der = certificate();
    let (mut class, mut ctype, mut yes) = (CKO_CERTIFICATE, CKC_X_509, 1 as CK_BBOOL);
    let mut category: CK_ULONG = 2; // authority
    let mut url = b"https://example.test/c.der".to_vec();
    let (mut subj_hash, mut iss_hash) = ([1u8; 20], [2u8; 20]);
    let mut domain: CK_ULONG = 0; // unspecified
    let mut name_hash: CK_MECHANISM_TYPE = CKM_SHA256;
    let mut start = *b"20260102";
    let mut end = *b"20270102";
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_CERTIFICATE_TYPE, &mut ctype),
        attr(CKA_TOKEN, &mut yes),
        bytes_attr(CKA_VALUE, &mut der),
        attr(CKA_CERTIFICATE_CATEGORY, &mut category),
        bytes_attr(CKA_URL, &mut url),
        bytes_attr(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, &mut subj_hash),
        bytes_attr(CKA_HASH_OF_ISSUER_PUBLIC_KEY, &mut iss_hash),
        attr(CKA_JAVA_MIDP_SECURITY_DOMAIN, &mut domain),
        attr(CKA_NAME_HASH_ALGORITHM, &mut name_hash),
        bytes_attr(CKA_START_DATE, &mut start),
        bytes_attr(CKA_END_DATE, &mut end),
    ];
    let mut cert = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut cert)), CKR_OK);
    let mut got_url = [0u8; 64];
    let mut got_cat: CK_ULONG = 0;
    let mut got_start = [0u8; 8];
    let mut q = [
        bytes_attr(CKA_URL, &mut got_url),
        attr(CKA_CERTIFICATE_CATEGORY, &mut got_cat),
        bytes_attr(CKA_START_DATE, &mut got_start),
    ];
    assert_eq!(call!(r, C_GetAttributeValue(h, cert, q.as_mut_ptr(), 3)), CKR_OK);
    assert_eq!(&got_url[..q[0].ulValueLen as usize], &url[..]);
    assert_eq!(got_cat, 2);
    assert_eq!(&got_start, b"20260102");
    // A category outside the spec's values is refused.
    let mut bad: CK_ULONG = 9;
    t[4] = attr(CKA_CERTIFICATE_CATEGORY, &mut bad);
    assert_eq!(
        call!(r, C_CreateObject(h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut cert)),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(call!(r, C_Finalize(std::ptr::null_mut())), CKR_OK);
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl").args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// RSA public keys from 512 bits import, to verify old certificates; they
/// never encrypt or wrap, and no private key below 1024 bits imports.
#[test]
fn legacy_rsa_public_keys_verify_only() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "t");
    let s = user_session(&p, slot);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let data = dir.path().join("data");
    let sig = dir.path().join("sig");
    std::fs::write(&data, b"an old certificate's TBS").unwrap();
    let k = key.to_str().unwrap();
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512", "-out", k]);
    openssl(&["dgst", "-sha256", "-sign", k, "-out", sig.to_str().unwrap(), data.to_str().unwrap()]);
    let modulus = String::from_utf8(openssl(&["rsa", "-in", k, "-noout", "-modulus"])).unwrap();
    let hex = modulus.trim().trim_start_matches("Modulus=");
    let n: Vec<u8> = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    assert_eq!(n.len(), 64, "RSA-512");
    let public = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
            Attribute::Modulus(n),
            Attribute::PublicExponent(vec![1, 0, 1]),
        ])
        .unwrap();
    let signature = std::fs::read(&sig).unwrap();
    let msg = std::fs::read(&data).unwrap();
    s.verify(&Mechanism::Sha256RsaPkcs, public, &msg, &signature).unwrap();
    let mut bad = signature.clone();
    bad[0] ^= 1;
    assert_eq!(rv(s.verify(&Mechanism::Sha256RsaPkcs, public, &msg, &bad)), RvError::SignatureInvalid);
    assert_eq!(rv(s.encrypt(&Mechanism::RsaPkcs, public, b"x")), RvError::KeySizeRange);
    let aes =
        s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(16.into()), Attribute::Extractable(true)]).unwrap();
    assert_eq!(rv(s.wrap_key(&Mechanism::RsaPkcs, public, aes)), RvError::KeySizeRange);
    // A 256-bit public key is refused; so is any private key below 1024.
    let tiny = [Attribute::Modulus(vec![0xc5; 32]), Attribute::PublicExponent(vec![1, 0, 1])];
    let mut t = vec![Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::KeyType(KeyType::RSA)];
    t.extend(tiny);
    assert_eq!(rv(s.create_object(&t)), RvError::AttributeValueInvalid);
    let der = openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", k, "-outform", "DER"]);
    let unwrap_kek = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(32.into()), Attribute::Encrypt(true), Attribute::Unwrap(true)],
        )
        .unwrap();
    let mut iv = [0u8; 16];
    let wrapped = s.encrypt(&Mechanism::AesCbcPad(iv), unwrap_kek, &der).unwrap();
    iv.fill(0);
    let r = s.unwrap_key(
        &Mechanism::AesCbcPad(iv),
        unwrap_kek,
        &wrapped,
        &[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::KeyType(KeyType::RSA), Attribute::Token(false)],
    );
    assert_eq!(rv(r), RvError::WrappedKeyInvalid, "no RSA-512 private key");
}
