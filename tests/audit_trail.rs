//! The audit trail against someone who can write the store file: each
//! attack done on a real store with `rusqlite`, and its exact outcome from
//! `ferrohsm audit verify`; export, prune and the offline proof; the
//! `[audit]` configuration. Everything through the command-line tool, one
//! process per command. The commands docs/audit.md shows are run here as
//! written (see `DOC_COMMANDS`).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::vectors::hex;
use common::{world, SO_PIN, USER_PIN};

/// Every `ferrohsm audit` command in docs/audit.md (and README.md, which has none now),
/// exactly; `documented_commands_are_the_ones_tested` keeps the docs to it.
const DOC_COMMANDS: &[&str] = &[
    "ferrohsm audit verify",
    "ferrohsm audit verify --require-anchor --pin-env FERROHSM_USER_PIN",
    "ferrohsm audit export --until 2999-01-01 --out audit.jsonl",
    "ferrohsm audit verify-export audit.jsonl",
    "ferrohsm audit prune --until 2999-01-01 --export audit.jsonl",
];

/// Runs `ferrohsm` in the world's directory; the user PIN is in the
/// environment only when `pin` (so plain verifies run without a login).
fn run(w: &common::World, args: &[&str], pin: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrohsm"));
    c.args(args)
        .current_dir(w.dir.path())
        .env("FERROHSM_CONF", &w.conf)
        .env("FERROHSM_SO_PIN", SO_PIN)
        .env_remove("FERROHSM_USER_PIN")
        .stdin(Stdio::null());
    if pin {
        c.env("FERROHSM_USER_PIN", USER_PIN);
    }
    c.output().unwrap()
}

/// A documented command, run as written.
fn doc(w: &common::World, cmd: &str, pin: bool) -> Output {
    assert!(DOC_COMMANDS.contains(&cmd), "not in DOC_COMMANDS: {cmd}");
    let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
    run(w, &args, pin)
}

fn ok(o: Output) -> String {
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "failed: {out}{err}");
    out.into_owned()
}

/// Fails with exit code 1 and `msg` on stderr; returns stderr.
fn fails(o: Output, msg: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "stdout: {} stderr: {err}", String::from_utf8_lossy(&o.stdout));
    assert!(err.contains(msg), "{msg:?} not in {err:?}");
    err
}

/// A store with token "kms", a key and a few uses of it: several batches,
/// checkpoints (each command logged in) and sidecar entries.
fn busy_world(extra: &str) -> common::World {
    let w = world(extra);
    ok(run(&w, &["init-token", "--free", "--label", "kms"], true));
    let key = ok(run(&w, &["key", "create", "--label", "a"], true)).trim().to_string();
    for _ in 0..2 {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrohsm"));
        c.args(["encrypt", "--key", &key])
            .env("FERROHSM_CONF", &w.conf)
            .env("FERROHSM_USER_PIN", USER_PIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        drop(child.stdin.take());
        ok(child.wait_with_output().unwrap());
    }
    w
}

fn sidecar(w: &common::World) -> std::path::PathBuf {
    w.dir.path().join("store.db.audit")
}

fn db(w: &common::World) -> rusqlite::Connection {
    rusqlite::Connection::open(&w.db).unwrap()
}

fn last_seq(w: &common::World) -> i64 {
    db(w).query_row("SELECT max(seq) FROM audit", [], |r| r.get(0)).unwrap()
}

#[test]
fn an_untouched_store_verifies_and_says_what_it_proved() {
    let w = busy_world("");
    let n = last_seq(&w);
    assert!(n >= 4, "several batches: {n}");
    let out = ok(doc(&w, "ferrohsm audit verify", false));
    assert!(out.contains("audit log intact: ") && out.contains(&format!(" in {n} batches")), "{out}");
    assert!(out.contains("batches 1 (") && out.contains(&format!(") to {n} (")), "{out}");
    assert!(out.contains("checkpoints: ") && out.contains("present, not verified (no login)"), "{out}");
    assert!(out.contains(&format!("anchor: the sidecar anchors the tail (batch {n})")), "{out}");
    // The newest checkpoint is the last batch: each command's module
    // checkpoints its final flush.
    let (cp, count): (i64, i64) = db(&w)
        .query_row("SELECT max(seq), count(*) FROM audit_checkpoint", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(out.contains(&format!("checkpoints: {count}, newest at batch {cp}, ")), "{out}");
    // With the PIN the MACs are checked (the login itself adds a batch).
    let out = ok(doc(&w, "ferrohsm audit verify --require-anchor --pin-env FERROHSM_USER_PIN", true));
    assert!(out.contains(&format!("all {count} MAC-verified")), "{out}");
    // The sidecar: one `<seq> <hex>` line per batch, owner-only.
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(sidecar(&w)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(sidecar(&w)).unwrap();
    let seqs: Vec<i64> = text.lines().map(|l| l.split(' ').next().unwrap().parse().unwrap()).collect();
    assert_eq!(seqs, (1..=last_seq(&w)).collect::<Vec<_>>());
    let (seq, hash): (i64, Vec<u8>) =
        db(&w).query_row("SELECT seq, hash FROM audit_head", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(text.lines().last().unwrap(), format!("{seq} {}", hex(&hash)));
}

/// Attack (a): drop the last batch and move the head back, as someone
/// with write access to the file can without computing anything.
fn cut_last_batch(w: &common::World, also_checkpoints: bool) -> i64 {
    let c = db(w);
    let n: i64 = c.query_row("SELECT max(seq) FROM audit", [], |r| r.get(0)).unwrap();
    c.execute("DELETE FROM audit WHERE seq = ?1", [n]).unwrap();
    c.execute("UPDATE audit_head SET seq = ?1, hash = (SELECT hash FROM audit WHERE seq = ?1)", [n - 1]).unwrap();
    if also_checkpoints {
        c.execute("DELETE FROM audit_checkpoint WHERE seq >= ?1", [n]).unwrap();
    }
    n
}

#[test]
fn a_cut_tail_with_the_head_moved_back_fails_verification() {
    let w = busy_world("");
    // Checkpoints left in place: the newest names the removed batch.
    let n = cut_last_batch(&w, false);
    let msg = format!("a checkpoint names batch {n}, beyond the log's last batch {}: the log was truncated", n - 1);
    fails(doc(&w, "ferrohsm audit verify", false), &msg);
    // The checkpoints removed too: the sidecar still names the batch.
    let n = cut_last_batch(&w, true);
    let msg = format!("names batch {n}, beyond the log's last batch {}: the log was truncated", n - 1);
    let err = fails(doc(&w, "ferrohsm audit verify", false), &msg);
    assert!(err.contains("audit log INVALID: the sidecar "), "{err}");
}

#[test]
fn a_cut_tail_written_over_by_later_use_still_fails() {
    let w = busy_world("");
    let n = cut_last_batch(&w, false);
    // The module goes on writing (and checkpointing) from the moved head:
    // batch n again, with other records.
    ok(run(&w, &["key", "create"], true));
    assert!(last_seq(&w) >= n);
    let msg = format!("the checkpoint for batch {n} disagrees with the chain: the log was rewritten (or cut back");
    fails(doc(&w, "ferrohsm audit verify", false), &msg);
    db(&w).execute("DELETE FROM audit_checkpoint", []).unwrap();
    let msg = format!("the sidecar's hash for batch {n} differs from the log's: the log was rewritten (or cut back");
    fails(doc(&w, "ferrohsm audit verify", false), &msg);
}

#[test]
fn a_deleted_log_fails_verification() {
    let w = busy_world("");
    let c = db(&w);
    c.execute_batch("DELETE FROM audit; DELETE FROM audit_head; DELETE FROM audit_checkpoint;").unwrap();
    drop(c);
    fails(doc(&w, "ferrohsm audit verify", false), "audit log INVALID: the log is empty but the sidecar");
}

#[test]
fn an_edited_body_fails_even_with_the_chain_recomputed() {
    let w = busy_world("");
    let c = db(&w);
    c.execute("UPDATE audit SET body = replace(body, '\"count\":1', '\"count\":2') WHERE seq = 3", []).unwrap();
    drop(c);
    fails(doc(&w, "ferrohsm audit verify", false), "audit log INVALID: batch 3 was altered");
    // The unkeyed chain recomputed from there on (hashes and head): only
    // the outside anchor and the checkpoints can tell.
    let c = db(&w);
    let rows: Vec<(i64, String)> = c
        .prepare("SELECT seq, body FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = vec![0u8; 32];
    for (seq, body) in rows {
        let hash = chain_hash(&prev, seq, body.as_bytes());
        c.execute("UPDATE audit SET prev = ?1, hash = ?2 WHERE seq = ?3", rusqlite::params![prev, hash, seq]).unwrap();
        c.execute("UPDATE audit_head SET seq = ?1, hash = ?2", rusqlite::params![seq, hash]).unwrap();
        prev = hash;
    }
    c.execute("DELETE FROM audit_checkpoint", []).unwrap();
    drop(c);
    fails(
        doc(&w, "ferrohsm audit verify", false),
        "the sidecar's hash for batch 3 differs from the log's: the log was rewritten",
    );
}

/// Rows swapped (two batches exchange their whole rows, hashes and all)
/// or a row moved to another place in the sequence: each is caught, with
/// the batch named.
#[test]
fn swapped_or_moved_audit_rows_fail_verification() {
    let w = busy_world("");
    let c = db(&w);
    let row = |seq: i64| -> (String, Vec<u8>, Vec<u8>) {
        c.query_row("SELECT body, prev, hash FROM audit WHERE seq = ?1", [seq], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
    };
    let (b2, p2, h2) = row(2);
    let (b3, p3, h3) = row(3);
    let put = |seq: i64, (b, p, h): (&str, &[u8], &[u8])| {
        c.execute("UPDATE audit SET body = ?1, prev = ?2, hash = ?3 WHERE seq = ?4", rusqlite::params![b, p, h, seq])
            .unwrap();
    };
    put(2, (&b3, &p3, &h3));
    put(3, (&b2, &p2, &h2));
    let out = fails(doc(&w, "ferrohsm audit verify", false), "audit log INVALID: batch 2");
    assert!(!out.contains("audit log intact"), "{out}");
    // Put back: intact again.
    put(2, (&b2, &p2, &h2));
    put(3, (&b3, &p3, &h3));
    ok(doc(&w, "ferrohsm audit verify", false));
    // Batch 2 moved past the end, leaving a gap.
    let last = last_seq(&w);
    c.execute("UPDATE audit SET seq = ?1 WHERE seq = 2", [last + 1]).unwrap();
    fails(doc(&w, "ferrohsm audit verify", false), "audit log INVALID");
}

/// SHA-256(prev ‖ seq as 8 bytes big-endian ‖ body), as docs/audit.md
/// describes it.
fn chain_hash(prev: &[u8], seq: i64, body: &[u8]) -> Vec<u8> {
    let mut m = prev.to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(body);
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &m).as_ref().to_vec()
}

#[test]
fn a_damaged_sidecar_fails_verification() {
    let w = busy_world("");
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(sidecar(&w)).unwrap();
    f.write_all(b"12 not-hex\n").unwrap();
    drop(f);
    fails(doc(&w, "ferrohsm audit verify", false), "store.db.audit has a malformed line");
}

#[test]
fn without_a_sidecar_verify_warns_and_require_anchor_fails() {
    let w = busy_world("");
    std::fs::remove_file(sidecar(&w)).unwrap();
    let out = ok(doc(&w, "ferrohsm audit verify", false));
    assert!(
        out.contains("audit log intact") && out.contains("WARNING: no audit sidecar (or it names no batch)"),
        "{out}"
    );
    fails(run(&w, &["audit", "verify", "--require-anchor"], false), "--require-anchor needs the sidecar");
    // The next write begins a new sidecar, which cannot vouch for what
    // came before it (so deleting it is as good as truncating it: see
    // docs/audit.md).
    let out = ok(doc(&w, "ferrohsm audit verify --require-anchor --pin-env FERROHSM_USER_PIN", true));
    let n = last_seq(&w);
    assert!(out.contains(&format!("note: the sidecar begins at batch {n}; it cannot vouch")), "{out}");
}

#[test]
fn export_prune_and_the_offline_proof() {
    let w = busy_world("");
    // Nothing exported yet: nothing may be pruned.
    let out = ok(run(&w, &["audit", "prune", "--until", "2999-01-01"], true));
    assert!(out.contains("nothing to prune"), "{out}");
    ok(doc(&w, "ferrohsm audit export --until 2999-01-01 --out audit.jsonl", false));
    let file = w.dir.path().join("audit.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let exported = last_seq(&w);
    let out = ok(doc(&w, "ferrohsm audit verify-export audit.jsonl", false));
    assert!(out.contains(&format!("export intact: batches 1 to {exported}, ")), "{out}");
    // The proof checked independently, as docs/audit.md describes.
    let proof = check_export_by_hand(&text);
    assert_eq!((proof["first_seq"].as_i64(), proof["last_seq"].as_i64()), (Some(1), Some(exported)));
    assert_eq!(proof["prev_hash"], "0".repeat(64));
    // An edited export does not check.
    let forged = text.replacen("kms-encrypt", "kms-decrypt", 1);
    std::fs::write(w.dir.path().join("forged.jsonl"), forged).unwrap();
    fails(run(&w, &["audit", "verify-export", "forged.jsonl"], false), "audit log INVALID: export: batch");
    // Activity after the export, and the store's (unkeyed) export mark
    // moved forward over it; prune with the export file: only what the
    // file holds goes.
    ok(run(&w, &["key", "create"], true));
    db(&w)
        .execute(
            "UPDATE audit_exported SET seq = (SELECT max(seq) FROM audit),
             hash = (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1)",
            [],
        )
        .unwrap();
    fails(
        run(&w, &["audit", "prune", "--until", "2999-01-01", "--export", "forged.jsonl"], true),
        "audit log INVALID: export: batch",
    );
    let out = ok(doc(&w, "ferrohsm audit prune --until 2999-01-01 --export audit.jsonl", true));
    assert!(out.contains(&format!("pruned: batches up to {exported};")), "{out}");
    let first: i64 = db(&w).query_row("SELECT min(seq) FROM audit", [], |r| r.get(0)).unwrap();
    assert_eq!(first, exported + 1);
    let out = ok(doc(&w, "ferrohsm audit verify", false));
    assert!(out.contains(&format!("pruned: batches up to {exported} were exported and removed")), "{out}");
    assert!(out.contains("its MAC not verified (no login)") && out.contains("anchor: the sidecar anchors the tail"));
    let out = ok(doc(&w, "ferrohsm audit verify --require-anchor --pin-env FERROHSM_USER_PIN", true));
    assert!(out.contains("its MAC verified"), "{out}");
    // The next export continues the chain from the last one's end.
    ok(run(&w, &["audit", "export", "--until", "2999-01-01", "--out", "next.jsonl"], false));
    let next = check_export_by_hand(&std::fs::read_to_string(w.dir.path().join("next.jsonl")).unwrap());
    assert_eq!(next["first_seq"].as_i64(), Some(exported + 1));
    assert_eq!(next["prev_hash"], proof["last_hash"]);
    // A forged base (the prefix "pruned" without an export) fails its MAC.
    db(&w).execute("UPDATE audit_base SET seq = seq - 1", []).unwrap();
    fails(
        doc(&w, "ferrohsm audit verify --require-anchor --pin-env FERROHSM_USER_PIN", true),
        "the pruned base for batch",
    );
}

/// Re-verifies an export with nothing but SHA-256: batch headers, their
/// records verbatim, the proof last. Returns the proof.
fn check_export_by_hand(text: &str) -> serde_json::Value {
    let unhex = |v: &serde_json::Value| -> Vec<u8> {
        let s = v.as_str().unwrap();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    };
    let lines: Vec<&str> = text.lines().collect();
    let proof: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    let proof = proof["proof"].clone();
    let mut prev = unhex(&proof["prev_hash"]);
    let mut i = 0;
    let mut seq = proof["first_seq"].as_i64().unwrap() - 1;
    while i + 1 < lines.len() {
        let h: serde_json::Value = serde_json::from_str(lines[i]).unwrap();
        let b = &h["batch"];
        seq += 1;
        assert_eq!(b["seq"].as_i64(), Some(seq));
        assert_eq!(unhex(&b["prev"]), prev);
        let mut body = String::new();
        i += 1;
        while i + 1 < lines.len() && !lines[i].starts_with("{\"batch\":") {
            body.push_str(lines[i]);
            body.push('\n');
            i += 1;
        }
        prev = chain_hash(&prev, seq, body.as_bytes());
        assert_eq!(prev, unhex(&b["hash"]), "batch {seq}");
    }
    assert_eq!(Some(seq), proof["last_seq"].as_i64());
    assert_eq!(prev, unhex(&proof["last_hash"]));
    proof
}

#[test]
fn a_bad_audit_setting_stops_start_up() {
    for (bad, msg) in [
        ("sidecar = \"relative/anchor\"", "audit.sidecar: \"relative/anchor\" is not an absolute path"),
        ("sidecar = 1", "expected true, false or an absolute path"),
        ("syslog = \"yes\"", "syslog"),
        ("syslog = true", "audit.syslog = true needs log.level = \"info\""),
    ] {
        let w = world(&format!("[audit]\n{bad}\n"));
        let err = fails(doc(&w, "ferrohsm audit verify", false), msg);
        assert!(err.contains("configuration"), "{err}");
        assert!(!w.db.exists(), "no store opened");
        // The module too (world() pointed FERROHSM_CONF at the file).
        use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
        let p = Pkcs11::new(common::module_path()).unwrap();
        assert!(p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).is_err(), "{bad}");
    }
}

#[test]
fn a_sidecar_that_cannot_be_written_stops_start_up() {
    let w = world("[audit]\nsidecar = \"/nonexistent-ferrohsm-dir/anchor\"\n");
    fails(doc(&w, "ferrohsm audit verify", false), "audit sidecar /nonexistent-ferrohsm-dir/anchor: No such file");
}

#[test]
fn a_configured_sidecar_path_and_none() {
    let w = world("");
    let elsewhere = w.dir.path().join("anchor-elsewhere");
    std::fs::write(
        &w.conf,
        format!("{}[audit]\nsidecar = {:?}\n", std::fs::read_to_string(&w.conf).unwrap(), elsewhere),
    )
    .unwrap();
    ok(run(&w, &["init-token", "--free", "--label", "kms"], true));
    ok(run(&w, &["key", "create"], true));
    assert!(!sidecar(&w).exists());
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap().lines().count() as i64, last_seq(&w));
    drop(w); // one world at a time (they share a lock)
    let w = world("[audit]\nsidecar = false\n");
    ok(run(&w, &["init-token", "--free", "--label", "kms"], true));
    ok(run(&w, &["key", "create"], true));
    assert!(!sidecar(&w).exists());
    let out = ok(doc(&w, "ferrohsm audit verify", false));
    assert!(out.contains("WARNING: no audit sidecar configured"), "{out}");
}

#[test]
fn a_version_5_store_gains_checkpoints_and_verifies() {
    let w = busy_world("");
    // Back to what version 5 had: no v7 tables, no object tags, no sidecar.
    common::make_legacy(&w.db, SO_PIN, Some(USER_PIN), 5);
    std::fs::remove_file(sidecar(&w)).unwrap();
    let out = ok(doc(&w, "ferrohsm audit verify", false));
    assert!(out.contains("checkpoints: none") && out.contains("WARNING: no audit sidecar"), "{out}");
    assert_eq!(db(&w).query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 7);
    ok(run(&w, &["key", "create"], true));
    let out = ok(doc(&w, "ferrohsm audit verify --require-anchor --pin-env FERROHSM_USER_PIN", true));
    assert!(out.contains("all 1 MAC-verified") && out.contains("note: the sidecar begins at batch"), "{out}");
}

#[test]
fn syslog_logs_every_new_head() {
    let w = world("[audit]\nsyslog = true\n");
    let log = w.dir.path().join("ferrohsm.log");
    let conf = std::fs::read_to_string(&w.conf).unwrap();
    let conf = conf.replace("level = \"off\"", &format!("level = \"info\"\nfile = {log:?}"));
    std::fs::write(&w.conf, conf).unwrap();
    ok(run(&w, &["init-token", "--free", "--label", "kms"], true));
    ok(run(&w, &["key", "create"], true));
    let (seq, hash): (i64, Vec<u8>) =
        db(&w).query_row("SELECT seq, hash FROM audit_head", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("ferrohsm-audit-head seq={seq} hash={}", hex(&hash))), "{text}");
}

#[test]
fn documented_commands_are_the_ones_tested() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for file in ["docs/audit.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let mut in_code = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            let cmd = line.trim().trim_start_matches("$ ");
            if in_code && cmd.starts_with("ferrohsm audit") {
                assert!(DOC_COMMANDS.contains(&cmd), "{file}: {cmd:?} is not run by these tests");
                found.push(cmd.to_string());
            }
        }
    }
    for c in DOC_COMMANDS {
        assert!(found.iter().any(|f| f == c), "{c:?} is tested but no longer documented");
    }
}
