//! Store integrity for KMS master keys and aliases, through the `ferrohsm`
//! CLI (each command a process of its own): an attacker who can write the
//! database file edits it between commands.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{init_token, load, world, World, SO_PIN, USER_PIN};
use rusqlite::params;

fn cli(conf: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrohsm"))
        .args(args)
        .env("FERROHSM_CONF", conf)
        .env("FERROHSM_USER_PIN", USER_PIN)
        .env("FERROHSM_SO_PIN", SO_PIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::feed(child.stdin.take().unwrap(), stdin.unwrap_or_default());
    child.wait_with_output().unwrap()
}

fn ok(o: Output) -> Vec<u8> {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn text(o: Output) -> String {
    String::from_utf8(ok(o)).unwrap().trim().to_string()
}

/// Fails with the store's integrity error (CKR_GENERAL_ERROR), exit 1.
fn refused(o: Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("General"), "{err}");
}

fn token() -> World {
    let w = world("");
    let p = load();
    init_token(&p, "kms");
    drop(p);
    w
}

/// The store id of the object with this CKA_UNIQUE_ID (hex).
fn obj_id(w: &World, uid: &str) -> i64 {
    let c = rusqlite::Connection::open(&w.db).unwrap();
    c.query_row("SELECT obj_id FROM objects WHERE lower(hex(uid)) = ?1", [uid], |r| r.get(0)).unwrap()
}

fn plant(w: &World, id: i64, atype: i64, value: &[u8]) {
    let c = rusqlite::Connection::open(&w.db).unwrap();
    let n = c
        .execute("UPDATE attrs SET sealed = 0, value = ?1 WHERE obj_id = ?2 AND atype = ?3", params![value, id, atype])
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_master_key_made_extractable_in_the_file_is_refused_everywhere() {
    let w = token();
    let c = &w.conf;
    let key = text(cli(c, &["key", "create", "--label", "m"], None));
    let ct = ok(cli(c, &["encrypt", "--key", &key], Some(b"old secret")));
    let id = obj_id(&w, &key);
    plant(&w, id, 0x162, &[1]); // CKA_EXTRACTABLE
    plant(&w, id, 0x103, &[0]); // CKA_SENSITIVE
    refused(cli(c, &["encrypt", "--key", &key], Some(b"x")));
    refused(cli(c, &["decrypt"], Some(&ct)));
    refused(cli(c, &["key", "describe", &key], None));
    let out = cli(c, &["store", "verify"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("refused: 1"));
}

#[test]
fn an_alias_pointed_at_another_key_in_the_file_is_refused() {
    let w = token();
    let c = &w.conf;
    let a = text(cli(c, &["key", "create", "--label", "a", "--alias", "alias/app"], None));
    let b = text(cli(c, &["key", "create", "--label", "b"], None));
    let alias: i64 = {
        let db = rusqlite::Connection::open(&w.db).unwrap();
        // The alias object is the one data object.
        db.query_row(
            "SELECT o.obj_id FROM objects o WHERE NOT EXISTS (SELECT 1 FROM attrs WHERE obj_id = o.obj_id AND atype = 0x100)",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_ne!(a, b);
    plant(&w, alias, 0x11, b.as_bytes()); // CKA_VALUE: the target key id
    refused(cli(c, &["encrypt", "--key", "alias/app"], Some(b"x")));
    // The keys themselves are untouched.
    ok(cli(c, &["encrypt", "--key", &a], Some(b"x")));
    ok(cli(c, &["encrypt", "--key", &b], Some(b"x")));
}

#[test]
fn store_verify_passes_after_kms_management() {
    let w = token();
    let c = &w.conf;
    let a = text(cli(c, &["key", "create", "--label", "a", "--alias", "alias/a"], None));
    let b = text(cli(c, &["key", "create", "--label", "b"], None));
    ok(cli(c, &["key", "rotate", &a], None));
    ok(cli(c, &["alias", "update", "alias/a", &b], None));
    ok(cli(c, &["alias", "create", "alias/b", &a], None));
    ok(cli(c, &["alias", "delete", "alias/b"], None));
    ok(cli(c, &["key", "disable", &b], None));
    ok(cli(c, &["key", "enable", &b], None));
    ok(cli(c, &["key", "schedule-deletion", &a, "--days", "7"], None));
    let out = text(cli(c, &["store", "verify"], None));
    assert!(out.contains("refused: 0, object-set digest matches (3 objects)"), "{out}");
    assert!(out.ends_with("store intact"), "{out}");
}

#[test]
fn a_key_change_and_its_audit_record_commit_together() {
    let w = token();
    let conf = std::fs::read_to_string(&w.conf).unwrap().replace("[store]\n", "[store]\nbusy_timeout_ms = 300\n");
    std::fs::write(&w.conf, conf).unwrap();
    let c = &w.conf;
    let key = text(cli(c, &["key", "create"], None));
    let records = || -> usize {
        let out = text(cli(c, &["audit", "show", "--key", &key, "--json"], None));
        out.lines().filter(|l| l.contains("\"rotate\"")).count()
    };
    // Another process holds the write lock: the rotation fails whole.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); \
             c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read()",
        ])
        .arg(&w.db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "held");
    let o = cli(c, &["key", "rotate", &key], None);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    holder.kill().unwrap();
    holder.wait().unwrap();
    let d: serde_json::Value = serde_json::from_str(&text(cli(c, &["key", "describe", &key, "--json"], None))).unwrap();
    assert_eq!(d["CurrentVersion"], 1, "{d}");
    assert_eq!(records(), 0);
    // Unlocked: the change and its record, once each.
    ok(cli(c, &["key", "rotate", &key], None));
    assert_eq!(records(), 1);
}
