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
