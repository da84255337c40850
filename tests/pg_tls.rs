//! The store's `sslmode` against a real TLS PostgreSQL server: a cluster of
//! this test's own (`.ci/pg-cluster start` with `FERROHSM_PG_SSL_DIR`, so
//! the shared test cluster is never touched) with `ssl=on`, a server
//! certificate for `localhost` only from a throw-away CA (made here with
//! the `openssl` command), and `hostssl` lines only in its pg_hba.conf.
//!
//! - `verify-full` with that CA and the host `localhost`: a token made, a
//!   KMS key created, the store verified, all through `ferrohsm`.
//! - `verify-full` refused, with the reason in the error: another CA as
//!   `sslrootcert`; the host `127.0.0.1`, which the certificate does not
//!   name; an `sslrootcert` file that is not there.
//! - `require` and `prefer` work with a certificate nobody checks (libpq's
//!   meaning: against eavesdropping, not impersonation).
//! - `disable` is refused by the server (no `hostssl` line lets a plain
//!   connection in).
//!
//! That the connections are TLS is checked on the server's side: the module
//! cannot be asked what its connection is, but the server lets TCP clients
//! in through `hostssl` lines only, so a connection that works is TLS, and
//! with `log_connections` the server logs "SSL enabled (protocol=...)" for
//! each of the module's connections, which the test reads.
//!
//! Needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin, which
//! `.ci/run` installs) and root (the script runs initdb as `postgres`);
//! without either it skips, loudly.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::procs::ferrohsm;

fn skip(why: &str) {
    eprintln!("!!!!!!!! SKIPPED pg_tls: {why} !!!!!!!!");
}

fn pg_installed() -> bool {
    std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().any(|e| e.path().join("bin/initdb").exists()))
        .unwrap_or(false)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/pg-cluster")
}

/// Runs `openssl ARGS` (split at spaces) in `dir`; panics with its output
/// when it fails.
fn openssl(dir: &Path, args: &str) {
    let out =
        Command::new("openssl").args(args.split_whitespace()).current_dir(dir).output().expect("the openssl command");
    assert!(
        out.status.success(),
        "openssl {args}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const P256: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

/// A self-signed CA `name.pem` (and `name.key`) in `dir`.
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &format!(
            "req -x509 {P256} -keyout {name}.key -out {name}.pem -days 2 -subj /CN=ferrohsm-test-{name} \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    );
}

/// `ca.pem`, `other.pem` (a second CA) and, in `server/`, `server.crt`
/// (for the DNS name `localhost` only, signed by `ca`) and `server.key`.
fn certificates(dir: &Path) {
    ca(dir, "ca");
    ca(dir, "other");
    std::fs::create_dir(dir.join("server")).unwrap();
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(dir, &format!("req -new {P256} -keyout server/server.key -out server.csr -subj /CN=localhost"));
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
         -extfile server.ext -out server/server.crt",
    );
}

/// This test's own cluster, stopped and removed when dropped.
struct Cluster {
    data: String,
    port: u16,
    password: String,
}

impl Cluster {
    fn start(ssl_dir: &Path) -> Cluster {
        let out = Command::new(script()).arg("start").env("FERROHSM_PG_SSL_DIR", ssl_dir).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), ".ci/pg-cluster start: {text}{}", String::from_utf8_lossy(&out.stderr));
        let var = |k: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {k}='"))?.strip_suffix('\'').map(String::from))
                .unwrap_or_else(|| panic!("{k} not in .ci/pg-cluster's output: {text}"))
        };
        let url = var("FERROHSM_TEST_PG_URL");
        // postgresql://ferrohsm@127.0.0.1:PORT/ferrohsm
        let port = url.rsplit_once(':').unwrap().1.split('/').next().unwrap().parse().unwrap();
        Cluster { data: var("FERROHSM_TEST_PG_DATA"), port, password: var("PGPASSWORD") }
    }

    /// The server's log (beside the data directory).
    fn log(&self) -> String {
        std::fs::read_to_string(Path::new(&self.data).parent().unwrap().join("log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["stop", &self.data]).status();
    }
}

#[test]
fn sslmodes_against_a_tls_only_server() {
    if !pg_installed() {
        return skip("no PostgreSQL server binaries under /usr/lib/postgresql (.ci/run installs them)");
    }
    if unsafe { libc::geteuid() } != 0 {
        return skip("not root (.ci/pg-cluster runs initdb and the server as the postgres user with runuser)");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    certificates(d);
    let pg = Cluster::start(&d.join("server"));
    std::fs::write(d.join("db-password"), format!("{}\n", pg.password)).unwrap();

    // A configuration naming the database as `host` with `query`, and what
    // `ferrohsm args` says with it (ok, stdout + stderr).
    let mut n = 0;
    let mut run = |host: &str, query: &str, args: &[&str]| -> (bool, String) {
        n += 1;
        let conf = d.join(format!("{n}.toml"));
        let url = format!("postgresql://ferrohsm@{host}:{}/ferrohsm?{query}", pg.port);
        std::fs::write(
            &conf,
            format!(
                "[store]\nurl = {url:?}\npassword_file = {:?}\n[kdf]\nm_cost_kib = 64\nt_cost = 1\np_cost = 1\n",
                d.join("db-password")
            ),
        )
        .unwrap();
        let (ok, out) = ferrohsm(&conf, args);
        println!("{url}: ferrohsm {}: ok={ok}\n{out}", args.join(" "));
        (ok, out)
    };
    let ca = d.join("ca.pem");
    let other = d.join("other.pem");
    let verify_full = |root: &Path| format!("sslmode=verify-full&sslrootcert={}", root.display());
    let verify = ["store", "verify", "--token", "tls", "--so"];

    // verify-full, the right CA and the name on the certificate: it works.
    let (ok, out) = run("localhost", &verify_full(&ca), &["init-token", "--free", "--label", "tls"]);
    assert!(ok, "init-token over verify-full: {out}");
    let (ok, out) = run("localhost", &verify_full(&ca), &["key", "create", "--description", "over TLS"]);
    assert!(ok, "key create over verify-full: {out}");
    let (ok, out) = run("localhost", &verify_full(&ca), &verify);
    assert!(ok && out.contains("store intact"), "store verify over verify-full: {out}");

    // verify-full refuses a certificate from a CA it was not given ...
    let (ok, out) = run("localhost", &verify_full(&other), &verify);
    assert!(!ok, "verify-full trusted another CA's certificate: {out}");
    assert!(
        out.contains("error performing TLS handshake") && out.contains("invalid peer certificate: UnknownIssuer"),
        "verify-full, another CA: the error does not say why: {out}"
    );
    // ... a name the certificate does not carry ...
    let (ok, out) = run("127.0.0.1", &verify_full(&ca), &verify);
    assert!(!ok, "verify-full accepted a certificate for localhost at 127.0.0.1: {out}");
    assert!(
        out.contains("error performing TLS handshake")
            && out.contains("not valid for name")
            && out.contains("127.0.0.1"),
        "verify-full, wrong name: the error does not say why: {out}"
    );
    // ... a root certificate file that is not there ...
    let missing = d.join("no-such-ca.pem");
    let (ok, out) = run("localhost", &verify_full(&missing), &verify);
    assert!(!ok, "verify-full without its root certificate: {out}");
    assert!(out.contains(&format!("sslrootcert {}", missing.display())), "a missing sslrootcert: {out}");
    // ... or one that holds no certificate (refused when the store opens,
    // not one handshake at a time).
    let empty = d.join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    let (ok, out) = run("localhost", &verify_full(&empty), &verify);
    assert!(!ok, "verify-full trusting no certificate: {out}");
    assert!(out.contains(&format!("sslrootcert {}: holds no certificate", empty.display())), "{out}");

    // require (and prefer) encrypt without checking the certificate: an
    // untrusted one (sslrootcert is not read) and a name it does not carry.
    for query in [format!("sslmode=require&sslrootcert={}", other.display()), "sslmode=prefer".to_string()] {
        let (ok, out) = run("127.0.0.1", &query, &verify);
        assert!(ok && out.contains("store intact"), "{query}: {out}");
    }

    // disable: the server lets no plain connection in.
    let (ok, out) = run("localhost", "sslmode=disable", &verify);
    assert!(!ok, "a plain connection got in: {out}");
    assert!(
        out.contains("no pg_hba.conf entry") && out.contains("no encryption"),
        "sslmode=disable: the error does not say why: {out}"
    );

    // The server's side: every connection of the module's was TLS.
    let log = pg.log();
    let ours: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("connection authorized: user=ferrohsm") && l.contains("application_name=ferrohsm"))
        .collect();
    assert!(ours.len() >= 5, "the server logged too few of the module's connections:\n{log}");
    for l in &ours {
        assert!(l.contains("SSL enabled (protocol=TLSv1."), "a connection without TLS: {l}");
    }
    println!("{} connections of the module, all TLS: {}", ours.len(), ours[0]);
}
