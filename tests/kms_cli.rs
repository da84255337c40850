//! The KMS features through the `ferrohsm` command-line tool, each command
//! its own process (so also across processes), and the C example compiled
//! against `include/`.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{init_token, load, world, USER_PIN};

fn cli(conf: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrohsm"));
    c.args(args)
        .env("FERROHSM_CONF", conf)
        .env("FERROHSM_USER_PIN", USER_PIN)
        .env("FERROHSM_SO_PIN", common::SO_PIN)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(data) = stdin {
        common::feed(child.stdin.take().unwrap(), data);
    }
    child.wait_with_output().unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn fails(o: Output, code: i32, msg: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(msg), "{msg:?} not in {err:?}");
}

/// A world with one token "kms" (user PIN USER_PIN).
fn token() -> common::World {
    let w = world("");
    let p = load();
    init_token(&p, "kms");
    p.finalize().unwrap();
    w
}

#[test]
fn alice_and_bob_through_the_cli() {
    let w = token();
    let c = &w.conf;
    let key = ok(cli(c, &["key", "create", "--label", "records", "--alias", "alias/records"], None)).trim().to_string();
    assert_eq!(key.len(), 32);
    let ct = cli(c, &["encrypt", "--key", "alias/records", "--context", "user=alice"], Some(b"alice's secret"));
    assert!(ct.status.success());
    let ct = ct.stdout;
    assert_eq!(&ct[..4], b"FHK\x01");
    let f = w.dir.path().join("ct.bin");
    std::fs::write(&f, &ct).unwrap();
    let fs = f.to_str().unwrap();
    assert_eq!(ok(cli(c, &["decrypt", "--context", "user=alice", "--in", fs], None)), "alice's secret");
    fails(cli(c, &["decrypt", "--context", "user=bob", "--in", fs], None), 1, "wrong encryption context");
    fails(cli(c, &["decrypt", "--in", fs], None), 1, "wrong encryption context");
    let mut altered = ct.clone();
    let n = altered.len();
    altered[n - 3] ^= 0x80;
    fails(cli(c, &["decrypt", "--context", "user=alice"], Some(&altered)), 1, "was altered");
    fails(cli(c, &["decrypt", "--context", "user=alice"], Some(&ct[..20])), 1, "was altered");
    altered = ct.clone();
    altered[10] ^= 1;
    fails(cli(c, &["decrypt", "--context", "user=alice"], Some(&altered)), 1, "no such key");
    // Oversize, unknown key, bad usage.
    fails(cli(c, &["encrypt", "--key", &key], Some(&[0u8; 4097])), 1, "at most 4096 bytes");
    fails(cli(c, &["encrypt", "--key", "alias/nope"], Some(b"x")), 1, "no such key or alias");
    fails(cli(c, &["encrypt", "--context", "novalue", "--key", &key], Some(b"x")), 2, "key=value");
    fails(cli(c, &["key", "frobnicate"], None), 2, "unrecognized subcommand 'frobnicate'");
    // Re-encrypt to another key and context.
    let other = ok(cli(c, &["key", "create"], None)).trim().to_string();
    let moved = cli(
        c,
        &["re-encrypt", "--in", fs, "--context", "user=alice", "--key", &other, "--dest-context", "user=carol"],
        None,
    );
    let mf = w.dir.path().join("moved.bin");
    std::fs::write(&mf, ok_bytes(moved)).unwrap();
    let ms = mf.to_str().unwrap();
    assert_eq!(ok(cli(c, &["decrypt", "--context", "user=carol", "--in", ms], None)), "alice's secret");
}

fn ok_bytes(o: Output) -> Vec<u8> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

#[test]
fn keys_versions_aliases_deletion_and_data_keys_through_the_cli() {
    let w = token();
    let c = &w.conf;
    let a = ok(cli(c, &["key", "create", "--label", "a", "--rotation-days", "180"], None)).trim().to_string();
    let b = ok(cli(c, &["key", "create", "--label", "b", "--usage", "encrypt-only"], None)).trim().to_string();
    fails(cli(c, &["key", "create", "--rotation-days", "10"], None), 1, "AttributeValueInvalid");
    let v1 = ok_bytes(cli(c, &["encrypt", "--key", &a], Some(b"v1 data")));
    let v1f = w.dir.path().join("v1");
    std::fs::write(&v1f, &v1).unwrap();
    assert!(ok(cli(c, &["key", "rotate", &a], None)).contains("version 2"));
    assert_eq!(ok(cli(c, &["decrypt", "--in", v1f.to_str().unwrap()], None)), "v1 data");
    let d: serde_json::Value = serde_json::from_str(&ok(cli(c, &["key", "describe", &a, "--json"], None))).unwrap();
    assert_eq!(d["CurrentVersion"], 2);
    assert_eq!(d["Versions"].as_array().unwrap().len(), 2);
    assert_eq!(d["RotationPeriodInDays"], 180);
    let text = ok(cli(c, &["key", "describe", &a], None));
    assert!(text.contains("KeyState: Enabled") && text.contains("(current)"), "{text}");
    // Aliases.
    ok(cli(c, &["alias", "create", "alias/app", &a], None));
    fails(cli(c, &["alias", "create", "alias/app", &b], None), 1, "exists");
    ok(cli(c, &["alias", "update", "alias/app", &b], None));
    assert!(ok(cli(c, &["alias", "list"], None)).contains(&format!("alias/app  {b}")));
    // Encrypt-only key b: decrypt refused.
    let eb = ok_bytes(cli(c, &["encrypt", "--key", "alias/app"], Some(b"to b")));
    let ebf = w.dir.path().join("eb");
    std::fs::write(&ebf, &eb).unwrap();
    fails(cli(c, &["decrypt", "--in", ebf.to_str().unwrap()], None), 1, "usage does not allow");
    ok(cli(c, &["alias", "delete", "alias/app"], None));
    fails(cli(c, &["alias", "delete", "alias/app"], None), 1, "no such key or alias");
    // Data keys under two master keys; one disabled, the other recovers.
    let c2 = ok(cli(c, &["key", "create"], None)).trim().to_string();
    let blob = w.dir.path().join("dk.blob");
    let plain = w.dir.path().join("dk.key");
    ok(cli(
        c,
        &[
            "data-key",
            "--key",
            &a,
            "--key",
            &c2,
            "--bytes",
            "32",
            "--context",
            "f=1",
            "--blob-out",
            blob.to_str().unwrap(),
            "--plaintext-out",
            plain.to_str().unwrap(),
        ],
        None,
    ));
    let key_bytes = std::fs::read(&plain).unwrap();
    assert_eq!(key_bytes.len(), 32);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777, 0o600);
    ok(cli(c, &["key", "disable", &a], None));
    let got = ok_bytes(cli(c, &["decrypt", "--context", "f=1", "--in", blob.to_str().unwrap()], None));
    assert_eq!(got, key_bytes);
    fails(cli(c, &["encrypt", "--key", &a], Some(b"x")), 1, "disabled");
    ok(cli(c, &["key", "enable", &a], None));
    let wo = ok(cli(c, &["data-key", "--key", &a, "--without-plaintext", "--blob-out", blob.to_str().unwrap()], None));
    assert!(wo.is_empty(), "no plaintext printed: {wo:?}");
    // Scheduled deletion and its cancellation.
    assert!(ok(cli(c, &["key", "schedule-deletion", &a, "--days", "7"], None)).contains("purged after"));
    fails(cli(c, &["decrypt", "--in", v1f.to_str().unwrap()], None), 1, "pending deletion");
    fails(cli(c, &["key", "schedule-deletion", &b, "--days", "3"], None), 1, "ArgumentsBad");
    ok(cli(c, &["key", "cancel-deletion", &a], None));
    let list = ok(cli(c, &["key", "list"], None));
    assert!(list.contains(&a) && list.contains("Disabled"), "{list}");
    // Purge needs the SO PIN; afterwards the key is gone.
    ok(cli(c, &["key", "purge", &c2], None));
    fails(cli(c, &["key", "describe", &c2], None), 1, "no such key");
}

#[test]
fn audit_show_and_verify_through_the_cli_across_processes() {
    let w = token();
    let c = &w.conf;
    let key = ok(cli(c, &["key", "create"], None)).trim().to_string();
    for _ in 0..3 {
        ok_bytes(cli(c, &["encrypt", "--key", &key], Some(b"x")));
    }
    // Each encrypt ran in its own process and exited: none lost.
    let recs: serde_json::Value =
        serde_json::from_str(&ok(cli(c, &["audit", "show", "--json", "--key", &key], None))).unwrap();
    let enc = recs.as_array().unwrap().iter().filter(|r| r["event"] == "kms-encrypt").count();
    assert_eq!(enc, 3);
    let pids: std::collections::BTreeSet<u64> =
        recs.as_array().unwrap().iter().filter_map(|r| r["pid"].as_u64()).collect();
    assert!(pids.len() >= 4, "records from each process: {pids:?}");
    let text = ok(cli(c, &["audit", "show", "--since", "2000-01-01"], None));
    assert!(text.contains("create-kms-key") && text.contains("login"), "{text}");
    assert_eq!(ok(cli(c, &["audit", "show", "--since", "2999-01-01"], None)), "");
    assert!(ok(cli(c, &["audit", "verify"], None)).contains("audit log intact"));
    // Edited with SQL, on SQLite or PostgreSQL alike.
    w.sql("UPDATE audit SET body = replace(body, 'kms-encrypt', 'kms-decrypt') WHERE body LIKE '%kms-encrypt%'");
    fails(cli(c, &["audit", "verify"], None), 1, "audit log INVALID");
    w.sql("UPDATE audit SET body = replace(body, 'kms-decrypt', 'kms-encrypt')");
    assert!(ok(cli(c, &["audit", "verify"], None)).contains("intact"), "restored");
    w.sql("DELETE FROM audit WHERE seq = 3");
    fails(cli(c, &["audit", "verify"], None), 1, "batch 3 is missing");
}

#[test]
fn the_c_example_compiles_against_include_and_runs() {
    let w = token();
    let exe = w.dir.path().join("kms-example");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("cc")
        .args(["-Wall", "-Wextra", "-Werror", "-I", &format!("{root}/include"), "-I", "/usr/include/p11-kit-1"])
        .arg(format!("{root}/examples/kms.c"))
        .args(["-ldl", "-o"])
        .arg(&exe)
        .output()
        .unwrap();
    assert!(out.status.success(), "cc: {}", String::from_utf8_lossy(&out.stderr));
    let run = Command::new(&exe)
        .arg(common::module_path())
        .arg("kms")
        .arg(USER_PIN)
        .env("FERROHSM_CONF", &w.conf)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("decrypted: alice's medical record"));
    assert!(stdout.contains("FHSM_Decrypt {user: bob} fails                   rv=0x00000040 ok"));
    assert!(stdout.ends_with("all steps as expected\n"));
    // Again, exiting without C_Finalize: the buffered use records of that
    // process still reach the store (written at exit).
    let run = Command::new(&exe)
        .arg(common::module_path())
        .arg("kms")
        .arg(USER_PIN)
        .env("FERROHSM_CONF", &w.conf)
        .env("KMS_EXAMPLE_EXIT_WITHOUT_FINALIZE", "1")
        .output()
        .unwrap();
    assert!(run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!err.contains("panicked"), "the flush at exit must not panic: {err}");
    let recs: serde_json::Value = serde_json::from_str(&ok(cli(&w.conf, &["audit", "show", "--json"], None))).unwrap();
    let pending = format!("{:#x}", ferrohsm::vendor::CKR_FHSM_KEY_PENDING_DELETION);
    let last_uses: std::collections::BTreeSet<u64> = recs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"] == "kms-decrypt" && r["rv"] == pending.as_str())
        .map(|r| r["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(last_uses.len(), 2, "each run's last use is in the log, the second written at exit");
    let creates = recs.as_array().unwrap().iter().filter(|r| r["event"] == "create-kms-key").count();
    assert_eq!(creates, 4, "two runs, two keys each");
    assert!(ok(cli(&w.conf, &["audit", "verify"], None)).contains("intact"));
}

#[test]
fn concurrent_rotations_in_several_processes_keep_every_version() {
    let w = token();
    let c = &w.conf;
    let key = ok(cli(c, &["key", "create"], None)).trim().to_string();
    let v1 = ok_bytes(cli(c, &["encrypt", "--key", &key], Some(b"first")));
    let children: Vec<_> = (0..6)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_ferrohsm"))
                .args(["key", "rotate", &key])
                .env("FERROHSM_CONF", c)
                .env("FERROHSM_USER_PIN", USER_PIN)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Each rotation reports the version it made: six different ones
    // (reading the key back after the write once let a concurrent
    // rotation's version show through, reported twice).
    let mut reported: Vec<u64> = children
        .into_iter()
        .map(|ch| {
            let out = ok(ch.wait_with_output().unwrap());
            out.trim().strip_prefix("rotated: now at version ").and_then(|v| v.parse().ok()).expect(&out)
        })
        .collect();
    reported.sort_unstable();
    assert_eq!(reported, [2, 3, 4, 5, 6, 7]);
    let d: serde_json::Value = serde_json::from_str(&ok(cli(c, &["key", "describe", &key, "--json"], None))).unwrap();
    assert_eq!(d["CurrentVersion"], 7);
    let versions: Vec<u64> = d["Versions"].as_array().unwrap().iter().map(|v| v["Version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7]);
    let f = w.dir.path().join("v1");
    std::fs::write(&f, &v1).unwrap();
    assert_eq!(ok(cli(c, &["decrypt", "--in", f.to_str().unwrap()], None)), "first");
    assert!(ok(cli(c, &["audit", "verify"], None)).contains("intact"));
}

/// A key made by the tool is named by its UUID (the KMS API's key id) as
/// well as by its 32-hex-digit CKA_UNIQUE_ID, in every command.
#[test]
fn key_ids_in_uuid_form_name_the_same_key() {
    let w = token();
    let c = &w.conf;
    let key = ok(cli(c, &["key", "create", "--label", "u"], None)).trim().to_string();
    let uuid = format!("{}-{}-{}-{}-{}", &key[..8], &key[8..12], &key[12..16], &key[16..20], &key[20..]);
    let ct = cli(c, &["encrypt", "--key", &uuid], Some(b"by uuid"));
    assert!(ct.status.success(), "{}", String::from_utf8_lossy(&ct.stderr));
    let f = w.dir.path().join("u.bin");
    std::fs::write(&f, &ct.stdout).unwrap();
    assert_eq!(ok(cli(c, &["decrypt", "--in", f.to_str().unwrap()], None)), "by uuid");
    assert!(ok(cli(c, &["key", "describe", &uuid], None)).contains(&key));
    // A malformed UUID (dashes in the wrong places) names nothing.
    let bad = format!("{}-{}", &key[..7], &key[7..]);
    fails(cli(c, &["key", "describe", &bad], None), 1, "no such key");
}
