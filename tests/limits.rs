//! `[limits]`: what one process may hold at once (issue 17, item 6). Each
//! limit is reached through the C ABI and answered with the spec's code;
//! what was there before goes on working, and room made is room usable.
//! A configuration with a bad limit stops C_Initialize.

#[macro_use]
mod common;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

const LIMITS: &str = "[limits]\nsessions = 4\nsession_objects = 3\nfind_results = 5\noperation_bytes = 4096\n";

fn data_object(s: &Session, token: bool, label: &str) -> Result<ObjectHandle, cryptoki::error::Error> {
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(token),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(label.as_bytes().to_vec()),
    ])
}

#[test]
fn sessions_past_the_limit_are_session_count_and_closing_one_makes_room() {
    let _w = world(LIMITS);
    let p = load();
    let slot = init_token(&p, "t");
    let info = p.get_token_info(slot).unwrap();
    assert!(matches!(info.max_session_count(), cryptoki::slot::Limit::Max(4)));
    assert!(matches!(info.max_rw_session_count(), cryptoki::slot::Limit::Max(4)));
    let mut open: Vec<Session> = (0..4).map(|_| p.open_ro_session(slot).unwrap()).collect();
    assert_eq!(rv(p.open_ro_session(slot)), RvError::SessionCount);
    assert_eq!(rv(p.open_rw_session(slot)), RvError::SessionCount);
    // The sessions already open are untouched.
    for s in &open {
        s.get_session_info().unwrap();
    }
    drop(open.pop());
    let again = p.open_rw_session(slot).unwrap();
    again.login(cryptoki::session::UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(rv(p.open_ro_session(slot)), RvError::SessionCount);
}

#[test]
fn session_objects_past_the_limit_are_device_memory_and_token_objects_are_not_counted() {
    let _w = world(LIMITS);
    let p = load();
    let slot = init_token(&p, "t");
    let s = user_session(&p, slot);
    let made: Vec<ObjectHandle> = (0..3).map(|i| data_object(&s, false, &format!("s{i}")).unwrap()).collect();
    assert_eq!(rv(data_object(&s, false, "s3")), RvError::DeviceMemory);
    // A copy and a generated key are session objects too.
    assert_eq!(rv(s.copy_object(made[0], &[])), RvError::DeviceMemory);
    let aes = [Attribute::Token(false), Attribute::ValueLen(32.into())];
    assert_eq!(rv(s.generate_key(&Mechanism::AesKeyGen, &aes)), RvError::DeviceMemory);
    // Token objects are the store's, not held in the process.
    data_object(&s, true, "on the token").unwrap();
    // Destroying one (or closing its session) makes room.
    s.destroy_object(made[1]).unwrap();
    let k = s.generate_key(&Mechanism::AesKeyGen, &aes).unwrap();
    assert_eq!(s.get_attributes(k, &[cryptoki::object::AttributeType::ValueLen]).unwrap().len(), 1);
    let other = p.open_rw_session(slot).unwrap();
    assert_eq!(rv(data_object(&other, false, "x")), RvError::DeviceMemory);
    drop(s);
    data_object(&other, false, "x").unwrap();
}

#[test]
fn a_find_matching_more_than_the_limit_is_refused_whole_and_a_narrower_one_answers() {
    let _w = world(LIMITS);
    let p = load();
    let slot = init_token(&p, "t");
    let s = user_session(&p, slot);
    for i in 0..6 {
        data_object(&s, true, &format!("d{i}")).unwrap();
    }
    let all = [Attribute::Class(ObjectClass::DATA)];
    assert_eq!(rv(s.find_objects(&all)), RvError::HostMemory);
    // No find operation was left active by the refusal.
    let one = s.find_objects(&[Attribute::Label(b"d4".to_vec())]).unwrap();
    assert_eq!(one.len(), 1);
    // Exactly at the limit is allowed.
    let h = s.find_objects(&[Attribute::Label(b"d0".to_vec())]).unwrap()[0];
    s.destroy_object(h).unwrap();
    assert_eq!(s.find_objects(&all).unwrap().len(), 5);
}

#[test]
fn a_multi_part_operation_holds_at_most_operation_bytes() {
    let _w = world(LIMITS);
    let p = load();
    let slot = init_token(&p, "t");
    let s = user_session(&p, slot);
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Value(vec![7; 32]),
        ])
        .unwrap();
    let mut iv = [1u8; 12];
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut iv, b"", 128.into()).unwrap());
    // What fits is decrypted as before (4000 bytes + the tag).
    let ct = s.encrypt(&gcm, key, &[5u8; 4000]).unwrap();
    assert_eq!(s.decrypt(&gcm, key, &ct).unwrap(), vec![5u8; 4000]);
    // GCM decryption holds the ciphertext until the tag: past the limit.
    let big = s.encrypt(&gcm, key, &[5u8; 8192]).unwrap();
    s.decrypt_init(&gcm, key).unwrap();
    s.decrypt_update(&big[..4096]).unwrap();
    assert_eq!(rv(s.decrypt_update(&big[4096..])), RvError::EncryptedDataLenRange);
    // The failed update ended the operation; a new one starts.
    s.decrypt_init(&gcm, key).unwrap();
    s.decrypt_update(&ct).unwrap();
    assert_eq!(s.decrypt_final().unwrap(), vec![5u8; 4000]);

    // A signature over the whole message (raw ECDSA) holds the message.
    let (_, private) = s
        .generate_key_pair(&Mechanism::EccKeyPairGen, &[Attribute::EcParams(P256.to_vec())], &[Attribute::Sign(true)])
        .unwrap();
    s.sign_init(&Mechanism::Ecdsa, private).unwrap();
    s.sign_update(&[0u8; 4096]).unwrap();
    assert_eq!(rv(s.sign_update(&[0u8; 1])), RvError::DataLenRange);
}

#[test]
fn a_bad_limit_stops_c_initialize() {
    for bad in [
        "[limits]\nsessions = 0\n",
        "[limits]\nsession_objects = 0\n",
        "[limits]\nfind_results = \"many\"\n",
        "[limits]\noperation_bytes = 1\n",
        "[limits]\noperation_bytes = 1000000000000\n",
        "[limits]\nsesions = 5\n",
    ] {
        let _w = world(bad);
        let p = Pkcs11::new(module_path()).unwrap();
        let r = p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        assert!(r.is_err(), "{bad:?} was accepted");
        let _ = p.finalize();
    }
}
