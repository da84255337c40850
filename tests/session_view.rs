//! Each session keeps its own copies of the token record, the login state
//! and the token keys it used (so threads on different sessions share no
//! cache line per call). These tests check that a copy never outlives what
//! it copied: a changed key, a logout, another process's destroy.

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};

fn seal(s: &Session, key: ObjectHandle, data: &[u8]) -> Result<Vec<u8>, cryptoki::error::Error> {
    let mut iv = [7u8; 12];
    s.encrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into()).unwrap()), key, data)
}

fn open(s: &Session, key: ObjectHandle, ct: &[u8]) -> Vec<u8> {
    let mut iv = [7u8; 12];
    s.decrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into()).unwrap()), key, ct).unwrap()
}

#[test]
fn a_sessions_copies_follow_key_changes_logout_and_other_processes() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "copies");
    let s1 = user_session(&p, slot);
    let s2 = p.open_rw_session(slot).unwrap();
    let key = aes_token_key(&s1, "view-key", b"v1", false, false, vec![]);
    // Both sessions use the key (each keeps a copy).
    let ct = seal(&s1, key, b"hello").unwrap();
    assert_eq!(open(&s2, key, &ct), b"hello");

    // Changed through the other session: the copy is not used any more.
    s2.update_attributes(key, &[Attribute::Encrypt(false)]).unwrap();
    assert_eq!(rv(seal(&s1, key, b"x")), RvError::KeyFunctionNotPermitted);
    s2.update_attributes(key, &[Attribute::Encrypt(true)]).unwrap();
    assert_eq!(seal(&s1, key, b"hello").unwrap(), ct);

    // Logged out through the other session: the private key is gone for
    // this one too, and back after a login.
    s2.logout().unwrap();
    assert_eq!(rv(seal(&s1, key, b"x")), RvError::KeyHandleInvalid);
    s2.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(seal(&s1, key, b"hello").unwrap(), ct);

    // Destroyed by another process.
    let out =
        Command::new(example("p11client")).args(["destroy", "view-key"]).env("P11_PIN", USER_PIN).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(rv(seal(&s1, key, b"x")), RvError::KeyHandleInvalid);
    assert_eq!(rv(seal(&s2, key, b"x")), RvError::KeyHandleInvalid);
}

#[test]
fn threads_encrypting_while_another_logs_out_and_in() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "churn");
    let admin = user_session(&p, slot);
    let key = aes_token_key(&admin, "churn-key", b"c1", false, false, vec![]);
    let expected = seal(&admin, key, b"payload").unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (p, stop, expected) = (&p, &stop, &expected);
                sc.spawn(move || {
                    let s = p.open_rw_session(slot).unwrap();
                    let (mut ok, mut refused) = (0, 0);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        match seal(&s, key, b"payload") {
                            Ok(ct) => {
                                assert_eq!(&ct, expected);
                                ok += 1;
                            }
                            Err(e) => {
                                let code = rv::<()>(Err(e));
                                assert!(
                                    matches!(code, RvError::KeyHandleInvalid | RvError::UserNotLoggedIn),
                                    "{code:?}"
                                );
                                refused += 1;
                            }
                        }
                    }
                    (ok, refused)
                })
            })
            .collect();
        for _ in 0..40 {
            admin.logout().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
            admin.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            let (ok, refused) = w.join().unwrap();
            assert!(ok > 0 && refused > 0, "ok {ok}, refused {refused}");
        }
    });
    // Logged out at the end: nobody can use the key.
    admin.logout().unwrap();
    let s = p.open_rw_session(slot).unwrap();
    assert_eq!(rv(seal(&s, key, b"x")), RvError::KeyHandleInvalid);
}

#[test]
fn a_kept_private_key_is_parsed_once_and_follows_changes() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "ec-copies");
    let s1 = user_session(&p, slot);
    let s2 = p.open_rw_session(slot).unwrap();
    let (public, private) = s1
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(P256.to_vec()), Attribute::Token(true), Attribute::Verify(true)],
            &[Attribute::Token(true), Attribute::Private(true), Attribute::Sign(true)],
        )
        .unwrap();
    let digest = [0x11u8; 32];
    for _ in 0..3 {
        let sig = s1.sign(&Mechanism::Ecdsa, private, &digest).unwrap();
        s2.verify(&Mechanism::Ecdsa, public, &digest, &sig).unwrap();
    }
    // The kept key's class is still checked first: a public key cannot sign.
    assert_eq!(rv(s1.sign(&Mechanism::Ecdsa, public, &digest)), RvError::KeyTypeInconsistent);
    s2.update_attributes(private, &[Attribute::Sign(false)]).unwrap();
    assert_eq!(rv(s1.sign(&Mechanism::Ecdsa, private, &digest)), RvError::KeyFunctionNotPermitted);
    s2.update_attributes(private, &[Attribute::Sign(true)]).unwrap();
    let sig = s1.sign(&Mechanism::Ecdsa, private, &digest).unwrap();
    s1.verify(&Mechanism::Ecdsa, public, &digest, &sig).unwrap();
    s2.destroy_object(private).unwrap();
    assert_eq!(rv(s1.sign(&Mechanism::Ecdsa, private, &digest)), RvError::KeyHandleInvalid);
}
