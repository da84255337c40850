//! The `softhsm2-util` front against the real one (Debian softhsm2 2.6.1):
//! the same command lines, compared exit codes and messages (slot numbers,
//! serials and token paths normalized), then the imported objects compared
//! through PKCS#11. Needs `cargo build --lib --bins` and softhsm2.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

struct Run {
    code: Option<i32>,
    out: String,
    err: String,
}

struct Pair {
    theirs_conf: PathBuf,
    ours_conf: PathBuf,
    dir: PathBuf,
}

impl Pair {
    fn theirs(&self, args: &[&str]) -> Run {
        let o = Command::new("softhsm2-util")
            .args(args)
            .current_dir(&self.dir)
            .env("SOFTHSM2_CONF", &self.theirs_conf)
            .env_remove("FERROHSM_CONF")
            .output()
            .expect("softhsm2-util: apt-get install softhsm2 (.ci/test does)");
        run(o)
    }
    fn ours(&self, args: &[&str]) -> Run {
        let o = Command::new(target_dir().join("softhsm2-util"))
            .args(args)
            .current_dir(&self.dir)
            .env("FERROHSM_CONF", &self.ours_conf)
            .output()
            .expect("target/debug/softhsm2-util: cargo build --bins");
        run(o)
    }
    /// Both tools on the same command line: same exit code, same messages
    /// once normalized. Returns both runs.
    fn same(&self, args: &[&str]) -> (Run, Run) {
        let (t, o) = (self.theirs(args), self.ours(args));
        assert_eq!(o.code, t.code, "exit code of {args:?}\nsofthsm: {}{}\nours: {}{}", t.out, t.err, o.out, o.err);
        assert_eq!(norm(&o.err), norm(&t.err), "stderr of {args:?}");
        (t, o)
    }
    fn same_output(&self, args: &[&str]) {
        let (t, o) = self.same(args);
        assert_eq!(norm(&o.out), norm(&t.out), "stdout of {args:?}");
    }
}

fn run(o: std::process::Output) -> Run {
    Run {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Slot numbers and token locations differ by design; the rest must not.
fn norm(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let mut l = line.to_string();
        if let Some(i) = l.find("slot ").or_else(|| l.find("Slot ")) {
            let rest: String = l[i + 5..].chars().skip_while(|c| c.is_ascii_digit()).collect();
            l = format!("{}N{}", &l[..i + 5], rest);
        }
        for tag in ["Found token (", "The token ("] {
            if let (Some(a), Some(b)) = (l.find(tag), l.find(')')) {
                l = format!("{}X{}", &l[..a + tag.len()], &l[b..]);
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn pair(w: &World) -> Pair {
    let dir = w.dir.path().to_path_buf();
    let tokens = dir.join("softhsm-tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let theirs_conf = dir.join("softhsm2.conf");
    std::fs::write(&theirs_conf, format!("directories.tokendir = {}\nobjectstore.backend = file\n", tokens.display()))
        .unwrap();
    Pair { theirs_conf, ours_conf: w.conf.clone(), dir }
}

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(st.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&st.stderr));
}

fn s(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `Initialized` / `User PIN init.` / `Label` of each slot of --show-slots.
fn slot_states(out: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for l in out.lines() {
        let l = l.trim();
        if l.starts_with("Initialized:") || l.starts_with("User PIN init.:") || l.starts_with("Label:") {
            v.push(l.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    let mut slots: Vec<String> = v.chunks(3).map(|c| c.join(" | ")).collect();
    slots.sort();
    slots
}

fn field_names(out: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.split_once(':').map(|(k, _)| k.trim_end().to_string())).collect()
}

#[test]
fn softhsm2_util_front_behaves_like_softhsm2_util() {
    let w = world("");
    let p = pair(&w);
    openssl(&p.dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem"]);
    openssl(&p.dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"]);
    std::fs::write(p.dir.join("aes.bin"), [0x42u8; 32]).unwrap();
    // The traditional PEM forms scripts make with `openssl ecparam` / `genrsa -traditional`.
    openssl(&p.dir, &["ecparam", "-name", "prime256v1", "-genkey", "-out", "sec1.pem"]);
    openssl(&p.dir, &["genrsa", "-traditional", "-out", "pkcs1.pem", "2048"]);

    // Usage, help, unknown options, version.
    let (t, o) = p.same(&[]);
    assert_eq!(t.code, Some(1));
    assert!(o.out.starts_with("Support tool for PKCS#11"));
    let (t, _) = p.same(&["--help"]);
    assert_eq!(t.code, Some(0));
    let (t, _) = p.same(&["--bogus"]);
    assert_eq!(t.code, Some(0), "softhsm2-util 2.6.1 exits 0 on an unknown option");
    let (t, o) = p.same(&["-v"]);
    assert_eq!(o.out.lines().next().unwrap().get(..5), t.out.lines().next().unwrap().get(..5));

    // Empty store: one uninitialized slot, same fields.
    let (t, o) = p.same(&["--show-slots"]);
    assert_eq!(field_names(&o.out), field_names(&t.out));
    assert_eq!(slot_states(&o.out), slot_states(&t.out));

    // Token initialization and its errors.
    let (t, o) = p.same(&["--init-token", "--slot", "0", "--label", "first", "--pin", "1234", "--so-pin", "5678"]);
    for r in [&t, &o] {
        assert!(r.out.starts_with("The token has been initialized"), "{}", r.out);
    }
    p.same_output(&["--init-token", "--free", "--label", "second", "--pin", "1234", "--so-pin", "5678"]);
    p.same_output(&["--init-token", "--label", "x", "--pin", "1234", "--so-pin", "5678"]);
    p.same_output(&["--init-token", "--slot", "99", "--label", "x", "--pin", "1234", "--so-pin", "5678"]);
    p.same_output(&["--init-token", "--token", "first", "--label", "again", "--pin", "1234", "--so-pin", "0000"]);
    p.same_output(&["--init-token", "--free", "--so-pin", "5678", "--pin", "1234"]);
    // Re-initialization with the right SO PIN keeps the slot.
    p.same_output(&["--init-token", "--token", "first", "--label", "first", "--pin", "1234", "--so-pin", "5678"]);
    let label33 = "x".repeat(33);
    p.same_output(&["--init-token", "--free", "--label", &label33, "--pin", "1234", "--so-pin", "5678"]);
    let (t, o) = p.same(&["--show-slots"]);
    assert_eq!(slot_states(&o.out), slot_states(&t.out));
    assert!(slot_states(&o.out).contains(&"Initialized: yes | User PIN init.: yes | Label: first".to_string()));

    // Imports: key pairs (EC, RSA), AES, and the errors scripts meet.
    let imp = |file: &str, label: &str, id: &str| {
        vec!["--import", file, "--token", "first", "--label", label, "--id", id, "--pin", "1234"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    p.same_output(&s(&imp("ec.pem", "eckey", "01")));
    p.same_output(&s(&imp("ec.pem", "eckey", "01")));
    p.same_output(&s(&[imp("ec.pem", "eckey", "01"), vec!["--force".into()]].concat()));
    p.same_output(&s(&[imp("rsa.pem", "rsakey", "02"), vec!["--no-public-key".into()]].concat()));
    p.same_output(&s(&[imp("aes.bin", "aeskey", "03"), vec!["--aes".into()]].concat()));
    p.same_output(&["--import", "ec.pem", "--token", "first", "--label", "k", "--id", "09", "--pin", "9999"]);
    p.same_output(&["--import", "ec.pem", "--token", "nope", "--label", "k", "--id", "09", "--pin", "1234"]);
    p.same_output(&["--import", "ec.pem", "--token", "first", "--id", "09", "--pin", "1234"]);
    p.same_output(&["--import", "ec.pem", "--token", "first", "--label", "k", "--pin", "1234"]);
    p.same_output(&["--import", "ec.pem", "--token", "first", "--label", "k", "--id", "0g", "--pin", "1234"]);
    p.same_output(&["--import", "ec.pem", "--token", "first", "--label", "k", "--id", "012", "--pin", "1234"]);
    p.same_output(&["--import", "aes.bin", "--token", "first", "--label", "k", "--id", "09", "--pin", "1234"]);

    // Deleting tokens.
    p.same_output(&["--delete-token"]);
    p.same_output(&["--delete-token", "--token", "nope"]);
    let (t, o) = p.same(&["--delete-token", "--token", "second"]);
    assert_eq!(norm(&o.out), norm(&t.out));
    assert!(o.out.contains("has been deleted."));
    let (t, o) = p.same(&["--show-slots"]);
    assert_eq!(slot_states(&o.out), slot_states(&t.out));

    // What the imports left, seen through PKCS#11 on each module.
    let theirs = objects(Some(&p.theirs_conf));
    let ours = objects(None);
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 6, "two EC pairs (--force), one RSA private key, one AES key: {ours:#?}");

    // Traditional PEM keys: softhsm2-util 2.6.1 reads only PKCS#8; we
    // also take PKCS#1 and SEC 1 (a superset, so scripts still work).
    for (file, id) in [("sec1.pem", "04"), ("pkcs1.pem", "05")] {
        let args = imp(file, "legacy-pem", id);
        let (t, o) = (p.theirs(&s(&args)), p.ours(&s(&args)));
        assert_eq!(t.code, Some(1));
        assert!(t.err.contains("Could not read the PKCS#8 file"));
        assert_eq!(o.code, Some(0), "{}{}", o.out, o.err);
        assert!(o.out.contains("The key pair has been imported."));
    }
}

/// Class, label, id and the usage/protection flags of every object of the
/// token "first", sorted.
fn objects(softhsm_conf: Option<&Path>) -> Vec<String> {
    let p = match softhsm_conf {
        Some(c) => {
            std::env::set_var("SOFTHSM2_CONF", c);
            let p = Pkcs11::new(SOFTHSM).unwrap();
            p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
            p
        }
        None => {
            let m = load();
            return list(&m);
        }
    };
    let v = list(&p);
    p.finalize().unwrap();
    v
}

fn list(p: &Pkcs11) -> Vec<String> {
    let slot = p
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label().trim_end() == "first")
        .unwrap();
    let s = p.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&pin("1234"))).unwrap();
    let types = [
        AttributeType::Class,
        AttributeType::KeyType,
        AttributeType::Label,
        AttributeType::Id,
        AttributeType::Token,
        AttributeType::Private,
        AttributeType::Sensitive,
        AttributeType::Extractable,
        AttributeType::Sign,
        AttributeType::Verify,
        AttributeType::Encrypt,
        AttributeType::Decrypt,
        AttributeType::Wrap,
        AttributeType::Unwrap,
        AttributeType::EcParams,
        AttributeType::EcPoint,
        AttributeType::Modulus,
        AttributeType::PublicExponent,
    ];
    let mut out = Vec::new();
    for o in s.find_objects(&[]).unwrap() {
        let mut a = s.get_attributes(o, &types).unwrap();
        // FerroHSM also shows CKA_EC_POINT on EC private keys (derived from
        // the key); SoftHSM does not keep it there.
        if a.contains(&Attribute::Class(ObjectClass::PRIVATE_KEY)) {
            a.retain(|x| !matches!(x, Attribute::EcPoint(_)));
        }
        assert!(a.iter().any(|x| matches!(
            x,
            Attribute::Class(ObjectClass::PRIVATE_KEY | ObjectClass::PUBLIC_KEY | ObjectClass::SECRET_KEY)
        )));
        out.push(format!("{a:?}"));
    }
    out.sort();
    out
}

/// What only our front has: `--import-type cert` (softhsm2-util 2.7), PINs
/// from a descriptor or the environment instead of argv, `--show-config`,
/// and the same operations as `ferrohsm` commands.
#[test]
fn our_additions() {
    let w = world("");
    let dir = w.dir.path();
    let run = |bin: &str, args: &[&str], envs: &[(&str, &str)]| {
        let mut c = Command::new(target_dir().join(bin));
        c.args(args).current_dir(dir).env("FERROHSM_CONF", &w.conf);
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let pins = [("FERROHSM_SO_PIN", "so-secret"), ("MY_PIN", "user-secret")];
    let (code, out, err) = run("ferrohsm", &["init-token", "--free", "--label", "front", "--pin-env", "MY_PIN"], &pins);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("The token has been initialized and is reassigned to slot 0"), "{out}");

    // A certificate and its key, as PEM files.
    let o = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=front"])
        .args(["-keyout", "k.pem", "-out", "c.pem"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success());
    // The user PIN through a descriptor: bash opens fd 3 on a file.
    std::fs::write(dir.join("pinfile"), "user-secret\n").unwrap();
    let script = format!(
        "exec 3<pinfile; {} --import c.pem --import-type cert --token front --label web --id 0a --pin-fd 3",
        target_dir().join("softhsm2-util").display()
    );
    let o = Command::new("bash").args(["-c", &script]).current_dir(dir).env("FERROHSM_CONF", &w.conf).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("The certificate with label=web has been imported."), "{out}");
    let (code, out, _) = run(
        "ferrohsm",
        &["import", "k.pem", "--token", "front", "--label", "web", "--id", "0a"],
        &[("FERROHSM_USER_PIN", "user-secret")],
    );
    assert_eq!(code, Some(0));
    assert!(out.contains("The key pair has been imported."));
    // No PIN anywhere and no terminal: an error, not a hang.
    let (code, _, err) =
        run("softhsm2-util", &["--import", "k.pem", "--token", "front", "--label", "x", "--id", "0b"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("ERROR: Could not get user PIN"), "{err}");

    let (code, out, _) = run("softhsm2-util", &["--show-config", "default-pkcs11-lib"], &[]);
    assert_eq!(code, Some(0));
    assert!(out.trim_end().ends_with("libferrohsm.so"), "{out}");
    let (code, _, err) = run("softhsm2-util", &["--show-config", "nope"], &[]);
    assert_eq!((code, err.trim_end()), (Some(1), "ERROR: Invalid configuration key 'nope'"));
    let (code, out, _) = run("ferrohsm", &["show-slots"], &[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Label:            front"));

    // The certificate and the key pair, through PKCS#11.
    let p = load();
    let slot = p.get_slots_with_initialized_token().unwrap()[0];
    let s = p.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&pin("user-secret"))).unwrap();
    let found = s.find_objects(&[Attribute::Id(vec![0x0a])]).unwrap();
    assert_eq!(found.len(), 3);
    let cert = s.find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)]).unwrap();
    let der = s.get_attributes(cert[0], &[AttributeType::Value]).unwrap();
    assert!(matches!(&der[..], [Attribute::Value(v)] if v.len() > 100));
    drop(s);
    drop(p);

    let (code, out, _) = run("ferrohsm", &["delete-token", "--token", "front"], &[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("has been deleted."));
    let (_, out, _) = run("ferrohsm", &["show-slots"], &[]);
    assert!(!out.contains("front"));
}

/// With no PIN given and a terminal on stdin, the PINs are asked for
/// without echo (twice for a new token). A small Python driver gives the
/// tool a controlling pty and answers each prompt once it is up.
#[test]
fn asks_for_pins_on_a_terminal_without_echo() {
    let w = world("");
    let tool = target_dir().join("softhsm2-util");
    let driver = r#"
import os, pty, sys, time
pid, master = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
answers = [(b"Please enter SO PIN: ", b"so-typed-1"), (b"Please reenter SO PIN: ", b"so-typed-1"),
           (b"Please enter user PIN: ", b"user-typed-1"), (b"Please reenter user PIN: ", b"user-typed-1")]
deadline = time.time() + 60
while time.time() < deadline:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if answers and seen.endswith(answers[0][0]):
        time.sleep(0.05)
        os.write(master, answers.pop(0)[1] + b"\r")
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(driver)
        .arg(&tool)
        .args(["--init-token", "--free", "--label", "typed"])
        .env("FERROHSM_CONF", &w.conf)
        .env_remove("FERROHSM_SO_PIN")
        .env_remove("FERROHSM_USER_PIN")
        .output()
        .expect("python3");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("=== SO PIN (4-255 characters) ==="), "{out}");
    assert!(out.contains("Please reenter user PIN:"), "{out}");
    assert!(out.contains("The token has been initialized"), "{out}");
    assert!(!out.contains("typed-1"), "a PIN was echoed: {out}");
    // The PINs typed are the token's.
    let p = load();
    let slot = p.get_slots_with_initialized_token().unwrap()[0];
    let s = p.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&pin("user-typed-1"))).unwrap();
}
