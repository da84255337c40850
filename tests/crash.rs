//! Crash consistency (issue #17, item 3): writer processes are killed with
//! SIGKILL at random points while they create, change and destroy token
//! objects, change a PIN, re-initialize a token, rotate a KMS key and write
//! the audit trail, all on one store; after every kill a fresh process
//! checks that the store opens and holds exactly what the writers were
//! told: every call that returned CKR_OK is there and usable, nothing
//! half-written is visible, the PIN is exactly one of old/new, and
//! `ferrohsm audit verify` / `ferrohsm store verify` pass.
//!
//! `harness = false`: `main` is the campaign, or (FERROHSM_CRASH_CHILD set)
//! one of its children: `setup`, a writer (one per mode, each on a token of
//! its own so that modes do not interfere), or `verify`. A writer journals
//! `<iteration> I <op> ...` before each call and `<iteration> D <op> ...`
//! after it returned CKR_OK (one unbuffered O_APPEND write per line, which
//! a SIGKILL cannot cut), so the checker knows for every operation whether
//! it was confirmed (must be there), in flight (either outcome, but whole),
//! or never started (must not be there).
//!
//! FERROHSM_CRASH_KILLS (default 200: 40 per mode) makes longer
//! campaigns; FERROHSM_CRASH_SEED (default: from the clock; printed) picks
//! the delays before the kills (where they land also depends on timing);
//! FERROHSM_CRASH_KEEP keeps the store and journals of a passing run (a
//! failing one always keeps them). See docs/reliability-crash.md.

#[macro_use]
mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use common::procs::*;
use common::{SO_PIN, USER_PIN};
use cryptoki_sys::*;
use sha2::Digest;

const ROLE: &str = "FERROHSM_CRASH_CHILD";
const MODES: [&str; 5] = ["objects", "set-pin", "init-token", "kms-rotate", "audit"];
/// The longest a kill waits after the writer is ready.
const MAX_DELAY_MS: u64 = 30;
/// `ferrohsm audit verify` and `ferrohsm store verify` (a process each)
/// run after every this many kills and at the end; the `verify` child,
/// which also makes the audit check through FHSM_AuditVerify, after every
/// kill.
const CLI_EVERY: u64 = 20;

fn main() {
    match std::env::var(ROLE) {
        Ok(role) => child(&role),
        Err(_) if selected("crash_campaign") => campaign(),
        Err(_) => {}
    }
}

// ---------------------------------------------------------------- parent

/// What the campaign counted.
#[derive(Default)]
struct Tally {
    kills: BTreeMap<&'static str, u64>,
    /// Kills that hit an operation in flight: (committed, not committed).
    inflight: BTreeMap<&'static str, (u64, u64)>,
    confirmed: BTreeMap<String, u64>,
    cli_checks: u64,
}

fn campaign() {
    let kills = env_num("FERROHSM_CRASH_KILLS", 200).max(MODES.len() as u64);
    let seed = seed("FERROHSM_CRASH_SEED");
    println!("crash campaign: {kills} kills, FERROHSM_CRASH_SEED={seed}");
    let mut w = common::world("[slots]\ncount = 5\n");
    // Kept for a look when the campaign fails; removed when it passes.
    w.dir.disable_cleanup(true);
    let module = common::module_path();
    let dir = w.dir.path().to_path_buf();
    let started = Instant::now();
    let run = |role: &str, extra: &[(&str, String)]| -> String {
        let mut c = self_child(ROLE, role, &module);
        c.env("FERROHSM_CRASH_DIR", &dir);
        for (k, v) in extra {
            c.env(k, v);
        }
        let out = c.stderr(Stdio::inherit()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{role} {extra:?} failed ({}): {text}\nstore kept in {}",
            out.status,
            dir.display()
        );
        text
    };
    run("setup", &[]);

    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    let mut pin = USER_PIN.to_string();
    let mut init_label = "init-0".to_string();
    let mut verify_time = Duration::ZERO;
    let mut cli_time = Duration::ZERO;
    for i in 0..kills {
        let mode = MODES[(i % MODES.len() as u64) as usize];
        let mut c = self_child(ROLE, mode, &module);
        c.env("FERROHSM_CRASH_DIR", &dir)
            .env("FERROHSM_CRASH_ITER", i.to_string())
            .env("FERROHSM_CRASH_PIN", &pin)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join(format!("{mode}.stderr"))).unwrap());
        let mut child = c.spawn().unwrap();
        wait_ready(&mut child, mode, &dir);
        std::thread::sleep(Duration::from_micros(rng.below(MAX_DELAY_MS * 1000 + 1)));
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(dir.join(format!("{mode}.stderr"))).unwrap_or_default();
            panic!("kill {i}: the {mode} writer ended by itself ({status}) before the kill:\n{err}");
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "kill {i}: {mode} {status}");
        *tally.kills.entry(mode).or_default() += 1;

        let t = Instant::now();
        let out = run(
            "verify",
            &[
                ("FERROHSM_CRASH_MODES", mode.to_string()),
                ("FERROHSM_CRASH_ITER", i.to_string()),
                ("FERROHSM_CRASH_PIN", pin.clone()),
            ],
        );
        verify_time += t.elapsed();
        for line in out.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            match f.as_slice() {
                ["pin", p] => pin = p.to_string(),
                ["label", l] => init_label = l.to_string(),
                ["inflight", "committed"] => tally.inflight.entry(mode).or_default().0 += 1,
                ["inflight", "rolled-back"] => tally.inflight.entry(mode).or_default().1 += 1,
                _ => {}
            }
        }
        if (i + 1) % 100 == 0 {
            println!("  {} kills, {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
        if (i + 1) % CLI_EVERY == 0 || i + 1 == kills {
            let t = Instant::now();
            cli_checks(&w.conf, &init_label, false);
            cli_time += t.elapsed();
            tally.cli_checks += 1;
        }
    }

    // Everything, in full (every KMS blob decrypted), once more at the end.
    let out = run(
        "verify",
        &[
            ("FERROHSM_CRASH_MODES", MODES.join(",")),
            ("FERROHSM_CRASH_FULL", "1".into()),
            ("FERROHSM_CRASH_PIN", pin.clone()),
        ],
    );
    for line in out.lines() {
        if let ["confirmed", op, n] = line.split(' ').collect::<Vec<_>>().as_slice() {
            tally.confirmed.insert(op.to_string(), n.parse().unwrap());
        }
    }
    cli_checks(&w.conf, &init_label, true);
    report(&tally, kills, seed, started.elapsed(), verify_time, cli_time);
    if std::env::var_os("FERROHSM_CRASH_KEEP").is_some() {
        println!("store and journals kept in {}", dir.display());
    } else {
        w.dir.disable_cleanup(false);
    }
}

/// Waits for the writer's `ready` line (it is logged in, about to write).
fn wait_ready(child: &mut Child, mode: &str, dir: &Path) {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(l) if l.trim() == "ready" => {}
        other => {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(dir.join(format!("{mode}.stderr"))).unwrap_or_default();
            panic!("the {mode} writer did not get ready: {other:?}\n{err}");
        }
    }
}

/// `ferrohsm audit verify` (at the end with the user PIN, its checkpoints'
/// MACs checked, and a sidecar that must anchor the tail) and `ferrohsm
/// store verify` of every token, as the SO (whose PIN no writer changes).
fn cli_checks(conf: &Path, init_label: &str, last: bool) {
    let audit: &[&str] = if last {
        &["audit", "verify", "--require-anchor", "--pin-env", "FERROHSM_USER_PIN", "--token", "objects"]
    } else {
        &["audit", "verify"]
    };
    let (ok, out) = ferrohsm(conf, audit);
    assert!(ok, "ferrohsm {}: {out}", audit.join(" "));
    for label in ["objects", "pins", init_label, "kms", "audit"] {
        let (ok, out) = ferrohsm(conf, &["store", "verify", "--token", label, "--so"]);
        assert!(ok && out.contains("store intact"), "ferrohsm store verify --token {label} --so: {out}");
    }
}

fn report(t: &Tally, kills: u64, seed: u64, total: Duration, verify: Duration, cli: Duration) {
    println!("crash campaign passed: {kills} kills survived in {:.1} s (seed {seed})", total.as_secs_f64());
    for m in MODES {
        let (c, r) = t.inflight.get(m).copied().unwrap_or_default();
        println!(
            "  {m:<11} kills {:>5}  in flight at the kill: {:>4} committed, {:>4} not",
            t.kills.get(m).copied().unwrap_or(0),
            c,
            r
        );
    }
    let total_ops: u64 = t.confirmed.values().sum();
    println!("  operations confirmed (returned CKR_OK), each checked at the end: {total_ops}");
    for (op, n) in &t.confirmed {
        println!("    {op:<20} {n:>7}");
    }
    println!(
        "  checks: {kills} verify runs ({:.1} s), {} rounds of ferrohsm audit verify + store verify x5 ({:.1} s)",
        verify.as_secs_f64(),
        t.cli_checks,
        cli.as_secs_f64()
    );
}

// ---------------------------------------------------------------- children

/// What setup made, read by every child.
struct Setup {
    slots: HashMap<String, CK_SLOT_ID>,
    keys: HashMap<String, String>,
}

impl Setup {
    fn read(dir: &Path) -> Setup {
        let mut s = Setup { slots: HashMap::new(), keys: HashMap::new() };
        for l in read_journal(&dir.join("setup")) {
            match l.as_slice() {
                [k, m, v] if k == "slot" => {
                    s.slots.insert(m.clone(), v.parse().unwrap());
                }
                [k, m, v] if k == "key" => {
                    s.keys.insert(m.clone(), v.clone());
                }
                _ => panic!("setup: {l:?}"),
            }
        }
        s
    }
    fn slot(&self, mode: &str) -> CK_SLOT_ID {
        self.slots[mode]
    }
    fn key(&self, mode: &str) -> &str {
        &self.keys[mode]
    }
}

struct Ctx {
    p: P11,
    dir: PathBuf,
    setup: Setup,
    iter: u64,
}

impl Ctx {
    fn journal(&self, mode: &str) -> PathBuf {
        self.dir.join(format!("{mode}.journal"))
    }
    /// A user session on `mode`'s token.
    fn user(&self, mode: &str, pin: &str) -> CK_SESSION_HANDLE {
        let h = self.p.open(self.setup.slot(mode)).unwrap();
        self.p.login(h, CKU_USER, pin).unwrap();
        h
    }
}

fn child(role: &str) {
    let p = P11::from_env();
    let dir = PathBuf::from(std::env::var("FERROHSM_CRASH_DIR").unwrap());
    if role == "setup" {
        return setup(p, &dir);
    }
    let iter = env_num("FERROHSM_CRASH_ITER", u64::MAX);
    let cx = Ctx { p, setup: Setup::read(&dir), dir, iter };
    if role == "verify" {
        let full = std::env::var("FERROHSM_CRASH_FULL").is_ok();
        for mode in std::env::var("FERROHSM_CRASH_MODES").unwrap().split(',') {
            verify(&cx, mode, full);
        }
        // The audit chain, its checkpoints and the sidecar after every kill
        // (the check `ferrohsm audit verify` makes), under a login whose
        // checkpoint MACs it can check.
        let h = cx.user("objects", USER_PIN);
        cx.p.kms(h).audit_verify().unwrap_or_else(|rv| panic!("FHSM_AuditVerify: {}", rv_name(rv)));
        cx.p.close(h).unwrap();
        cx.p.finalize().unwrap();
        return;
    }
    let j = Journal::open(&cx.journal(role));
    let log = |text: String| j.line(&format!("{iter} {text}"));
    match role {
        "objects" => objects(&cx, &log),
        "set-pin" => set_pin(&cx, &log),
        "init-token" => init_token(&cx, &log),
        "kms-rotate" => kms_rotate(&cx, &log),
        "audit" => audit(&cx, &log),
        _ => panic!("no role {role}"),
    }
}

fn ready() {
    use std::io::Write;
    let mut out = std::io::stdout();
    out.write_all(b"ready\n").unwrap();
    out.flush().unwrap();
}

/// One token per mode (the init-token one labelled `init-0`), and a KMS
/// key each for kms-rotate and audit.
fn setup(p: P11, dir: &Path) {
    let j = Journal::open(&dir.join("setup"));
    for (mode, label) in [
        ("objects", "objects"),
        ("set-pin", "pins"),
        ("init-token", "init-0"),
        ("kms-rotate", "kms"),
        ("audit", "audit"),
    ] {
        let slot = p.new_token(label, SO_PIN, USER_PIN).unwrap();
        j.line(&format!("slot {mode} {slot}"));
        if mode == "kms-rotate" || mode == "audit" {
            let h = p.open(slot).unwrap();
            p.login(h, CKU_USER, USER_PIN).unwrap();
            let key = p.kms(h).key();
            j.line(&format!("key {mode} {key}"));
            p.close(h).unwrap();
        }
    }
    p.finalize().unwrap();
}

/// The key value a created (not generated) object gets: SHA-256 of its label.
fn value_for(label: &str) -> Vec<u8> {
    sha2::Sha256::digest(label.as_bytes()).to_vec()
}

fn aes_ecb_zero(key: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 16].into();
    aes::Aes256::new_from_slice(key).unwrap().encrypt_block(&mut block);
    block.to_vec()
}

fn aes_template(label: &str) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_EXTRACTABLE, false)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_DECRYPT, true)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_ID, label.as_bytes())
}

/// Creates (C_CreateObject with a known value, or C_GenerateKey) AES keys,
/// destroys some of its own and changes the CKA_ID of others.
fn objects(cx: &Ctx, log: &dyn Fn(String)) {
    let (p, iter) = (cx.p, cx.iter);
    let h = cx.user("objects", USER_PIN);
    let mut rng = Rng::new(iter);
    let mut live: Vec<(String, CK_OBJECT_HANDLE)> = Vec::new();
    ready();
    for n in 0.. {
        let r = rng.below(10);
        if r < 6 || live.is_empty() {
            let generated = n % 2 == 1;
            let label = format!("o-{iter}-{n}-{}", if generated { "g" } else { "c" });
            log(format!("I create {label}"));
            let o = if generated {
                p.generate(h, CKM_AES_KEY_GEN, &mut aes_template(&label).ulong(CKA_VALUE_LEN, 32))
            } else {
                p.create(h, &mut aes_template(&label).bytes(CKA_VALUE, &value_for(&label)))
            }
            .unwrap();
            log(format!("D create {label}"));
            live.push((label, o));
        } else if r < 8 {
            let (label, o) = live.swap_remove(rng.below(live.len() as u64) as usize);
            log(format!("I destroy {label}"));
            p.destroy(h, o).unwrap();
            log(format!("D destroy {label}"));
        } else {
            let (label, o) = &live[rng.below(live.len() as u64) as usize];
            let id = format!("id-{iter}-{n}");
            log(format!("I setid {label} {id}"));
            p.set_attr(h, *o, &mut Tmpl::new().bytes(CKA_ID, id.as_bytes())).unwrap();
            log(format!("D setid {label} {id}"));
        }
    }
}

/// C_SetPIN old -> new, over and over, from the PIN the parent says is
/// current.
fn set_pin(cx: &Ctx, log: &dyn Fn(String)) {
    let mut old = std::env::var("FERROHSM_CRASH_PIN").unwrap();
    let h = cx.user("set-pin", &old);
    ready();
    for n in 0.. {
        let new = format!("pin-{}-{n}", cx.iter);
        log(format!("I setpin {new}"));
        cx.p.set_pin(h, &old, &new).unwrap();
        log(format!("D setpin {new}"));
        old = new;
    }
}

/// C_InitToken with a new label, then C_InitPIN and a public data object
/// `d-LABEL`, over and over: a re-initialized token has only what was made
/// since.
fn init_token(cx: &Ctx, log: &dyn Fn(String)) {
    let (p, slot) = (cx.p, cx.setup.slot("init-token"));
    // What the first call of a process pays once (the store's connection,
    // the KDF) is paid before the kills start, as the other writers do by
    // logging in.
    let h = p.open(slot).unwrap();
    p.login(h, CKU_SO, SO_PIN).unwrap();
    p.close(h).unwrap();
    ready();
    for n in 0.. {
        let label = format!("init-{}-{n}", cx.iter);
        log(format!("I init {label}"));
        p.init_token(slot, SO_PIN, &label).unwrap();
        log(format!("D init {label}"));
        let h = p.open(slot).unwrap();
        p.login(h, CKU_SO, SO_PIN).unwrap();
        log(format!("I initpin {label}"));
        p.init_pin(h, USER_PIN).unwrap();
        log(format!("D initpin {label}"));
        p.logout(h).unwrap();
        p.login(h, CKU_USER, USER_PIN).unwrap();
        let obj = format!("d-{label}");
        log(format!("I obj {label}"));
        p.create(h, &mut data_template(&obj)).unwrap();
        log(format!("D obj {label}"));
        p.close(h).unwrap();
    }
}

fn data_template(label: &str) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, false)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_VALUE, format!("v-{label}").as_bytes())
}

/// Rotates the KMS key; after each rotation encrypts a blob (journalled
/// with its version and plaintext) and sometimes makes a data key, all of
/// which must decrypt for ever after.
fn kms_rotate(cx: &Ctx, log: &dyn Fn(String)) {
    let h = cx.user("kms-rotate", USER_PIN);
    let k = cx.p.kms(h);
    let key = cx.setup.key("kms-rotate");
    let start = k.describe(key).unwrap()["CurrentVersion"].as_u64().unwrap();
    log(format!("S version {start}"));
    ready();
    for n in 0.. {
        log("I rotate".into());
        let v = k.rotate(key).unwrap();
        log(format!("D rotate {v}"));
        let (iter, n) = (cx.iter.to_string(), n.to_string());
        let ctx = [("iter", iter.as_str()), ("n", n.as_str())];
        let plain = format!("p-{iter}-{n}");
        let blob = k.encrypt(key, &ctx, plain.as_bytes()).unwrap();
        log(format!("D blob {v} {n} {}", common::vectors::hex(&blob)));
        if n.ends_with('0') {
            let (dk, blob) = k.data_key(&[key], 32, &ctx, true).unwrap();
            log(format!("D datakey {n} {} {}", common::vectors::hex(&dk.unwrap()), common::vectors::hex(&blob)));
        }
    }
}

/// Audit writes: KMS encryptions (buffered use records) flushed with
/// FHSM_FlushAudit, and rotation-period changes (event records committed
/// with the change).
fn audit(cx: &Ctx, log: &dyn Fn(String)) {
    let h = cx.user("audit", USER_PIN);
    let k = cx.p.kms(h);
    let key = cx.setup.key("audit");
    let mut rng = Rng::new(cx.iter);
    let mut done = 0u64;
    ready();
    for n in 0u64.. {
        for _ in 0..1 + rng.below(4) {
            log("I enc".into());
            k.encrypt(key, &[], b"audited").unwrap();
            done += 1;
        }
        if n % 4 == 3 {
            let days = if n % 8 == 3 { 365 } else { 0 };
            log(format!("I rotation {days}"));
            k.set_rotation(key, days).unwrap();
            log(format!("D rotation {days}"));
        } else {
            log(format!("I flush {done}"));
            ck(unsafe { (k.k.FHSM_FlushAudit)(h) }).unwrap();
            log(format!("D flush {done}"));
        }
    }
}

// ---------------------------------------------------------------- checks

/// Prints `confirmed OP N` for each op of `mode` confirmed and checked,
/// `inflight committed|rolled-back` when this iteration's writer was
/// killed in a call, and what the next writer needs (`pin`, `label`).
fn verify(cx: &Ctx, mode: &str, full: bool) {
    let lines = read_journal(&cx.journal(mode));
    let mut confirmed: BTreeMap<String, u64> = BTreeMap::new();
    for l in &lines {
        if l[1] == "D" {
            *confirmed.entry(format!("{mode}/{}", l[2])).or_default() += 1;
        }
    }
    // The call this iteration's writer was in when it was killed.
    let inflight = lines.last().filter(|l| l[0] == cx.iter.to_string() && l[1] == "I");
    let committed = match mode {
        "objects" => check_objects(cx, &lines, inflight),
        "set-pin" => check_pin(cx, &lines, inflight),
        "init-token" => check_init(cx, &lines, inflight),
        "kms-rotate" => check_kms(cx, &lines, inflight, full),
        "audit" => check_audit(cx, &lines, inflight),
        _ => panic!("no mode {mode}"),
    };
    if let Some(c) = committed {
        println!("inflight {}", if c { "committed" } else { "rolled-back" });
    }
    for (op, n) in confirmed {
        println!("confirmed {op} {n}");
    }
}

/// Per label: what the journal says happened to it.
#[derive(Default)]
struct ObjState {
    created: bool,
    destroy_started: bool,
    destroyed: bool,
    /// The CKA_ID confirmed last, and one being set when the writer died.
    id: String,
    id_pending: Option<String>,
}

fn check_objects(cx: &Ctx, lines: &[Vec<String>], inflight: Option<&Vec<String>>) -> Option<bool> {
    let mut objs: HashMap<String, ObjState> = HashMap::new();
    for l in lines {
        let (phase, op, label) = (l[1].as_str(), l[2].as_str(), l[3].clone());
        let s = objs.entry(label.clone()).or_insert_with(|| ObjState { id: label.clone(), ..Default::default() });
        match (phase, op) {
            ("I", "create") => {}
            ("D", "create") => s.created = true,
            ("I", "destroy") => s.destroy_started = true,
            ("D", "destroy") => s.destroyed = true,
            ("I", "setid") => s.id_pending = Some(l[4].clone()),
            ("D", "setid") => {
                s.id = l[4].clone();
                s.id_pending = None;
            }
            _ => panic!("objects journal: {l:?}"),
        }
    }
    let p = cx.p;
    let h = cx.user("objects", USER_PIN);
    let mut seen: HashMap<String, String> = HashMap::new();
    for o in p.find(h, &mut Tmpl::new()).unwrap() {
        let label = p.attr_text(h, o, CKA_LABEL).unwrap();
        assert!(seen.insert(label.clone(), String::new()).is_none(), "two objects labelled {label}");
        let s = objs.get(&label).unwrap_or_else(|| panic!("object {label} was never created"));
        assert!(!s.destroyed, "{label}: destroyed (CKR_OK), yet found");
        // Whole: every attribute as created, and it works.
        assert_eq!(p.attr_ulong(h, o, CKA_CLASS), Ok(CKO_SECRET_KEY), "{label}");
        assert_eq!(p.attr_ulong(h, o, CKA_KEY_TYPE), Ok(CKK_AES), "{label}");
        assert_eq!(p.attr_ulong(h, o, CKA_VALUE_LEN), Ok(32), "{label}");
        for (t, want) in [(CKA_TOKEN, true), (CKA_PRIVATE, true), (CKA_SENSITIVE, true), (CKA_ENCRYPT, true)] {
            assert_eq!(p.attr_bool(h, o, t), Ok(want), "{label} attribute {t:#x}");
        }
        let id = p.attr_text(h, o, CKA_ID).unwrap();
        assert!(id == s.id || s.id_pending.as_ref() == Some(&id), "{label}: CKA_ID {id}, confirmed {}", s.id);
        let ct = p.encrypt(h, o, CKM_AES_ECB, &mut [], &[0u8; 16]).unwrap();
        if label.ends_with("-c") {
            assert_eq!(ct, aes_ecb_zero(&value_for(&label)), "{label}: not the value it was created with");
        } else {
            assert_eq!(ct[..3], p.attr_bytes(h, o, CKA_CHECK_VALUE).unwrap()[..], "{label}: check value");
        }
        assert_eq!(p.decrypt(h, o, CKM_AES_ECB, &mut [], &ct).unwrap(), [0u8; 16], "{label}");
        seen.insert(label, id);
    }
    for (label, s) in &objs {
        if s.created && !s.destroy_started {
            assert!(seen.contains_key(label), "{label}: created (CKR_OK), lost");
        }
    }
    p.close(h).unwrap();
    let l = inflight?;
    let label = &l[3];
    Some(match l[2].as_str() {
        "create" => seen.contains_key(label),
        "destroy" => !seen.contains_key(label),
        "setid" => seen.get(label) == Some(&l[4]),
        _ => unreachable!(),
    })
}

fn check_pin(cx: &Ctx, lines: &[Vec<String>], inflight: Option<&Vec<String>>) -> Option<bool> {
    // The PINs of the last writer's life: the one it started with (the
    // parent's, from the check before), then each change it confirmed.
    let iter = cx.iter.to_string();
    let mut chain = vec![std::env::var("FERROHSM_CRASH_PIN").unwrap()];
    chain.extend(lines.iter().filter(|l| l[0] == iter && l[1] == "D").map(|l| l[3].clone()));
    // The current one, or the one it was changing to when killed, works.
    let mut candidates = vec![chain.last().unwrap().clone()];
    candidates.extend(inflight.map(|l| l[3].clone()));
    // The PIN before them must fail too.
    if chain.len() >= 2 {
        candidates.push(chain[chain.len() - 2].clone());
    }
    let p = cx.p;
    let slot = cx.setup.slot("set-pin");
    let h = p.open(slot).unwrap();
    let mut works = Vec::new();
    for c in &candidates {
        match p.login(h, CKU_USER, c) {
            Ok(()) => {
                works.push(c.clone());
                p.logout(h).unwrap();
            }
            Err(CKR_PIN_INCORRECT) => {}
            Err(e) => panic!("login with {c}: {}", rv_name(e)),
        }
    }
    works.dedup();
    assert_eq!(works.len(), 1, "exactly one of {candidates:?} must log in, these do: {works:?}");
    let right = works.pop().unwrap();
    // The wrong attempts counted; a right login clears the count.
    p.login(h, CKU_USER, &right).unwrap();
    p.logout(h).unwrap();
    let flags = p.token_info(slot).unwrap().flags;
    assert_eq!(flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED), 0, "failure count left: {flags:#x}");
    p.close(h).unwrap();
    println!("pin {right}");
    inflight.map(|l| right == l[3])
}

fn check_init(cx: &Ctx, lines: &[Vec<String>], inflight: Option<&Vec<String>>) -> Option<bool> {
    let mut done = "init-0".to_string();
    let mut pending: Vec<String> = Vec::new();
    let mut pin_done: HashSet<String> = HashSet::from([done.clone()]);
    let mut pin_tried = pin_done.clone();
    let mut obj_done: HashSet<String> = HashSet::new();
    for l in lines {
        match (l[1].as_str(), l[2].as_str()) {
            ("I", "initpin") => {
                pin_tried.insert(l[3].clone());
            }
            ("I", "init") => pending.push(l[3].clone()),
            ("D", "init") => {
                done = l[3].clone();
                pending.clear();
            }
            ("D", "initpin") => {
                pin_done.insert(l[3].clone());
            }
            ("D", "obj") => {
                obj_done.insert(l[3].clone());
            }
            _ => {}
        }
    }
    let (p, slot) = (cx.p, cx.setup.slot("init-token"));
    let label = p.token_label(slot).unwrap();
    assert!(label == done || pending.contains(&label), "token label {label}: confirmed {done}, in flight {pending:?}");
    let h = p.open(slot).unwrap();
    p.login(h, CKU_SO, SO_PIN).unwrap();
    p.logout(h).unwrap();
    let user_pin = p.token_info(slot).unwrap().flags & CKF_USER_PIN_INITIALIZED != 0;
    if pin_done.contains(&label) {
        assert!(user_pin, "{label}: C_InitPIN returned CKR_OK, no user PIN");
    }
    assert!(!user_pin || pin_tried.contains(&label), "{label}: a user PIN nobody set");
    // The objects of earlier tokens in this slot went with them.
    let mine = format!("d-{label}");
    let check = |h, logged_in: bool| {
        let found = p.find(h, &mut Tmpl::new()).unwrap();
        let labels: Vec<String> = found.iter().map(|o| p.attr_text(h, *o, CKA_LABEL).unwrap()).collect();
        assert!(labels.iter().all(|l| *l == mine) && labels.len() <= 1, "token {label} holds {labels:?}");
        if obj_done.contains(&label) {
            assert_eq!(labels.len(), 1, "{mine}: created (CKR_OK), lost");
        }
        if let (Some(o), true) = (found.first(), logged_in) {
            assert_eq!(p.attr_text(h, *o, CKA_VALUE).unwrap(), format!("v-{mine}"));
        }
        !found.is_empty()
    };
    let public = check(h, false);
    if user_pin {
        p.login(h, CKU_USER, USER_PIN).unwrap();
        assert_eq!(check(h, true), public, "the same objects with a login");
        p.logout(h).unwrap();
    } else {
        assert!(!public, "an object on a token without a user PIN");
    }
    p.close(h).unwrap();
    println!("label {label}");
    let l = inflight?;
    Some(match l[2].as_str() {
        "init" => label == l[3],
        "initpin" => user_pin,
        "obj" => public,
        _ => unreachable!(),
    })
}

fn check_kms(cx: &Ctx, lines: &[Vec<String>], inflight: Option<&Vec<String>>, full: bool) -> Option<bool> {
    let h = cx.user("kms-rotate", USER_PIN);
    let k = cx.p.kms(h);
    let key = cx.setup.key("kms-rotate");
    let d = k.describe(key).unwrap();
    let current = d["CurrentVersion"].as_u64().unwrap();
    let versions: Vec<u64> = d["Versions"].as_array().unwrap().iter().map(|v| v["Version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (1..=current).collect::<Vec<_>>(), "versions of the key");
    // Within a writer's life each rotation is the one after the last it
    // saw; across lives, nothing confirmed is lost.
    let (mut last_done, mut since_done, mut expect) = (1u64, 0u64, None::<u64>);
    // The version this writer last knew (its start, or its last rotation).
    let mut known_now = 0;
    let iter = cx.iter.to_string();
    let mut blobs = 0;
    for l in lines {
        match (l[1].as_str(), l[2].as_str()) {
            ("S", _) => {
                let start: u64 = l[3].parse().unwrap();
                assert!(start >= last_done && start <= last_done + since_done, "{l:?}: after {last_done}");
                expect = Some(start + 1);
                if l[0] == iter {
                    known_now = start;
                }
            }
            ("I", "rotate") => since_done += 1,
            ("D", "rotate") => {
                let v: u64 = l[3].parse().unwrap();
                assert_eq!(Some(v), expect, "rotation {l:?}");
                (last_done, since_done, expect) = (v, 0, Some(v + 1));
                if l[0] == iter {
                    known_now = v;
                }
            }
            ("D", "blob") => {
                let (v, n) = (l[3].parse::<u64>().unwrap(), &l[4]);
                assert!(v <= current);
                // The last writer's blobs always; the rest in full runs and
                // one in 16 otherwise (each is a decryption).
                if full || l[0] == iter || blobs % 16 == 0 {
                    let ctx = [("iter", l[0].as_str()), ("n", n.as_str())];
                    let plain = k.decrypt(&ctx, &common::vectors::unhex(&l[5])).unwrap();
                    assert_eq!(plain, format!("p-{}-{n}", l[0]).as_bytes(), "{l:?}");
                }
                blobs += 1;
            }
            ("D", "datakey") => {
                if full || l[0] == iter {
                    let ctx = [("iter", l[0].as_str()), ("n", l[3].as_str())];
                    let plain = k.decrypt(&ctx, &common::vectors::unhex(&l[5])).unwrap();
                    assert_eq!(common::vectors::hex(&plain), l[4], "data key {l:?}");
                }
            }
            _ => panic!("kms journal: {l:?}"),
        }
    }
    assert!(
        current >= last_done && current <= last_done + since_done,
        "current version {current}: confirmed {last_done}, {since_done} in flight since"
    );
    cx.p.close(h).unwrap();
    inflight.map(|_| current > known_now)
}

fn check_audit(cx: &Ctx, lines: &[Vec<String>], inflight: Option<&Vec<String>>) -> Option<bool> {
    let iter = cx.iter.to_string();
    // Over the whole journal: every use flushed with CKR_OK is audited, and
    // none that was not tried. Since the last check (its `V` line): at
    // least this writer's last confirmed flush, at most its tries.
    let (mut flushed, mut tried) = (HashMap::<&str, u64>::new(), 0u64);
    // The period confirmed last, and every change in flight since (each
    // may have committed; the last of those that did holds).
    let (mut rot_done, mut rot_tried, mut period, mut pending) = (0u64, 0u64, 0u64, Vec::new());
    let (mut base_uses, mut base_changes, mut tried_now, mut rot_done_now) = (0u64, 0u64, 0u64, 0u64);
    for l in lines {
        let now = l[0] == iter;
        match (l[1].as_str(), l[2].as_str()) {
            ("V", _) => (base_uses, base_changes) = (l[2].parse().unwrap(), l[3].parse().unwrap()),
            ("I", "enc") => {
                tried += 1;
                tried_now += now as u64;
            }
            ("I", "flush") => {}
            ("D", "flush") => {
                flushed.insert(&l[0], l[3].parse().unwrap());
            }
            ("I", "rotation") => {
                rot_tried += 1;
                pending.push(l[3].parse::<u64>().unwrap());
            }
            ("D", "rotation") => {
                rot_done += 1;
                rot_done_now += now as u64;
                period = l[3].parse().unwrap();
                pending.clear();
            }
            _ => panic!("audit journal: {l:?}"),
        }
    }
    let h = cx.user("audit", USER_PIN);
    let k = cx.p.kms(h);
    let key = cx.setup.key("audit");
    let (mut uses, mut changes) = (0u64, 0u64);
    for r in k.audit(Some(key)) {
        match r["event"].as_str().unwrap() {
            "kms-encrypt" => uses += r["count"].as_u64().unwrap(),
            "set-rotation" => changes += 1,
            _ => {}
        }
    }
    let min: u64 = flushed.values().sum();
    assert!(uses >= min && uses <= tried, "{uses} encryptions audited: {min} flushed, {tried} tried");
    assert!(
        changes >= rot_done && changes <= rot_tried,
        "{changes} rotation changes audited: {rot_done}..={rot_tried}"
    );
    assert!(
        uses >= base_uses && changes >= base_changes,
        "audit records lost: {uses} {changes} after {l:?}",
        l = (base_uses, base_changes)
    );
    let flushed_now = flushed.get(iter.as_str()).copied().unwrap_or(0);
    let new_uses = uses - base_uses;
    assert!(
        new_uses >= flushed_now && new_uses <= tried_now,
        "{new_uses} encryptions audited since the last check: {flushed_now} flushed, {tried_now} tried"
    );
    let new_changes = changes - base_changes;
    assert!(new_changes >= rot_done_now && new_changes <= rot_done_now + 1, "{new_changes} rotation changes since");
    let now = k.describe(key).unwrap()["RotationPeriodInDays"].as_u64().unwrap_or(0);
    assert!(
        now == period || pending.contains(&now),
        "rotation period {now}: confirmed {period}, in flight {pending:?}"
    );
    k.audit_verify().unwrap();
    cx.p.close(h).unwrap();
    if cx.iter != u64::MAX {
        Journal::open(&cx.journal("audit")).line(&format!("{iter} V {uses} {changes}"));
    }
    let l = inflight?;
    match l[2].as_str() {
        "rotation" => Some(new_changes > rot_done_now),
        "flush" => Some(new_uses > flushed_now),
        // An encryption is not a write.
        _ => None,
    }
}
