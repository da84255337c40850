//! `ferrohsm serve`, the AWS-KMS-compatible API server, driven by real
//! AWS clients from PyPI (boto3/botocore, awscli v1, aws-encryption-sdk
//! 4.x) as their users would run them: each test makes its own store and
//! principals with the `ferrohsm` binary, starts the server on a free
//! loopback port, runs a script from tests/kms_api/ against it and stops
//! it with SIGTERM (a graceful shutdown must exit 0).
//!
//! The clients must be installed (`.ci/test` installs them); a missing one
//! fails the test, it is never skipped.

// The PostgreSQL test server, when the suites run against it (.ci/run).
#[path = "common/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SO_PIN: &str = "so-pin-kms-api";
const USER_PIN: &str = "user-pin-kms-api";
const ACCOUNT: &str = "111122223333";

fn python() -> String {
    std::env::var("FERROHSM_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("kms_api")
}

/// The PyPI clients these tests drive, checked once per test process.
fn require_clients() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = CHECK.get_or_init(|| {
        let probe = "import boto3, botocore, awscli, aws_encryption_sdk\n\
                     v = tuple(int(x) for x in botocore.__version__.split('.')[:2])\n\
                     assert v >= (1, 31), 'botocore %s is older than 1.31 (AWS_ENDPOINT_URL_KMS)' % botocore.__version__\n\
                     assert aws_encryption_sdk.__version__.split('.')[0] == '4', \
                     'aws-encryption-sdk %s is not 4.x' % aws_encryption_sdk.__version__";
        match Command::new(python()).args(["-c", probe]).output() {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(format!("{}: {e}", python())),
        }
    });
    if let Err(e) = r {
        panic!(
            "the KMS API tests need python3 with boto3, awscli and aws-encryption-sdk 4.x: \
             `pip install boto3 awscli aws-encryption-sdk` (.ci/test does)\n{e}"
        );
    }
}

/// Runs `c` to its end, killed after `limit` (the output so far is kept).
fn run_bounded(c: &mut Command, limit: Duration) -> Output {
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let mut killed = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            killed = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = err.join().unwrap();
    if killed {
        stderr.extend_from_slice(format!("\n(killed after {limit:?})\n").as_bytes());
    }
    Output { status, stdout: out.join().unwrap(), stderr }
}

/// One test's store, its principals' credential files, and the `ferrohsm`
/// binary to run on it.
struct Kms {
    dir: tempfile::TempDir,
    conf: PathBuf,
    creds: PathBuf,
    _pg: Option<pg::Schema>,
}

impl Kms {
    /// A fresh store (cheap KDF) with one token "kms".
    fn new() -> Kms {
        require_clients();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("ferrohsm.toml");
        let (store, pg) = pg::store_line(&dir.path().join("store.db"));
        std::fs::write(
            &conf,
            format!("[store]\n{store}\n[kdf]\nm_cost_kib = 64\nt_cost = 1\np_cost = 1\n[log]\nlevel = \"warn\"\n"),
        )
        .unwrap();
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        let k = Kms { dir, conf, creds, _pg: pg };
        k.cli(&["init-token", "--free", "--label", "kms"]);
        k
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrohsm"));
        c.env("FERROHSM_CONF", &self.conf)
            .env("FERROHSM_SO_PIN", SO_PIN)
            .env("FERROHSM_USER_PIN", USER_PIN)
            .stdin(Stdio::null());
        c
    }

    /// Runs `ferrohsm ARGS`, which must succeed; its stdout.
    fn cli(&self, args: &[&str]) -> String {
        let o = self.command().args(args).output().unwrap();
        assert!(
            o.status.success(),
            "ferrohsm {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// `ferrohsm principal create NAME EXTRA...`; its access key is kept
    /// as creds/NAME.json for the scripts.
    fn principal(&self, name: &str, extra: &[&str]) {
        let mut args = vec!["principal", "create", name];
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let ak = &v["AccessKey"];
        assert_eq!(ak["UserName"], name, "{out}");
        assert!(ak["AccessKeyId"].as_str().is_some_and(|s| !s.is_empty()), "{out}");
        assert!(ak["SecretAccessKey"].as_str().is_some_and(|s| s.len() >= 30), "{out}");
        assert_eq!(ak["Status"], "Active", "{out}");
        std::fs::write(self.creds.join(format!("{name}.json")), out).unwrap();
    }

    fn group(&self, name: &str, policy: &str) {
        self.cli(&["group", "create", name]);
        self.cli(&["group", "attach-policy", name, "--policy-name", "p", "--policy", policy]);
    }

    fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    /// `serve` with more flags.
    fn serve_with(&self, extra: &[&str]) -> Server {
        let log = self.dir.path().join("serve.log");
        let mut child = self
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let endpoint = match line.trim().strip_prefix("ferrohsm: serving the KMS API on ") {
            Some(e) if e.starts_with("http://127.0.0.1:") => e.to_string(),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not start: {line:?}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
        };
        Server { child: Some(child), endpoint, log }
    }

    /// Runs `python3 tests/kms_api/SCRIPT ARGS` against `server` with
    /// FERROHSM_KMS_ENDPOINT and FERROHSM_KMS_CREDS (the directory of
    /// NAME.json access keys) set and the user's AWS configuration hidden;
    /// `env` adds more. It must exit 0; its stdout.
    fn python(&self, server: &Server, script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut c = Command::new(python());
        c.arg(scripts().join(script)).args(args).current_dir(self.dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        c.env("FERROHSM_KMS_ENDPOINT", &server.endpoint)
            .env("FERROHSM_KMS_CREDS", &self.creds)
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.path().join("no-aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1");
        for (k, v) in env {
            c.env(k, v);
        }
        let started = Instant::now();
        let o = run_bounded(c.stdin(Stdio::null()), Duration::from_secs(120));
        let text = |o: &Output| {
            format!(
                "--- stdout\n{}--- stderr\n{}--- server log\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr),
                std::fs::read_to_string(&server.log).unwrap_or_default()
            )
        };
        assert!(o.status.success(), "{script} {args:?} failed ({:?}):\n{}", o.status, text(&o));
        eprintln!("{script} {args:?}: {:.1?}", started.elapsed());
        String::from_utf8(o.stdout).unwrap()
    }

    /// The access key id of principal `name`.
    fn access_key(&self, name: &str) -> (String, String) {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.creds.join(format!("{name}.json"))).unwrap()).unwrap();
        let ak = &v["AccessKey"];
        (ak["AccessKeyId"].as_str().unwrap().into(), ak["SecretAccessKey"].as_str().unwrap().into())
    }
}

/// A running `ferrohsm serve`.
struct Server {
    child: Option<Child>,
    endpoint: String,
    log: PathBuf,
}

impl Server {
    /// SIGTERM, then the server must exit 0 within 10 s.
    fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut rest);
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(status.success(), "the server exited with {status:?} after SIGTERM:\n{log}");
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

const ENCRYPTORS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey*"],"Resource":"*"}]}"#;
const DECRYPTORS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":"*"}]}"#;

/// alice (admin), bob (no policies), enc (group encryptors), dec (group
/// decryptors).
fn standard_principals(k: &Kms) {
    k.principal("alice", &["--admin"]);
    k.principal("bob", &[]);
    k.group("encryptors", ENCRYPTORS);
    k.group("decryptors", DECRYPTORS);
    k.principal("enc", &["--group", "encryptors"]);
    k.principal("dec", &["--group", "decryptors"]);
}

#[test]
fn boto3_every_operation() {
    let k = Kms::new();
    standard_principals(&k);
    let s = k.serve();
    k.python(&s, "t_operations.py", &[], &[]);
    s.stop();
}

#[test]
fn boto3_every_error() {
    let k = Kms::new();
    standard_principals(&k);
    let s = k.serve();
    k.python(&s, "t_errors.py", &[], &[]);
    s.stop();
}

#[test]
fn sigv4_and_http_refusals() {
    let k = Kms::new();
    standard_principals(&k);
    let s = k.serve();
    k.python(&s, "t_sigv4.py", &[], &[]);
    s.stop();
}

#[test]
fn policies_and_grants() {
    let k = Kms::new();
    standard_principals(&k);
    k.principal("carol", &[]);
    k.principal("dave", &[]);
    let s = k.serve();
    k.python(&s, "t_policies.py", &[], &[]);
    s.stop();
}

#[test]
fn awscli_v1() {
    let k = Kms::new();
    standard_principals(&k);
    let s = k.serve();
    k.python(&s, "t_awscli.py", &[], &[]);
    s.stop();
}

/// Encrypt under two keys in one process, decrypt with either key alone
/// in others, the SDK's own clients pointed at the server by
/// AWS_ENDPOINT_URL_KMS.
#[test]
fn encryption_sdk_two_keys_other_processes() {
    let k = Kms::new();
    k.principal("alice", &["--admin"]);
    let s = k.serve();
    let (id, secret) = k.access_key("alice");
    let env = [
        ("AWS_ENDPOINT_URL_KMS", s.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    let work = k.dir.path().join("esdk");
    std::fs::create_dir(&work).unwrap();
    let w = work.to_str().unwrap();
    k.python(&s, "t_esdk.py", &["encrypt", w], &env);
    assert!(work.join("message.bin").exists());
    let first = k.python(&s, "t_esdk.py", &["decrypt", w, "0"], &env);
    let second = k.python(&s, "t_esdk.py", &["decrypt", w, "1"], &env);
    assert!(first.contains("decrypted with key 0") && second.contains("decrypted with key 1"), "{first}{second}");
    k.python(&s, "t_esdk.py", &["decrypt-other", w], &env);
    s.stop();
}

/// The audit trail names the caller's ARN and address for each request,
/// allowed or denied, and keeps what a graceful shutdown flushed.
#[test]
fn audit_trail_names_callers() {
    let k = Kms::new();
    standard_principals(&k);
    let s = k.serve();
    let out = k.python(&s, "t_audit.py", &[], &[]);
    s.stop();
    let key_arn = out.lines().find_map(|l| l.strip_prefix("KEY ")).expect("audit.py prints KEY <arn>").trim();
    let records: serde_json::Value = serde_json::from_str(&k.cli(&["audit", "show", "--json"])).unwrap();
    let records = records.as_array().unwrap();
    let arn = |n: &str| format!("arn:aws:iam::{ACCOUNT}:user/{n}");
    // Every record made for an API caller names the key by its ARN.
    let is_key = |r: &serde_json::Value| r["key"] == key_arn;
    let find = |who: &str, events: &[&str], ok: bool| {
        records.iter().find(|r| {
            r["principal"] == who && events.iter().any(|e| r["event"] == *e) && (r["rv"] == "0x0") == ok && is_key(r)
        })
    };
    let dump = || serde_json::to_string_pretty(records).unwrap();
    // alice's CreateKey, enc's Encrypt (allowed) and Decrypt (denied).
    for (who, events, ok) in [
        (arn("alice"), &["create-kms-key", "kms:CreateKey"][..], true),
        (arn("enc"), &["kms-encrypt", "kms:Encrypt"][..], true),
        (arn("enc"), &["kms:Decrypt", "kms-decrypt"][..], false),
    ] {
        let r =
            find(&who, events, ok).unwrap_or_else(|| panic!("no record of {who} {events:?} ok={ok} in\n{}", dump()));
        assert_eq!(r["source"], "127.0.0.1", "{r}");
        if !ok {
            assert_eq!(r["detail"], "AccessDeniedException", "{r}");
        }
    }
    // The request with a wrong secret: refused before anyone is named.
    assert!(
        records.iter().any(|r| r["principal"] == "unauthenticated"
            && r["source"] == "127.0.0.1"
            && r["detail"].as_str().is_some_and(|d| d.contains("InvalidSignatureException"))),
        "no record of the badly signed request in\n{}",
        dump()
    );
    // Nothing is attributed to a principal that made no request.
    assert!(!records.iter().any(|r| r["principal"] == arn("bob").as_str()), "{}", dump());
}

/// One signed KMS request as raw HTTP/1.1 bytes (`ferrohsm`'s own SigV4
/// signer, the one the benchmark uses).
fn signed_request(host: &str, ak: &(String, String), target: &str, body: &[u8]) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let headers = vec![
        ("host".to_string(), host.to_string()),
        ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
        ("x-amz-target".to_string(), format!("TrentService.{target}")),
    ];
    let auth = ferrohsm::server::sigv4::sign(&ak.0, &ak.1, "us-east-1", "kms", now, "POST", "/", &headers, body);
    let mut req = format!("POST / HTTP/1.1\r\ncontent-length: {}\r\n", body.len());
    for (n, v) in headers.iter().chain(auth.iter()) {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Reads one HTTP response (headers and a Content-Length body): status and body.
fn read_response(s: &mut std::net::TcpStream) -> (u16, String) {
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let code: u16 =
        status.split_whitespace().nth(1).unwrap_or_else(|| panic!("no status line: {status:?}")).parse().unwrap();
    let mut len = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    (code, String::from_utf8_lossy(&body).into_owned())
}

/// A client that sends headers too slowly, one that promises a body and
/// stalls, garbage of every kind, and more connections than the server
/// takes at once: each is refused or waits, the server answers everyone
/// else meanwhile, and it stays up.
#[test]
fn hostile_clients_neither_crash_nor_block_the_server() {
    use std::io::Write;
    use std::net::TcpStream;
    let k = Kms::new();
    k.principal("alice", &["--admin"]);
    let ak = k.access_key("alice");
    let server = k.serve_with(&["--max-connections", "4"]);
    let host = server.endpoint.trim_start_matches("http://").to_string();
    let call = |target: &str, body: &[u8]| {
        let mut s = TcpStream::connect(&host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&signed_request(&host, &ak, target, body)).unwrap();
        read_response(&mut s)
    };
    assert_eq!(call("ListKeys", b"{}").0, 200);

    // A slow client (half a request line and headers, then silence) and a
    // stalled body: the server drops the first and answers the second 408,
    // within its 10 s limits, while serving others.
    let mut slow = TcpStream::connect(&host).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nhost: x\r\n").unwrap();
    let mut stalled = TcpStream::connect(&host).unwrap();
    let mut partial = signed_request(&host, &ak, "ListKeys", b"{\"Limit\": 5}");
    partial.truncate(partial.len() - 4);
    stalled.write_all(&partial).unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(call("GenerateRandom", br#"{"NumberOfBytes": 16}"#).0, 200);
    }
    slow.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut buf = [0u8; 512];
    let n = slow.read(&mut buf).unwrap_or(0);
    let answered = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(n == 0 || answered.starts_with("HTTP/1.1 408"), "the slow client got {answered:?}");
    stalled.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let (code, body) = read_response(&mut stalled);
    assert_eq!(code, 408, "{body}");
    assert!(started.elapsed() < Duration::from_secs(14), "took {:?}", started.elapsed());

    // Garbage: random bytes as a request, random bodies signed correctly,
    // JSON of the wrong shapes. Every one gets an answer with an AWS error
    // name, never a dropped connection.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..60 {
        let len = (rand() % 300) as usize;
        let body: Vec<u8> = (0..len).map(|_| rand() as u8).collect();
        let (code, text) = call(["Encrypt", "Decrypt", "CreateGrant", "PutKeyPolicy"][i % 4], &body);
        assert_eq!(code, 400, "{text}");
        assert!(text.contains("SerializationException") || text.contains("ValidationException"), "{text}");
    }
    for body in [
        &br#"[]"#[..],
        br#""x""#,
        br#"{"KeyId": 5}"#,
        br#"{"KeyId": "alias/x", "Plaintext": {"a": 1}}"#,
        br#"{"KeyId": "alias/x", "Plaintext": "!!!notbase64"}"#,
        br#"{"KeyId": "x", "EncryptionContext": [1, 2]}"#,
        br#"{"KeyId": "x", "EncryptionContext": {"a": 5}}"#,
        br#"{"NumberOfBytes": 1e400}"#,
        br#"{"NumberOfBytes": -1}"#,
        br#"{"a": {"b": {"c": {"d": {"e": {"f": {"g": []}}}}}}}"#,
    ] {
        let (code, text) = call("Encrypt", body);
        assert!(code == 400, "{code} {text}");
    }
    let mut raw = TcpStream::connect(&host).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    raw.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf);

    // More connections than --max-connections: the fifth waits until one
    // of the four open ones goes, then is served.
    let idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&host).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fifth = TcpStream::connect(&host).unwrap();
    fifth.write_all(&signed_request(&host, &ak, "ListKeys", b"{}")).unwrap();
    fifth.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut one = [0u8; 1];
    assert!(fifth.read(&mut one).is_err(), "a fifth connection was served while four were open");
    drop(idle);
    fifth.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = BufReader::new(fifth);
    let mut status = String::new();
    rest.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");

    assert_eq!(call("ListKeys", b"{}").0, 200);
    server.stop();
}

/// Principal management while the server runs: a rotated secret stops the
/// old access key at the next request, a deleted principal is unknown, a
/// detached policy no longer allows, group membership changes take effect
/// — all made by other processes (the `ferrohsm` tool) on the same store.
#[test]
fn principal_changes_by_the_tool_apply_at_the_next_request() {
    use std::io::Write;
    use std::net::TcpStream;
    let k = Kms::new();
    k.principal("alice", &["--admin"]);
    k.principal("bob", &[]);
    let server = k.serve();
    let host = server.endpoint.trim_start_matches("http://").to_string();
    let call = |ak: &(String, String), target: &str, body: &[u8]| {
        let mut s = TcpStream::connect(&host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&signed_request(&host, ak, target, body)).unwrap();
        read_response(&mut s)
    };
    let alice = k.access_key("alice");
    let bob = k.access_key("bob");
    assert_eq!(call(&alice, "ListKeys", b"{}").0, 200);
    let (code, body) = call(&bob, "ListKeys", b"{}");
    assert!(code == 400 && body.contains("AccessDeniedException"), "{code} {body}");

    // bob joins a group allowed kms:ListKeys; then leaves it.
    k.group(
        "listers",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#,
    );
    k.cli(&["group", "add", "listers", "bob"]);
    assert_eq!(call(&bob, "ListKeys", b"{}").0, 200);
    k.cli(&["group", "remove", "listers", "bob"]);
    assert!(call(&bob, "ListKeys", b"{}").1.contains("AccessDeniedException"));

    // A policy attached to bob himself, then detached.
    k.cli(&[
        "principal",
        "attach-policy",
        "bob",
        "--policy-name",
        "l",
        "--policy",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#,
    ]);
    assert_eq!(call(&bob, "ListKeys", b"{}").0, 200);
    k.cli(&["principal", "detach-policy", "bob", "--policy-name", "l"]);
    assert!(call(&bob, "ListKeys", b"{}").1.contains("AccessDeniedException"));

    // A malformed identity policy is refused by the tool, and nothing changes.
    let bad = k
        .command()
        .args([
            "principal",
            "attach-policy",
            "bob",
            "--policy-name",
            "x",
            "--policy",
            r#"{"Statement":[{"Effect":"Perhaps"}]}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));

    // rotate-secret: the old key is unknown at once, the new one works.
    let out: serde_json::Value = serde_json::from_str(&k.cli(&["principal", "rotate-secret", "alice"])).unwrap();
    let new = (
        out["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string(),
        out["AccessKey"]["SecretAccessKey"].as_str().unwrap().to_string(),
    );
    assert_ne!(new.0, alice.0);
    let (code, body) = call(&alice, "ListKeys", b"{}");
    assert!(code == 400 && body.contains("UnrecognizedClientException"), "{code} {body}");
    assert_eq!(call(&new, "ListKeys", b"{}").0, 200);
    // The list shows no secret.
    let list = k.cli(&["principal", "list"]);
    assert!(list.contains("arn:aws:iam::111122223333:user/alice") && !list.contains(&new.1), "{list}");

    // delete: the principal is unknown at once.
    k.cli(&["principal", "delete", "alice"]);
    assert!(call(&new, "ListKeys", b"{}").1.contains("UnrecognizedClientException"));
    server.stop();
}

#[test]
fn boto3_asymmetric_hmac_and_imported_keys() {
    let k = Kms::new();
    k.principal("alice", &["--admin"]);
    let s = k.serve();
    k.python(&s, "t_asymmetric.py", &[], &[]);
    s.stop();
}

#[test]
fn boto3_ml_dsa_keys() {
    let k = Kms::new();
    k.principal("alice", &["--admin"]);
    let s = k.serve();
    k.python(&s, "t_mldsa.py", &[], &[]);
    s.stop();
}

/// One key set for the tool (and so PKCS#11) and the server, across
/// processes: a key made by the tool before the server started is a KMS
/// key by its UUID and alias; a key made through the API is used by the
/// tool by its UUID; ciphertexts go both ways; a rotation or a disable
/// made on one side holds on the other at its next call.
#[test]
fn keys_are_one_set_for_the_tool_and_the_server() {
    use base64::Engine as _;
    use std::io::Write;
    use std::net::TcpStream;
    let b64 = base64::engine::general_purpose::STANDARD;
    let k = Kms::new();
    k.principal("alice", &["--admin"]);
    let hex = k.cli(&["key", "create", "--label", "from-tool", "--alias", "alias/from-tool"]).trim().to_string();
    let uuid = |h: &str| format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]);
    let server = k.serve();
    let host = server.endpoint.trim_start_matches("http://").to_string();
    let ak = k.access_key("alice");
    let call = |target: &str, body: serde_json::Value| -> serde_json::Value {
        let mut s = TcpStream::connect(&host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&signed_request(&host, &ak, target, body.to_string().as_bytes())).unwrap();
        let (code, text) = read_response(&mut s);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(code == 200 || v["__type"].is_string(), "{code} {text}");
        v
    };
    let tool = |args: &[&str], stdin: &[u8]| -> std::process::Output {
        let mut c =
            k.command().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        c.stdin.take().unwrap().write_all(stdin).unwrap();
        c.wait_with_output().unwrap()
    };

    // The tool's key, through the API.
    let md = &call("DescribeKey", serde_json::json!({"KeyId": "alias/from-tool"}))["KeyMetadata"];
    assert_eq!(md["KeyId"], uuid(&hex), "{md}");
    let blob = call("Encrypt", serde_json::json!({"KeyId": uuid(&hex), "Plaintext": b64.encode("from the API")}));
    let file = k.dir.path().join("api.bin");
    std::fs::write(&file, b64.decode(blob["CiphertextBlob"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(k.cli(&["decrypt", "--in", file.to_str().unwrap()]), "from the API");

    // The API's key, through the tool.
    let api_key = call("CreateKey", serde_json::json!({"Description": "from the API"}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let out = tool(&["encrypt", "--key", &api_key, "--context", "who=tool"], b"from the tool");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = call(
        "Decrypt",
        serde_json::json!({"CiphertextBlob": b64.encode(&out.stdout), "EncryptionContext": {"who": "tool"}}),
    );
    assert_eq!(b64.decode(v["Plaintext"].as_str().unwrap()).unwrap(), b"from the tool");
    assert_eq!(v["KeyId"], format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{api_key}"));

    // A rotation by the tool is seen by the server; a disable by the API stops the tool.
    k.cli(&["key", "rotate", &api_key]);
    let rotations = call("ListKeyRotations", serde_json::json!({"KeyId": api_key}));
    assert_eq!(rotations["Rotations"].as_array().unwrap().len(), 1, "{rotations}");
    call("DisableKey", serde_json::json!({"KeyId": api_key}));
    let out = tool(&["encrypt", "--key", &api_key], b"x");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("disabled"));
    call("EnableKey", serde_json::json!({"KeyId": api_key}));
    assert!(tool(&["encrypt", "--key", &api_key], b"x").status.success());
    // A key the tool schedules for deletion is pending deletion to the API.
    k.cli(&["key", "schedule-deletion", &hex, "--days", "7"]);
    let md = &call("DescribeKey", serde_json::json!({"KeyId": uuid(&hex)}))["KeyMetadata"];
    assert_eq!(md["KeyState"], "PendingDeletion", "{md}");
    server.stop();
}

/// UpdateAlias needs the permission on the key the alias points to now as
/// well as on the new target: a principal allowed only on the new key
/// cannot pull an alias away from a key it has no rights on.
#[test]
fn moving_an_alias_needs_both_keys() {
    use std::io::Write;
    use std::net::TcpStream;
    let k = Kms::new();
    k.principal("alice", &["--admin"]);
    k.principal("mover", &[]);
    let server = k.serve();
    let host = server.endpoint.trim_start_matches("http://").to_string();
    let call = |who: &str, target: &str, body: serde_json::Value| -> (u16, String) {
        let mut s = TcpStream::connect(&host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&signed_request(&host, &k.access_key(who), target, body.to_string().as_bytes())).unwrap();
        read_response(&mut s)
    };
    let key = |desc: &str| -> String {
        let (code, text) = call("alice", "CreateKey", serde_json::json!({ "Description": desc }));
        assert_eq!(code, 200, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["KeyMetadata"]["Arn"].as_str().unwrap().to_string()
    };
    let (a, b) = (key("a"), key("b"));
    assert_eq!(call("alice", "CreateAlias", serde_json::json!({"AliasName": "alias/moving", "TargetKeyId": a})).0, 200);
    let only_b = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:UpdateAlias","Resource":"{b}"}}]}}"#
    );
    k.cli(&["principal", "attach-policy", "mover", "--policy-name", "b", "--policy", &only_b]);
    let (code, text) = call("mover", "UpdateAlias", serde_json::json!({"AliasName": "alias/moving", "TargetKeyId": b}));
    assert!(code == 400 && text.contains("AccessDeniedException") && text.contains(&a), "{code} {text}");
    let both = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:UpdateAlias","Resource":["{a}","{b}"]}}]}}"#
    );
    k.cli(&["principal", "attach-policy", "mover", "--policy-name", "b", "--policy", &both]);
    let (code, text) = call("mover", "UpdateAlias", serde_json::json!({"AliasName": "alias/moving", "TargetKeyId": b}));
    assert_eq!(code, 200, "{text}");
    let (_, text) = call("alice", "DescribeKey", serde_json::json!({"KeyId": "alias/moving"}));
    assert!(text.contains(&b), "{text}");
    server.stop();
}

/// A principal's record is a sealed, tagged token object: an edit of the
/// store file (one byte of alice's sealed record flipped while no server
/// runs) is detected, and the server then serves no one rather than a
/// directory it cannot trust.
#[test]
fn an_edited_principal_record_stops_the_server_closed() {
    use std::io::Write;
    use std::net::TcpStream;
    let k = Kms::new();
    k.principal("alice", &["--admin"]);
    let list = |server: &Server| -> (u16, String) {
        let host = server.endpoint.trim_start_matches("http://").to_string();
        let mut s = TcpStream::connect(&host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&signed_request(&host, &k.access_key("alice"), "ListKeys", b"{}")).unwrap();
        read_response(&mut s)
    };
    let server = k.serve();
    assert_eq!(list(&server).0, 200);
    server.stop();

    // The only object with a CKA_VALUE (0x11) is alice's record: its last
    // byte flipped with SQL, in the SQLite file or the PostgreSQL schema.
    match &k._pg {
        Some(s) => {
            let row =
                pg::sql(&s.base, &s.name, "SELECT obj_id || ' ' || encode(value, 'hex') FROM attrs WHERE atype = 17");
            let (obj, hex) = row[0].split_once(' ').unwrap();
            let mut value: Vec<u8> =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            let last = value.len() - 1;
            value[last] ^= 1;
            let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
            pg::sql(
                &s.base,
                &s.name,
                &format!("UPDATE attrs SET value = '\\x{hex}'::bytea WHERE obj_id = {obj} AND atype = 17"),
            );
        }
        None => {
            let db = rusqlite::Connection::open(k.dir.path().join("store.db")).unwrap();
            let (obj, mut value): (i64, Vec<u8>) = db
                .query_row("SELECT obj_id, value FROM attrs WHERE atype = 17", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            let last = value.len() - 1;
            value[last] ^= 1;
            db.execute("UPDATE attrs SET value = ?1 WHERE obj_id = ?2 AND atype = 17", rusqlite::params![value, obj])
                .unwrap();
            drop(db);
        }
    }

    let server = k.serve();
    let (code, text) = list(&server);
    assert_eq!(code, 500, "{text}");
    assert!(text.contains("KMSInternalException"), "{text}");
    server.stop();
}
