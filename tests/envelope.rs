//! The envelope example end to end, each step its own process.

#[macro_use]
mod common;

use std::process::Command;

use common::*;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(example("envelope"))
        .args(args)
        .env("FERROHSM_SO_PIN", SO_PIN)
        .env("FERROHSM_USER_PIN", USER_PIN)
        .output()
        .expect("envelope example (built by .ci/test)")
}

#[test]
fn encrypt_then_decrypt_in_new_processes_with_either_master_key() {
    let w = world("");
    let file = w.dir.path().join("report.txt");
    let secret = b"quarterly numbers: 42".repeat(100);
    std::fs::write(&file, &secret).unwrap();
    let f = file.to_str().unwrap();
    let out = run(&["encrypt", f, "tenant=acme", "purpose=backup"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let blob = std::fs::read(format!("{f}.fhe")).unwrap();
    assert!(!blob.windows(8).any(|w| w == &secret[..8]), "ciphertext contains plaintext");

    for which in ["a", "b"] {
        let dest = w.dir.path().join(format!("out-{which}"));
        // Context order does not matter; its content does.
        let out = run(&["decrypt", f, dest.to_str().unwrap(), which, "purpose=backup", "tenant=acme"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(&dest).unwrap(), secret);
    }
    let dest = w.dir.path().join("out-bad");
    for ctx in [&["tenant=acme"][..], &["tenant=acm", "purpose=ebackup"][..], &[][..]] {
        let mut args = vec!["decrypt", f, dest.to_str().unwrap(), "a"];
        args.extend_from_slice(ctx);
        let out = run(&args);
        assert!(!out.status.success(), "decrypted with context {ctx:?}");
        assert!(!dest.exists());
    }
}
