//! The store on PostgreSQL across "hosts" (issue 18): two processes, each
//! with its own configuration file naming the same database, each a
//! long-lived module with its caches. `main` is the parent, or (with
//! FERROHSM_PG_HOST set) a host child that reads one command per line on
//! stdin and answers one line.
//!
//! - `two_hosts`: objects created, found and destroyed, a KMS key rotated
//!   and disabled from either side: each host sees the other's change at
//!   its very next call; rotations from both at once lose none.
//! - `two_servers`: two `ferrohsm serve` processes (two configurations,
//!   one schema) and boto3 alternating between them
//!   (tests/kms_api/t_two_servers.py): one key set; a key made, rotated,
//!   disabled, enabled or scheduled for deletion, an alias made, moved or
//!   deleted, a grant made or revoked on one server is so on the other at
//!   the next request; then the database stopped: both answer
//!   KMSInternalException (HTTP 500) and work again once it is back,
//!   without a restart.
//! - `database_down_and_back`: PostgreSQL stopped (`pg_ctl stop -m fast`)
//!   while a host creates objects in a loop: the calls meanwhile fail with
//!   CKR_DEVICE_ERROR, the same module works again once it is started,
//!   every confirmed object is there exactly once, nothing is half written
//!   (`ferrohsm store verify`), and the other host sees it all.
//! - `tamper_by_sql`: a row edited with SQL UPDATE (a value planted in
//!   clear, the digest moved) is refused as on SQLite (tests/tamper.rs).
//! - `pg_audit`: the audit trail written by two hosts verifies, exports,
//!   prunes and verifies again; an edited batch body fails verification.
//! - `store_copy`: `ferrohsm store copy` from PostgreSQL (a pruned audit
//!   trail, a rotated KMS key, a failed login counted) to SQLite and on to
//!   another PostgreSQL schema: each copy verifies (`store verify`, `audit
//!   verify` with the checkpoints' MACs) and works with the same PINs.
//!
//! Needs `FERROHSM_TEST_PG_URL` and `FERROHSM_TEST_PG_CTL` (.ci/pg-cluster,
//! which .ci/run always starts); without the URL it skips, loudly.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procs::*;
use common::{SO_PIN, USER_PIN};
use cryptoki_sys::*;

const ROLE: &str = "FERROHSM_PG_HOST";

/// One case, given the server's URL.
type Case = fn(&str);

fn main() {
    if std::env::var_os(ROLE).is_some() {
        return host();
    }
    let tests: [(&str, Case); 6] = [
        ("two_hosts", two_hosts),
        ("two_servers", two_servers),
        ("database_down_and_back", database_down_and_back),
        ("tamper_by_sql", tamper_by_sql),
        ("pg_audit", pg_audit),
        ("store_copy", store_copy),
    ];
    let mut passed = 0;
    for (name, f) in tests {
        if !selected(name) {
            continue;
        }
        let Some(url) = common::pg::url_or_skip(name) else { continue };
        println!("test {name} ...");
        f(&url);
        println!("test {name} ... ok");
        passed += 1;
    }
    println!("{passed} passed, 0 failed");
}

// ---------------------------------------------------------------- parent

/// One host: a child process with its own configuration file.
struct Host {
    name: &'static str,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Host {
    fn start(name: &'static str, conf: &Path) -> Host {
        let module = common::module_path();
        let mut child = self_child(ROLE, name, &module)
            .env("FERROHSM_CONF", conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Host { name, child, input, output }
    }

    /// Sends one command; its one-line answer.
    fn ask(&mut self, cmd: &str) -> String {
        writeln!(self.input, "{cmd}").unwrap();
        self.input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "host {} died at {cmd:?}", self.name);
        line.trim_end().to_string()
    }

    fn ok(&mut self, cmd: &str) -> String {
        let a = self.ask(cmd);
        assert!(!a.starts_with("rv "), "host {}: {cmd}: {a}", self.name);
        a
    }

    fn num(&mut self, cmd: &str) -> u64 {
        let a = self.ok(cmd);
        a.parse().unwrap_or_else(|_| panic!("host {}: {cmd}: {a}", self.name))
    }

    /// A change made on the other host, seen here: asks `cmd` until it
    /// answers `want`, within the staleness bound (docs/storage.md: the
    /// other host's NOTIFY must arrive; on this loopback that is well
    /// under a millisecond, but a loaded CI machine may delay the
    /// listener thread's wake-up, so up to STALE). Asking again at once
    /// is what a client would do: no call ever sees the change undone.
    fn until(&mut self, cmd: &str, want: &str) {
        let start = Instant::now();
        let mut asked = 0;
        loop {
            let a = self.ask(cmd);
            asked += 1;
            if a == want {
                if asked > 1 {
                    println!("  host {}: {cmd:?} current after {asked} calls, {:?}", self.name, start.elapsed());
                }
                return;
            }
            assert!(start.elapsed() < STALE, "host {}: {cmd}: {a}, not {want} after {:?}", self.name, STALE);
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The longest a host may take to see another's commit in these tests.
const STALE: Duration = Duration::from_secs(2);

impl Drop for Host {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "quit");
        let _ = self.input.flush();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two configuration files (two "hosts") naming one fresh schema.
struct Fleet {
    dir: tempfile::TempDir,
    base: String,
    url: String,
    schema: String,
}

impl Fleet {
    fn new(base: &str) -> Fleet {
        let (url, schema) = common::pg::fresh_schema(base);
        let dir = tempfile::tempdir().unwrap();
        for h in ["a", "b"] {
            std::fs::write(
                dir.path().join(format!("{h}.toml")),
                format!(
                    "[store]\nurl = {url:?}\n[kdf]\nm_cost_kib = 64\nt_cost = 1\np_cost = 1\n\
                     [log]\nlevel = \"warn\"\nfile = {:?}\n",
                    dir.path().join(format!("{h}.log"))
                ),
            )
            .unwrap();
        }
        Fleet { dir, base: base.to_string(), url, schema }
    }

    fn conf(&self, h: &str) -> PathBuf {
        self.dir.path().join(format!("{h}.toml"))
    }

    fn sql(&self, q: &str) -> Vec<String> {
        common::pg::sql(&self.base, &self.schema, q)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        common::pg::drop_schema(&self.base, &self.schema);
    }
}

fn two_hosts(base: &str) {
    let f = Fleet::new(base);
    let mut a = Host::start("a", &f.conf("a"));
    let mut b = Host::start("b", &f.conf("b"));
    // B is up (its caches filled) before A makes the token.
    assert_eq!(b.ok("slots"), "0");
    let slot = a.num("token hosts");
    b.until("slots", "1");
    a.ok(&format!("open {slot}"));
    b.ok(&format!("open {slot}"));

    // Objects: made on one side, found on the other at the next call.
    assert_eq!(b.num("count k1"), 0);
    a.ok("create k1");
    b.until("count k1", "1");
    b.ok("create k2");
    a.until("count k2", "1");
    assert_eq!(a.ok("value k2"), b.ok("value k2"));
    // Renamed on one side: found by its new label only on the other (each
    // process answers finds from its copy of the token's objects, which
    // the other's notification marks stale).
    assert_eq!(b.num("rename k2 k2-renamed"), 1);
    a.until("count k2-renamed", "1");
    assert_eq!(a.num("count k2"), 0);
    assert_eq!(b.num("rename k2-renamed k2"), 1);
    a.until("count k2", "1");
    assert_eq!(a.num("count k2-renamed"), 0);
    assert_eq!(a.ok("value k2"), b.ok("value k2"));

    // A KMS key made on A, rotated on both, disabled on B.
    let key = a.ok("kms-create");
    b.until(&format!("kms-version {key}"), "1");
    assert_eq!(b.num(&format!("kms-rotate {key}")), 2);
    a.until(&format!("kms-version {key}"), "2");
    assert_eq!(a.num(&format!("kms-rotate {key}")), 3);
    b.until(&format!("kms-version {key}"), "3");
    // Both at once, 10 each: serialized by the database, none lost.
    writeln!(a.input, "kms-rotate-n {key} 10").unwrap();
    writeln!(b.input, "kms-rotate-n {key} 10").unwrap();
    a.input.flush().unwrap();
    b.input.flush().unwrap();
    for h in [&mut a, &mut b] {
        let mut line = String::new();
        h.output.read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), "ok", "host {}", h.name);
    }
    a.until(&format!("kms-version {key}"), "23");
    b.until(&format!("kms-version {key}"), "23");
    let blob = a.ok(&format!("kms-encrypt {key}"));
    assert_eq!(b.ok(&format!("kms-decrypt {blob}")), "hello fleet");
    b.ok(&format!("kms-disable {key}"));
    a.until(&format!("kms-state {key}"), "Disabled");
    assert_eq!(a.ask(&format!("kms-encrypt {key}")), format!("rv {:#x}", ferrohsm::vendor::CKR_FHSM_KEY_DISABLED));

    // Destroyed on one side: gone on the other.
    b.ok("destroy k1");
    a.until("count k1", "0");
    a.ok("destroy k2");
    b.until("count k2", "0");

    // Both creating at once: every object there.
    writeln!(a.input, "load pa 25").unwrap();
    writeln!(b.input, "load pb 25").unwrap();
    a.input.flush().unwrap();
    b.input.flush().unwrap();
    for h in [&mut a, &mut b] {
        let mut line = String::new();
        h.output.read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), "ok", "host {}", h.name);
    }
    for h in [&mut a, &mut b] {
        h.until("count-prefix pa", "25");
        h.until("count-prefix pb", "25");
    }
    drop((a, b));
    let (ok, out) = ferrohsm(&f.conf("a"), &["store", "verify", "--token", "hosts", "--so"]);
    assert!(ok && out.contains("store intact"), "store verify: {out}");
    let (ok, out) = ferrohsm(&f.conf("b"), &["audit", "verify"]);
    assert!(ok, "audit verify: {out}");
    assert!(!f.url.is_empty());
}

fn two_servers(base: &str) {
    use common::server::Home;
    let f = Fleet::new(base);
    let homes: Vec<Home> =
        ["a", "b"].iter().map(|h| Home { dir: tempfile::tempdir().unwrap(), conf: f.conf(h), _pg: None }).collect();
    homes[0].ok(&["init-token", "--free", "--label", "kms"]);
    let creds = f.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    // Principals made through A's configuration, seen by both servers.
    for (name, admin) in [("alice", true), ("bob", false)] {
        let c = homes[0].principal(name, admin);
        let doc = serde_json::json!({"AccessKey": {
            "UserName": c.name, "AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key}});
        std::fs::write(creds.join(format!("{name}.json")), doc.to_string()).unwrap();
    }
    let servers: Vec<_> = homes.iter().map(|h| h.serve(&[])).collect();
    let python = |phase: &str| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kms_api/t_two_servers.py");
        let mut c = std::process::Command::new(std::env::var("FERROHSM_TEST_PYTHON").unwrap_or("python3".into()));
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        let o = c
            .arg(script)
            .arg(phase)
            .current_dir(f.dir.path())
            .env("FERROHSM_KMS_ENDPOINT", &servers[0].url)
            .env("FERROHSM_KMS_ENDPOINT_B", &servers[1].url)
            .env("FERROHSM_KMS_CREDS", &creds)
            .env("AWS_CONFIG_FILE", f.dir.path().join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", f.dir.path().join("no-aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "t_two_servers.py {phase}: {out}{}\n--- server A\n{}--- server B\n{}",
            String::from_utf8_lossy(&o.stderr),
            servers[0].stderr(),
            servers[1].stderr()
        );
        print!("  {out}");
    };
    python("fleet");
    pg_ctl("stop");
    python("down");
    pg_ctl("start");
    python("back");
    for mut s in servers {
        let st = s.terminate(Duration::from_secs(10));
        assert!(st.is_some_and(|st| st.success()), "serve did not stop cleanly: {}", s.stderr());
    }
    // Both servers' records, one chain.
    assert!(homes[1].ok(&["audit", "verify"]).contains("audit log intact"));
}

fn pg_ctl(what: &str) {
    let ctl = std::env::var("FERROHSM_TEST_PG_CTL").expect("FERROHSM_TEST_PG_CTL (.ci/pg-cluster sets it)");
    let st = std::process::Command::new(&ctl).arg(what).stdout(Stdio::null()).status().unwrap();
    assert!(st.success(), "{ctl} {what}");
}

fn database_down_and_back(base: &str) {
    let f = Fleet::new(base);
    let mut a = Host::start("a", &f.conf("a"));
    let mut b = Host::start("b", &f.conf("b"));
    let slot = a.num("token down");
    a.ok(&format!("open {slot}"));
    b.ok(&format!("open {slot}"));
    a.ok("create before");
    // A creates in a loop; the database goes away under it and comes back.
    a.ok("loadrun x");
    std::thread::sleep(Duration::from_millis(400));
    pg_ctl("stop");
    std::thread::sleep(Duration::from_millis(1500));
    // Calls meanwhile: a clear device error, from both hosts.
    assert_eq!(b.ask("count before"), format!("rv {CKR_DEVICE_ERROR:#x}"));
    assert_eq!(b.ask("create during"), format!("rv {CKR_DEVICE_ERROR:#x}"));
    pg_ctl("start");
    std::thread::sleep(Duration::from_millis(1500));
    let report = a.ok("join");
    // "ok=N fail=M codes=.. done=label,label,.. failed=label,.."
    let field = |k: &str| -> String {
        report.split(' ').find_map(|p| p.strip_prefix(&format!("{k}="))).unwrap_or("").to_string()
    };
    let ok: Vec<String> = field("done").split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    let failed: Vec<String> = field("failed").split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    assert_eq!(field("codes"), format!("{CKR_DEVICE_ERROR:#x}"), "every failure a device error: {report}");
    assert!(!failed.is_empty(), "no call failed while the database was down: {report}");
    let last_fail: usize = failed.last().unwrap().trim_start_matches("x-").parse().unwrap();
    assert!(
        ok.iter().any(|l| l.trim_start_matches("x-").parse::<usize>().unwrap() > last_fail),
        "the module did not recover: {report}"
    );
    println!("  while down: {} creates confirmed, {} failed with CKR_DEVICE_ERROR", ok.len(), failed.len());
    // Every confirmed object is there once, seen from both hosts; a failed
    // one is there whole or not at all (a commit cut off may have landed).
    for h in [&mut a, &mut b] {
        assert_eq!(h.num("count before"), 1);
        for l in &ok {
            assert_eq!(h.num(&format!("count {l}")), 1, "host {} lost {l}", h.name);
        }
        for l in &failed {
            assert!(h.num(&format!("count {l}")) <= 1);
        }
    }
    b.ok("create after");
    a.until("count after", "1");
    drop((a, b));
    let (ok, out) = ferrohsm(&f.conf("a"), &["store", "verify", "--token", "down", "--so"]);
    assert!(ok && out.contains("store intact"), "store verify: {out}");
    let (ok, out) = ferrohsm(&f.conf("a"), &["audit", "verify"]);
    assert!(ok, "audit verify: {out}");
}

fn tamper_by_sql(base: &str) {
    let f = Fleet::new(base);
    let slot;
    {
        let mut a = Host::start("a", &f.conf("a"));
        slot = a.num("token tamper");
        a.ok(&format!("open {slot}"));
        a.ok("create victim");
        a.ok("create bystander");
        assert_eq!(a.ok("value victim").len(), 64);
    }
    // The attacker, with SQL only: the victim's sealed CKA_VALUE replaced
    // by a value in clear.
    let n = f.sql(&format!(
        "UPDATE attrs SET sealed = false, value = '\\x{}'::bytea
         WHERE atype = {CKA_VALUE} AND obj_id = (SELECT min(obj_id) FROM objects) RETURNING obj_id",
        "41".repeat(32)
    ));
    assert_eq!(n.len(), 1, "one row edited");
    let mut a = Host::start("a", &f.conf("a"));
    a.ok(&format!("open {slot}"));
    // The edited object is refused, never used as edited; the other stays.
    assert_eq!(a.ask("value victim"), "rv 0 objects");
    assert_eq!(a.num("count victim"), 0, "a find leaves the edited object out");
    assert_eq!(a.num("count bystander"), 1);
    drop(a);
    let (ok, out) = ferrohsm(&f.conf("a"), &["store", "verify", "--token", "tamper", "--so"]);
    assert!(!ok, "store verify passed over an edited row: {out}");
    // Moving the object-set digest: refused at the next write.
    f.sql("UPDATE tokens SET objects_count = objects_count + 1");
    let mut a = Host::start("a", &f.conf("a"));
    a.ok(&format!("open {slot}"));
    assert_eq!(a.ask("create more"), format!("rv {CKR_GENERAL_ERROR:#x}"));
}

fn pg_audit(base: &str) {
    let f = Fleet::new(base);
    let slot = {
        let mut a = Host::start("a", &f.conf("a"));
        let mut b = Host::start("b", &f.conf("b"));
        let slot = a.num("token audit");
        a.ok(&format!("open {slot}"));
        b.ok(&format!("open {slot}"));
        for i in 0..5 {
            a.ok(&format!("create a{i}"));
            b.ok(&format!("create b{i}"));
        }
        slot
    };
    {
        // A process that exits without C_Finalize: its records are flushed
        // from the exit handler, which must not take the process down (the
        // main thread's thread-locals are gone by then; the PostgreSQL
        // client's runtime needs one).
        let mut c = Host::start("c", &f.conf("a"));
        c.ok(&format!("open {slot}"));
        c.ok("create c0");
        writeln!(c.input, "exit-now").unwrap();
        c.input.flush().unwrap();
        let st = c.child.wait().unwrap();
        assert!(st.success(), "a host exiting without C_Finalize: {st:?}");
    }
    let batches: i64 = f.sql("SELECT count(*) FROM audit")[0].parse().unwrap();
    assert!(batches >= 11, "{batches} batches");
    let cli = |args: &[&str]| {
        let (ok, out) = ferrohsm(&f.conf("a"), args);
        assert!(ok, "ferrohsm {}: {out}", args.join(" "));
        out
    };
    let out = cli(&["audit", "verify", "--pin-env", "FERROHSM_USER_PIN"]);
    assert!(out.contains("audit log intact"), "{out}");
    let file = f.dir.path().join("audit.jsonl");
    let file = file.to_str().unwrap();
    cli(&["audit", "export", "--until", "2999-01-01", "--out", file]);
    cli(&["audit", "verify-export", file]);
    cli(&["audit", "prune", "--until", "2999-01-01", "--export", file]);
    let left: i64 = f.sql("SELECT count(*) FROM audit")[0].parse().unwrap();
    assert!(left < batches, "prune deleted nothing ({left} of {batches})");
    assert_eq!(f.sql("SELECT count(*) FROM audit_base")[0], "1");
    let out = cli(&["audit", "verify", "--pin-env", "FERROHSM_USER_PIN"]);
    assert!(out.contains("audit log intact"), "{out}");
    // An edited body, even with its own hash recomputed by the attacker,
    // breaks the chain.
    f.sql("UPDATE audit SET body = body || ' ' WHERE seq = (SELECT max(seq) FROM audit)");
    let (ok, out) = ferrohsm(&f.conf("a"), &["audit", "verify"]);
    assert!(!ok, "an edited batch verified: {out}");
}

fn store_copy(base: &str) {
    let f = Fleet::new(base);
    let key;
    {
        let mut a = Host::start("a", &f.conf("a"));
        let slot = a.num("token copied");
        a.ok(&format!("open {slot}"));
        for i in 0..12 {
            a.ok(&format!("create c{i}"));
        }
        key = a.ok("kms-create");
        a.num(&format!("kms-rotate {key}"));
    }
    let cli = |conf: &Path, args: &[&str]| {
        let (ok, out) = ferrohsm(conf, args);
        assert!(ok, "ferrohsm {}: {out}", args.join(" "));
        out
    };
    let file = f.dir.path().join("audit.jsonl");
    cli(&f.conf("a"), &["audit", "export", "--until", "2999-01-01", "--out", file.to_str().unwrap()]);
    cli(&f.conf("a"), &["audit", "prune", "--until", "2999-01-01", "--export", file.to_str().unwrap()]);
    let sqlite = f.dir.path().join("copy/store.db");
    let out = cli(&f.conf("a"), &["store", "copy", "--from", &f.url, "--to", sqlite.to_str().unwrap()]);
    assert!(out.contains("copied and verified: 1 tokens, 13 objects"), "{out}");
    let conf_s = f.dir.path().join("s.toml");
    std::fs::write(&conf_s, format!("[store]\npath = {sqlite:?}\n[audit]\nsidecar = false\n")).unwrap();
    let (again, name2) = common::pg::fresh_schema(&f.base);
    let _second = common::pg::Schema { base: f.base.clone(), name: name2, url: again.clone() };
    let conf_p = f.dir.path().join("p2.toml");
    std::fs::write(&conf_p, format!("[store]\nurl = {again:?}\n")).unwrap();
    let out = cli(&conf_s, &["store", "copy", "--from", sqlite.to_str().unwrap(), "--to", &again]);
    assert!(out.contains("copied and verified: 1 tokens, 13 objects"), "{out}");
    let listed = cli(&f.conf("a"), &["key", "list"]);
    for conf in [&conf_s, &conf_p] {
        assert!(cli(conf, &["store", "verify", "--token", "copied"]).contains("store intact"));
        let out = cli(conf, &["audit", "verify", "--pin-env", "FERROHSM_USER_PIN"]);
        assert!(out.contains("audit log intact") && out.contains("MAC-verified"), "{out}");
        let keys = cli(conf, &["key", "list"]);
        assert!(keys.contains(&key) && keys.contains("v2"), "{keys}");
        assert_eq!(keys.lines().count(), listed.lines().count());
    }
    // Into a store that is not empty: refused, nothing written.
    let (ok, out) = ferrohsm(&conf_s, &["store", "copy", "--from", sqlite.to_str().unwrap(), "--to", &again]);
    assert!(!ok && out.contains("not empty"), "{out}");
}

// ---------------------------------------------------------------- child

struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<String>, Vec<String>, Vec<CK_RV>)>,
}

fn host() {
    let p = P11::from_env();
    let mut h: CK_SESSION_HANDLE = 0;
    let mut load: Option<Load> = None;
    let out = Mutex::new(std::io::stdout());
    let say = |s: String| {
        let mut o = out.lock().unwrap();
        writeln!(o, "{s}").unwrap();
        o.flush().unwrap();
    };
    let rvs = |r: CK_RV| format!("rv {r:#x}");
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let w: Vec<&str> = line.split(' ').collect();
        let answer: Result<String, CK_RV> = match w.as_slice() {
            ["quit"] => break,
            ["exit-now"] => std::process::exit(0),
            ["slots"] => slots_with_tokens(&p).map(|n| n.to_string()),
            ["token", label] => p.new_token(label, SO_PIN, USER_PIN).map(|s| s.to_string()),
            ["open", slot] => p.open(slot.parse().unwrap()).and_then(|s| {
                h = s;
                p.login(s, CKU_USER, USER_PIN).map(|_| "ok".into())
            }),
            ["create", label] => create(&p, h, label).map(|_| "ok".into()),
            ["count", label] => p.find_label(h, label).map(|v| v.len().to_string()),
            ["count-prefix", prefix] => count_prefix(&p, h, prefix),
            ["value", label] => value(&p, h, label),
            ["rename", old, new] => p.find_label(h, old).and_then(|v| {
                v.iter().try_for_each(|o| p.set_attr(h, *o, &mut Tmpl::new().bytes(CKA_LABEL, new.as_bytes())))?;
                Ok(v.len().to_string())
            }),
            ["destroy", label] => p.find_label(h, label).and_then(|v| {
                v.iter().try_for_each(|o| p.destroy(h, *o))?;
                Ok(v.len().to_string())
            }),
            ["load", prefix, n] => (0..n.parse::<usize>().unwrap())
                .try_for_each(|i| create(&p, h, &format!("{prefix}-{i}")))
                .map(|_| "ok".into()),
            ["loadrun", prefix] => {
                let stop = Arc::new(AtomicBool::new(false));
                let (s2, prefix) = (stop.clone(), prefix.to_string());
                let thread = std::thread::spawn(move || {
                    let (mut ok, mut failed, mut codes) = (Vec::new(), Vec::new(), Vec::new());
                    let mut i = 0;
                    while !s2.load(Ordering::Acquire) {
                        let label = format!("{prefix}-{i}");
                        match create(&p, h, &label) {
                            Ok(()) => ok.push(label),
                            Err(rv) => {
                                failed.push(label);
                                if !codes.contains(&rv) {
                                    codes.push(rv);
                                }
                                std::thread::sleep(Duration::from_millis(50));
                            }
                        }
                        i += 1;
                    }
                    (ok, failed, codes)
                });
                load = Some(Load { stop, thread });
                Ok("ok".into())
            }
            ["join"] => {
                let l = load.take().expect("loadrun first");
                l.stop.store(true, Ordering::Release);
                let (ok, failed, codes) = l.thread.join().unwrap();
                let codes: Vec<String> = codes.iter().map(|c| format!("{c:#x}")).collect();
                Ok(format!(
                    "ok={} fail={} codes={} done={} failed={}",
                    ok.len(),
                    failed.len(),
                    codes.join(","),
                    ok.join(","),
                    failed.join(",")
                ))
            }
            ["kms-create"] => p.kms(h).create(&mut []),
            ["kms-rotate", key] => p.kms(h).rotate(key).map(|v| v.to_string()),
            ["kms-rotate-n", key, n] => {
                (0..n.parse::<usize>().unwrap()).try_for_each(|_| p.kms(h).rotate(key).map(|_| ())).map(|_| "ok".into())
            }
            ["kms-version", key] => describe(&p, h, key).map(|d| d["CurrentVersion"].to_string()),
            ["kms-state", key] => describe(&p, h, key).map(|d| d["KeyState"].as_str().unwrap_or("").to_string()),
            ["kms-disable", key] => p.kms(h).disable(key).map(|_| "ok".into()),
            ["kms-encrypt", key] => p.kms(h).encrypt(key, &[], b"hello fleet").map(|b| hex(&b)),
            ["kms-decrypt", blob] => {
                p.kms(h).decrypt(&[], &unhex(blob)).map(|b| String::from_utf8_lossy(&b).into_owned())
            }
            other => panic!("unknown command {other:?}"),
        };
        say(answer.unwrap_or_else(rvs));
    }
    let _ = p.finalize();
}

/// FHSM_DescribeKey in one call with a buffer big enough: the common
/// helper's length query, short buffer and full call are three calls, and
/// the other host's change may land between them.
fn describe(p: &P11, h: CK_SESSION_HANDLE, key: &str) -> Result<serde_json::Value, CK_RV> {
    let k = p.kms(h);
    let mut buf = vec![0u8; 1 << 16];
    let mut len = buf.len() as CK_ULONG;
    // SAFETY: the key id and the buffer are valid for the lengths given.
    let rv = unsafe { (k.k.FHSM_DescribeKey)(h, key.as_ptr(), key.len() as CK_ULONG, buf.as_mut_ptr(), &mut len) };
    ck(rv)?;
    buf.truncate(len as usize);
    Ok(serde_json::from_slice(&buf).unwrap())
}

/// How many slots hold an initialized token.
fn slots_with_tokens(p: &P11) -> Result<usize, CK_RV> {
    let mut n: CK_ULONG = 0;
    ck(call!(p, C_GetSlotList(CK_TRUE, std::ptr::null_mut(), &mut n)))?;
    let mut slots = vec![0; n as usize];
    ck(call!(p, C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n)))?;
    let mut count = 0;
    for s in &slots[..n as usize] {
        if p.token_info(*s)?.flags & CKF_TOKEN_INITIALIZED != 0 {
            count += 1;
        }
    }
    Ok(count)
}

fn create(p: &P11, h: CK_SESSION_HANDLE, label: &str) -> Result<(), CK_RV> {
    let value: Vec<u8> = (0..32u8).map(|i| i ^ label.len() as u8).collect();
    let mut t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_VALUE, &value);
    p.create(h, &mut t).map(|_| ())
}

fn value(p: &P11, h: CK_SESSION_HANDLE, label: &str) -> Result<String, CK_RV> {
    let found = p.find_label(h, label)?;
    let [o] = found.as_slice() else { return Ok(format!("rv {} objects", found.len())) };
    p.attr_bytes(h, *o, CKA_VALUE).map(|v| hex(&v))
}

fn count_prefix(p: &P11, h: CK_SESSION_HANDLE, prefix: &str) -> Result<String, CK_RV> {
    let all = p.find(h, &mut Tmpl::new().ulong(CKA_CLASS, CKO_SECRET_KEY))?;
    let mut n = 0;
    for o in all {
        if p.attr_text(h, o, CKA_LABEL)?.starts_with(&format!("{prefix}-")) {
            n += 1;
        }
    }
    Ok(n.to_string())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
