//! AES modes, MACs and the wrap policy through the `cryptoki` crate.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

fn aes_key(s: &Session, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![Attribute::ValueLen(32.into())];
    t.extend_from_slice(extra);
    if !extra.iter().any(|a| matches!(a, Attribute::Token(_))) {
        t.push(Attribute::Token(false));
    }
    s.generate_key(&Mechanism::AesKeyGen, &t).unwrap()
}

fn round_trip(s: &Session, key: ObjectHandle, m: &Mechanism, data: &[u8]) -> Vec<u8> {
    let ct = s.encrypt(m, key, data).unwrap();
    assert_eq!(s.decrypt(m, key, &ct).unwrap(), data, "{m:?}");
    // Multi-part in odd pieces gives the same ciphertext and plaintext.
    s.encrypt_init(m, key).unwrap();
    let mut ct2 = Vec::new();
    for piece in data.chunks(7) {
        ct2.extend(s.encrypt_update(piece).unwrap());
    }
    ct2.extend(s.encrypt_final().unwrap());
    assert_eq!(ct2, ct, "multi-part {m:?}");
    s.decrypt_init(m, key).unwrap();
    let mut pt = Vec::new();
    for piece in ct.chunks(5) {
        pt.extend(s.decrypt_update(piece).unwrap());
    }
    pt.extend(s.decrypt_final().unwrap());
    assert_eq!(pt, data, "multi-part decrypt {m:?}");
    ct
}

#[test]
fn aes_modes_round_trip_single_and_multi_part() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "aes");
    let s = user_session(&p, slot);
    let key = aes_key(&s, &[]);
    let block_data: Vec<u8> = (0..64).collect();
    let odd_data: Vec<u8> = (0..77).collect();
    round_trip(&s, key, &Mechanism::AesEcb, &block_data);
    round_trip(&s, key, &Mechanism::AesCbc([3; 16]), &block_data);
    let ct = round_trip(&s, key, &Mechanism::AesCbcPad([3; 16]), &odd_data);
    assert_eq!(ct.len(), 80);
    let mut iv = [9u8; 12];
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut iv, b"context", 128.into()).unwrap());
    let ct = round_trip(&s, key, &gcm, &odd_data);
    assert_eq!(ct.len(), 77 + 16);

    // Block modes refuse partial blocks with the right code.
    assert_eq!(rv(s.encrypt(&Mechanism::AesEcb, key, &odd_data)), RvError::DataLenRange);
    assert_eq!(rv(s.decrypt(&Mechanism::AesCbc([0; 16]), key, &odd_data)), RvError::EncryptedDataLenRange);
    // A tampered GCM ciphertext or wrong AAD yields no plaintext.
    let mut bad = ct.clone();
    bad[3] ^= 1;
    assert_eq!(rv(s.decrypt(&gcm, key, &bad)), RvError::EncryptedDataInvalid);
    let mut iv2 = [9u8; 12];
    let other_aad = Mechanism::AesGcm(GcmParams::new(&mut iv2, b"other", 128.into()).unwrap());
    assert_eq!(rv(s.decrypt(&other_aad, key, &ct)), RvError::EncryptedDataInvalid);
    // Bad parameters.
    let mut iv3 = [9u8; 12];
    let short_tag = Mechanism::AesGcm(GcmParams::new(&mut iv3, b"", 64.into()).unwrap());
    assert_eq!(rv(s.encrypt_init(&short_tag, key)), RvError::MechanismParamInvalid);
    // Operation state: init twice, then the operation still works.
    s.encrypt_init(&Mechanism::AesEcb, key).unwrap();
    assert_eq!(rv(s.encrypt_init(&Mechanism::AesEcb, key)), RvError::OperationActive);
    assert_eq!(s.encrypt_final().unwrap(), Vec::<u8>::new());
}

#[test]
fn usage_flags_and_key_types_gate_operations() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "gates");
    let s = user_session(&p, slot);
    let enc_only = aes_key(&s, &[Attribute::Decrypt(false)]);
    let ct = s.encrypt(&Mechanism::AesCbcPad([0; 16]), enc_only, b"hello").unwrap();
    assert_eq!(rv(s.decrypt(&Mechanism::AesCbcPad([0; 16]), enc_only, &ct)), RvError::KeyFunctionNotPermitted);
    let hmac = s
        .generate_key(&Mechanism::GenericSecretKeyGen, &[Attribute::ValueLen(32.into()), Attribute::Token(false)])
        .unwrap();
    assert_eq!(rv(s.encrypt(&Mechanism::AesEcb, hmac, &[0; 16])), RvError::KeyTypeInconsistent);
    let h = unsafe { ObjectHandle::new_from_raw(0xdead) };
    assert_eq!(rv(s.encrypt(&Mechanism::AesEcb, h, &[0; 16])), RvError::KeyHandleInvalid);
    let only_gcm = aes_key(&s, &[Attribute::AllowedMechanisms(vec![MechanismType::AES_GCM])]);
    assert_eq!(rv(s.encrypt(&Mechanism::AesEcb, only_gcm, &[0; 16])), RvError::MechanismInvalid);
    // CMAC over an AES key.
    let mac = s.sign(&Mechanism::AesCMac, enc_only, b"message").unwrap();
    assert_eq!(mac.len(), 16);
    s.verify(&Mechanism::AesCMac, enc_only, b"message", &mac).unwrap();
    assert_eq!(rv(s.verify(&Mechanism::AesCMac, enc_only, b"massage", &mac)), RvError::SignatureInvalid);
}

fn extractable_data_key(s: &Session) -> ObjectHandle {
    aes_key(s, &[Attribute::Extractable(true), Attribute::Sensitive(false)])
}

#[test]
fn wrap_policy() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "policy");
    let s = user_session(&p, slot);
    // An encrypt-only master key: may wrap, may not unwrap.
    let master = aes_key(&s, &[Attribute::Token(true), Attribute::Unwrap(false)]);
    let data_key = extractable_data_key(&s);
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, master, data_key).unwrap();
    assert_eq!(wrapped.len(), 40);
    let tmpl = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES)];
    assert_eq!(rv(s.unwrap_key(&Mechanism::AesKeyWrap, master, &wrapped, &tmpl)), RvError::KeyFunctionNotPermitted);

    let kek = aes_key(&s, &[]);
    // A non-extractable key is never wrapped, nor is its value readable.
    let locked = aes_key(&s, &[Attribute::Extractable(false)]);
    assert_eq!(rv(s.wrap_key(&Mechanism::AesKeyWrap, kek, locked)), RvError::KeyUnextractable);
    assert!(s.get_attributes(locked, &[AttributeType::Value]).unwrap().is_empty());
    // WRAP_WITH_TRUSTED keys wrap only under trusted keys.
    let picky = aes_key(&s, &[Attribute::Extractable(true), Attribute::WrapWithTrusted(true)]);
    assert_eq!(rv(s.wrap_key(&Mechanism::AesKeyWrap, kek, picky)), RvError::KeyNotWrappable);
    // (CKA_WRAP_TEMPLATE / CKA_UNWRAP_TEMPLATE: tests/wrap_vectors.rs, raw calls.)
    // A key without CKA_WRAP cannot wrap; a data object is not a key.
    let no_wrap = aes_key(&s, &[Attribute::Wrap(false)]);
    assert_eq!(rv(s.wrap_key(&Mechanism::AesKeyWrap, no_wrap, data_key)), RvError::KeyFunctionNotPermitted);
    let bogus = unsafe { ObjectHandle::new_from_raw(0xbad) };
    assert_eq!(rv(s.wrap_key(&Mechanism::AesKeyWrap, bogus, data_key)), RvError::WrappingKeyHandleInvalid);
    assert_eq!(rv(s.wrap_key(&Mechanism::AesKeyWrap, kek, bogus)), RvError::KeyHandleInvalid);

    // Unwrap: the new key is not local and was never always-sensitive.
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrapPad, kek, data_key).unwrap();
    let back = s
        .unwrap_key(
            &Mechanism::AesKeyWrapPad,
            kek,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ],
        )
        .unwrap();
    let attrs = s
        .get_attributes(back, &[AttributeType::Local, AttributeType::AlwaysSensitive, AttributeType::NeverExtractable])
        .unwrap();
    assert_eq!(
        attrs,
        vec![Attribute::Local(false), Attribute::AlwaysSensitive(false), Attribute::NeverExtractable(false)]
    );
    // Same key: what one encrypts the other decrypts.
    let ct = s.encrypt(&Mechanism::AesCbcPad([1; 16]), data_key, b"payload").unwrap();
    assert_eq!(s.decrypt(&Mechanism::AesCbcPad([1; 16]), back, &ct).unwrap(), b"payload");
    // A damaged blob is refused.
    let mut bad = wrapped.clone();
    bad[5] ^= 1;
    let t = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES)];
    assert_eq!(rv(s.unwrap_key(&Mechanism::AesKeyWrapPad, kek, &bad, &t)), RvError::WrappedKeyInvalid);
    assert_eq!(rv(s.unwrap_key(&Mechanism::AesKeyWrapPad, kek, &wrapped[..20], &t)), RvError::WrappedKeyLenRange);
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrapPad, kek, &wrapped, &[Attribute::Class(ObjectClass::SECRET_KEY)])),
        RvError::TemplateIncomplete
    );
}

#[test]
fn envelope_with_gcm_and_cbc_pad_wrapping() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "envelope");
    let s = user_session(&p, slot);
    let master = aes_key(&s, &[Attribute::Token(true), Attribute::Label(b"master".to_vec())]);
    let data_key = extractable_data_key(&s);
    let mut iv = [7u8; 12];
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut iv, b"key-id=1", 128.into()).unwrap());
    let blob = s.wrap_key(&gcm, master, data_key).unwrap();
    assert_eq!(blob.len(), 32 + 16);
    let ct = s.encrypt(&Mechanism::AesCbcPad([2; 16]), data_key, b"secret document").unwrap();
    s.destroy_object(data_key).unwrap();
    let t = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false)];
    let back = s.unwrap_key(&gcm, master, &blob, &t).unwrap();
    // Unwrapped keys default to non-extractable like any other secret key.
    assert_eq!(rv(s.wrap_key(&Mechanism::AesCbcPad([4; 16]), master, back)), RvError::KeyUnextractable);
    let mut t_ex = t.to_vec();
    t_ex.push(Attribute::Extractable(true));
    let back = s.unwrap_key(&gcm, master, &blob, &t_ex).unwrap();
    assert_eq!(s.decrypt(&Mechanism::AesCbcPad([2; 16]), back, &ct).unwrap(), b"secret document");
    let cbc_blob = s.wrap_key(&Mechanism::AesCbcPad([4; 16]), master, back).unwrap();
    assert_eq!(cbc_blob.len(), 48);
    s.unwrap_key(&Mechanism::AesCbcPad([4; 16]), master, &cbc_blob, &t).unwrap();
}
