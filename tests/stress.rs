//! Concurrency (issue #17, item 4): 8 processes x 4 threads on one store
//! for a bounded time, mixing object creation and destruction, finds,
//! encryption, HMAC and ECDSA signatures, logins and KMS calls. Then: no
//! object lost or duplicated (the store holds exactly what was created
//! minus what was destroyed, each label once), no error but the few the
//! specification gives for the situation (a key another thread destroyed
//! meanwhile; a second login), so a busy store waited rather than failed,
//! and no deadlock (a watchdog kills everything past a deadline and fails).
//!
//! `harness = false`: `main` is the parent, or (FERROHSM_STRESS_CHILD set)
//! a child: `setup`, `worker` or `check`. Login state is per slot and per
//! process in PKCS#11, so in each process three threads share one login on
//! token `stress` (they never log out; a C_Login there must answer
//! CKR_USER_ALREADY_LOGGED_IN), and the fourth logs in and out of token
//! `logins`, which no other thread of its process uses.
//!
//! FERROHSM_STRESS_SECS (default 20) sets the run's length;
//! FERROHSM_STRESS_SEED (default: from the clock; printed) picks each
//! thread's sequence of operations. See docs/reliability-crash.md.

#[macro_use]
mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::kms::pairs;
use common::procs::*;
use common::{SO_PIN, USER_PIN};
use cryptoki_sys::*;
use ferrohsm::ffi::kms::CK_FHSM_KEY_ID;
use sha2::Digest;

const ROLE: &str = "FERROHSM_STRESS_CHILD";
const PROCS: u64 = 8;
const THREADS: u64 = 4;
/// A process still running this long after the run's end is stuck.
const GRACE: Duration = Duration::from_secs(120);

/// Errors the specification gives for what the mix does on purpose, by
/// operation: using an object found a moment ago that its owner destroyed
/// since, and logging in where the process already is.
const ALLOWED: &[(&str, CK_RV)] = &[
    ("foreign-label", CKR_OBJECT_HANDLE_INVALID),
    ("foreign-encrypt", CKR_KEY_HANDLE_INVALID),
    ("foreign-encrypt", CKR_OBJECT_HANDLE_INVALID),
    ("login-again", CKR_USER_ALREADY_LOGGED_IN),
];

fn main() {
    match std::env::var(ROLE) {
        Ok(role) => child(&role),
        Err(_) if selected("stress_8x4") => stress(),
        Err(_) => {}
    }
}

// ---------------------------------------------------------------- parent

fn stress() {
    let secs = env_num("FERROHSM_STRESS_SECS", 20);
    let seed = seed("FERROHSM_STRESS_SEED");
    println!("stress: {PROCS} processes x {THREADS} threads for {secs} s, FERROHSM_STRESS_SEED={seed}");
    let mut w = common::world("[slots]\ncount = 2\n");
    w.dir.disable_cleanup(true);
    let module = common::module_path();
    let dir = w.dir.path().to_path_buf();
    let run = |role: &str| -> String {
        let out =
            self_child(ROLE, role, &module).env("FERROHSM_STRESS_DIR", &dir).stderr(Stdio::inherit()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{role} failed ({}): {text}\nstore kept in {}", out.status, dir.display());
        text
    };
    run("setup");

    let started = Instant::now();
    let mut children: Vec<(u64, Child)> = (0..PROCS)
        .map(|i| {
            let c = self_child(ROLE, "worker", &module)
                .env("FERROHSM_STRESS_DIR", &dir)
                .env("FERROHSM_STRESS_PROC", i.to_string())
                .env("FERROHSM_STRESS_SECS", secs.to_string())
                .env("FERROHSM_STRESS_SEED", seed.to_string())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join(format!("p{i}.stderr"))).unwrap())
                .spawn()
                .unwrap();
            (i, c)
        })
        .collect();
    // The watchdog: every worker ends within its time plus the grace, or
    // all are killed and the test fails.
    let deadline = started + Duration::from_secs(secs) + GRACE;
    let mut ended = Vec::new();
    let mut failed = None;
    while !children.is_empty() && failed.is_none() {
        let mut i = 0;
        while i < children.len() {
            if let Some(status) = children[i].1.try_wait().unwrap() {
                let (n, _) = children.remove(i);
                if !status.success() {
                    let err = std::fs::read_to_string(dir.join(format!("p{n}.stderr"))).unwrap_or_default();
                    failed = Some(format!("worker {n} failed ({status}):\n{err}"));
                }
                ended.push(started.elapsed());
            } else {
                i += 1;
            }
        }
        if failed.is_none() && Instant::now() > deadline {
            let stuck: Vec<u64> = children.iter().map(|(n, _)| *n).collect();
            failed =
                Some(format!("deadlock: workers {stuck:?} still running {} s after the run's end", GRACE.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(why) = failed {
        for (_, c) in children.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        panic!("{why}\nstore kept in {}", dir.display());
    }
    let last = ended.iter().max().copied().unwrap_or_default();

    let checked = run("check");
    let (ok, out) = ferrohsm(
        &w.conf,
        &["audit", "verify", "--require-anchor", "--pin-env", "FERROHSM_USER_PIN", "--token", "stress"],
    );
    assert!(ok, "ferrohsm audit verify: {out}");
    for label in ["stress", "logins"] {
        let (ok, out) = ferrohsm(&w.conf, &["store", "verify", "--token", label]);
        assert!(ok && out.contains("store intact"), "ferrohsm store verify --token {label}: {out}");
    }

    // The workers' counts, merged.
    let (mut ops, mut allowed, mut errors) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut slowest: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..PROCS {
        let text = std::fs::read_to_string(dir.join(format!("p{i}.counts"))).unwrap();
        for l in text.lines() {
            let f: Vec<&str> = l.split(' ').collect();
            let n: u64 = f[2].parse().unwrap();
            let into = match f[0] {
                "op" => &mut ops,
                "allowed" => &mut allowed,
                "error" => &mut errors,
                "slowest" => {
                    let s = slowest.entry(f[1].to_string()).or_default();
                    *s = (*s).max(n);
                    continue;
                }
                _ => panic!("{l}"),
            };
            *into.entry(f[1].to_string()).or_insert(0u64) += n;
        }
    }
    let total: u64 = ops.values().sum();
    println!(
        "stress passed: {total} operations in {secs} s ({:.0}/s), all {PROCS} workers ended {:.1} s after the start (watchdog at {} s)",
        total as f64 / secs as f64,
        last.as_secs_f64(),
        secs + GRACE.as_secs()
    );
    println!("  {:<16} {:>8} {:>12}", "operation", "count", "slowest ms");
    for (op, n) in &ops {
        println!("  {op:<16} {n:>8} {:>12.1}", slowest.get(op).copied().unwrap_or(0) as f64 / 1000.0);
    }
    println!("  errors the specification allows, by operation and code:");
    for (k, n) in &allowed {
        println!("    {k:<45} {n:>6}");
    }
    if allowed.is_empty() {
        println!("    none");
    }
    print!("{checked}");
    assert!(errors.is_empty(), "errors no specification allows here: {errors:?}\nstore kept in {}", dir.display());
    println!("  other errors: none");
    w.dir.disable_cleanup(false);
}

// ---------------------------------------------------------------- children

fn child(role: &str) {
    let p = P11::from_env();
    let dir = PathBuf::from(std::env::var("FERROHSM_STRESS_DIR").unwrap());
    match role {
        "setup" => setup(p, &dir),
        "worker" => worker(p, &dir),
        "check" => check(p, &dir),
        _ => panic!("no role {role}"),
    }
    p.finalize().unwrap();
}

struct Setup {
    stress: CK_SLOT_ID,
    logins: CK_SLOT_ID,
    kms_key: String,
}

fn read_setup(dir: &Path) -> Setup {
    let l = read_journal(&dir.join("setup"));
    Setup { stress: l[0][1].parse().unwrap(), logins: l[1][1].parse().unwrap(), kms_key: l[2][1].clone() }
}

/// Tokens `stress` and `logins`; on `stress` an HMAC key, a P-256 key pair
/// and a KMS key that every thread uses.
fn setup(p: P11, dir: &Path) {
    let stress = p.new_token("stress", SO_PIN, USER_PIN).unwrap();
    let logins = p.new_token("logins", SO_PIN, USER_PIN).unwrap();
    let h = p.open(stress).unwrap();
    p.login(h, CKU_USER, USER_PIN).unwrap();
    p.create(
        h,
        &mut Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .bool(CKA_TOKEN, true)
            .bool(CKA_PRIVATE, true)
            .bool(CKA_SIGN, true)
            .bool(CKA_VERIFY, true)
            .bytes(CKA_LABEL, b"hmac")
            .bytes(CKA_VALUE, &[7u8; 32]),
    )
    .unwrap();
    p.generate_pair(
        h,
        CKM_EC_KEY_PAIR_GEN,
        &mut Tmpl::new()
            .bool(CKA_TOKEN, true)
            .bool(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, common::P256)
            .bytes(CKA_LABEL, b"ec"),
        &mut Tmpl::new().bool(CKA_TOKEN, true).bool(CKA_PRIVATE, true).bool(CKA_SIGN, true).bytes(CKA_LABEL, b"ec"),
    )
    .unwrap();
    let key = p.kms(h).key();
    let j = Journal::open(&dir.join("setup"));
    j.line(&format!("stress {stress}"));
    j.line(&format!("logins {logins}"));
    j.line(&format!("kms {key}"));
}

/// One thread's counts: operations that went as the specification says
/// (by kind), errors it allows there (by kind and code), and the rest.
#[derive(Default)]
struct Counts {
    ops: BTreeMap<String, u64>,
    /// The longest call of each kind (waits for the store's write lock
    /// show here).
    slowest: BTreeMap<String, Duration>,
    allowed: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
}

impl Counts {
    /// Runs and counts `op`: Some(value) when it returned CKR_OK.
    fn of<T>(&mut self, op: &str, f: impl FnOnce() -> Rv<T>) -> Option<T> {
        let t = Instant::now();
        let r = f();
        self.record(op, t.elapsed(), r)
    }

    /// Counts `r`, the result of `op` that took `took`.
    fn record<T>(&mut self, op: &str, took: Duration, r: Rv<T>) -> Option<T> {
        let slowest = self.slowest.entry(op.to_string()).or_default();
        *slowest = (*slowest).max(took);
        match r {
            Ok(v) => {
                *self.ops.entry(op.to_string()).or_default() += 1;
                Some(v)
            }
            Err(rv) if ALLOWED.contains(&(op, rv)) => {
                *self.ops.entry(op.to_string()).or_default() += 1;
                *self.allowed.entry(format!("{op}:{}", rv_name(rv))).or_default() += 1;
                None
            }
            Err(rv) => {
                eprintln!("{op}: {}", rv_name(rv));
                *self.errors.entry(format!("{op}:{}", rv_name(rv))).or_default() += 1;
                None
            }
        }
    }
    /// A result that is wrong although the call succeeded.
    fn wrong(&mut self, what: &str) {
        eprintln!("wrong result: {what}");
        *self.errors.entry(format!("wrong:{}", what.split(':').next().unwrap())).or_default() += 1;
    }
    fn merge(&mut self, o: Counts) {
        for (k, d) in o.slowest {
            let mine = self.slowest.entry(k).or_default();
            *mine = (*mine).max(d);
        }
        for (mine, theirs) in [(&mut self.ops, o.ops), (&mut self.allowed, o.allowed), (&mut self.errors, o.errors)] {
            for (k, n) in theirs {
                *mine.entry(k).or_default() += n;
            }
        }
    }
}

fn worker(p: P11, dir: &Path) {
    let setup = read_setup(dir);
    let proc_n = env_num("FERROHSM_STRESS_PROC", 0);
    let secs = env_num("FERROHSM_STRESS_SECS", 20);
    let seed = env_num("FERROHSM_STRESS_SEED", 0);
    // The process's login on `stress`, shared by its sessions there.
    let h = p.open(setup.stress).unwrap();
    p.login(h, CKU_USER, USER_PIN).unwrap_or_else(|rv| panic!("the process's login: {}", rv_name(rv)));
    let end = Instant::now() + Duration::from_secs(secs);
    let setup = &setup;
    let all = std::thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut w = Thread {
                        p,
                        name: format!("{proc_n}-{t}"),
                        rng: Rng::new(seed ^ (proc_n << 16 | t)),
                        j: Journal::open(&dir.join(format!("j-{proc_n}-{t}"))),
                        c: Counts::default(),
                        n: 0,
                    };
                    if t == THREADS - 1 {
                        w.logins(setup.logins, end);
                    } else {
                        w.mix(setup, end);
                    }
                    w.c
                })
            })
            .collect();
        let mut all = Counts::default();
        for t in threads {
            all.merge(t.join().expect("a worker thread panicked"));
        }
        all
    });
    p.close(h).unwrap();
    let mut out = String::new();
    for (kind, m) in [("op", &all.ops), ("allowed", &all.allowed), ("error", &all.errors)] {
        for (k, n) in m {
            out.push_str(&format!("{kind} {k} {n}\n"));
        }
    }
    for (k, d) in &all.slowest {
        out.push_str(&format!("slowest {k} {}\n", d.as_micros()));
    }
    std::fs::write(dir.join(format!("p{proc_n}.counts")), out).unwrap();
}

struct Thread {
    p: P11,
    name: String,
    rng: Rng,
    j: Journal,
    c: Counts,
    n: u64,
}

fn key_template(label: &str) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_DECRYPT, true)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_ID, b"stress")
}

impl Thread {
    /// Creates a token AES key labelled `prefix-<thread>-<n>` (by value or
    /// generated), journalled `C` when it returned CKR_OK, `F` when not.
    fn create(&mut self, h: CK_SESSION_HANDLE, prefix: &str) -> Option<(String, CK_OBJECT_HANDLE)> {
        self.n += 1;
        let label = format!("{prefix}-{}-{}", self.name, self.n);
        let t = Instant::now();
        let r = if self.n % 2 == 0 {
            self.p.generate(h, CKM_AES_KEY_GEN, &mut key_template(&label).ulong(CKA_VALUE_LEN, 32))
        } else {
            let value = sha2::Sha256::digest(label.as_bytes()).to_vec();
            self.p.create(h, &mut key_template(&label).bytes(CKA_VALUE, &value))
        };
        match &r {
            Ok(_) => self.j.line(&format!("C {label}")),
            Err(rv) => self.j.line(&format!("F {label} {rv:#x}")),
        }
        Some((label.clone(), self.c.record("create", t.elapsed(), r)?))
    }

    fn destroy(&mut self, h: CK_SESSION_HANDLE, live: &mut Vec<(String, CK_OBJECT_HANDLE)>) {
        let (label, o) = live.swap_remove(self.rng.below(live.len() as u64) as usize);
        if self.c.of("destroy", || self.p.destroy(h, o)).is_some() {
            self.j.line(&format!("X {label}"));
        }
    }

    /// Its own key is found exactly once; it round-trips a CBC message.
    fn use_own(&mut self, h: CK_SESSION_HANDLE, label: &str, o: CK_OBJECT_HANDLE) {
        if let Some(found) = self.c.of("find", || self.p.find_label(h, label)) {
            if found != [o] {
                self.c.wrong(&format!("find: {label} found as {found:?}, created as {o}"));
            }
        }
        let msg = format!("message {} of {}", self.n, self.name).into_bytes();
        let mut iv = [9u8; 16];
        let Some(ct) = self.c.of("encrypt", || self.p.encrypt(h, o, CKM_AES_CBC_PAD, &mut iv, &msg)) else { return };
        if let Some(pt) = self.c.of("decrypt", || self.p.decrypt(h, o, CKM_AES_CBC_PAD, &mut iv, &ct)) {
            if pt != msg {
                self.c.wrong(&format!("decrypt: {label} gave another message"));
            }
        }
    }

    /// A key of another thread, found now and used at once: its owner may
    /// destroy it in between (allowed errors; journalled `V` when it
    /// vanished after its label was read, for the check).
    fn use_foreign(&mut self, h: CK_SESSION_HANDLE) {
        let Some(found) = self.c.of("find-all", || self.p.find(h, &mut Tmpl::new().bytes(CKA_ID, b"stress"))) else {
            return;
        };
        if found.is_empty() {
            return;
        }
        let o = found[self.rng.below(found.len() as u64) as usize];
        let Some(label) = self.c.of("foreign-label", || self.p.attr_text(h, o, CKA_LABEL)) else { return };
        let t = Instant::now();
        match self.p.encrypt(h, o, CKM_AES_ECB, &mut [], &[0u8; 16]) {
            Err(rv) if rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID => {
                self.j.line(&format!("V {label}"));
                self.c.record("foreign-encrypt", Duration::ZERO, Err::<(), _>(rv));
            }
            r => {
                self.c.record("foreign-encrypt", t.elapsed(), r);
            }
        }
    }

    fn hmac(&mut self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) {
        let data = format!("hmac {}", self.rng.next()).into_bytes();
        let Some(sig) = self.c.of("sign-hmac", || self.p.sign(h, key, CKM_SHA256_HMAC, &data)) else { return };
        self.c.of("verify-hmac", || self.p.verify(h, key, CKM_SHA256_HMAC, &data, &sig));
    }

    fn ecdsa(&mut self, h: CK_SESSION_HANDLE, private: CK_OBJECT_HANDLE, public: CK_OBJECT_HANDLE) {
        let digest = sha2::Sha256::digest(self.rng.next().to_be_bytes()).to_vec();
        let Some(sig) = self.c.of("sign-ecdsa", || self.p.sign(h, private, CKM_ECDSA, &digest)) else { return };
        self.c.of("verify-ecdsa", || self.p.verify(h, public, CKM_ECDSA, &digest, &sig));
    }

    fn kms(&mut self, h: CK_SESSION_HANDLE, key: &str) {
        let k = self.p.kms(h);
        let n = self.rng.next().to_string();
        let ctx = [("thread", self.name.as_str()), ("n", n.as_str())];
        match self.rng.below(20) {
            0 => {
                if let Some(v) = self.c.of("kms-rotate", || k.rotate(key)) {
                    self.j.line(&format!("R {v}"));
                }
            }
            1..=8 => {
                let msg = format!("kms {n}").into_bytes();
                let Some(blob) = self.c.of("kms-encrypt", || kms_encrypt(&k, key, &ctx, &msg)) else { return };
                if let Some(pt) = self.c.of("kms-decrypt", || kms_decrypt(&k, &ctx, &blob)) {
                    if pt != msg {
                        self.c.wrong("kms-decrypt: another message");
                    }
                }
            }
            _ => {
                let Some((plain, blob)) = self.c.of("kms-data-key", || kms_data_key(&k, key, &ctx)) else { return };
                if let Some(pt) = self.c.of("kms-decrypt", || kms_decrypt(&k, &ctx, &blob)) {
                    if pt != plain {
                        self.c.wrong("kms-decrypt: another data key");
                    }
                }
            }
        }
    }

    /// The mix on token `stress`, in a session of its own under the
    /// process's login.
    fn mix(&mut self, setup: &Setup, end: Instant) {
        let p = self.p;
        let h = p.open(setup.stress).unwrap();
        let one = |class: CK_OBJECT_CLASS, label: &str| {
            p.find(h, &mut Tmpl::new().ulong(CKA_CLASS, class).bytes(CKA_LABEL, label.as_bytes())).unwrap()[0]
        };
        let (hmac, ec_private, ec_public) =
            (one(CKO_SECRET_KEY, "hmac"), one(CKO_PRIVATE_KEY, "ec"), one(CKO_PUBLIC_KEY, "ec"));
        let mut live: Vec<(String, CK_OBJECT_HANDLE)> = Vec::new();
        while Instant::now() < end {
            match self.rng.below(100) {
                0..=19 => {
                    if let Some(made) = self.create(h, "s") {
                        live.push(made);
                    }
                }
                20..=29 if !live.is_empty() => self.destroy(h, &mut live),
                30..=44 if !live.is_empty() => {
                    let (label, o) = live[self.rng.below(live.len() as u64) as usize].clone();
                    self.use_own(h, &label, o);
                }
                45..=54 => self.use_foreign(h),
                55..=64 => self.hmac(h, hmac),
                65..=69 => self.ecdsa(h, ec_private, ec_public),
                70..=89 => self.kms(h, &setup.kms_key),
                90..=94 => {
                    self.c.of("login-again", || p.login(h, CKU_USER, USER_PIN));
                }
                _ => {
                    // A short-lived session of its own.
                    if let Some(s) = self.c.of("open-session", || p.open(setup.stress)) {
                        self.c.of("token-info", || p.token_info(setup.stress));
                        self.c.of("close-session", || p.close(s));
                    }
                }
            }
        }
        p.close(h).unwrap();
    }

    /// Log in to `logins`, create a key, use it, destroy it or keep it, log
    /// out; over and over.
    fn logins(&mut self, slot: CK_SLOT_ID, end: Instant) {
        let p = self.p;
        while Instant::now() < end {
            let Some(h) = self.c.of("open-session", || p.open(slot)) else { continue };
            if self.c.of("login", || p.login(h, CKU_USER, USER_PIN)).is_some() {
                if let Some((label, o)) = self.create(h, "l") {
                    self.use_own(h, &label, o);
                    if self.rng.below(2) == 0 {
                        self.destroy(h, &mut vec![(label, o)]);
                    }
                }
                self.c.of("logout", || p.logout(h));
            }
            self.c.of("close-session", || p.close(h));
        }
    }
}

fn kms_encrypt(k: &common::kms::Kms, key: &str, ctx: &[(&str, &str)], data: &[u8]) -> Rv<Vec<u8>> {
    let p = pairs(ctx);
    let mut out = vec![0u8; 1024];
    let mut n = out.len() as CK_ULONG;
    ck(unsafe {
        (k.k.FHSM_Encrypt)(
            k.h,
            key.as_ptr(),
            key.len() as CK_ULONG,
            p.as_ptr(),
            p.len() as CK_ULONG,
            0,
            data.as_ptr(),
            data.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut n,
        )
    })?;
    out.truncate(n as usize);
    Ok(out)
}

fn kms_decrypt(k: &common::kms::Kms, ctx: &[(&str, &str)], blob: &[u8]) -> Rv<Vec<u8>> {
    let p = pairs(ctx);
    let mut out = vec![0u8; 1024];
    let mut n = out.len() as CK_ULONG;
    ck(unsafe {
        (k.k.FHSM_Decrypt)(
            k.h,
            p.as_ptr(),
            p.len() as CK_ULONG,
            blob.as_ptr(),
            blob.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut n,
        )
    })?;
    out.truncate(n as usize);
    Ok(out)
}

/// (plaintext data key, its blob).
fn kms_data_key(k: &common::kms::Kms, key: &str, ctx: &[(&str, &str)]) -> Rv<(Vec<u8>, Vec<u8>)> {
    let ids = [CK_FHSM_KEY_ID { pId: key.as_ptr(), ulIdLen: key.len() as CK_ULONG }];
    let p = pairs(ctx);
    let (mut plain, mut blob) = (vec![0u8; 32], vec![0u8; 1024]);
    let (mut pl, mut bl) = (plain.len() as CK_ULONG, blob.len() as CK_ULONG);
    ck(unsafe {
        (k.k.FHSM_GenerateDataKey)(
            k.h,
            ids.as_ptr(),
            1,
            32,
            p.as_ptr(),
            p.len() as CK_ULONG,
            0,
            plain.as_mut_ptr(),
            &mut pl,
            blob.as_mut_ptr(),
            &mut bl,
        )
    })?;
    plain.truncate(pl as usize);
    blob.truncate(bl as usize);
    Ok((plain, blob))
}

// ---------------------------------------------------------------- check

/// The store against the journals: exactly created - destroyed, each once;
/// every object that vanished under a thread was destroyed by its owner;
/// no failed creation left anything; every KMS rotation got its own version.
fn check(p: P11, dir: &Path) {
    let setup = read_setup(dir);
    let (mut created, mut destroyed, mut failed, mut vanished, mut rotations) =
        (HashSet::new(), HashSet::new(), HashSet::new(), Vec::new(), Vec::new());
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if !path.file_name().unwrap().to_str().unwrap().starts_with("j-") {
            continue;
        }
        for l in read_journal(&path) {
            match l[0].as_str() {
                "C" => assert!(created.insert(l[1].clone()), "{} created twice", l[1]),
                "X" => assert!(destroyed.insert(l[1].clone()), "{} destroyed twice", l[1]),
                "F" => {
                    failed.insert(l[1].clone());
                }
                "V" => vanished.push(l[1].clone()),
                "R" => rotations.push(l[1].parse::<u64>().unwrap()),
                _ => panic!("{}: {l:?}", path.display()),
            }
        }
    }
    assert!(destroyed.is_subset(&created), "destroyed but never created");
    let mut found: HashMap<String, u64> = HashMap::new();
    for slot in [setup.stress, setup.logins] {
        let h = p.open(slot).unwrap();
        p.login(h, CKU_USER, USER_PIN).unwrap();
        for o in p.find(h, &mut Tmpl::new().bytes(CKA_ID, b"stress")).unwrap() {
            *found.entry(p.attr_text(h, o, CKA_LABEL).unwrap()).or_default() += 1;
            // Whole and usable.
            p.encrypt(h, o, CKM_AES_ECB, &mut [], &[0u8; 16]).unwrap();
        }
        p.logout(h).unwrap();
        p.close(h).unwrap();
    }
    let dup: Vec<_> = found.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "duplicated objects: {dup:?}");
    let live: HashSet<String> = created.difference(&destroyed).cloned().collect();
    let there: HashSet<String> = found.keys().cloned().collect();
    let lost: Vec<_> = live.difference(&there).collect();
    let extra: Vec<_> = there.difference(&live).collect();
    assert!(lost.is_empty(), "{} objects lost: {lost:?}", lost.len());
    assert!(extra.is_empty(), "{} objects that should not be there: {extra:?}", extra.len());
    assert!(failed.is_disjoint(&there), "a failed creation left an object");
    for v in &vanished {
        assert!(destroyed.contains(v), "{v} vanished while used, yet its owner never destroyed it");
    }
    // KMS rotations: each its own version, none lost.
    let h = p.open(setup.stress).unwrap();
    p.login(h, CKU_USER, USER_PIN).unwrap();
    let d = p.kms(h).describe(&setup.kms_key).unwrap();
    let current = d["CurrentVersion"].as_u64().unwrap();
    rotations.sort_unstable();
    assert_eq!(rotations, (2..=current).collect::<Vec<_>>(), "rotations and versions");
    assert_eq!(d["Versions"].as_array().unwrap().len() as u64, current);
    p.close(h).unwrap();
    println!(
        "  objects: {} created, {} destroyed, {} in the store = created - destroyed, none duplicated",
        created.len(),
        destroyed.len(),
        there.len()
    );
    println!(
        "  {} used by another thread as their owner destroyed them (all confirmed destroyed); {} KMS rotations, versions 2..={current}",
        vanished.len(),
        rotations.len()
    );
}
