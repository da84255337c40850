//! Slots, tokens, PINs, sessions and objects through the built module,
//! driven by the `cryptoki` crate.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::{SessionState, UserType};

fn aes_value(len: usize) -> Vec<u8> {
    (0..len as u8).collect()
}

fn secret_key_template(value: Vec<u8>) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Value(value),
    ]
}

#[test]
fn slots_stay_put_and_a_free_slot_is_always_offered() {
    let _w = world("");
    let p = load();
    let slots = p.get_all_slots().unwrap();
    assert_eq!(slots.len(), 1);
    assert!(!p.get_token_info(slots[0]).unwrap().token_initialized());
    assert_eq!(rv(p.open_rw_session(slots[0])), RvError::TokenNotRecognized);

    let first = init_token(&p, "alpha");
    assert_eq!(first.id(), slots[0].id(), "slot id must not change on init");
    let slots = p.get_all_slots().unwrap();
    assert_eq!(slots.iter().map(|s| s.id()).collect::<Vec<_>>(), vec![0, 1]);
    let info = p.get_token_info(first).unwrap();
    assert_eq!(info.label(), "alpha");
    assert!(info.token_initialized() && info.user_pin_initialized() && info.login_required());
    assert_eq!(info.serial_number().len(), 16);
    let second = init_token(&p, "beta");
    assert_eq!(second.id(), 1);
    assert_eq!(p.get_all_slots().unwrap().len(), 3);
    assert_eq!(rv(p.get_token_info(cryptoki::slot::Slot::try_from(99u64).unwrap())), RvError::SlotIdInvalid);
}

#[test]
fn login_states_follow_the_spec() {
    let _w = world("");
    let p = load();
    let slot = p.get_all_slots().unwrap()[0];
    p.init_token(slot, &pin(SO_PIN), "t").unwrap();
    let ro = p.open_ro_session(slot).unwrap();
    assert_eq!(rv(ro.login(UserType::User, Some(&pin(USER_PIN)))), RvError::UserPinNotInitialized);
    assert_eq!(rv(ro.login(UserType::So, Some(&pin(SO_PIN)))), RvError::SessionReadOnlyExists);
    drop(ro);

    let rw = p.open_rw_session(slot).unwrap();
    rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_eq!(rw.get_session_info().unwrap().session_state(), SessionState::RwSecurityOfficer);
    assert_eq!(rv(p.open_ro_session(slot)), RvError::SessionReadWriteSoExists);
    assert_eq!(rv(rw.login(UserType::So, Some(&pin(SO_PIN)))), RvError::UserAlreadyLoggedIn);
    assert_eq!(rv(rw.login(UserType::User, Some(&pin(USER_PIN)))), RvError::UserAnotherAlreadyLoggedIn);
    assert_eq!(rv(rw.init_pin(&pin("abc"))), RvError::PinLenRange);
    rw.init_pin(&pin(USER_PIN)).unwrap();
    rw.logout().unwrap();
    assert_eq!(rv(rw.logout()), RvError::UserNotLoggedIn);

    let ro = p.open_ro_session(slot).unwrap();
    assert_eq!(ro.get_session_info().unwrap().session_state(), SessionState::RoPublic);
    ro.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    // Login state is shared by every session of the process.
    assert_eq!(ro.get_session_info().unwrap().session_state(), SessionState::RoUser);
    assert_eq!(rw.get_session_info().unwrap().session_state(), SessionState::RwUser);
    assert_eq!(rv(ro.login(UserType::ContextSpecific, Some(&pin(USER_PIN)))), RvError::OperationNotInitialized);
    assert_eq!(rv(ro.set_pin(&pin(USER_PIN), &pin("new-user-pin"))), RvError::SessionReadOnly);
    rw.set_pin(&pin(USER_PIN), &pin("new-user-pin")).unwrap();
    rw.logout().unwrap();
    assert_eq!(rv(rw.login(UserType::User, Some(&pin(USER_PIN)))), RvError::PinIncorrect);
    rw.login(UserType::User, Some(&pin("new-user-pin"))).unwrap();
    // Closing the last session logs the slot out.
    drop(ro);
    drop(rw);
    let s = p.open_ro_session(slot).unwrap();
    assert_eq!(s.get_session_info().unwrap().session_state(), SessionState::RoPublic);
    assert_eq!(rv(p.init_token(slot, &pin(SO_PIN), "t")), RvError::SessionExists);
}

#[test]
fn wrong_pins_lock_and_the_lock_is_persisted() {
    let w = world("[pin]\nmax_failed = 3\n");
    let p = load();
    let slot = init_token(&p, "lock");
    let s = p.open_rw_session(slot).unwrap();
    for i in 0..3 {
        assert_eq!(rv(s.login(UserType::User, Some(&pin("wrong-pin")))), RvError::PinIncorrect);
        let info = p.get_token_info(slot).unwrap();
        assert_eq!(info.user_pin_count_low(), i < 2);
        assert_eq!(info.user_pin_final_try(), i == 1);
        assert_eq!(info.user_pin_locked(), i == 2);
    }
    assert!(p.get_token_info(slot).unwrap().user_pin_locked());
    assert_eq!(rv(s.login(UserType::User, Some(&pin(USER_PIN)))), RvError::PinLocked);
    drop(s);
    p.finalize().unwrap();

    // Another "process" (a fresh initialization) sees the same lock.
    let p = load();
    let s = p.open_rw_session(slot).unwrap();
    assert_eq!(rv(s.login(UserType::User, Some(&pin(USER_PIN)))), RvError::PinLocked);
    // The SO resets the user PIN, which unlocks it.
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin(USER_PIN)).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert!(!p.get_token_info(slot).unwrap().user_pin_count_low());
    drop(w);
}

#[test]
fn successful_login_resets_the_failure_counter() {
    let _w = world("[pin]\nmax_failed = 3\n");
    let p = load();
    let slot = init_token(&p, "reset");
    let s = p.open_rw_session(slot).unwrap();
    for _ in 0..2 {
        assert_eq!(rv(s.login(UserType::User, Some(&pin("nope-nope")))), RvError::PinIncorrect);
    }
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    s.logout().unwrap();
    for _ in 0..2 {
        assert_eq!(rv(s.login(UserType::User, Some(&pin("nope-nope")))), RvError::PinIncorrect);
    }
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
}

#[test]
fn create_object_checks_templates() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "objs");
    let s = user_session(&p, slot);

    assert_eq!(rv(s.create_object(&[Attribute::Token(true)])), RvError::TemplateIncomplete);
    let mut t = secret_key_template(aes_value(20));
    assert_eq!(rv(s.create_object(&t)), RvError::AttributeValueInvalid);
    t = secret_key_template(aes_value(32));
    t.push(Attribute::ValueLen(32.into()));
    assert_eq!(rv(s.create_object(&t)), RvError::TemplateInconsistent);
    t = secret_key_template(aes_value(32));
    t.push(Attribute::Local(true));
    assert_eq!(rv(s.create_object(&t)), RvError::AttributeReadOnly);
    t = secret_key_template(aes_value(32));
    t.push(Attribute::Trusted(true));
    assert_eq!(rv(s.create_object(&t)), RvError::AttributeReadOnly, "only the SO sets CKA_TRUSTED");
    t = secret_key_template(aes_value(32));
    t.push(Attribute::Application(b"app".to_vec()));
    assert_eq!(rv(s.create_object(&t)), RvError::AttributeTypeInvalid, "CKA_APPLICATION is for data objects");
    t = secret_key_template(aes_value(32));
    t.push(Attribute::Token(false));
    assert_eq!(rv(s.create_object(&t)), RvError::TemplateInconsistent, "CKA_TOKEN twice with two values");
    let no_key_type = vec![Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Value(aes_value(16))];
    assert_eq!(rv(s.create_object(&no_key_type)), RvError::TemplateIncomplete);
    let mut bad_kcv = secret_key_template(aes_value(32));
    bad_kcv.push(Attribute::CheckValue(vec![1, 2, 3]));
    assert_eq!(rv(s.create_object(&bad_kcv)), RvError::AttributeValueInvalid);

    let key = s.create_object(&secret_key_template(aes_value(32))).unwrap();
    let got = s
        .get_attributes(
            key,
            &[
                AttributeType::CheckValue,
                AttributeType::Local,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::UniqueId,
            ],
        )
        .unwrap();
    assert!(got.contains(&Attribute::CheckValue(vec![0xf2, 0x90, 0x00])), "FIPS-197 key check value: {got:?}");
    assert!(got.contains(&Attribute::Local(false)));
    assert!(got.contains(&Attribute::AlwaysSensitive(false)));
    assert!(got.contains(&Attribute::NeverExtractable(false)));
    assert!(got.contains(&Attribute::Sensitive(true)), "secret keys default to sensitive");
    assert!(got.contains(&Attribute::Extractable(false)), "secret keys default to non-extractable");
    assert!(got.iter().any(|a| matches!(a, Attribute::UniqueId(u) if u.len() == 32)));
    // cryptoki hides per-attribute errors; a sensitive value is simply absent.
    assert!(s.get_attributes(key, &[AttributeType::Value]).unwrap().is_empty());

    let ro = p.open_ro_session(slot).unwrap();
    assert_eq!(rv(ro.create_object(&secret_key_template(aes_value(16)))), RvError::SessionReadOnly);
    // A read-only session may create session objects.
    let mut session_key = secret_key_template(aes_value(16));
    session_key[2] = Attribute::Token(false);
    ro.create_object(&session_key).unwrap();
}

#[test]
fn attribute_changes_follow_the_one_way_rules() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "rules");
    let s = user_session(&p, slot);
    let mut t = secret_key_template(aes_value(16));
    t.extend([Attribute::Sensitive(false), Attribute::Extractable(true), Attribute::Label(b"k".to_vec())]);
    let key = s.create_object(&t).unwrap();
    assert_eq!(
        s.get_attributes(key, &[AttributeType::Value]).unwrap(),
        vec![Attribute::Value(aes_value(16))],
        "an extractable, non-sensitive key's value is readable"
    );
    s.update_attributes(key, &[Attribute::Label(b"renamed".to_vec()), Attribute::Encrypt(false)]).unwrap();
    s.update_attributes(key, &[Attribute::Sensitive(true)]).unwrap();
    assert_eq!(rv(s.update_attributes(key, &[Attribute::Sensitive(false)])), RvError::AttributeReadOnly);
    s.update_attributes(key, &[Attribute::Extractable(false)]).unwrap();
    assert_eq!(rv(s.update_attributes(key, &[Attribute::Extractable(true)])), RvError::AttributeReadOnly);
    assert_eq!(rv(s.update_attributes(key, &[Attribute::Value(aes_value(16))])), RvError::AttributeReadOnly);
    assert_eq!(
        rv(s.update_attributes(key, &[Attribute::KeyType(KeyType::GENERIC_SECRET)])),
        RvError::AttributeReadOnly
    );
    assert_eq!(rv(s.update_attributes(key, &[Attribute::Application(vec![])])), RvError::AttributeTypeInvalid);
    assert_eq!(rv(s.update_attributes(key, &[Attribute::Trusted(true)])), RvError::AttributeReadOnly);
    assert!(s.get_attributes(key, &[AttributeType::Value]).unwrap().is_empty(), "now sensitive");
    assert_eq!(
        s.get_attributes(key, &[AttributeType::Label, AttributeType::Encrypt]).unwrap(),
        vec![Attribute::Label(b"renamed".to_vec()), Attribute::Encrypt(false)]
    );

    // Copy: may change TOKEN/PRIVATE and the one-way flags the right way.
    let copy = s.copy_object(key, &[Attribute::Token(false), Attribute::Label(b"copy".to_vec())]).unwrap();
    assert_ne!(copy, key);
    assert_eq!(rv(s.copy_object(key, &[Attribute::Sensitive(false)])), RvError::AttributeReadOnly);
    assert_eq!(rv(s.copy_object(key, &[Attribute::KeyType(KeyType::AES)])), RvError::AttributeReadOnly);

    let mut locked = secret_key_template(aes_value(16));
    locked.extend([Attribute::Modifiable(false), Attribute::Copyable(false), Attribute::Destroyable(false)]);
    let k2 = s.create_object(&locked).unwrap();
    assert_eq!(rv(s.update_attributes(k2, &[Attribute::Label(b"x".to_vec())])), RvError::ActionProhibited);
    assert_eq!(rv(s.copy_object(k2, &[])), RvError::ActionProhibited);
    assert_eq!(rv(s.destroy_object(k2)), RvError::ActionProhibited);

    s.destroy_object(key).unwrap();
    assert_eq!(rv(s.get_attributes(key, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert_eq!(rv(s.destroy_object(key)), RvError::ObjectHandleInvalid);
}

#[test]
fn private_objects_are_invisible_before_login() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "vis");
    let s = user_session(&p, slot);
    let data = |private: bool, label: &str| {
        vec![
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(b"payload".to_vec()),
        ]
    };
    let private = s.create_object(&data(true, "secret-note")).unwrap();
    let public = s.create_object(&data(false, "public-note")).unwrap();
    s.logout().unwrap();
    assert_eq!(rv(s.create_object(&data(true, "x"))), RvError::UserNotLoggedIn);
    let found = s.find_objects(&[Attribute::Class(ObjectClass::DATA)]).unwrap();
    assert_eq!(found, vec![public]);
    assert_eq!(rv(s.get_attributes(private, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert_eq!(s.get_attributes(public, &[AttributeType::Value]).unwrap(), vec![Attribute::Value(b"payload".to_vec())]);
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let mut found = s.find_objects(&[Attribute::Class(ObjectClass::DATA)]).unwrap();
    found.sort_by_key(|h| h.handle());
    assert_eq!(found, vec![private, public]);
    assert_eq!(s.find_objects(&[Attribute::Label(b"secret-note".to_vec())]).unwrap(), vec![private]);
    // CKA_UNIQUE_ID is derived, not an indexed row: found by comparison.
    let Attribute::UniqueId(uid) = s.get_attributes(private, &[AttributeType::UniqueId]).unwrap().remove(0) else {
        panic!("unique id")
    };
    assert_eq!(s.find_objects(&[Attribute::UniqueId(uid)]).unwrap(), vec![private]);
    // Several attributes, all indexed; and one that matches nothing.
    let both = [Attribute::Label(b"public-note".to_vec()), Attribute::Private(false), Attribute::Token(true)];
    assert_eq!(s.find_objects(&both).unwrap(), vec![public]);
    let none = [Attribute::Label(b"public-note".to_vec()), Attribute::Private(true)];
    assert!(s.find_objects(&none).unwrap().is_empty());
    assert!(s.find_objects(&[Attribute::Label(b"nothing".to_vec())]).unwrap().is_empty());
}

#[test]
fn session_objects_live_and_die_with_their_session() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "sess");
    let s1 = user_session(&p, slot);
    let s2 = p.open_rw_session(slot).unwrap();
    let obj =
        s1.create_object(&[Attribute::Class(ObjectClass::DATA), Attribute::Label(b"ephemeral".to_vec())]).unwrap();
    assert_eq!(s2.find_objects(&[Attribute::Label(b"ephemeral".to_vec())]).unwrap(), vec![obj]);
    drop(s1);
    assert_eq!(rv(s2.get_attributes(obj, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
    assert!(s2.find_objects(&[Attribute::Label(b"ephemeral".to_vec())]).unwrap().is_empty());
}

#[test]
fn generate_key_sets_the_key_attributes() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "gen");
    let mechs = p.get_mechanism_list(slot).unwrap();
    assert!(mechs.contains(&MechanismType::AES_KEY_GEN));
    let info = p.get_mechanism_info(slot, MechanismType::AES_KEY_GEN).unwrap();
    assert_eq!((info.min_key_size(), info.max_key_size()), (16, 32));
    assert!(info.generate());
    let s = user_session(&p, slot);
    for len in [16u64, 24, 32] {
        let k =
            s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(len.into()), Attribute::Token(true)]).unwrap();
        let got = s
            .get_attributes(
                k,
                &[
                    AttributeType::ValueLen,
                    AttributeType::Local,
                    AttributeType::KeyGenMechanism,
                    AttributeType::AlwaysSensitive,
                    AttributeType::NeverExtractable,
                    AttributeType::KeyType,
                ],
            )
            .unwrap();
        assert_eq!(
            got,
            vec![
                Attribute::ValueLen(len.into()),
                Attribute::Local(true),
                Attribute::KeyGenMechanism(MechanismType::AES_KEY_GEN),
                Attribute::AlwaysSensitive(true),
                Attribute::NeverExtractable(true),
                Attribute::KeyType(KeyType::AES),
            ]
        );
    }
    assert_eq!(rv(s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(20.into())])), RvError::KeySizeRange);
    assert_eq!(rv(s.generate_key(&Mechanism::AesKeyGen, &[])), RvError::TemplateIncomplete);
    assert_eq!(
        rv(s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(16.into()), Attribute::Value(vec![0; 16])])),
        RvError::TemplateInconsistent
    );
    assert_eq!(
        rv(s.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::Class(ObjectClass::DATA)]
        )),
        RvError::TemplateInconsistent
    );
    assert_eq!(rv(s.generate_key(&Mechanism::Sha256, &[Attribute::ValueLen(16.into())])), RvError::MechanismInvalid);
    let g = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[Attribute::ValueLen(48.into()), Attribute::Extractable(true), Attribute::Sensitive(false)],
        )
        .unwrap();
    let v = s.get_attributes(g, &[AttributeType::Value, AttributeType::KeyType]).unwrap();
    assert!(matches!(&v[0], Attribute::Value(b) if b.len() == 48));
    assert_eq!(v[1], Attribute::KeyType(KeyType::GENERIC_SECRET));
    let r1 = s.generate_random_vec(32).unwrap();
    let r2 = s.generate_random_vec(32).unwrap();
    assert_ne!(r1, r2);
    // C_SeedRandom mixes the bytes in as additional input: it succeeds,
    // and the same seed twice still gives different output (OS entropy
    // stays the source; a seed never makes output predictable).
    s.seed_random(&[1, 2, 3]).unwrap();
    let a = s.generate_random_vec(32).unwrap();
    s.seed_random(&[1, 2, 3]).unwrap();
    let b = s.generate_random_vec(32).unwrap();
    assert_ne!(a, b);
    s.seed_random(&[]).unwrap();
    s.seed_random(&[7u8; 100_000]).unwrap();
}

#[test]
fn reinitializing_a_token_destroys_its_objects() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "old");
    let s = user_session(&p, slot);
    s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(32.into()), Attribute::Token(true)]).unwrap();
    drop(s);
    assert_eq!(rv(p.init_token(slot, &pin("not-the-so-pin"), "new")), RvError::PinIncorrect);
    p.init_token(slot, &pin(SO_PIN), "new").unwrap();
    assert_eq!(p.get_token_info(slot).unwrap().label(), "new");
    assert!(!p.get_token_info(slot).unwrap().user_pin_initialized());
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin(USER_PIN)).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert!(s.find_objects(&[]).unwrap().is_empty());
}

#[test]
fn threads_share_the_store_without_losing_objects() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "threads");
    let keeper = user_session(&p, slot);
    std::thread::scope(|sc| {
        for t in 0..4 {
            let p = &p;
            sc.spawn(move || {
                let s = p.open_rw_session(slot).unwrap();
                for i in 0..50 {
                    s.generate_key(
                        &Mechanism::AesKeyGen,
                        &[
                            Attribute::ValueLen(32.into()),
                            Attribute::Token(true),
                            Attribute::Label(format!("t{t}-{i}").into_bytes()),
                        ],
                    )
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(keeper.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)]).unwrap().len(), 200);
    assert_eq!(keeper.find_objects(&[Attribute::Label(b"t3-49".to_vec())]).unwrap().len(), 1);
}
