//! Store integrity: an attacker who can write the database file (with
//! nothing but SQL: no PIN, no token key) edits it between two legitimate
//! sessions. Each attack of issue 13 is done here on a real store file and
//! the outcome asserted: the object is refused with CKR_GENERAL_ERROR (a
//! find leaves it out), never used as edited, never exported.

#[macro_use]
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use rusqlite::params;

use common::*;

const CKA_CLASS: i64 = 0x0;
const CKA_VALUE: i64 = 0x11;
const CKA_SENSITIVE: i64 = 0x103;
const CKA_EXTRACTABLE: i64 = 0x162;

fn db(w: &World) -> rusqlite::Connection {
    rusqlite::Connection::open(&w.db).unwrap()
}

/// A fresh store with one token "t": `make` creates its objects in a user
/// session, then the module is closed, so that the file can be edited.
fn setup<T>(make: impl FnOnce(&Session) -> T) -> (World, cryptoki::slot::Slot, T) {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "t");
    let s = user_session(&p, slot);
    let made = make(&s);
    drop(s);
    drop(p);
    (w, slot, made)
}

/// Writes a row as the attacker would: value in the clear, marked unsealed.
fn plant(w: &World, obj: ObjectHandle, atype: i64, value: &[u8]) {
    let n = db(w)
        .execute(
            "UPDATE attrs SET sealed = 0, value = ?1 WHERE obj_id = ?2 AND atype = ?3",
            params![value, obj.handle() as i64, atype],
        )
        .unwrap();
    assert_eq!(n, 1, "row {atype:#x} of object {}", obj.handle());
}

fn sealed(w: &World, obj: ObjectHandle, atype: i64) -> bool {
    db(w)
        .query_row(
            "SELECT sealed FROM attrs WHERE obj_id = ?1 AND atype = ?2",
            params![obj.handle() as i64, atype],
            |r| r.get(0),
        )
        .unwrap()
}

/// A fresh process's view: the module loaded again, the user logged in.
/// The store is edited only while no module has it open (two SQLite
/// copies in one process do not see each other's locks).
fn next_session(slot: cryptoki::slot::Slot) -> (Module, Session) {
    let p = load();
    let s = user_session(&p, slot);
    (p, s)
}

/// An AES-256 token key, public (CKA_PRIVATE false) or not, sensitive and
/// extractable as given.
fn aes_key(s: &Session, label: &str, private: bool, sensitive: bool, extractable: bool) -> ObjectHandle {
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Sensitive(sensitive),
            Attribute::Extractable(extractable),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::ValueLen(32.into()),
            Attribute::Label(label.into()),
        ],
    )
    .unwrap()
}

/// CKA_VALUE, or None when it may not be read (sensitive).
fn value_of(s: &Session, o: ObjectHandle) -> Result<Option<Vec<u8>>, cryptoki::error::Error> {
    match s.get_attributes(o, &[AttributeType::Value])?.pop() {
        Some(Attribute::Value(v)) => Ok(Some(v)),
        None => Ok(None),
        other => panic!("not a value: {other:?}"),
    }
}

fn encrypt(s: &Session, key: ObjectHandle) -> Result<Vec<u8>, cryptoki::error::Error> {
    s.encrypt(&Mechanism::AesEcb, key, &[0u8; 16])
}

/// A wrapping key that may wrap anything extractable.
fn kek(s: &Session) -> ObjectHandle {
    aes_token_key(s, "kek", b"kek", false, true, vec![])
}

#[test]
fn unsealed_flags_do_not_make_a_non_extractable_key_exportable() {
    let (w, slot, (key, wrapping, before)) = setup(|s| {
        let key = aes_token_key(s, "secret", b"1", false, true, vec![]);
        let wrapping = kek(s);
        let before = encrypt(s, key).unwrap();
        assert_eq!(value_of(s, key).unwrap(), None, "sensitive");
        (key, wrapping, before)
    });
    assert!(sealed(&w, key, CKA_EXTRACTABLE) && sealed(&w, key, CKA_SENSITIVE));

    plant(&w, key, CKA_EXTRACTABLE, &[1]);
    plant(&w, key, CKA_SENSITIVE, &[0]);
    let (_p, s) = next_session(slot);
    assert_eq!(rv(value_of(&s, key)), RvError::GeneralError);
    assert_eq!(rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, key)), RvError::GeneralError);
    assert_eq!(rv(encrypt(&s, key)), RvError::GeneralError);
    assert!(s.find_objects(&[Attribute::Label(b"secret".to_vec())]).unwrap().is_empty());
    // The other keys are untouched.
    assert!(encrypt(&s, wrapping).is_ok());
    assert_ne!(before, Vec::<u8>::new());
}

#[test]
fn a_sealed_flag_copied_from_another_key_does_not_open() {
    let (w, slot, (locked, open)) = setup(|s| {
        let locked = aes_token_key(s, "locked", b"1", false, true, vec![]);
        let open = aes_token_key(s, "open", b"2", true, true, vec![]);
        (locked, open)
    });
    let c = db(&w);
    let v: Vec<u8> = c
        .query_row(
            "SELECT value FROM attrs WHERE obj_id = ?1 AND atype = ?2",
            params![open.handle() as i64, CKA_EXTRACTABLE],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE attrs SET value = ?1 WHERE obj_id = ?2 AND atype = ?3",
        params![v, locked.handle() as i64, CKA_EXTRACTABLE],
    )
    .unwrap();
    drop(c);
    let (_p, s) = next_session(slot);
    assert_eq!(rv(value_of(&s, locked)), RvError::GeneralError);
    assert_eq!(rv(encrypt(&s, locked)), RvError::GeneralError);
    assert!(encrypt(&s, open).is_ok());
}

#[test]
fn a_class_row_moved_to_another_object_exports_nothing() {
    let (w, slot, (key, other)) = setup(|s| {
        let key = aes_token_key(s, "secret", b"1", false, false, vec![]);
        let other = aes_token_key(s, "other", b"2", false, false, vec![]);
        (key, other)
    });
    let c = db(&w);
    c.execute("DELETE FROM attrs WHERE obj_id = ?1 AND atype = ?2", params![other.handle() as i64, CKA_CLASS]).unwrap();
    c.execute(
        "UPDATE attrs SET obj_id = ?1 WHERE obj_id = ?2 AND atype = ?3",
        params![other.handle() as i64, key.handle() as i64, CKA_CLASS],
    )
    .unwrap();
    drop(c);
    let (_p, s) = next_session(slot);
    assert_eq!(rv(value_of(&s, key)), RvError::GeneralError);
    assert_eq!(rv(value_of(&s, other)), RvError::GeneralError);
    assert_eq!(rv(encrypt(&s, key)), RvError::GeneralError);
}

#[test]
fn a_planted_key_value_is_never_used() {
    let (w, slot, key) = setup(|s| aes_token_key(s, "secret", b"1", false, false, vec![]));
    plant(&w, key, CKA_VALUE, &[0x41; 32]);
    let (_p, s) = next_session(slot);
    assert_eq!(rv(encrypt(&s, key)), RvError::GeneralError);
    assert_eq!(rv(s.decrypt(&Mechanism::AesEcb, key, &[0u8; 16])), RvError::GeneralError);
}

#[test]
fn a_deleted_flag_row_or_an_added_row_is_refused() {
    let (w, slot, (key, key2)) = setup(|s| {
        let key = aes_token_key(s, "a", b"1", false, false, vec![]);
        let key2 = aes_token_key(s, "b", b"2", false, false, vec![]);
        (key, key2)
    });
    let c = db(&w);
    c.execute("DELETE FROM attrs WHERE obj_id = ?1 AND atype = ?2", params![key.handle() as i64, CKA_SENSITIVE])
        .unwrap();
    // CKA_MODULUS: an attribute no secret key has.
    c.execute(
        "INSERT INTO attrs (obj_id, atype, sealed, value) VALUES (?1, 0x120, 0, x'00')",
        params![key2.handle() as i64],
    )
    .unwrap();
    drop(c);
    let (_p, s) = next_session(slot);
    assert_eq!(rv(value_of(&s, key)), RvError::GeneralError);
    assert_eq!(rv(encrypt(&s, key)), RvError::GeneralError);
    assert_eq!(rv(encrypt(&s, key2)), RvError::GeneralError);
}

#[test]
fn a_private_data_object_value_cannot_be_replaced() {
    let (w, slot, data) = setup(|s| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(b"config".to_vec()),
            Attribute::Value(b"the real value".to_vec()),
        ])
        .unwrap()
    });
    plant(&w, data, CKA_VALUE, b"the attacker's value");
    let (_p, s) = next_session(slot);
    assert_eq!(rv(value_of(&s, data)), RvError::GeneralError);
}

#[test]
fn flags_of_a_public_key_in_clear_are_authenticated() {
    let (w, slot, (key, wrapping)) = setup(|s| {
        let key = aes_key(s, "public-flags", false, true, false);
        let wrapping = kek(s);
        (key, wrapping)
    });
    // Stored in the clear (the object is public), so editable in place.
    assert!(!sealed(&w, key, CKA_EXTRACTABLE));
    assert!(sealed(&w, key, CKA_VALUE));
    let c = db(&w);
    c.execute(
        "UPDATE attrs SET value = x'01' WHERE obj_id = ?1 AND atype = ?2",
        params![key.handle() as i64, CKA_EXTRACTABLE],
    )
    .unwrap();
    drop(c);

    // Without a login its attributes can be read, but the tag cannot be
    // checked, so it cannot be used.
    let p = load();
    let public = p.open_rw_session(slot).unwrap();
    let label = public.get_attributes(key, &[AttributeType::Label]).unwrap();
    assert_eq!(label, vec![Attribute::Label(b"public-flags".to_vec())]);
    assert_eq!(rv(encrypt(&public, key)), RvError::UserNotLoggedIn);
    drop(public);

    let (_p, s) = next_session(slot);
    assert_eq!(rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, key)), RvError::GeneralError);
    assert_eq!(rv(s.get_attributes(key, &[AttributeType::Extractable])), RvError::GeneralError);
    assert_eq!(rv(encrypt(&s, key)), RvError::GeneralError);
}

#[test]
fn an_untampered_public_key_is_usable_after_login_only() {
    let _w = world("");
    let p = load();
    let slot = init_token(&p, "t");
    let s = user_session(&p, slot);
    let key = aes_key(&s, "pub", false, true, false);
    drop(s);
    drop(p);
    let p = load();
    let public = p.open_rw_session(slot).unwrap();
    assert_eq!(public.find_objects(&[Attribute::Label(b"pub".to_vec())]).unwrap(), vec![key]);
    assert_eq!(rv(encrypt(&public, key)), RvError::UserNotLoggedIn);
    public.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert!(encrypt(&public, key).is_ok());
}

#[test]
fn a_changed_class_of_a_public_object_is_refused() {
    let (w, slot, data) = setup(|s| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(b"d".to_vec()),
            Attribute::Value(vec![7; 16]),
        ])
        .unwrap()
    });
    // CKO_DATA (0) becomes CKO_SECRET_KEY (4).
    let four = 4u64.to_ne_bytes().to_vec();
    let c = db(&w);
    c.execute("UPDATE attrs SET value = ?1 WHERE obj_id = ?2 AND atype = 0", params![four, data.handle() as i64])
        .unwrap();
    drop(c);
    let p = load();
    let public = p.open_ro_session(slot).unwrap();
    // Even unverified (no login), a secret key without key type or flags is
    // refused as incomplete.
    assert_eq!(rv(public.get_attributes(data, &[AttributeType::Label])), RvError::GeneralError);
    drop(public);
    let (_p, s) = next_session(slot);
    assert_eq!(rv(s.get_attributes(data, &[AttributeType::Label])), RvError::GeneralError);
}

#[test]
fn objects_moved_between_tokens_are_refused() {
    let w = world("[slots]\ncount = 2\n");
    let p = load();
    let a = init_token(&p, "a");
    let b = init_token(&p, "b");
    let s = user_session(&p, a);
    let key = aes_token_key(&s, "from-a", b"1", false, false, vec![]);
    let public = aes_key(&s, "public-from-a", false, true, false);
    drop(s);
    drop(p);
    let c = db(&w);
    let tb: i64 = c.query_row("SELECT token_id FROM tokens WHERE slot_id = ?1", [b.id() as i64], |r| r.get(0)).unwrap();
    c.execute(
        "UPDATE objects SET token_id = ?1 WHERE obj_id IN (?2, ?3)",
        params![tb, key.handle() as i64, public.handle() as i64],
    )
    .unwrap();
    drop(c);
    let (_p, s) = next_session(b);
    assert_eq!(rv(encrypt(&s, key)), RvError::GeneralError);
    assert_eq!(rv(encrypt(&s, public)), RvError::GeneralError);
    assert!(s.find_objects(&[Attribute::Id(b"1".to_vec())]).unwrap().is_empty());
}

#[test]
fn a_row_rolled_back_to_an_earlier_state_is_refused() {
    let (w, slot, key) = setup(|s| aes_key(s, "v1", false, false, true));
    let old_extractable: Vec<u8> = db(&w)
        .query_row(
            "SELECT value FROM attrs WHERE obj_id = ?1 AND atype = ?2",
            params![key.handle() as i64, CKA_EXTRACTABLE],
            |r| r.get(0),
        )
        .unwrap();
    let (p, s) = next_session(slot);
    s.update_attributes(key, &[Attribute::Extractable(false)]).unwrap();
    assert_eq!(value_of(&s, key).unwrap(), None, "no longer extractable");
    drop(s);
    drop(p);
    // The old row (extractable) put back: a one-way flag undone.
    db(&w)
        .execute(
            "UPDATE attrs SET value = ?1 WHERE obj_id = ?2 AND atype = ?3",
            params![old_extractable, key.handle() as i64, CKA_EXTRACTABLE],
        )
        .unwrap();
    let (_p, s) = next_session(slot);
    assert_eq!(rv(value_of(&s, key)), RvError::GeneralError);
}

#[test]
fn a_removed_tag_is_not_a_legacy_object() {
    let (w, slot, key) = setup(|s| aes_token_key(s, "k", b"1", false, false, vec![]));
    plant(&w, key, CKA_EXTRACTABLE, &[1]);
    plant(&w, key, CKA_SENSITIVE, &[0]);
    db(&w).execute("UPDATE objects SET tag = NULL, version = 0", []).unwrap();
    // The next login (format-6 PIN record) authenticates nothing: the
    // untagged object stays refused.
    let (_p, s) = next_session(slot);
    assert_eq!(rv(value_of(&s, key)), RvError::GeneralError);
    let untagged: i64 = db(&w).query_row("SELECT count(*) FROM objects WHERE tag IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(untagged, 1);
}

#[test]
fn a_legacy_store_is_authenticated_at_first_login_refusing_unsealed_secrets() {
    let (w, slot, (good, bad, ct)) = setup(|s| {
        let good = aes_token_key(s, "good", b"1", false, false, vec![]);
        let bad = aes_token_key(s, "bad", b"2", false, false, vec![]);
        let ct = encrypt(s, good).unwrap();
        (good, bad, ct)
    });
    make_legacy(&w.db, SO_PIN, Some(USER_PIN), 5);
    // Tampered before the upgrade: a secret value in the clear.
    db(&w)
        .execute(
            "UPDATE attrs SET sealed = 0, value = ?1 WHERE obj_id = ?2 AND atype = ?3",
            params![vec![0x41u8; 32], bad.handle() as i64, CKA_VALUE],
        )
        .unwrap();
    let p = load();
    let s = user_session(&p, slot);
    assert_eq!(encrypt(&s, good).unwrap(), ct);
    assert_eq!(rv(encrypt(&s, bad)), RvError::GeneralError);
    drop(s);
    let c = db(&w);
    let user_record: Vec<u8> = c.query_row("SELECT user_wrapped FROM tokens", [], |r| r.get(0)).unwrap();
    assert_eq!(user_record.len(), 48, "the user's PIN record rewritten in format 6");
    let untagged: Vec<i64> = c
        .prepare("SELECT obj_id FROM objects WHERE tag IS NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(untagged, vec![bad.handle() as i64]);
    // A later SO login (its record still of the old format) authenticates
    // nothing more: the refused object stays refused.
    drop(c);
    let so = p.open_rw_session(slot).unwrap();
    so.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    drop(so);
    let (p, s) = next_session(slot);
    assert_eq!(rv(encrypt(&s, bad)), RvError::GeneralError);
    drop(s);
    drop(p);
    // Verification names the one refused object; the digest holds the rest.
    let (code, out) = store_verify(&w, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused: 1, object-set digest matches (1 objects)"), "{out}");
}

/// One value from a query, read by another process.
fn sql(db: &std::path::Path, query: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])"])
        .arg(db)
        .arg(query)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A process that holds the store's write lock until killed.
fn hold_write_lock(db: &std::path::Path) -> std::process::Child {
    use std::io::BufRead;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); \
             c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read()",
        ])
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held");
    child
}

#[test]
fn a_failed_login_is_counted_or_gets_no_verdict_while_the_store_is_locked() {
    let w = world("");
    // A short wait for the lock (world() wrote the [store] section).
    let conf = std::fs::read_to_string(&w.conf).unwrap().replace("[store]\n", "[store]\nbusy_timeout_ms = 300\n");
    std::fs::write(&w.conf, conf).unwrap();
    let p = load();
    let slot = init_token(&p, "t");
    drop(p);
    // Read by another process while the module is loaded here (two SQLite
    // copies in one process would not see each other's locks).
    let fails = || -> i64 { sql(&w.db, "SELECT user_fail FROM tokens").parse().unwrap() };

    // Another process holds the write lock (a process of its own: POSIX
    // locks do not conflict within one process).
    let mut holder = hold_write_lock(&w.db);
    // Opening the module needs no write.
    let p = load();
    let s = p.open_rw_session(slot).unwrap();
    // No verdict either way: the count could not be written.
    assert_eq!(rv(s.login(UserType::User, Some(&pin("wrong-pin")))), RvError::DeviceError);
    assert_eq!(rv(s.login(UserType::User, Some(&pin(USER_PIN)))), RvError::DeviceError);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(fails(), 0);

    assert_eq!(rv(s.login(UserType::User, Some(&pin("wrong-pin")))), RvError::PinIncorrect);
    assert_eq!(fails(), 1, "counted before the call returned");
    let audited: i64 = sql(&w.db, "SELECT count(*) FROM audit WHERE body LIKE '%login-failed%'").parse().unwrap();
    assert_eq!(audited, 1);
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(fails(), 0);
}

/// `ferrohsm store verify` on the test's store: (exit code, stdout).
fn store_verify(w: &World, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrohsm"))
        .args(["store", "verify"])
        .args(extra)
        .env("FERROHSM_CONF", &w.conf)
        .env("FERROHSM_USER_PIN", USER_PIN)
        .env("FERROHSM_SO_PIN", SO_PIN)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Everything stored about one object: its version and tag, and its rows.
type Snapshot = ((i64, Vec<u8>), Vec<(i64, bool, Vec<u8>, Option<Vec<u8>>)>);

fn snapshot(w: &World, o: ObjectHandle) -> Snapshot {
    let c = db(w);
    let head = c
        .query_row("SELECT version, tag FROM objects WHERE obj_id = ?1", [o.handle() as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let rows = c
        .prepare("SELECT atype, sealed, value, idx FROM attrs WHERE obj_id = ?1")
        .unwrap()
        .query_map([o.handle() as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    (head, rows)
}

fn restore(w: &World, o: ObjectHandle, snap: &Snapshot) {
    let c = db(w);
    let id = o.handle() as i64;
    c.execute("DELETE FROM attrs WHERE obj_id = ?1", [id]).unwrap();
    for (atype, sealed, value, idx) in &snap.1 {
        c.execute(
            "INSERT INTO attrs (obj_id, atype, sealed, value, idx) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, atype, sealed, value, idx],
        )
        .unwrap();
    }
    c.execute("UPDATE objects SET version = ?1, tag = ?2 WHERE obj_id = ?3", params![snap.0 .0, snap.0 .1, id])
        .unwrap();
}

#[test]
fn store_verify_passes_after_every_kind_of_write() {
    let (w, _, ()) = setup(|s| {
        let a = aes_key(s, "a", true, true, false);
        let b = aes_key(s, "b", false, false, true);
        s.update_attributes(b, &[Attribute::Label(b"b2".to_vec()), Attribute::Extractable(false)]).unwrap();
        let c = s.copy_object(a, &[Attribute::Label(b"copy".to_vec())]).unwrap();
        s.destroy_object(c).unwrap();
        let data = s
            .create_object(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(true),
                Attribute::Value(vec![1, 2, 3]),
            ])
            .unwrap();
        s.update_attributes(data, &[Attribute::Value(vec![4, 5])]).unwrap();
    });
    let (code, out) = store_verify(&w, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("objects: 3, refused: 0, object-set digest matches (3 objects)"), "{out}");
    let (code, out) = store_verify(&w, &["--so"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_object_rolled_back_whole_is_found_by_store_verify() {
    let (w, slot, (key, other)) = setup(|s| {
        let key = aes_key(s, "k", false, false, true);
        let other = aes_key(s, "other", true, true, false);
        (key, other)
    });
    let extractable = snapshot(&w, key);
    let (_p, s) = next_session(slot);
    s.update_attributes(key, &[Attribute::Extractable(false)]).unwrap();
    drop(s);
    drop(_p);
    // The whole object put back as it was (rows, version, tag): each read
    // of it alone cannot tell (its tag is its own, and valid) ...
    restore(&w, key, &extractable);
    let (_p, s) = next_session(slot);
    assert!(value_of(&s, key).unwrap().is_some(), "a whole-object rollback passes a single read");
    // ... but the token's object-set digest no longer matches, and no write
    // to the token re-tags it as if nothing happened... until verified.
    drop(s);
    drop(_p);
    let (code, out) = store_verify(&w, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does NOT match the objects"), "{out}");
    assert!(out.contains("store INVALID"), "{out}");
    let _ = other;
}

#[test]
fn a_deleted_object_is_found_by_store_verify() {
    let w2 = world("");
    let p = load();
    let slot = init_token(&p, "t");
    let s = user_session(&p, slot);
    let gone = aes_key(&s, "gone", true, true, false);
    drop(s);
    drop(p);
    assert_eq!(store_verify(&w2, &[]).0, 0);
    db(&w2).execute("DELETE FROM objects WHERE obj_id = ?1", [gone.handle() as i64]).unwrap();
    let (code, out) = store_verify(&w2, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("records 1 objects"), "{out}");
}

#[test]
fn an_edited_object_digest_stops_every_write_to_the_token() {
    let (w, slot, key) = setup(|s| aes_key(s, "k", true, true, false));
    db(&w).execute("UPDATE tokens SET objects_count = objects_count + 1", []).unwrap();
    let (_p, s) = next_session(slot);
    // Reads and uses go on; a write would re-tag an edited digest: refused.
    assert!(encrypt(&s, key).is_ok());
    assert_eq!(rv(s.update_attributes(key, &[Attribute::Label(b"x".to_vec())])), RvError::GeneralError);
    let create = s.create_object(&[Attribute::Class(ObjectClass::DATA), Attribute::Token(true)]);
    assert_eq!(rv(create), RvError::GeneralError);
    drop(s);
    drop(_p);
    let (code, out) = store_verify(&w, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILS its authentication tag"), "{out}");
}

const CKA_LABEL: i64 = 0x3;

fn index_entry(w: &World, obj: ObjectHandle, atype: i64) -> Option<Vec<u8>> {
    db(w)
        .query_row("SELECT idx FROM attrs WHERE obj_id = ?1 AND atype = ?2", params![obj.handle() as i64, atype], |r| {
            r.get(0)
        })
        .unwrap()
}

fn set_index_entry(w: &World, obj: ObjectHandle, atype: i64, idx: Option<&[u8]>) {
    let n = db(w)
        .execute("UPDATE attrs SET idx = ?1 WHERE obj_id = ?2 AND atype = ?3", params![idx, obj.handle() as i64, atype])
        .unwrap();
    assert_eq!(n, 1);
}

/// Find-index entries are not covered by an object's tag: one copied from
/// another object never makes a find name the wrong key (every candidate
/// is compared in full), and `store verify` reports every edited entry —
/// copied, removed or flipped — naming the object and the attribute.
#[test]
fn an_edited_find_index_entry_never_names_another_object_and_store_verify_finds_it() {
    for private in [true, false] {
        let (w, slot, (a, b, c)) = setup(|s| {
            (
                aes_key(s, "alpha", private, true, false),
                aes_key(s, "beta", private, true, false),
                aes_key(s, "gamma", private, true, false),
            )
        });
        assert_eq!(store_verify(&w, &[]).0, 0);
        // b's label entry replaced by a's: a find for "alpha" gets b as a
        // candidate, which is compared in full and left out.
        let alpha = index_entry(&w, a, CKA_LABEL).expect("labels are indexed");
        set_index_entry(&w, b, CKA_LABEL, Some(&alpha));
        // c's entry removed, and a's flipped.
        set_index_entry(&w, c, CKA_LABEL, None);
        let mut flipped = alpha.clone();
        flipped[0] ^= 1;
        set_index_entry(&w, a, CKA_LABEL, Some(&flipped));
        let (p, s) = next_session(slot);
        assert!(s.find_objects(&[Attribute::Label(b"alpha".to_vec())]).unwrap().is_empty(), "private={private}");
        assert!(s.find_objects(&[Attribute::Label(b"beta".to_vec())]).unwrap().is_empty());
        // The objects themselves are intact and usable by handle.
        for k in [a, b, c] {
            assert!(encrypt(&s, k).is_ok());
        }
        drop(s);
        drop(p);
        let (code, out) = store_verify(&w, &[]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("refused: 3"), "{out}");
        assert_eq!(out.matches("find-index entry of attribute 0x3 does not match").count(), 3, "{out}");
    }
}

/// A sealed value moved from one object to another (same attribute, same
/// token) does not open: the seal is bound to its object.
#[test]
fn a_sealed_value_moved_to_another_object_is_refused_and_never_decrypts_as_it() {
    let (w, slot, (a, b, ct_b)) = setup(|s| {
        let a = aes_key(s, "a", true, true, false);
        let b = aes_key(s, "b", true, true, false);
        (a, b, encrypt(s, b).unwrap())
    });
    let value_a: Vec<u8> = db(&w)
        .query_row(
            "SELECT value FROM attrs WHERE obj_id = ?1 AND atype = ?2",
            params![a.handle() as i64, CKA_VALUE],
            |r| r.get(0),
        )
        .unwrap();
    db(&w)
        .execute(
            "UPDATE attrs SET value = ?1 WHERE obj_id = ?2 AND atype = ?3",
            params![value_a, b.handle() as i64, CKA_VALUE],
        )
        .unwrap();
    let (_p, s) = next_session(slot);
    assert_eq!(rv(encrypt(&s, b)), RvError::GeneralError);
    assert_eq!(rv(s.decrypt(&Mechanism::AesEcb, b, &ct_b)), RvError::GeneralError);
    assert!(encrypt(&s, a).is_ok());
}

/// The new key types are sealed as the policy table says: a DES3 key's
/// value and a DSA or DH private key's x are sealed even on objects with
/// CKA_PRIVATE false; p, q, g and a public key's y are not. A planted
/// DES3 value (in the clear, marked unsealed) is refused.
#[test]
fn des_dsa_dh_secret_values_are_sealed() {
    use common::dlog::{key_pair, Opts};
    const CKA_PRIME: i64 = 0x130;
    let vs = common::vectors::vectors("dsa_sigver_fips186_3.txt");
    let g: Vec<Vec<u8>> = vs[0][2..5].iter().map(|h| common::vectors::unhex(h)).collect();
    let (w, slot, (des3, dsa_pub, dsa_priv, dh_priv)) = setup(|s| {
        let des3 = s
            .generate_key(
                &Mechanism::Des3KeyGen,
                &[Attribute::Token(true), Attribute::Private(false), Attribute::Encrypt(true)],
            )
            .unwrap();
        let r = common::dlog::raw_of(&module_path());
        let opts = Opts { token: true, private: false, ..Opts::default() };
        let (rv, dsa_pub, dsa_priv) = key_pair(&r, s.handle(), &g[0], Some(&g[1]), &g[2], None, &opts);
        assert_eq!(rv, 0);
        let (rv, _, dh_priv) = key_pair(&r, s.handle(), &g[0], None, &[2], None, &opts);
        assert_eq!(rv, 0);
        let h = |o| unsafe { ObjectHandle::new_from_raw(o) };
        (des3, h(dsa_pub), h(dsa_priv), h(dh_priv))
    });
    assert!(sealed(&w, des3, CKA_VALUE));
    assert!(sealed(&w, dsa_priv, CKA_VALUE) && sealed(&w, dh_priv, CKA_VALUE));
    assert!(!sealed(&w, dsa_priv, CKA_PRIME) && !sealed(&w, dsa_pub, CKA_PRIME));
    assert!(!sealed(&w, dsa_pub, CKA_VALUE), "y is public");
    plant(&w, des3, CKA_VALUE, &[0x01; 24]);
    let (_p, s) = next_session(slot);
    assert_eq!(rv(s.encrypt(&Mechanism::Des3Ecb, des3, &[0u8; 8])), RvError::GeneralError);
}
