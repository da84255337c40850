//! C_FindObjects over token objects whose flags (CK_BBOOL attributes) are
//! not in the store's index: CKA_TOKEN and CKA_PRIVATE are answered without
//! one, other flags by comparing the candidates; and a store written with
//! the flag-indexing schema (version 4) is migrated and searched the same.

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::*;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

struct Objects {
    key: ObjectHandle,
    public_data: ObjectHandle,
    private_data: ObjectHandle,
    session_data: ObjectHandle,
}

fn make(s: &Session) -> Objects {
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Encrypt(true),
            Attribute::Sign(false),
            Attribute::Label(b"k".to_vec()),
            Attribute::Value(vec![0x42; 32]),
        ])
        .unwrap();
    let data = |token: bool, private: bool, label: &[u8], modifiable: bool| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(token),
            Attribute::Private(private),
            Attribute::Modifiable(modifiable),
            Attribute::Label(label.to_vec()),
            Attribute::Value(label.to_vec()),
        ])
        .unwrap()
    };
    Objects {
        key,
        public_data: data(true, false, b"pub", true),
        private_data: data(true, true, b"priv", false),
        session_data: data(false, true, b"sess", true),
    }
}

fn found(s: &Session, tmpl: &[Attribute]) -> BTreeSet<u64> {
    s.find_objects(tmpl).unwrap().into_iter().map(|h| h.handle()).collect()
}

fn set(hs: &[ObjectHandle]) -> BTreeSet<u64> {
    hs.iter().map(|h| h.handle()).collect()
}

/// Every flag template against the objects of `make` (session object
/// included when `o.session_data` is still there).
fn check_flag_finds(s: &Session, o: &Objects, with_session: bool) {
    let sess: &[ObjectHandle] = if with_session { &[o.session_data] } else { &[] };
    let all_token = [o.key, o.public_data, o.private_data];
    assert_eq!(found(s, &[Attribute::Token(true)]), set(&all_token));
    assert_eq!(found(s, &[Attribute::Token(false)]), set(sess));
    let mut private = vec![o.key, o.private_data];
    private.extend_from_slice(sess);
    assert_eq!(found(s, &[Attribute::Private(true)]), set(&private));
    assert_eq!(found(s, &[Attribute::Private(false)]), set(&[o.public_data]));
    assert_eq!(found(s, &[Attribute::Token(true), Attribute::Private(false)]), set(&[o.public_data]));
    assert_eq!(found(s, &[Attribute::Token(true), Attribute::Private(true)]), set(&[o.key, o.private_data]));
    // Contradictions find nothing.
    assert!(found(s, &[Attribute::Private(true), Attribute::Private(false)]).is_empty());
    assert!(found(s, &[Attribute::Token(false), Attribute::Label(b"pub".to_vec())]).is_empty());
    // Other flags: compared on the candidates.
    assert_eq!(found(s, &[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Encrypt(true)]), set(&[o.key]));
    assert!(found(s, &[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Encrypt(false)]).is_empty());
    assert_eq!(found(s, &[Attribute::Sign(false)]), set(&[o.key]));
    assert_eq!(found(s, &[Attribute::Modifiable(false), Attribute::Token(true)]), set(&[o.private_data]));
    let mut modifiable = vec![o.key, o.public_data];
    modifiable.extend_from_slice(sess);
    assert_eq!(found(s, &[Attribute::Modifiable(true)]), set(&modifiable));
    assert_eq!(found(s, &[Attribute::Label(b"priv".to_vec()), Attribute::Token(true)]), set(&[o.private_data]));
    assert_eq!(
        found(s, &[Attribute::Class(ObjectClass::DATA), Attribute::Label(b"pub".to_vec()), Attribute::Private(false)]),
        set(&[o.public_data])
    );
}

#[test]
fn flags_are_found_without_an_index_entry() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "flags");
    let s = user_session(&p, slot);
    let o = make(&s);
    check_flag_finds(&s, &o, true);

    // Not logged in: private objects are never found, whatever the template.
    s.logout().unwrap();
    let public = p.open_ro_session(slot).unwrap();
    assert_eq!(found(&public, &[Attribute::Token(true)]), set(&[o.public_data]));
    assert!(found(&public, &[Attribute::Private(true)]).is_empty());
    assert!(found(&public, &[Attribute::Modifiable(false)]).is_empty());
    assert_eq!(found(&public, &[Attribute::Private(false), Attribute::Modifiable(true)]), set(&[o.public_data]));
}

#[test]
fn a_version_4_store_is_migrated_and_searched_the_same() {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "v4");
    let s = user_session(&p, slot);
    let o = make(&s);
    drop(s);
    p.finalize().unwrap();

    // Back to what version 4 wrote: every flag row with an index entry, the
    // (atype, idx) index, objects without tags.
    make_legacy(&w.db, SO_PIN, Some(USER_PIN), 4);
    let db = rusqlite::Connection::open(&w.db).unwrap();
    let flag_rows: i64 =
        db.query_row("SELECT count(*) FROM attrs WHERE atype IN (1, 2, 0x170)", [], |r| r.get(0)).unwrap();
    assert!(flag_rows >= 9, "{flag_rows} flag rows");
    assert_eq!(
        db.query_row("SELECT count(*) FROM attrs WHERE atype IN (1, 2) AND idx IS NOT NULL", [], |r| r
            .get::<_, i64>(0))
            .unwrap(),
        0
    );
    db.execute_batch(
        "DROP INDEX attrs_by_idx;
         UPDATE attrs SET idx = randomblob(16) WHERE atype IN (1, 2, 0x104, 0x108, 0x170);
         CREATE INDEX attrs_by_value ON attrs(atype, idx);
         PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(db);

    let p = load();
    let s = user_session(&p, slot);
    check_flag_finds(&s, &o, false);
    assert_eq!(found(&s, &[Attribute::Label(b"k".to_vec())]), set(&[o.key]));
    drop(s);
    p.finalize().unwrap();

    let db = rusqlite::Connection::open(&w.db).unwrap();
    assert_eq!(db.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 7);
    let untagged: i64 = db.query_row("SELECT count(*) FROM objects WHERE tag IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(untagged, 0, "authenticated at the first login");
    let indexed_flags: i64 = db
        .query_row(
            "SELECT count(*) FROM attrs WHERE atype IN (1, 2, 0x104, 0x108, 0x170) AND idx IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexed_flags, 0);
    let indexes: Vec<String> = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'attrs'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(indexes.contains(&"attrs_by_idx".to_string()), "{indexes:?}");
    assert!(!indexes.contains(&"attrs_by_value".to_string()), "{indexes:?}");
}

#[test]
fn finds_by_value_keep_to_the_token_and_the_login() {
    let _w = world("");
    let p = load();
    let (slot_a, slot_b) = (init_token(&p, "token-a"), init_token(&p, "token-b"));
    let (a, b) = (user_session(&p, slot_a), user_session(&p, slot_b));
    let data = |s: &Session, private: bool| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Label(b"same".to_vec()),
        ])
        .unwrap()
    };
    let (a_pub, a_priv, b_pub, b_priv) = (data(&a, false), data(&a, true), data(&b, false), data(&b, true));
    let same = [Attribute::Label(b"same".to_vec())];
    assert_eq!(found(&a, &same), set(&[a_pub, a_priv]));
    assert_eq!(found(&b, &same), set(&[b_pub, b_priv]));
    assert_eq!(found(&a, &[same[0].clone(), Attribute::Private(true)]), set(&[a_priv]));
    assert_eq!(found(&b, &[same[0].clone(), Attribute::Private(false)]), set(&[b_pub]));
    // The security officer has the token key but sees no private object.
    a.logout().unwrap();
    a.login(cryptoki::session::UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_eq!(found(&a, &same), set(&[a_pub]));
    a.logout().unwrap();
    assert_eq!(found(&a, &same), set(&[a_pub]));
}

/// A find names every match, however many (on PostgreSQL a find matching
/// at most 32 objects brings their rows with it, a larger one only their
/// ids), and what it brought is the objects as they are now: a change made
/// through another session is what the next find and read see (another
/// process's changes: tests/pg_hosts.rs).
#[test]
fn a_find_names_every_match_and_brings_current_objects() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "token-a");
    let s = user_session(&p, slot);
    let data = |label: &[u8], value: &[u8]| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(label.to_vec()),
            Attribute::Value(value.to_vec()),
        ])
        .unwrap()
    };
    let many: Vec<ObjectHandle> = (0..40u8).map(|i| data(b"many", &[i; 3])).collect();
    let few: Vec<ObjectHandle> = (0..3u8).map(|i| data(b"few", &[100 + i; 5])).collect();
    let value = |s: &Session, h: ObjectHandle| match &s.get_attributes(h, &[AttributeType::Value]).unwrap()[..] {
        [Attribute::Value(v)] => v.clone(),
        other => panic!("{other:?}"),
    };
    for _ in 0..2 {
        assert_eq!(found(&s, &[Attribute::Label(b"many".to_vec())]), set(&many));
        assert_eq!(found(&s, &[Attribute::Label(b"few".to_vec())]), set(&few));
        for (i, h) in few.iter().enumerate() {
            assert_eq!(value(&s, *h), vec![100 + i as u8; 5]);
        }
    }
    // Changed through another session (the login is the slot's), then
    // found and read again.
    let other = p.open_rw_session(slot).unwrap();
    other.update_attributes(few[1], &[Attribute::Label(b"moved".to_vec()), Attribute::Value(vec![7; 9])]).unwrap();
    assert_eq!(found(&s, &[Attribute::Label(b"few".to_vec())]), set(&[few[0], few[2]]));
    assert_eq!(found(&s, &[Attribute::Label(b"moved".to_vec())]), set(&[few[1]]));
    assert_eq!(value(&s, few[1]), vec![7; 9]);
    other.destroy_object(few[0]).unwrap();
    assert_eq!(found(&s, &[Attribute::Label(b"few".to_vec())]), set(&[few[2]]));
    assert_eq!(found(&s, &[Attribute::Label(b"many".to_vec())]).len(), 40);
}
