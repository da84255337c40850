//! Asymmetric keys through real clients, each a separate process:
//! OpenSC `pkcs11-tool` (key pairs, sign/verify, certificates, `--test`),
//! OpenSSL 3 through the libp11 engine (CSR, self-signed certificate, TLS
//! handshakes with the key staying on the token), GnuTLS `p11tool` and
//! p11-kit (`p11-kit server` exporting the token to `p11-kit-client.so`).

#[macro_use]
mod common;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (is the client installed? .ci/run installs it)"));
    let t = text(&out);
    assert!(out.status.success(), "{cmd:?} failed:\n{t}");
    t
}

fn p11tool_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("pkcs11-tool");
    c.current_dir(dir).arg("--module").arg(module_path()).args(args);
    c
}

fn tool(dir: &Path, args: &[&str]) -> String {
    run_ok(&mut p11tool_cmd(dir, args))
}

fn init(dir: &Path, label: &str) {
    tool(dir, &["--init-token", "--slot", "0", "--label", label, "--so-pin", SO_PIN]);
    tool(dir, &["--init-pin", "--token-label", label, "--so-pin", SO_PIN, "--pin", USER_PIN]);
}

fn keypair(dir: &Path, token: &str, key_type: &str, label: &str, id: &str) -> String {
    tool(
        dir,
        &[
            "--token-label",
            token,
            "--login",
            "--pin",
            USER_PIN,
            "--keypairgen",
            "--key-type",
            key_type,
            "--label",
            label,
            "--id",
            id,
        ],
    )
}

#[test]
fn pkcs11_tool_keypairs_signatures_certificates_and_self_test() {
    let w = world("");
    let dir = w.dir.path();
    init(dir, "asym");
    let rsa = keypair(dir, "asym", "rsa:2048", "rsa", "01");
    assert!(rsa.contains("Public Key Object; RSA 2048 bits"), "{rsa}");
    let ec = keypair(dir, "asym", "EC:prime256v1", "ec", "02");
    assert!(ec.contains("EC_POINT 256 bits") || ec.contains("EC"), "{ec}");
    let ed = keypair(dir, "asym", "EC:edwards25519", "ed", "03");
    assert!(ed.contains("Private Key Object"), "{ed}");
    // A size that is not a multiple of 128, brainpool and P-192.
    let rsa3092 = keypair(dir, "asym", "rsa:3092", "rsa3092", "05");
    assert!(rsa3092.contains("Public Key Object; RSA 3092 bits"), "{rsa3092}");
    for (curve, id) in [("EC:brainpoolP256r1", "06"), ("EC:prime192v1", "07")] {
        let k = keypair(dir, "asym", curve, curve, id);
        assert!(k.contains("Public Key Object; EC"), "{k}");
    }

    std::fs::write(dir.join("data"), b"signed by pkcs11-tool through FerroHSM\n").unwrap();
    for (id, mech) in [
        ("01", "RSA-PKCS"),
        ("01", "SHA256-RSA-PKCS"),
        ("01", "SHA384-RSA-PKCS-PSS"),
        ("02", "ECDSA"),
        ("02", "ECDSA-SHA256"),
        ("03", "EDDSA"),
        ("05", "SHA256-RSA-PKCS"),
        ("06", "ECDSA-SHA256"),
        ("07", "ECDSA-SHA256"),
    ] {
        let sig = format!("sig-{mech}");
        let login = ["--token-label", "asym", "--login", "--pin", USER_PIN, "--id", id, "-m", mech];
        tool(dir, &[&login[..], &["--sign", "-i", "data", "-o", &sig]].concat());
        let out = tool(dir, &[&login[..], &["--verify", "-i", "data", "--signature-file", &sig]].concat());
        assert!(out.contains("Signature is valid"), "{mech}: {out}");
        // A signature over other data is refused.
        std::fs::write(dir.join("other"), b"other").unwrap();
        let bad = p11tool_cmd(dir, &[&login[..], &["--verify", "-i", "other", "--signature-file", &sig]].concat())
            .output()
            .unwrap();
        assert!(!text(&bad).contains("Signature is valid"), "{mech} verified the wrong data");
    }

    // A certificate made outside the token, written and read back.
    run_ok(Command::new("openssl").current_dir(dir).args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "k.pem",
        "-subj",
        "/CN=pkcs11-tool cert",
        "-days",
        "2",
        "-outform",
        "DER",
        "-out",
        "cert.der",
    ]));
    let w_out = tool(
        dir,
        &[
            "--token-label",
            "asym",
            "--login",
            "--pin",
            USER_PIN,
            "--write-object",
            "cert.der",
            "--type",
            "cert",
            "--id",
            "04",
            "--label",
            "cert",
        ],
    );
    assert!(w_out.contains("Certificate Object"), "{w_out}");
    tool(dir, &["--token-label", "asym", "--read-object", "--type", "cert", "--id", "04", "-o", "back.der"]);
    assert_eq!(std::fs::read(dir.join("back.der")).unwrap(), std::fs::read(dir.join("cert.der")).unwrap());
    let pubkey =
        tool(dir, &["--token-label", "asym", "--read-object", "--type", "pubkey", "--id", "01", "-o", "pub.der"]);
    assert!(!pubkey.contains("error"), "{pubkey}");
    run_ok(
        Command::new("openssl").current_dir(dir).args(["pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-noout"]),
    );
    let listed = tool(dir, &["--token-label", "asym", "--list-objects"]);
    assert!(listed.contains("Certificate Object; type = X.509 cert"), "{listed}");
    assert!(listed.contains("subject:    DN: CN=pkcs11-tool cert"), "{listed}");

    // The whole self-test, logged in, green.
    let t = tool(dir, &["--token-label", "asym", "--login", "--pin", USER_PIN, "--test"]);
    assert!(t.contains("No errors"), "{t}");
    assert!(t.contains("RSA-PKCS-OAEP") && t.contains("SHA1-RSA-PKCS: OK"), "{t}");
}

/// An OpenSSL config loading the libp11 engine with this module.
fn engine_conf(dir: &Path) -> std::path::PathBuf {
    let engine = ["/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so", "/usr/lib/aarch64-linux-gnu/engines-3/pkcs11.so"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("libengine-pkcs11-openssl must be installed; .ci/run installs it");
    let conf = dir.join("openssl-engine.cnf");
    std::fs::write(
        &conf,
        format!(
            "openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n[engine_section]\n\
             pkcs11 = pkcs11_section\n[pkcs11_section]\nengine_id = pkcs11\ndynamic_path = {engine}\n\
             MODULE_PATH = {}\ninit = 0\n",
            module_path().display()
        ),
    )
    .unwrap();
    conf
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `openssl s_server` with the token key, `openssl s_client` verifying it.
fn tls_handshake(dir: &Path, conf: &Path, key_uri: &str, cert: &str) -> String {
    let port = free_port().to_string();
    let mut server = Command::new("openssl")
        .current_dir(dir)
        .env("OPENSSL_CONF", conf)
        .args(["s_server", "-engine", "pkcs11", "-keyform", "engine", "-key", key_uri, "-cert", cert])
        .args(["-accept", &port, "-naccept", "1", "-www"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // s_server prints ACCEPT once it listens (a TCP probe would use up
    // its single -naccept connection).
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("ACCEPT") => break,
            Some(Ok(_)) => continue,
            _ => panic!("s_server exited: {}", text(&server.wait_with_output().unwrap())),
        }
    }
    let mut client = Command::new("openssl")
        .current_dir(dir)
        .env_remove("OPENSSL_CONF")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", cert])
        .args(["-verify_return_error", "-verify_hostname", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client.stdin.take().unwrap().write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let out = client.wait_with_output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let t = text(&out);
    assert!(out.status.success(), "s_client failed:\n{t}");
    t
}

#[test]
fn openssl_engine_csr_self_signed_certificate_and_tls() {
    let w = world("");
    let dir = w.dir.path();
    // libp11 0.4.12 (Debian 12) gives up enumerating keys when it meets
    // an Ed25519 key, so this token holds RSA and EC keys only.
    init(dir, "tls");
    keypair(dir, "tls", "rsa:2048", "tls-rsa", "01");
    keypair(dir, "tls", "EC:prime256v1", "tls-ec", "02");
    let conf = engine_conf(dir);
    let openssl =
        |args: &[&str]| run_ok(Command::new("openssl").current_dir(dir).env("OPENSSL_CONF", &conf).args(args));
    let uri = |label: &str| format!("pkcs11:token=tls;object={label};type=private?pin-value={USER_PIN}");

    // A CSR signed on the token, verified by OpenSSL.
    openssl(&[
        "req",
        "-engine",
        "pkcs11",
        "-keyform",
        "engine",
        "-key",
        &uri("tls-ec"),
        "-new",
        "-subj",
        "/CN=ferro-csr",
        "-out",
        "req.pem",
    ]);
    let v = run_ok(Command::new("openssl").current_dir(dir).args(["req", "-in", "req.pem", "-noout", "-verify"]));
    assert!(v.contains("verify OK") || v.contains("Certificate request self-signature verify OK"), "{v}");

    for (label, cert) in [("tls-rsa", "rsa.pem"), ("tls-ec", "ec.pem")] {
        openssl(&[
            "req",
            "-engine",
            "pkcs11",
            "-keyform",
            "engine",
            "-key",
            &uri(label),
            "-new",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-out",
            cert,
        ]);
        // The certificate's key is the token's key.
        let pub_from_cert =
            run_ok(Command::new("openssl").current_dir(dir).args(["x509", "-in", cert, "-noout", "-pubkey"]));
        let id = if label == "tls-rsa" { "01" } else { "02" };
        tool(dir, &["--token-label", "tls", "--read-object", "--type", "pubkey", "--id", id, "-o", "tokpub.der"]);
        let pub_from_token = run_ok(Command::new("openssl").current_dir(dir).args([
            "pkey",
            "-pubin",
            "-inform",
            "DER",
            "-in",
            "tokpub.der",
        ]));
        assert_eq!(pub_from_cert, pub_from_token, "{label}");

        let t = tls_handshake(dir, &conf, &uri(label), cert);
        assert!(t.contains("Verify return code: 0 (ok)"), "{label}: {t}");
        assert!(t.contains("TLSv1.3"), "{label}: {t}");
        let sig_type = if label == "tls-rsa" { "RSA-PSS" } else { "ECDSA" };
        assert!(t.contains(&format!("Peer signature type: {sig_type}")), "{label}: {t}");
    }
}

#[test]
fn gnutls_p11tool_lists_types_and_p11_kit_serves_the_token() {
    let w = world("");
    let dir = w.dir.path();
    init(dir, "gnutls");
    keypair(dir, "gnutls", "rsa:2048", "r", "01");
    keypair(dir, "gnutls", "EC:secp384r1", "e", "02");
    keypair(dir, "gnutls", "EC:edwards25519", "ed", "03");
    run_ok(Command::new("openssl").current_dir(dir).args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "k.pem",
        "-subj",
        "/CN=gnutls",
        "-days",
        "2",
        "-outform",
        "DER",
        "-out",
        "cert.der",
    ]));
    tool(
        dir,
        &[
            "--token-label",
            "gnutls",
            "--login",
            "--pin",
            USER_PIN,
            "--write-object",
            "cert.der",
            "--type",
            "cert",
            "--id",
            "04",
            "--label",
            "c",
        ],
    );
    let pin_arg = format!("--set-pin={USER_PIN}");
    let listed = run_ok(Command::new("p11tool").current_dir(dir).args([
        "--provider",
        module_path().to_str().unwrap(),
        "--list-all",
        "--login",
        &pin_arg,
        "pkcs11:token=gnutls",
    ]));
    for want in [
        "Type: Public key (RSA-2048)",
        "Type: Private key (RSA-2048)",
        "Type: Public key (EC/ECDSA-SECP384R1)",
        "Type: Private key (EC/ECDSA-SECP384R1)",
        "Type: Public key (EdDSA (Ed25519))",
        "Type: X.509 Certificate (EC/ECDSA-SECP256R1)",
    ] {
        assert!(listed.contains(want), "p11tool misses {want:?}:\n{listed}");
    }

    // p11-kit loads the module and serves its token over a socket.
    let sock = dir.join("p11kit.sock");
    let mut server = Command::new("p11-kit")
        .args(["server", "-f", "-s", "-n", sock.to_str().unwrap(), "--provider"])
        .arg(module_path())
        .arg("pkcs11:token=gnutls")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("p11-kit must be installed");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "p11-kit server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let client =
        ["/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so", "/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("p11-kit-modules must be installed");
    let out = Command::new("pkcs11-tool")
        .env("P11_KIT_SERVER_ADDRESS", format!("unix:path={}", sock.display()))
        .args(["--module", client, "--list-objects"])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("Public Key Object; RSA 2048 bits") && t.contains("label:      e"), "{t}");
}
