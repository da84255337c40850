//! The store at rest and under concurrency: no plaintext key material or
//! PIN in the database files, moved rows detected, several processes at once.

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file SQLite keeps for the store (db, WAL, shared memory).
fn store_bytes(db: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(&p) {
            all.extend(b);
        }
    }
    all
}

#[test]
fn no_key_bytes_or_pins_in_the_database_files() {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "at-rest");
    let s = user_session(&p, slot);
    let known_private: Vec<u8> = (0..32).map(|i| 0xA0 ^ (i * 7) as u8).collect();
    let known_public: Vec<u8> = (0..32).map(|i| 0x3C ^ (i * 13) as u8).collect();
    let secret_note = b"TOP-SECRET-PRIVATE-DATA-OBJECT-PAYLOAD".to_vec();
    let public_label = b"PUBLIC-LABEL-MUST-BE-READABLE".to_vec();
    for (value, private) in [(&known_private, true), (&known_public, false)] {
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Extractable(true),
            Attribute::Sensitive(false),
            Attribute::Label(public_label.clone()),
            Attribute::Value(value.clone()),
        ])
        .unwrap();
    }
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Value(secret_note.clone()),
    ])
    .unwrap();
    let generated = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                Attribute::Token(true),
                Attribute::Extractable(true),
                Attribute::Sensitive(false),
            ],
        )
        .unwrap();
    let Attribute::Value(generated_value) = s.get_attributes(generated, &[AttributeType::Value]).unwrap().remove(0)
    else {
        panic!("value of an extractable key")
    };
    drop(s);
    p.finalize().unwrap();

    let bytes = store_bytes(&w.db);
    assert!(bytes.len() > 4096);
    // The scan works: the public label is there in the clear.
    assert!(contains(&bytes, &public_label), "public attributes are stored in the clear");
    for (what, needle) in [
        ("private key value", &known_private[..]),
        ("public secret key value", &known_public[..]),
        ("generated key value", &generated_value[..]),
        ("private data object", &secret_note[..]),
        ("user PIN", USER_PIN.as_bytes()),
        ("SO PIN", SO_PIN.as_bytes()),
    ] {
        assert!(!contains(&bytes, needle), "{what} found in the database files");
    }
}

#[test]
fn a_sealed_row_moved_to_another_object_is_detected() {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "swap");
    let s = user_session(&p, slot);
    let mk = |label: &str, fill: u8| {
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Extractable(true),
            Attribute::Sensitive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(vec![fill; 16]),
        ])
        .unwrap()
    };
    let a = mk("a", 0x11);
    let b = mk("b", 0x22);
    drop(s);
    p.finalize().unwrap();

    let db = rusqlite::Connection::open(&w.db).unwrap();
    let value_of = |id: u64| -> Vec<u8> {
        db.query_row("SELECT value FROM attrs WHERE obj_id = ?1 AND atype = 17", [id as i64], |r| r.get(0)).unwrap()
    };
    let (va, vb) = (value_of(a.handle()), value_of(b.handle()));
    db.execute(
        "UPDATE attrs SET value = ?1 WHERE obj_id = ?2 AND atype = 17",
        rusqlite::params![vb, a.handle() as i64],
    )
    .unwrap();
    db.execute(
        "UPDATE attrs SET value = ?1 WHERE obj_id = ?2 AND atype = 17",
        rusqlite::params![va, b.handle() as i64],
    )
    .unwrap();
    drop(db);

    let p = load();
    let s = user_session(&p, slot);
    assert_eq!(rv(s.get_attributes(a, &[AttributeType::Value])), RvError::GeneralError);
    assert_eq!(rv(s.get_attributes(b, &[AttributeType::Label])), RvError::GeneralError);
    // Every search opens its candidates (their tags checked): a tampered
    // object is never listed, whatever the index says.
    assert!(s.find_objects(&[Attribute::Label(b"a".to_vec())]).unwrap().is_empty());
    // A search that must open candidates leaves the tampered ones out.
    assert!(s.find_objects(&[Attribute::Label(b"a".to_vec()), Attribute::Value(vec![0x11; 16])]).unwrap().is_empty());
}

#[test]
fn two_processes_create_a_thousand_objects_each_and_lose_none() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "multi");
    let client = example("p11client");
    assert!(client.exists(), "{} missing: cargo test builds examples", client.display());
    let spawn =
        |prefix: &str| Command::new(&client).args(["create", prefix, "1000"]).env("P11_PIN", USER_PIN).spawn().unwrap();
    let (mut one, mut two) = (spawn("proc-one"), spawn("proc-two"));
    assert!(one.wait().unwrap().success());
    assert!(two.wait().unwrap().success());

    // This process sees every object the others created...
    let s = user_session(&p, slot);
    assert_eq!(s.find_objects(&[Attribute::Class(ObjectClass::DATA)]).unwrap().len(), 2000);
    assert_eq!(s.find_objects(&[Attribute::Label(b"proc-two-999".to_vec())]).unwrap().len(), 1);
    // ...and a third process sees what this one creates.
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Label(b"from-parent-0".to_vec()),
    ])
    .unwrap();
    let out = Command::new(&client).args(["count", "from-parent"]).env("P11_PIN", USER_PIN).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

#[test]
fn changes_by_another_process_are_seen_through_the_cache() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "cache");
    let s = user_session(&p, slot);
    let h = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(b"cache-x".to_vec()),
        ])
        .unwrap();
    // Opened (and cached) here...
    assert_eq!(s.get_attributes(h, &[AttributeType::Label]).unwrap(), vec![Attribute::Label(b"cache-x".to_vec())]);
    let client = example("p11client");
    let run = |args: &[&str]| {
        let out = Command::new(&client).args(args).env("P11_PIN", USER_PIN).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    // ...changed by another process...
    run(&["relabel", "cache-x", "cache-y"]);
    assert_eq!(s.get_attributes(h, &[AttributeType::Label]).unwrap(), vec![Attribute::Label(b"cache-y".to_vec())]);
    // ...and destroyed by another process.
    run(&["destroy", "cache-y"]);
    assert_eq!(rv(s.get_attributes(h, &[AttributeType::Label])), RvError::ObjectHandleInvalid);
}

/// An object read while another thread rewrites it is read whole: the
/// head (version, tag) and the rows of one state, never the old head with
/// the new rows (which fails the tag: a sound object reported as broken,
/// CKR_GENERAL_ERROR). Each label names the value written with it.
#[test]
fn an_object_read_while_another_thread_rewrites_it_is_never_torn() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "torn");
    let s = user_session(&p, slot);
    // One length throughout: the crate asks the length, then the value,
    // in two calls, between which a longer value would not fit.
    let value = |i: usize| vec![(i % 251) as u8; 40];
    let h = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(b"000".to_vec()),
            Attribute::Value(value(0)),
        ])
        .unwrap();
    let done = AtomicBool::new(false);
    let reads = std::thread::scope(|sc| {
        sc.spawn(|| {
            let w = p.open_rw_session(slot).unwrap();
            for i in 1..=300 {
                w.update_attributes(h, &[Attribute::Label(format!("{i:03}").into_bytes()), Attribute::Value(value(i))])
                    .unwrap();
            }
            done.store(true, Ordering::Release);
        });
        let r = p.open_ro_session(slot).unwrap();
        let mut reads = 0;
        while !done.load(Ordering::Acquire) {
            let got = r
                .get_attributes(h, &[AttributeType::Label, AttributeType::Value])
                .unwrap_or_else(|e| panic!("read {reads} while the object was rewritten: {e}"));
            match &got[..] {
                [Attribute::Label(l), Attribute::Value(v)] => {
                    let i: usize = String::from_utf8_lossy(l).parse().unwrap();
                    assert_eq!(v, &value(i), "read {reads}: the value of another state than label {i}");
                }
                other => panic!("{other:?}"),
            }
            reads += 1;
        }
        reads
    });
    assert!(reads > 0);
    eprintln!("{reads} reads during 300 rewrites, each of one state");
}
