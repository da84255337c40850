//! OpenSC `pkcs11-tool` against the built module: the done-when flow of
//! the core issue, each step a separate process.

#[macro_use]
mod common;

use std::process::Command;

use common::*;

fn run(args: &[&str]) -> std::process::Output {
    Command::new("pkcs11-tool")
        .arg("--module")
        .arg(module_path())
        .args(args)
        .output()
        .expect("pkcs11-tool (OpenSC) must be installed; .ci/test installs it")
}

fn tool(args: &[&str]) -> String {
    let out = run(args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pkcs11-tool {args:?} failed:\n{text}");
    text
}

#[test]
fn pkcs11_tool_initializes_logs_in_generates_and_lists() {
    let _w = world("");
    let listed = tool(&["--list-slots"]);
    assert!(listed.contains("uninitialized"), "{listed}");
    tool(&["--init-token", "--slot", "0", "--label", "ci-token", "--so-pin", SO_PIN]);
    tool(&["--init-pin", "--token-label", "ci-token", "--so-pin", SO_PIN, "--pin", USER_PIN]);
    let listed = tool(&["--list-slots"]);
    assert!(listed.contains("ci-token") && listed.contains("token initialized"), "{listed}");
    assert!(listed.contains("PIN initialized"), "{listed}");

    let gen = tool(&[
        "--token-label",
        "ci-token",
        "--login",
        "--pin",
        USER_PIN,
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "master",
        "--private",
        "--sensitive",
    ]);
    assert!(gen.contains("AES length 32"), "{gen}");
    // pkcs11-tool makes keys public (CKA_PRIVATE=false) unless --private:
    // such a key is listed before login, its value still sealed.
    tool(&[
        "--token-label",
        "ci-token",
        "--login",
        "--pin",
        USER_PIN,
        "--keygen",
        "--key-type",
        "AES:16",
        "--label",
        "visible",
    ]);

    // A fresh process sees the key; it is non-extractable.
    let objs = tool(&["--token-label", "ci-token", "--login", "--pin", USER_PIN, "--list-objects"]);
    assert!(objs.contains("Secret Key Object; AES length 32"), "{objs}");
    assert!(objs.contains("label:      master"), "{objs}");
    assert!(objs.contains("never extractable"), "{objs}");
    assert!(objs.contains("label:      visible"), "{objs}");
    // Without login the private key is invisible, the public one is listed.
    let public = tool(&["--token-label", "ci-token", "--list-objects"]);
    assert!(!public.contains("master"), "{public}");
    assert!(public.contains("label:      visible"), "{public}");

    let mechs = tool(&["--token-label", "ci-token", "--list-mechanisms"]);
    assert!(mechs.contains("AES-KEY-GEN") && mechs.contains("GENERIC-SECRET-KEY-GEN"), "{mechs}");

    let out = run(&["--token-label", "ci-token", "--login", "--pin", "wrong-pin-0000", "--list-objects"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CKR_PIN_INCORRECT"));
}

#[test]
fn pkcs11_tool_self_test_passes() {
    let _w = world("");
    tool(&["--init-token", "--slot", "0", "--label", "selftest", "--so-pin", SO_PIN]);
    tool(&["--init-pin", "--token-label", "selftest", "--so-pin", SO_PIN, "--pin", USER_PIN]);
    let login = ["--token-label", "selftest", "--login", "--pin", USER_PIN];
    tool(&[&login[..], &["--keygen", "--key-type", "AES:32", "--label", "aes", "--extractable"]].concat());
    tool(&[&login[..], &["--keygen", "--key-type", "GENERIC:32", "--label", "hmac"]].concat());
    let out = tool(&[&login[..], &["--test"]].concat());
    assert!(out.contains("No errors"), "{out}");
    assert!(out.contains("digest functions seem to work"), "{out}");

    // Encrypt and decrypt a file, sign and verify it, with pkcs11-tool.
    let dir = &_w.dir;
    let (input, ct, sig) = (dir.path().join("in"), dir.path().join("ct"), dir.path().join("sig"));
    std::fs::write(&input, b"attack at dawn").unwrap();
    let p = |x: &std::path::PathBuf| x.to_str().unwrap().to_string();
    let iv = ["--mechanism", "AES-CBC-PAD", "--iv", "00112233445566778899aabbccddeeff", "--label", "aes"];
    tool(&[&login[..], &["--encrypt"], &iv[..], &["--input-file", &p(&input), "--output-file", &p(&ct)]].concat());
    assert_eq!(std::fs::read(&ct).unwrap().len(), 16);
    let out = tool(&[&login[..], &["--decrypt"], &iv[..], &["--input-file", &p(&ct)]].concat());
    assert!(out.contains("attack at dawn"), "{out}");
    let mac = ["--mechanism", "SHA256-HMAC", "--label", "hmac"];
    tool(&[&login[..], &["--sign"], &mac[..], &["--input-file", &p(&input), "--output-file", &p(&sig)]].concat());
    assert_eq!(std::fs::read(&sig).unwrap().len(), 32);
    let out = tool(
        &[&login[..], &["--verify"], &mac[..], &["--input-file", &p(&input), "--signature-file", &p(&sig)]].concat(),
    );
    assert!(out.contains("Signature is valid"), "{out}");
}
