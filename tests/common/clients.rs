//! Shared by the command-line client tests (tests/clients*.rs): running a
//! client and checking it succeeded, pkcs11-tool shorthands, the libp11
//! engine's OpenSSL config, and a token public key as DER
//! SubjectPublicKeyInfo built from its attributes (so a client's signature
//! is checked against the module's own view of the key, not the client's).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};

use super::{load, module_path, one, user_session, SO_PIN, USER_PIN};

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs `cmd`, which must succeed; its stdout + stderr.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (is the client installed? .ci/test installs it)"));
    let t = text(&out);
    assert!(out.status.success(), "{cmd:?} failed:\n{t}");
    t
}

pub fn p11tool_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("pkcs11-tool");
    c.current_dir(dir).arg("--module").arg(module_path()).args(args);
    c
}

/// pkcs11-tool with `args`, which must succeed.
pub fn tool(dir: &Path, args: &[&str]) -> String {
    run_ok(&mut p11tool_cmd(dir, args))
}

/// Initializes the free slot as `label` with SO_PIN and USER_PIN.
pub fn init(dir: &Path, label: &str) {
    tool(dir, &["--init-token", "--slot", "0", "--label", label, "--so-pin", SO_PIN]);
    tool(dir, &["--init-pin", "--token-label", label, "--so-pin", SO_PIN, "--pin", USER_PIN]);
}

/// A key pair made by pkcs11-tool.
pub fn keypair(dir: &Path, token: &str, key_type: &str, label: &str, id: &str) -> String {
    let login = ["--token-label", token, "--login", "--pin", USER_PIN];
    tool(dir, &[&login[..], &["--keypairgen", "--key-type", key_type, "--label", label, "--id", id]].concat())
}

/// `openssl` without any engine configuration.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    run_ok(Command::new("openssl").current_dir(dir).env_remove("OPENSSL_CONF").args(args))
}

/// An OpenSSL config loading the libp11 engine with this module.
pub fn engine_conf(dir: &Path) -> PathBuf {
    let engine = ["/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so", "/usr/lib/aarch64-linux-gnu/engines-3/pkcs11.so"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("libengine-pkcs11-openssl must be installed; .ci/test installs it");
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

/// DER: tag, definite length, body.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut v = vec![tag];
    match n {
        0..=0x7f => v.push(n as u8),
        0x80..=0xff => v.extend([0x81, n as u8]),
        _ => v.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(body);
    v
}

/// A DER INTEGER of an unsigned big-endian value.
fn uint(be: &[u8]) -> Vec<u8> {
    let be = &be[be.iter().take_while(|b| **b == 0).count().min(be.len().saturating_sub(1))..];
    let mut body = Vec::new();
    if be.first().is_some_and(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(be);
    tlv(0x02, &body)
}

fn bytes_of(s: &cryptoki::session::Session, h: cryptoki::object::ObjectHandle, t: AttributeType) -> Vec<u8> {
    match s.get_attributes(h, &[t]).unwrap().pop() {
        Some(Attribute::Modulus(v) | Attribute::PublicExponent(v) | Attribute::EcParams(v) | Attribute::EcPoint(v)) => {
            v
        }
        other => panic!("{t:?}: {other:?}"),
    }
}

/// The DER SubjectPublicKeyInfo of the public key `label` on token `token`
/// (RSA, EC or EdDSA), from CKA_MODULUS / CKA_EC_POINT and the
/// domain parameters, read through the cryptoki crate.
pub fn spki(token: &str, label: &str) -> Vec<u8> {
    let p = load();
    let slot = p
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label() == token)
        .unwrap_or_else(|| panic!("no token {token}"));
    let s = user_session(&p, slot);
    let h = one(&s, label, ObjectClass::PUBLIC_KEY);
    let kt = match s.get_attributes(h, &[AttributeType::KeyType]).unwrap().pop() {
        Some(Attribute::KeyType(k)) => k,
        other => panic!("{other:?}"),
    };
    let (alg, key) = if kt == KeyType::RSA {
        let n = bytes_of(&s, h, AttributeType::Modulus);
        let e = bytes_of(&s, h, AttributeType::PublicExponent);
        // rsaEncryption, NULL parameters.
        let alg = [&[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01][..], &[0x05, 0x00]].concat();
        (alg, tlv(0x30, &[uint(&n), uint(&e)].concat()))
    } else {
        let params = bytes_of(&s, h, AttributeType::EcParams);
        let point = bytes_of(&s, h, AttributeType::EcPoint);
        // CKA_EC_POINT is a DER OCTET STRING: the raw point follows its header.
        assert_eq!(point[0], 0x04, "{label}: CKA_EC_POINT {point:02x?}");
        let raw = if point[1] < 0x80 { point[2..].to_vec() } else { point[2 + (point[1] & 0x7f) as usize..].to_vec() };
        let alg = if kt == KeyType::EC {
            [&[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01][..], &params].concat()
        } else {
            // Ed25519 / Ed448: the curve OID is the algorithm. The module
            // keeps CKA_EC_PARAMS as the client gave it: an OID or, as
            // pkcs11-tool sends it, a PrintableString name.
            assert_eq!(kt, KeyType::EC_EDWARDS, "{label}");
            match &params[..] {
                [0x13, _, name @ ..] if name == b"edwards25519" || name == b"Ed25519" => {
                    vec![0x06, 0x03, 0x2b, 0x65, 0x70]
                }
                [0x13, _, name @ ..] if name == b"edwards448" || name == b"Ed448" => vec![0x06, 0x03, 0x2b, 0x65, 0x71],
                _ => params,
            }
        };
        (alg, raw)
    };
    drop(s);
    p.finalize().unwrap();
    tlv(0x30, &[tlv(0x30, &alg), tlv(0x03, &[&[0u8][..], &key].concat())].concat())
}

/// Writes [`spki`] to `dir/file` and returns its PEM form as OpenSSL prints it.
pub fn spki_file(dir: &Path, token: &str, label: &str, file: &str) -> String {
    std::fs::write(dir.join(file), spki(token, label)).unwrap();
    openssl(dir, &["pkey", "-pubin", "-inform", "DER", "-in", file])
}
