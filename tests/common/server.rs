//! `ferrohsm serve` for the KMS API tests: a private store with one token
//! "kms" made through the CLI, principals, and a server on a free loopback
//! port, stopped when dropped. Each server is its own process with its own
//! store, so tests that use these need no turn at the in-process module.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const SO_PIN: &str = "so-secret";
pub const USER_PIN: &str = "user-secret";
/// The server's defaults (`--region`, `--account`).
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "111122223333";

/// How long a server may take to say where it listens.
const START: Duration = Duration::from_secs(60);

/// A store with an initialized token "kms" (SO_PIN, USER_PIN).
pub struct Home {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    /// The store's schema when the suites run on PostgreSQL.
    pub _pg: Option<super::pg::Schema>,
}

/// A principal's access key, as `ferrohsm principal create` prints it.
#[derive(Clone, Debug)]
pub struct Creds {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

pub fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ferrohsm.toml");
    let db = dir.path().join("store.db");
    let (store, pg) = super::pg::store_line(&db);
    std::fs::write(
        &conf,
        format!("[store]\n{store}\n[kdf]\nm_cost_kib = 64\nt_cost = 1\np_cost = 1\n[log]\nlevel = \"off\"\n"),
    )
    .unwrap();
    let h = Home { dir, conf, _pg: pg };
    h.ok(&["init-token", "--free", "--label", "kms"]);
    h
}

impl Home {
    /// `ferrohsm` with this store's configuration and the PINs in the
    /// environment; no standard input.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrohsm"));
        c.env("FERROHSM_CONF", &self.conf)
            .env("FERROHSM_SO_PIN", SO_PIN)
            .env("FERROHSM_USER_PIN", USER_PIN)
            .stdin(Stdio::null());
        c
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs a command that must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(
            o.status.success(),
            "ferrohsm {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// `ferrohsm principal create NAME [--admin]`.
    pub fn principal(&self, name: &str, admin: bool) -> Creds {
        let mut args = vec!["principal", "create", name];
        if admin {
            args.push("--admin");
        }
        let v: serde_json::Value = serde_json::from_str(&self.ok(&args)).unwrap();
        let k = &v["AccessKey"];
        Creds {
            name: name.to_string(),
            access_key_id: k["AccessKeyId"].as_str().unwrap().to_string(),
            secret_access_key: k["SecretAccessKey"].as_str().unwrap().to_string(),
        }
    }

    /// `ferrohsm serve --listen 127.0.0.1:0 ARGS...`, once it listens.
    pub fn serve(&self, args: &[&str]) -> Server {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        self.serve_with(&all)
    }

    /// `ferrohsm ARGS...` (a `serve` command line), once it prints the
    /// address it listens on.
    pub fn serve_with(&self, args: &[&str]) -> Server {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = self.dir.path().join(format!("serve-{n}.log"));
        let mut child = self
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = match rx.recv_timeout(START) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().unwrap();
                panic!(
                    "ferrohsm {args:?} did not start ({e}; {status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let url = line
            .strip_prefix("ferrohsm: serving the KMS API on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child: Some(child), url, log }
    }
}

/// A running `ferrohsm serve`; killed (SIGKILL) when dropped unless stopped.
pub struct Server {
    pub child: Option<Child>,
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub url: String,
    /// Its standard error.
    pub log: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url.rsplit_once('/').unwrap().1.parse().unwrap()
    }

    /// What it wrote to standard error so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits up to `limit` for it to exit: its status,
    /// or None if it still runs (it is then killed).
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
        let end = std::time::Instant::now() + limit;
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            if std::time::Instant::now() >= end {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The PEM certificate and key (P-256, self-signed for 127.0.0.1 and
/// localhost, one day, not a CA) made by the `openssl` command in `dir`.
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let o = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "1"])
        // Not a CA (openssl's default for -x509): webpki, hence rustls
        // clients such as the AWS SDK for Rust, refuse a CA certificate as a
        // server's (CaUsedAsEndEntity), trusted or not.
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl command");
    assert!(o.status.success(), "openssl req: {}", String::from_utf8_lossy(&o.stderr));
    (cert, key)
}
