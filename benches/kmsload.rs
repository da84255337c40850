//! kmsload: a load generator for the KMS API (`ferrohsm serve`), with the
//! moto server (`pip install 'moto[server]'`) measured in the same run as
//! the reference emulator.
//!
//!   cargo build --release --bins
//!   cargo bench --bench kmsload -- [--quick] [--requests 1000000] [--out FILE]
//!
//! It starts both servers itself: FerroHSM from `target/release/ferrohsm`
//! (next to this binary's directory; `--ferrohsm PATH` to override) on a
//! fresh token in a temporary store, with an admin principal made by
//! `ferrohsm principal create`, and `moto_server -p PORT` (`--moto CMD`;
//! if it cannot be started the report says so, and the moto columns say
//! "absent"). Every request is signed with AWS Signature Version 4 for its
//! own date (the day's signing key is cached, as real SDKs do; the signer
//! is checked against `ferrohsm::server::sigv4::sign` at start), sent over
//! keep-alive HTTP/1.1 connections, N at once (closed loop: each connection
//! sends its next request when the last one is answered), for a fixed
//! time per case. Every response must be HTTP 200; one response of each
//! case is decoded and checked (Decrypt gives back the plaintext, a data
//! key has 32 bytes, ...).
//!
//! Per case: requests/s, p50 and p99 latency (from writing the request to
//! reading the whole response), and CPU per request of the server process
//! and of this client; the servers' resident size (VmRSS) before and
//! after. `--requests N` also sends N Encrypt requests over 64
//! connections to FerroHSM and samples its RSS at 0, N/4, N/2, 3N/4, N.
//!
//! `--store-url URL` also starts a third server, "ferrohsm-pg", the same
//! binary with its store on PostgreSQL (a fresh schema there, dropped
//! after; the password from PGPASSWORD), measured in the same run and
//! compared with the SQLite one (docs/storage.md).
//!
//! The client is one thread (`--client-threads K`) multiplexing every
//! connection with tokio and a minimal HTTP/1.1 reader, so that most of the
//! 2 cores this runs on are left to the server.

#[path = "common/pg.rs"]
mod pg;

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::{digest, hmac};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

const REGION: &str = "us-east-1";
const SERVICE: &str = "kms";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

// ---------------------------------------------------------------------------
// SigV4: the same computation as `ferrohsm::server::sigv4::sign` for the
// headers this client signs (content-type, host, x-amz-date,
// x-amz-target), with the day's signing key kept and the payload hash
// taken once per body (the bodies of a case do not change).

struct Signer {
    access_key: String,
    secret: String,
    host: String,
    day: String,
    key: Option<hmac::Key>,
    second: i64,
    amz: String,
}

impl Signer {
    fn new(access_key: &str, secret: &str, host: &str) -> Signer {
        Signer {
            access_key: access_key.into(),
            secret: secret.into(),
            host: host.into(),
            day: String::new(),
            key: None,
            second: i64::MIN,
            amz: String::new(),
        }
    }

    fn clone_fresh(&self) -> Signer {
        Signer::new(&self.access_key, &self.secret, &self.host)
    }

    /// The `authorization` header for a request at `now`; its
    /// `x-amz-date` is then `self.amz`.
    fn sign(&mut self, now: i64, target: &str, payload_sha256_hex: &str) -> String {
        if now != self.second {
            self.second = now;
            self.amz = ferrohsm::server::sigv4::amz_date(now);
            if self.amz[..8] != self.day || self.key.is_none() {
                self.day = self.amz[..8].to_string();
                let k = ferrohsm::server::sigv4::signing_key(&self.secret, &self.day, REGION, SERVICE);
                self.key = Some(hmac::Key::new(hmac::HMAC_SHA256, &k));
            }
        }
        let canonical = format!(
            "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{}\nx-amz-date:{}\nx-amz-target:{target}\n\n\
             content-type;host;x-amz-date;x-amz-target\n{payload_sha256_hex}",
            self.host, self.amz
        );
        let scope = format!("{}/{REGION}/{SERVICE}/aws4_request", self.day);
        let sts = format!(
            "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
            self.amz,
            ferrohsm::hex::hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
        );
        let key = self.key.as_ref().unwrap_or_else(|| unreachable!("set above"));
        let sig = hmac::sign(key, sts.as_bytes());
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature={}",
            self.access_key,
            ferrohsm::hex::hex(sig.as_ref())
        )
    }
}

fn sha256_hex(b: &[u8]) -> String {
    ferrohsm::hex::hex(digest::digest(&digest::SHA256, b).as_ref())
}

/// The cached signer must give what the server's own `sign` gives.
fn check_signer() -> Res<()> {
    let body = br#"{"KeyId":"alias/x","Plaintext":"AAAA"}"#;
    let now = 1_790_000_123;
    let host = "127.0.0.1:4599";
    let target = "TrentService.Encrypt";
    let headers = vec![
        ("host".to_string(), host.to_string()),
        ("content-type".to_string(), CONTENT_TYPE.to_string()),
        ("x-amz-target".to_string(), target.to_string()),
    ];
    let want = ferrohsm::server::sigv4::sign("AKID", "sekrit", REGION, SERVICE, now, "POST", "/", &headers, body);
    let mut s = Signer::new("AKID", "sekrit", host);
    for t in [now, now] {
        let auth = s.sign(t, target, &sha256_hex(body));
        let got = vec![("x-amz-date".to_string(), s.amz.clone()), ("authorization".to_string(), auth)];
        if got != want {
            return Err(format!("the bench's signer disagrees with sigv4::sign: {got:?} vs {want:?}").into());
        }
    }
    Ok(())
}

fn epoch_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

// ---------------------------------------------------------------------------
// A keep-alive HTTP/1.1 connection with just enough of a response reader.

struct Resp {
    status: u16,
    body: Vec<u8>,
}

struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    len: usize,
    req: Vec<u8>,
    reconnects: u64,
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

impl Conn {
    async fn open(addr: SocketAddr) -> Res<Conn> {
        let mut c =
            Conn { addr, stream: None, buf: vec![0; 16 * 1024], len: 0, req: Vec::with_capacity(4096), reconnects: 0 };
        c.connect().await?;
        Ok(c)
    }

    async fn connect(&mut self) -> Res<()> {
        let s = TcpStream::connect(self.addr).await?;
        s.set_nodelay(true)?;
        self.stream = Some(s);
        self.len = 0;
        Ok(())
    }

    async fn fill(&mut self) -> Res<()> {
        if self.len == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        let s = self.stream.as_mut().ok_or("not connected")?;
        let n = s.read(&mut self.buf[self.len..]).await?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.len += n;
        Ok(())
    }

    /// Signs and sends one request, reads its response. The body is kept
    /// when `keep` or when the status is not 200.
    async fn call(&mut self, signer: &mut Signer, target: &str, body: &[u8], body_hash: &str, keep: bool) -> Res<Resp> {
        if self.stream.is_none() {
            self.connect().await?;
            self.reconnects += 1;
        }
        let auth = signer.sign(epoch_now(), target, body_hash);
        self.req.clear();
        use std::io::Write;
        write!(
            self.req,
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: {CONTENT_TYPE}\r\nx-amz-target: {target}\r\n\
             x-amz-date: {}\r\nauthorization: {auth}\r\ncontent-length: {}\r\n\r\n",
            signer.host,
            signer.amz,
            body.len()
        )?;
        self.req.extend_from_slice(body);
        let r = self.exchange(keep).await;
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    async fn exchange(&mut self, keep: bool) -> Res<Resp> {
        let s = self.stream.as_mut().ok_or("not connected")?;
        s.write_all(&self.req).await?;
        let head_end = loop {
            if let Some(p) = find(&self.buf[..self.len], b"\r\n\r\n") {
                break p + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
        let (mut clen, mut chunked, mut close) = (None, false, status_line.starts_with("HTTP/1.0"));
        for l in lines {
            let Some((n, v)) = l.split_once(':') else { continue };
            let v = v.trim();
            if n.eq_ignore_ascii_case("content-length") {
                clen = Some(v.parse::<usize>()?);
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if n.eq_ignore_ascii_case("connection") {
                close = v.eq_ignore_ascii_case("close");
                if v.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        }
        let keep = keep || status != 200;
        let mut body = Vec::new();
        let consumed = if chunked {
            let mut at = head_end;
            loop {
                let line_end = loop {
                    if let Some(p) = find(&self.buf[at..self.len], b"\r\n") {
                        break at + p;
                    }
                    self.fill().await?;
                };
                let size_text = std::str::from_utf8(&self.buf[at..line_end])?;
                let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
                let need = line_end + 2 + size + 2;
                while self.len < need {
                    self.fill().await?;
                }
                if keep {
                    body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                }
                at = need;
                if size == 0 {
                    break at;
                }
            }
        } else if let Some(n) = clen {
            while self.len < head_end + n {
                self.fill().await?;
            }
            if keep {
                body.extend_from_slice(&self.buf[head_end..head_end + n]);
            }
            head_end + n
        } else {
            // Delimited by the end of the connection.
            while let Ok(()) = self.fill().await {}
            if keep {
                body.extend_from_slice(&self.buf[head_end..self.len]);
            }
            close = true;
            self.len
        };
        self.buf.copy_within(consumed..self.len, 0);
        self.len -= consumed;
        if close {
            self.stream = None;
        }
        Ok(Resp { status, body })
    }
}

/// One request, its JSON answer (Err with the answer when not 200).
async fn api(conn: &mut Conn, signer: &mut Signer, op: &str, input: &Json) -> Res<Result<Json, Json>> {
    let body = serde_json::to_vec(input)?;
    let r = conn.call(signer, &format!("TrentService.{op}"), &body, &sha256_hex(&body), true).await?;
    let v: Json =
        serde_json::from_slice(&r.body).unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&r.body) }));
    Ok(if r.status == 200 { Ok(v) } else { Err(v) })
}

// ---------------------------------------------------------------------------
// The servers.

struct Server {
    name: &'static str,
    addr: SocketAddr,
    child: Child,
    access_key: String,
    secret: String,
    _dir: Option<tempfile::TempDir>,
    /// Dropped after the server (fields drop after `drop`).
    _schema: Option<pg::PgSchema>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn signer(&self) -> Signer {
        Signer::new(&self.access_key, &self.secret, &self.addr.to_string())
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with(field))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn rss_mib(pid: u32) -> f64 {
    proc_status_kib(pid, "VmRSS:").map_or(f64::NAN, |k| k as f64 / 1024.0)
}

/// CPU seconds (user + system) of a process and its threads so far.
fn proc_cpu(pid: u32) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return f64::NAN };
    let Some(rest) = s.rfind(')').map(|i| &s[i + 2..]) else { return f64::NAN };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the name.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// The 1, 5 and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn self_cpu() -> f64 {
    // SAFETY: getrusage fills a plain struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// `ferrohsm serve` on a fresh token: in a SQLite file, or with `pg` in a
/// fresh schema on that PostgreSQL server.
fn start_ferrohsm(bin: &std::path::Path, pg: Option<&str>) -> Res<Server> {
    if !bin.exists() {
        return Err(format!("{} is missing: run `cargo build --release --bins` first", bin.display()).into());
    }
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("f.conf");
    let schema = pg.map(|url| pg::PgSchema::new(url, "kmsload")).transpose()?;
    let store = match &schema {
        Some(s) => format!("url = {:?}", s.store_url()),
        None => format!("path = {:?}", dir.path().join("store.db")),
    };
    // Argon2 kept cheap: the PIN is checked once per process, not per request.
    std::fs::write(&conf, format!("[store]\n{store}\n[kdf]\nm_cost_kib = 1024\nt_cost = 1\n"))?;
    let cmd = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args)
            .env("FERROHSM_CONF", &conf)
            .env("FERROHSM_SO_PIN", "so-secret")
            .env("FERROHSM_USER_PIN", "user-secret");
        c
    };
    let out = cmd(&["init-token", "--free", "--label", "kms"]).output()?;
    if !out.status.success() {
        return Err(format!("init-token: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let out = cmd(&["principal", "create", "bench", "--admin"]).output()?;
    if !out.status.success() {
        return Err(format!("principal create: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let cred: Json = serde_json::from_slice(&out.stdout)?;
    let ak = cred["AccessKey"]["AccessKeyId"].as_str().ok_or("no AccessKeyId")?.to_string();
    let sk = cred["AccessKey"]["SecretAccessKey"].as_str().ok_or("no SecretAccessKey")?.to_string();
    let log = std::fs::File::create(dir.path().join("serve.log"))?;
    let mut child =
        cmd(&["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::from(log)).spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr =
        line.trim().strip_prefix("ferrohsm: serving the KMS API on http://").and_then(|a| a.parse().ok()).ok_or_else(
            || {
                let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
                format!("ferrohsm serve did not start: {line:?} {log}")
            },
        );
    let name = if schema.is_some() { "ferrohsm-pg" } else { "ferrohsm" };
    let mut server =
        Server { name, addr: "127.0.0.1:1".parse()?, child, access_key: ak, secret: sk, _dir: None, _schema: None };
    server.addr = addr?; // on error, dropping the server stops it
    server._dir = Some(dir);
    server._schema = schema;
    Ok(server)
}

/// moto_server on a free port, or why not.
fn start_moto(cmd: &str) -> Result<Server, String> {
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let child = Command::new(cmd)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("`{cmd}` could not be started ({e}); install it with `pip install 'moto[server]'`"))?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().map_err(|e| format!("{e}"))?;
    let mut server = Server {
        name: "moto",
        addr,
        child,
        access_key: "AKIAIOSFODNN7EXAMPLE".into(),
        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        _dir: None,
        _schema: None,
    };
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(st)) = server.child.try_wait() {
            return Err(format!("`{cmd}` exited at start ({st}); install it with `pip install 'moto[server]'`"));
        }
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("`{cmd}` did not listen on {addr} within 60 s"))
}

// ---------------------------------------------------------------------------
// Cases.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Encrypt,
    Decrypt,
    GenerateDataKey,
    Sign,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Encrypt => "Encrypt 1 KiB",
            Op::Decrypt => "Decrypt 1 KiB",
            Op::GenerateDataKey => "GenerateDataKey AES_256",
            Op::Sign => "Sign ECC_NIST_P256",
        }
    }
}

/// Checks one decoded answer.
type Check = Box<dyn Fn(&Json) -> Result<(), String> + Send + Sync>;

/// The memory run: requests, (requests done, VmRSS MiB) samples, outcome.
type Flat = (u64, Vec<(u64, f64)>, Outcome);

/// A request body fixed for a case, and how to check one answer.
struct Work {
    target: String,
    body: Vec<u8>,
    hash: String,
    check: Check,
}

/// What a server offers for an op: the request to repeat, or why not.
async fn prepare(server: &Server, op: Op, plaintext: &[u8]) -> Res<Result<Work, String>> {
    let mut conn = Conn::open(server.addr).await?;
    let mut signer = server.signer();
    let b64 = B64.encode(plaintext);
    let (spec, usage) =
        if op == Op::Sign { ("ECC_NIST_P256", "SIGN_VERIFY") } else { ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT") };
    let created = api(
        &mut conn,
        &mut signer,
        "CreateKey",
        &json!({ "KeySpec": spec, "KeyUsage": usage, "Description": format!("kmsload {op:?}") }),
    )
    .await?;
    let key = match created {
        Ok(v) => v["KeyMetadata"]["KeyId"].as_str().ok_or("CreateKey: no KeyId")?.to_string(),
        Err(e) => {
            let ty = e["__type"].as_str().unwrap_or("").rsplit('#').next().unwrap_or("").to_string();
            let msg = e["message"].as_str().or(e["Message"].as_str()).unwrap_or("").to_string();
            if ty == "UnsupportedOperationException" {
                return Ok(Err(format!("not offered (CreateKey {spec}: UnsupportedOperationException: \"{msg}\")")));
            }
            return Err(format!("CreateKey {spec}: {e}").into());
        }
    };
    let work = |op: &str, input: Json, check: Check| {
        let body = serde_json::to_vec(&input).unwrap_or_default();
        Work { target: format!("TrentService.{op}"), hash: sha256_hex(&body), body, check }
    };
    let blob = |v: &Json, f: &str| -> Result<Vec<u8>, String> {
        B64.decode(v[f].as_str().ok_or(format!("no {f}"))?).map_err(|e| format!("{f}: {e}"))
    };
    Ok(Ok(match op {
        Op::Encrypt => {
            let check = move |v: &Json| -> Result<(), String> {
                let c = blob(v, "CiphertextBlob")?;
                if c.len() < plaintext_len() + 16 {
                    return Err(format!("CiphertextBlob of {} bytes", c.len()));
                }
                Ok(())
            };
            work("Encrypt", json!({ "KeyId": key, "Plaintext": b64 }), Box::new(check))
        }
        Op::Decrypt => {
            let ct = match api(&mut conn, &mut signer, "Encrypt", &json!({ "KeyId": key, "Plaintext": b64 })).await? {
                Ok(v) => v["CiphertextBlob"].as_str().ok_or("Encrypt: no CiphertextBlob")?.to_string(),
                Err(e) => return Err(format!("Encrypt: {e}").into()),
            };
            let want = plaintext.to_vec();
            let check = move |v: &Json| -> Result<(), String> {
                if blob(v, "Plaintext")? != want {
                    return Err("Decrypt gave back another plaintext".into());
                }
                Ok(())
            };
            work("Decrypt", json!({ "KeyId": key, "CiphertextBlob": ct }), Box::new(check))
        }
        Op::GenerateDataKey => {
            let check = move |v: &Json| -> Result<(), String> {
                let p = blob(v, "Plaintext")?;
                let c = blob(v, "CiphertextBlob")?;
                if p.len() != 32 || c.len() < 48 {
                    return Err(format!("data key of {} bytes, wrapped in {}", p.len(), c.len()));
                }
                Ok(())
            };
            work("GenerateDataKey", json!({ "KeyId": key, "KeySpec": "AES_256" }), Box::new(check))
        }
        Op::Sign => {
            let msg = B64.encode([7u8; 32]);
            let check = move |v: &Json| -> Result<(), String> {
                let s = blob(v, "Signature")?;
                if s.len() < 8 || s[0] != 0x30 {
                    return Err(format!("Signature of {} bytes is not DER", s.len()));
                }
                Ok(())
            };
            work(
                "Sign",
                json!({ "KeyId": key, "Message": msg, "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256" }),
                Box::new(check),
            )
        }
    }))
}

fn plaintext_len() -> usize {
    1024
}

#[derive(Default)]
struct Tally {
    lat_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    checked: u64,
    reconnects: u64,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.lat_us.extend(o.lat_us);
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.checked += o.checked;
        self.reconnects += o.reconnects;
    }
}

/// When a run stops: at a time, or after a number of requests.
#[derive(Clone)]
enum Stop {
    At(Instant),
    Count(Arc<AtomicU64>, u64),
}

impl Stop {
    /// Takes one request's slot; false once the run is over.
    fn take(&self) -> bool {
        match self {
            Stop::At(t) => Instant::now() < *t,
            Stop::Count(n, max) => n.fetch_add(1, Ordering::Relaxed) < *max,
        }
    }
}

async fn drive(mut conn: Conn, mut signer: Signer, work: Arc<Work>, stop: Stop, done: Arc<AtomicU64>) -> Tally {
    let mut t = Tally::default();
    let mut n = 0u64;
    while stop.take() {
        // Every 4096th answer (and the first) is decoded and checked.
        let keep = n % 4096 == 0;
        n += 1;
        let t0 = Instant::now();
        let r = conn.call(&mut signer, &work.target, &work.body, &work.hash, keep).await;
        let us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
        done.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(r) if r.status == 200 => {
                t.lat_us.push(us);
                if keep {
                    let checked = serde_json::from_slice::<Json>(&r.body)
                        .map_err(|e| format!("answer is not JSON: {e}"))
                        .and_then(|v| (work.check)(&v));
                    match checked {
                        Ok(()) => t.checked += 1,
                        Err(e) => {
                            t.errors += 1;
                            t.first_error.get_or_insert(e);
                        }
                    }
                }
            }
            Ok(r) => {
                t.errors += 1;
                t.first_error.get_or_insert_with(|| format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)));
            }
            Err(e) => {
                t.errors += 1;
                t.first_error.get_or_insert_with(|| e.to_string());
                // Do not spin on a dead server.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    t.reconnects = conn.reconnects;
    t
}

struct Outcome {
    reqs: u64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    server_cpu_us: f64,
    client_cpu_us: f64,
    errors: u64,
    first_error: Option<String>,
    checked: u64,
    reconnects: u64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64
}

/// Opens `conns` connections, then runs them until `stop`.
async fn run_load(
    server: &Server,
    work: Arc<Work>,
    conns: usize,
    stop: impl Fn() -> Stop,
    done: Arc<AtomicU64>,
) -> Res<Outcome> {
    let mut opened = Vec::with_capacity(conns);
    for _ in 0..conns {
        opened.push(Conn::open(server.addr).await?);
    }
    let template = server.signer();
    let stop = stop();
    let (cpu0, me0, t0) = (proc_cpu(server.pid()), self_cpu(), Instant::now());
    let tasks: Vec<_> = opened
        .into_iter()
        .map(|c| tokio::spawn(drive(c, template.clone_fresh(), work.clone(), stop.clone(), done.clone())))
        .collect();
    let mut tally = Tally::default();
    for t in tasks {
        tally.merge(t.await?);
    }
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, me1) = (proc_cpu(server.pid()), self_cpu());
    tally.lat_us.sort_unstable();
    let reqs = tally.lat_us.len() as u64 + tally.errors;
    let per = |s: f64| if reqs == 0 { f64::NAN } else { s * 1e6 / reqs as f64 };
    Ok(Outcome {
        reqs,

        rps: tally.lat_us.len() as f64 / wall,
        p50_us: percentile(&tally.lat_us, 0.50),
        p99_us: percentile(&tally.lat_us, 0.99),
        server_cpu_us: per(cpu1 - cpu0),
        client_cpu_us: per(me1 - me0),
        errors: tally.errors,
        first_error: tally.first_error,
        checked: tally.checked,
        reconnects: tally.reconnects,
    })
}

// ---------------------------------------------------------------------------

struct Args {
    quick: bool,
    duration: Duration,
    warmup: Duration,
    conns: Vec<usize>,
    ops: Vec<Op>,
    requests: Option<u64>,
    client_threads: usize,
    ferrohsm: PathBuf,
    moto: Option<String>,
    store_url: Option<String>,
    out: Option<PathBuf>,
}

fn parse_args() -> Res<Args> {
    let default_bin = std::env::current_exe()?
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("ferrohsm"))
        .ok_or("cannot place target/release")?;
    let mut a = Args {
        quick: false,
        duration: Duration::from_secs(5),
        warmup: Duration::from_millis(500),
        conns: vec![1, 16, 64],
        ops: vec![Op::Encrypt, Op::Decrypt, Op::GenerateDataKey, Op::Sign],
        requests: None,
        client_threads: 1,
        ferrohsm: default_bin,
        moto: Some("moto_server".into()),
        store_url: None,
        out: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    let secs = |v: Option<&String>| -> Res<Duration> {
        Ok(Duration::from_secs_f64(v.ok_or("a number of seconds")?.parse::<f64>()?))
    };
    let (mut duration_given, mut warmup_given) = (false, false);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--bench" => {} // passed by cargo bench
            "--quick" => a.quick = true,
            "--duration" => {
                a.duration = secs(it.next())?;
                duration_given = true;
            }
            "--warmup" => {
                a.warmup = secs(it.next())?;
                warmup_given = true;
            }
            "--conns" => {
                a.conns = it.next().ok_or("--conns 1,16,64")?.split(',').map(|c| c.parse()).collect::<Result<_, _>>()?
            }
            "--ops" => {
                a.ops = it
                    .next()
                    .ok_or("--ops encrypt,decrypt,gdk,sign")?
                    .split(',')
                    .map(|o| match o {
                        "encrypt" => Ok(Op::Encrypt),
                        "decrypt" => Ok(Op::Decrypt),
                        "gdk" => Ok(Op::GenerateDataKey),
                        "sign" => Ok(Op::Sign),
                        o => Err(format!("unknown op {o} (encrypt, decrypt, gdk, sign)")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--requests" => a.requests = Some(it.next().ok_or("--requests N")?.parse()?),
            "--client-threads" => a.client_threads = it.next().ok_or("--client-threads K")?.parse()?,
            "--ferrohsm" => a.ferrohsm = PathBuf::from(it.next().ok_or("--ferrohsm PATH")?),
            "--moto" => a.moto = Some(it.next().ok_or("--moto CMD")?.clone()),
            "--no-moto" => a.moto = None,
            "--store-url" => a.store_url = Some(it.next().ok_or("--store-url postgresql://...")?.clone()),
            "--out" => a.out = Some(PathBuf::from(it.next().ok_or("--out FILE")?)),
            "-h" | "--help" => {
                println!(
                    "kmsload [--quick] [--duration S] [--warmup S] [--conns 1,16,64] [--ops encrypt,decrypt,gdk,sign]\n\
                     \x20       [--requests N] [--client-threads K] [--ferrohsm PATH] [--moto CMD | --no-moto] [--store-url URL] [--out FILE]"
                );
                std::process::exit(0);
            }
            o => return Err(format!("unknown argument {o}").into()),
        }
    }
    if a.quick && !duration_given {
        a.duration = Duration::from_millis(500);
    }
    if a.quick && !warmup_given {
        a.warmup = Duration::from_millis(100);
    }
    Ok(a)
}

fn cell(o: &Option<Result<Outcome, String>>) -> String {
    match o {
        None => "-".into(),
        Some(Err(e)) if e.starts_with("not offered") => "not offered (see below)".into(),
        Some(Err(e)) => e.clone(),
        Some(Ok(o)) => {
            let mut s = format!(
                "{:.0}/s, p50 {:.0} µs, p99 {:.0} µs, server cpu {:.0} µs",
                o.rps, o.p50_us, o.p99_us, o.server_cpu_us
            );
            if o.errors > 0 {
                s.push_str(&format!(", **{} errors**", o.errors));
            }
            s
        }
    }
}

fn main() -> Res<()> {
    let a = parse_args()?;
    check_signer()?;
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(a.client_threads.max(1)).enable_all().build()?;
    let plaintext: Vec<u8> = (0..plaintext_len()).map(|i| (i * 31 % 251) as u8).collect();

    let ferro = start_ferrohsm(&a.ferrohsm, None)?;
    eprintln!("ferrohsm: serving on {} (pid {})", ferro.addr, ferro.pid());
    let moto = match &a.moto {
        None => Err("not run (--no-moto)".to_string()),
        Some(cmd) => start_moto(cmd),
    };
    match &moto {
        Ok(m) => eprintln!("moto: serving on {} (pid {})", m.addr, m.pid()),
        Err(e) => eprintln!("moto: ABSENT: {e}"),
    }
    let ferro_pg = a.store_url.as_deref().map(|u| start_ferrohsm(&a.ferrohsm, Some(u))).transpose()?;
    if let Some(p) = &ferro_pg {
        eprintln!("ferrohsm-pg: serving on {} (pid {})", p.addr, p.pid());
    }
    let servers: Vec<&Server> = std::iter::once(&ferro).chain(moto.as_ref().ok()).chain(ferro_pg.as_ref()).collect();
    let rss_before: Vec<f64> = servers.iter().map(|s| rss_mib(s.pid())).collect();
    let load_before = loadavg();

    // The work of each (server, op), prepared up front.
    let mut works: Vec<Vec<Result<Arc<Work>, String>>> = Vec::new();
    for s in &servers {
        let mut row = Vec::new();
        for &op in &a.ops {
            let w = rt.block_on(prepare(s, op, &plaintext)).map_err(|e| format!("{}: setup of {op:?}: {e}", s.name))?;
            if let Err(why) = &w {
                eprintln!("{} {}: {why}", s.name, op.label());
            }
            row.push(w.map(Arc::new));
        }
        works.push(row);
    }

    // Cases, taking turns between the servers.
    type Row = (Op, usize, Vec<Option<Result<Outcome, String>>>);
    let mut rows: Vec<Row> = Vec::new();
    let mut failures = Vec::new();
    for (oi, &op) in a.ops.iter().enumerate() {
        for &n in &a.conns {
            let mut cells = Vec::new();
            for (si, s) in servers.iter().enumerate() {
                let outcome = match &works[si][oi] {
                    Err(why) => Err(why.clone()),
                    Ok(w) => {
                        let done = Arc::new(AtomicU64::new(0));
                        let warm = a.warmup;
                        let _ =
                            rt.block_on(run_load(s, w.clone(), n, || Stop::At(Instant::now() + warm), done.clone()));
                        let dur = a.duration;
                        let o = rt
                            .block_on(run_load(s, w.clone(), n, || Stop::At(Instant::now() + dur), done))
                            .map_err(|e| format!("{}: {e}", s.name))?;
                        eprintln!(
                            "{:<24} {:>3} conns {:<9} {:>8.0}/s p50 {:>6.0} µs p99 {:>7.0} µs  server cpu {:>5.0} µs/req  \
                             client cpu {:>4.0} µs/req  {} reqs, {} checked, {} errors, {} reconnects",
                            op.label(),
                            n,
                            s.name,
                            o.rps,
                            o.p50_us,
                            o.p99_us,
                            o.server_cpu_us,
                            o.client_cpu_us,
                            o.reqs,
                            o.checked,
                            o.errors,
                            o.reconnects
                        );
                        if let Some(e) = &o.first_error {
                            eprintln!("  first error: {e}");
                            failures.push(format!("{} {} x{n}: {} errors, first: {e}", s.name, op.label(), o.errors));
                        }
                        Ok(o)
                    }
                };
                cells.push(Some(outcome));
            }
            rows.push((op, n, cells));
        }
    }
    let rss_after: Vec<f64> = servers.iter().map(|s| rss_mib(s.pid())).collect();
    let load_after = loadavg();

    // Memory over N Encrypt requests at 64 connections (FerroHSM).
    let mut flat: Option<Flat> = None;
    if let Some(total) = a.requests {
        if let Ok(w) =
            &works[0][a.ops.iter().position(|&o| o == Op::Encrypt).ok_or("--requests needs --ops encrypt")?]
        {
            let done = Arc::new(AtomicU64::new(0));
            let taken = Arc::new(AtomicU64::new(0));
            let pid = ferro.pid();
            let samples = Arc::new(std::sync::Mutex::new(vec![(0u64, rss_mib(pid))]));
            let sampler = {
                let (done, samples) = (done.clone(), samples.clone());
                std::thread::spawn(move || {
                    for q in 1..=4u64 {
                        let mark = total * q / 4;
                        loop {
                            let d = done.load(Ordering::Relaxed);
                            if d >= mark {
                                samples.lock().unwrap_or_else(|e| e.into_inner()).push((d, rss_mib(pid)));
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                })
            };
            let o = rt.block_on(run_load(&ferro, w.clone(), 64, || Stop::Count(taken.clone(), total), done.clone()))?;
            let _ = sampler.join();
            let s = samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
            eprintln!("memory over {total} Encrypt requests at 64 connections ({:.0}/s, {} errors):", o.rps, o.errors);
            for (n, r) in &s {
                eprintln!("  after {n:>8}: {r:.1} MiB");
            }
            if let Some(e) = &o.first_error {
                failures.push(format!("ferrohsm memory run: {} errors, first: {e}", o.errors));
            }
            flat = Some((total, s, o));
        }
    }

    // Report.
    let names: Vec<&str> = servers.iter().map(|s| s.name).collect();
    let mut md = String::from("## KMS API\n\n");
    // The command as run, less cargo's --bench and the --out file.
    let mut argv: Vec<String> = Vec::new();
    let mut skip = false;
    for x in std::env::args().skip(1) {
        if std::mem::take(&mut skip) || x == "--bench" {
            continue;
        }
        if x == "--out" {
            skip = true;
            continue;
        }
        argv.push(x);
    }
    md.push_str(&format!(
        "Generated by kmsload (`cargo bench --bench kmsload -- {}`; `benches/run.sh` runs it after p11bench). \
         `ferrohsm serve` on a fresh token in a temporary \
         store, against the moto server (`pip install 'moto[server]'`) as the reference emulator, both on \
         127.0.0.1 of this machine, sharing its cores with the load generator (one client thread, tokio).\n\n\
         - Requests: real SigV4-signed AWS JSON 1.1 requests, each signed for its own date, over keep-alive \
         HTTP/1.1 connections, closed loop (each connection sends its next request when the last is answered); \
         {} s per case after {} s of warm-up{}.\n\
         - Every response must be HTTP 200; one of every 4096 (and the first) is decoded and checked (Decrypt gives \
         back the plaintext, GenerateDataKey a 32-byte key, Encrypt a ciphertext, Sign a DER signature).\n\
         - Each cell: requests/s, p50 and p99 latency, CPU time of the server process per request.\n\
         - Load average of the machine (anything else running shares the cores): {load_before} before the \
         cases, {load_after} after.\n",
        argv.join(" "),
        a.duration.as_secs_f64(),
        a.warmup.as_secs_f64(),
        if a.quick { " (--quick)" } else { "" }
    ));
    match &moto {
        Ok(_) => {
            let v = Command::new("python3")
                .args(["-c", "import moto; print(moto.__version__)"])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|v| !v.is_empty());
            md.push_str(&format!(
                "- moto: `moto_server` {}\n",
                v.map_or("(version unknown)".into(), |v| v.to_string())
            ));
        }
        Err(e) => md
            .push_str(&format!("- **moto: ABSENT in this run** — {e}. Its columns are empty and no ratio is given.\n")),
    }
    md.push('\n');
    let ours = moto.is_ok();
    let with_pg = ferro_pg.is_some();
    md.push_str(&format!(
        "| case | connections | {} |{}{}\n|---|---|{}{}{}\n",
        names.join(" | "),
        if ours { " ferrohsm / moto |" } else { "" },
        if with_pg { " ferrohsm-pg / ferrohsm |" } else { "" },
        "---|".repeat(names.len()),
        if ours { "---|" } else { "" },
        if with_pg { "---|" } else { "" }
    ));
    for (op, n, cells) in &rows {
        let mut line = format!("| {} | {n} | {} |", op.label(), cells.iter().map(cell).collect::<Vec<_>>().join(" | "));
        if ours {
            let ratio = match (&cells[0], &cells[1]) {
                (Some(Ok(f)), Some(Ok(m))) if m.rps > 0.0 => format!(" {:.0}x |", f.rps / m.rps),
                _ => " - |".into(),
            };
            line.push_str(&ratio);
        }
        if with_pg {
            // The PostgreSQL server is the last column.
            let ratio = match (&cells[0], cells.last()) {
                (Some(Ok(f)), Some(Some(Ok(p)))) if f.rps > 0.0 => format!(" {:.2}x |", p.rps / f.rps),
                _ => " - |".into(),
            };
            line.push_str(&ratio);
        }
        md.push_str(&line);
        md.push('\n');
    }
    if moto.is_err() {
        md.push_str("\n(moto absent: no reference column.)\n");
    }
    let mut notes = Vec::new();
    for (op, _, cells) in &rows {
        for (i, c) in cells.iter().enumerate() {
            if let Some(Err(e)) = c {
                let n = format!("- {} {}: {e}", names[i], op.label());
                if !notes.contains(&n) {
                    notes.push(n);
                }
            }
        }
    }
    for (i, n) in names.iter().enumerate() {
        let (reqs, rec) = rows
            .iter()
            .filter_map(|(_, _, c)| c[i].as_ref()?.as_ref().ok())
            .fold((0, 0), |(r, k), o| (r + o.reqs, k + o.reconnects));
        if rec > 0 {
            notes.push(format!(
                "- {n} answers with `Connection: close`: the client opened a new TCP connection for {rec} of its \
                 {reqs} requests, and that time is in its figures."
            ));
        }
    }
    if !notes.is_empty() {
        md.push('\n');
        md.push_str(&notes.join("\n"));
        md.push('\n');
    }
    md.push_str("\nResident size (VmRSS) of each server process before the first case and after the last:\n\n");
    for (i, n) in names.iter().enumerate() {
        md.push_str(&format!("- {n}: {:.1} MiB → {:.1} MiB\n", rss_before[i], rss_after[i]));
    }
    if let Some((total, s, o)) = &flat {
        md.push_str(&format!(
            "\nMemory over {total} Encrypt requests (1 KiB, 64 connections, {:.0}/s, p99 {:.0} µs, {} errors), \
             FerroHSM's VmRSS after each quarter:\n\n| requests | VmRSS |\n|---|---|\n",
            o.rps, o.p99_us, o.errors
        ));
        for (n, r) in s {
            md.push_str(&format!("| {n} | {r:.1} MiB |\n"));
        }
    }

    // Goals of issue 15, judged from this run.
    let enc64 = rows.iter().find(|(op, n, _)| *op == Op::Encrypt && *n == 64).map(|(_, _, c)| c);
    let f64c = enc64.and_then(|c| c[0].as_ref()).and_then(|r| r.as_ref().ok());
    // moto's column is the second when it ran (the PostgreSQL server's is last).
    let m64c =
        enc64.filter(|_| moto.is_ok()).and_then(|c| c.get(1)).and_then(|c| c.as_ref()).and_then(|r| r.as_ref().ok());
    let yes = |b: bool| if b { "met" } else { "**not met**" };
    md.push_str("\nGoals (issue 15), judged from this run:\n\n| goal | this run | |\n|---|---|---|\n");
    match f64c {
        Some(f) => {
            md.push_str(&format!(
                "| ≥ 20,000 signed Encrypt requests/s at 64 connections | {:.0}/s | {} |\n",
                f.rps,
                yes(f.rps >= 20_000.0 && f.errors == 0)
            ));
            md.push_str(&format!(
                "| p99 ≤ 5 ms (Encrypt, 64 connections) | {:.2} ms | {} |\n",
                f.p99_us / 1000.0,
                yes(f.p99_us <= 5000.0)
            ));
            match m64c {
                Some(m) => md.push_str(&format!(
                    "| ≥ 50x the moto server (Encrypt, 64 connections) | {:.0}x | {} |\n",
                    f.rps / m.rps,
                    yes(f.rps / m.rps >= 50.0)
                )),
                None => md.push_str("| ≥ 50x the moto server | moto absent | **not judged** |\n"),
            }
        }
        None => md.push_str("| Encrypt at 64 connections | not run | **not judged** |\n"),
    }
    match &flat {
        Some((total, s, _)) if s.len() == 5 => {
            // Flat: from the first quarter (allocator and connection
            // buffers warmed up) to the end, growth ≤ max(2 MiB, 5%).
            let (q1, end) = (s[1].1, s[4].1);
            let ok = end - q1 <= (q1 * 0.05).max(2.0);
            md.push_str(&format!(
                "| memory flat over {total} requests (VmRSS growth from the first quarter to the end ≤ max(2 MiB, 5%)) \
                 | {:.1} → {:.1} MiB ({:+.1} MiB) | {} |\n",
                q1,
                end,
                end - q1,
                yes(ok)
            ));
        }
        _ => md
            .push_str("| memory flat over 1,000,000 requests | not run (give --requests 1000000) | **not judged** |\n"),
    }
    if !failures.is_empty() {
        md.push_str("\nErrors seen in this run:\n\n");
        for f in &failures {
            md.push_str(&format!("- {f}\n"));
        }
    }
    println!("\n{md}");
    if let Some(path) = &a.out {
        std::fs::write(path, &md)?;
    }
    drop(moto);
    drop(ferro);
    if !failures.is_empty() {
        return Err(format!("{} case(s) saw errors", failures.len()).into());
    }
    Ok(())
}
