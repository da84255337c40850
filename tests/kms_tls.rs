//! `ferrohsm serve`'s transport rules: HTTPS with a PEM certificate and key
//! (the AWS SDK for Rust trusting a self-signed certificate made here by the
//! `openssl` command), no plain HTTP from a TLS server, no plain HTTP on an
//! address other than loopback unless `--insecure-http`, `--tls-cert` and
//! `--tls-key` only together, and a prompt clean exit on SIGTERM.

mod common;
#[path = "common/sdk.rs"]
mod sdk;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_kms::primitives::Blob;
use common::server::{home, self_signed, Home};

/// Waits up to `limit` for a child: its status, or None (then killed).
fn wait_for(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `ferrohsm ARGS` that must end by itself within 30 s: (code, stdout, stderr).
fn run_briefly(h: &Home, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = h
        .command()
        .args(args)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    let status = wait_for(&mut child, Duration::from_secs(30));
    assert!(status.is_some(), "ferrohsm {args:?} still ran after 30 s (it serves?)");
    (status.unwrap().code(), std::fs::read_to_string(out).unwrap(), std::fs::read_to_string(err).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_self_signed_certificate() {
    let h = home();
    let alice = h.principal("alice", true);
    let (cert, key) = self_signed(h.dir.path());
    let s = h.serve(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let port = s.addr().port();
    let pem = std::fs::read(&cert).unwrap();

    // The SDK's HTTPS client trusting the certificate: signed requests
    // succeed, by IP address and by name (both in subjectAltName).
    for url in [s.url.clone(), format!("https://localhost:{port}")] {
        let kms = sdk::client(&url, &alice, Some(sdk::https_trusting(&pem)));
        let made = kms.create_key().send().await.unwrap_or_else(|e| panic!("{url}: {e:?}\n{}", s.stderr()));
        let id = sdk::key_uuid(made.key_metadata().unwrap().arn().unwrap()).to_string();
        let ct = kms
            .encrypt()
            .key_id(&id)
            .plaintext(Blob::new(*b"over TLS"))
            .encryption_context("via", "https")
            .send()
            .await
            .unwrap();
        let pt = kms
            .decrypt()
            .ciphertext_blob(ct.ciphertext_blob().unwrap().clone())
            .encryption_context("via", "https")
            .send()
            .await
            .unwrap();
        assert_eq!(pt.plaintext().unwrap().as_ref(), b"over TLS");
    }

    // The SDK's default client does not trust a self-signed certificate:
    // the request fails in the handshake, before any answer.
    let e = sdk::client(&s.url, &alice, None).list_keys().send().await.unwrap_err();
    assert!(
        matches!(e, aws_sdk_kms::error::SdkError::DispatchFailure(_)),
        "an untrusted certificate must fail the connection: {e:?}"
    );

    // Plain HTTP to the TLS server: the SDK gets no HTTP answer...
    let plain = format!("http://127.0.0.1:{port}");
    let e = sdk::client(&plain, &alice, None).list_keys().send().await.unwrap_err();
    assert!(
        matches!(e, aws_sdk_kms::error::SdkError::DispatchFailure(_) | aws_sdk_kms::error::SdkError::ResponseError(_)),
        "plain HTTP must fail: {e:?}"
    );
    // ... and neither does a raw request: what comes back (if anything
    // before the connection closes) is not HTTP.
    let mut tcp = std::net::TcpStream::connect(s.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n\
          X-Amz-Target: TrentService.ListKeys\r\nContent-Length: 2\r\n\r\n{}",
    )
    .unwrap();
    let mut got = Vec::new();
    let _ = tcp.read_to_end(&mut got);
    assert!(!got.starts_with(b"HTTP/"), "a TLS server answered plain HTTP: {:?}", String::from_utf8_lossy(&got));

    // The server is still up and serving TLS after those.
    let kms = sdk::client(&s.url, &alice, Some(sdk::https_trusting(&pem)));
    assert_eq!(kms.list_keys().send().await.unwrap().keys().len(), 2);
}

#[test]
fn plain_http_only_on_loopback_unless_insecure_http() {
    let h = home();
    // Refused before anything else (the configuration is not even read), so
    // it never listens: exit 1, naming the way out.
    let mut c = h.command();
    c.env("FERROHSM_CONF", "/nonexistent/ferrohsm.toml");
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let o = c.args(["serve", "--listen", addr]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{addr}: {err}");
        assert!(err.contains("--insecure-http"), "{addr}: {err}");
        assert!(err.contains("refusing to serve plain HTTP"), "{addr}: {err}");
        assert!(!String::from_utf8_lossy(&o.stdout).contains("serving"), "{addr}");
        c = h.command();
        c.env("FERROHSM_CONF", "/nonexistent/ferrohsm.toml");
    }
    // The same with a working store.
    let (code, out, err) = run_briefly(&h, &["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--insecure-http"), "{err}");
    assert!(out.is_empty(), "{out}");

    // With --insecure-http it serves; a request over loopback works.
    let alice = h.principal("alice", true);
    let s = h.serve_with(&["serve", "--listen", "0.0.0.0:0", "--insecure-http"]);
    assert!(s.url.starts_with("http://0.0.0.0:"), "{}", s.url);
    let url = format!("http://127.0.0.1:{}", s.addr().port());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let keys = rt.block_on(sdk::client(&url, &alice, None).list_keys().send()).unwrap();
    assert!(keys.keys().is_empty());
    drop(s);

    // Loopback without TLS needs no flag (the other tests), and TLS needs
    // none on any address.
    let (cert, key) = self_signed(h.dir.path());
    let s = h.serve_with(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(s.url.starts_with("https://0.0.0.0:"), "{}", s.url);
}

#[test]
fn tls_cert_and_key_only_together() {
    let h = home();
    let (cert, key) = self_signed(h.dir.path());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    for (args, missing) in
        [(["serve", "--tls-cert", cert], "--tls-key <FILE>"), (["serve", "--tls-key", key], "--tls-cert <FILE>")]
    {
        let (code, out, err) = run_briefly(&h, &args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("required arguments were not provided"), "{err}");
        assert!(err.contains(missing), "{missing} not in {err}");
        assert!(out.is_empty(), "{out}");
    }
    // Files that are not a certificate or a key: exit 1 naming the file,
    // without listening.
    let junk = h.dir.path().join("junk.pem");
    std::fs::write(&junk, "not PEM\n").unwrap();
    let junk = junk.to_str().unwrap();
    let missing = h.dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    for (c, k, named) in [(missing, key, missing), (cert, missing, missing), (cert, junk, junk), (cert, cert, cert)] {
        let (code, out, err) = run_briefly(&h, &["serve", "--listen", "127.0.0.1:0", "--tls-cert", c, "--tls-key", k]);
        assert_eq!(code, Some(1), "{c} {k}: {err}");
        assert!(err.contains(named), "{named} not in {err}");
        assert!(!out.contains("serving"), "{out}");
    }
}

#[test]
fn sigterm_ends_an_idle_server_promptly_and_cleanly() {
    let h = home();
    let alice = h.principal("alice", true);
    let (cert, key) = self_signed(h.dir.path());
    let pem = std::fs::read(&cert).unwrap();
    let tls = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    for args in [&[][..], &tls[..]] {
        let mut s = h.serve(args);
        // One request, its keep-alive connection left open and idle.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let http = s.url.starts_with("https").then(|| sdk::https_trusting(&pem));
        let kms = sdk::client(&s.url, &alice, http);
        let made = rt.block_on(kms.create_key().description("before SIGTERM").send()).unwrap();
        sdk::key_uuid(made.key_metadata().unwrap().arn().unwrap());
        let pid = s.pid();
        let t = Instant::now();
        let status = s.terminate(Duration::from_secs(10));
        let took = t.elapsed();
        let status = status.unwrap_or_else(|| panic!("{args:?}: still running 10 s after SIGTERM: {}", s.stderr()));
        assert_eq!(status.code(), Some(0), "{args:?}: {}", s.stderr());
        assert!(took < Duration::from_secs(5), "{args:?}: took {took:?} to stop");
        assert!(!s.stderr().contains("panicked"), "{}", s.stderr());
        // It no longer listens.
        assert!(std::net::TcpStream::connect(s.addr()).is_err());
        drop(kms);
        drop(rt);
        // What it did is in the audit trail, flushed before it exited.
        let recs: serde_json::Value = serde_json::from_str(&h.ok(&["audit", "show", "--json"])).unwrap();
        let seen = recs.as_array().unwrap().iter().any(|r| {
            r["event"] == "create-kms-key"
                && r["principal"] == "arn:aws:iam::111122223333:user/alice"
                && r["source"] == "127.0.0.1"
                && r["pid"] == pid
        });
        assert!(seen, "{args:?}: no create-kms-key record by alice from the server in {recs:#}");
    }
}
