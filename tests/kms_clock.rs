//! Time-dependent KMS behaviour: automatic rotation when due and purge after
//! the deletion window. Only builds with `--features test-clock`, whose
//! clock honours FERROHSM_TEST_CLOCK_OFFSET (release builds have no such
//! hook); `.ci/test` runs it that way.
#![cfg(feature = "test-clock")]

#[macro_use]
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::ptr::null_mut;

use common::kms::Kms;
use common::raw::*;
use cryptoki_sys::*;
use ferrohsm::vendor::*;

const DAY: i64 = 86_400;

fn cli(conf: &Path, offset_days: i64, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrohsm"));
    c.args(args)
        .env("FERROHSM_CONF", conf)
        .env("FERROHSM_USER_PIN", common::USER_PIN)
        .env("FERROHSM_TEST_CLOCK_OFFSET", (offset_days * DAY).to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    common::feed(child.stdin.take().unwrap(), stdin.unwrap_or_default());
    child.wait_with_output().unwrap()
}

fn out(o: Output) -> Vec<u8> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn set_offset(days: i64) {
    std::env::set_var("FERROHSM_TEST_CLOCK_OFFSET", (days * DAY).to_string());
}

#[test]
fn automatic_rotation_and_purge_after_the_window_through_the_abi() {
    let _w = common::world("");
    set_offset(0);
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let k = Kms::new(r, h);
    let key = k.key();
    k.set_rotation(&key, 90).unwrap();
    let old = k.encrypt(&key, &[], b"old").unwrap();
    set_offset(89);
    k.encrypt(&key, &[], b"x").unwrap();
    assert_eq!(k.describe(&key).unwrap()["CurrentVersion"], 1, "not due yet");
    set_offset(91);
    let new = k.encrypt(&key, &[], b"new").unwrap();
    assert_eq!(u32::from_be_bytes(new[22..26].try_into().unwrap()), 2, "rotated when next used");
    assert_eq!(k.describe(&key).unwrap()["CurrentVersion"], 2);
    assert_eq!(k.decrypt(&[], &old).unwrap(), b"old");
    k.encrypt(&key, &[], b"x").unwrap();
    assert_eq!(k.describe(&key).unwrap()["CurrentVersion"], 2, "once per period");
    assert!(k.audit(Some(&key)).iter().any(|r| r["event"] == "rotate" && r["detail"] == "automatic"));
    // Deletion: unusable in the window, purged after it.
    let doomed = k.key();
    k.alias("alias/doomed", &doomed, false).unwrap();
    k.schedule(&doomed, 7).unwrap();
    set_offset(91 + 6);
    assert_eq!(k.describe(&doomed).unwrap()["KeyState"], "PendingDeletion");
    set_offset(91 + 8);
    assert_eq!(k.describe(&doomed), Err(CKR_FHSM_NOT_FOUND));
    assert_eq!(k.describe("alias/doomed"), Err(CKR_FHSM_NOT_FOUND), "its aliases go with it");
    assert!(k.audit(Some(&doomed)).iter().any(|r| r["event"] == "purge"));
    // A key whose window passes while nobody uses it goes at the next login.
    let idle = k.key();
    k.schedule(&idle, 7).unwrap();
    assert_eq!(call!(k.r, C_Logout(k.h)), CKR_OK);
    set_offset(91 + 8 + 8);
    let (p, n) = pin_args(common::USER_PIN);
    assert_eq!(call!(k.r, C_Login(k.h, CKU_USER, p, n)), CKR_OK);
    let list = k.list().unwrap();
    assert!(list.as_array().unwrap().iter().all(|d| d["KeyId"] != idle.as_str()));
    assert!(k.audit(Some(&idle)).iter().any(|r| r["event"] == "purge"));
    assert_eq!(call!(k.r, C_Finalize(null_mut())), CKR_OK);
    set_offset(0);
}

#[test]
fn automatic_rotation_and_purge_through_the_cli() {
    let w = common::world("");
    set_offset(0);
    let p = common::load();
    common::init_token(&p, "clock");
    p.finalize().unwrap();
    let c = &w.conf;
    let key = String::from_utf8(out(cli(c, 0, &["key", "create", "--rotation-days", "365"], None)))
        .unwrap()
        .trim()
        .to_string();
    let v1 = out(cli(c, 0, &["encrypt", "--key", &key], Some(b"year one")));
    let v2 = out(cli(c, 366, &["encrypt", "--key", &key], Some(b"year two")));
    assert_eq!(u32::from_be_bytes(v2[22..26].try_into().unwrap()), 2);
    let f = w.dir.path().join("v1");
    std::fs::write(&f, &v1).unwrap();
    assert_eq!(out(cli(c, 366, &["decrypt", "--in", f.to_str().unwrap()], None)), b"year one");
    let d: serde_json::Value =
        serde_json::from_slice(&out(cli(c, 366, &["key", "describe", &key, "--json"], None))).unwrap();
    assert_eq!(d["Versions"].as_array().unwrap().len(), 2);
    out(cli(c, 366, &["key", "schedule-deletion", &key, "--days", "30"], None));
    let gone = cli(c, 366 + 31, &["key", "describe", &key], None);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no such key"));
    let _ = FHSM_STATE_ENABLED;
}
