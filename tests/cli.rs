//! The `ferrohsm` command tree (clap): derived help, usage errors with exit
//! code 2, shell completions, and `softhsm2-util` left to SoftHSM's rules.

use std::process::{Command, Output, Stdio};

fn ferrohsm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrohsm"))
        .args(args)
        // Usage is checked before the configuration is read: none is needed.
        .env("FERROHSM_CONF", "/nonexistent/ferrohsm.toml")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_prints_usage_and_exits_0() {
    let o = ferrohsm(&["--help"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("Usage: ferrohsm <COMMAND>"), "{text}");
    for cmd in ["init-token", "migrate-softhsm", "softhsm2-util", "store", "key", "audit", "completions"] {
        assert!(text.contains(cmd), "{cmd} not in {text}");
    }
    let o = ferrohsm(&["key", "--help"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("Usage: ferrohsm key <COMMAND>"), "{}", out(&o));
    assert!(out(&o).contains("schedule-deletion"));
    // A leaf command shows its flags, the PIN options among them.
    let o = ferrohsm(&["encrypt", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    for flag in ["--key <KEY>", "--context <K=V>", "--pin-fd <N>", "--pin-env <VAR>", "--token <LABEL>"] {
        assert!(out(&o).contains(flag), "{flag} not in {}", out(&o));
    }
    let o = ferrohsm(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).starts_with("ferrohsm "));
}

#[test]
fn usage_errors_exit_2_with_clap_messages() {
    let o = ferrohsm(&["key", "list", "--frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("error: unexpected argument '--frobnicate' found"), "{}", err(&o));
    assert!(out(&o).is_empty());
    let cases: &[(&[&str], &str)] = &[
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&["encrypt"], "--key <KEY>"),
        (&["key", "rotation", "k"], "required arguments were not provided"),
        (&["key", "rotation", "k", "--enable", "--off"], "cannot be used with"),
        (&["key", "create", "--usage", "sign"], "invalid value 'sign' for '--usage"),
        (&["audit", "export", "--until", "yesterday"], "wants YYYY-MM-DD"),
        (
            &["data-key", "--key", "k", "--blob-out", "b", "--without-plaintext", "--plaintext-out", "p"],
            "cannot be used",
        ),
        (&["store", "verify", "--pin-fd", "x"], "invalid value 'x' for '--pin-fd <N>'"),
        (&["init-token", "--label", "x"], "--slot <N>|--free|--token <LABEL>"),
        (&["completions", "tcsh"], "invalid value 'tcsh'"),
    ];
    for (args, msg) in cases {
        let o = ferrohsm(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
        assert!(err(&o).contains(msg), "{args:?}: {msg:?} not in {}", err(&o));
    }
    // No command at all: the help, as a usage error.
    let o = ferrohsm(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("Usage: ferrohsm <COMMAND>"), "{}", err(&o));
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let o = ferrohsm(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", err(&o));
        let script = out(&o);
        assert!(script.contains("ferrohsm"), "{shell}: {script}");
        assert!(script.contains("schedule-deletion") && script.contains("pin-env"), "{shell}");
    }
    // bash can load what it printed.
    let o = ferrohsm(&["completions", "bash"]);
    let s = Command::new("bash")
        .args(["-c", "source /dev/stdin && complete -p ferrohsm"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&o.stdout)?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(s.status.success());
    assert!(String::from_utf8_lossy(&s.stdout).contains("ferrohsm"));
}

/// `ferrohsm softhsm2-util ...` is not clap's: its arguments reach the
/// front as given, with SoftHSM's help, messages and exit codes.
#[test]
fn softhsm2_util_keeps_its_own_parsing() {
    let o = ferrohsm(&["softhsm2-util", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).contains("Usage: softhsm2-util [ACTION] [OPTIONS]"), "{}", out(&o));
    let o = ferrohsm(&["softhsm2-util", "-v"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).starts_with("2.6.1-ferrohsm-"));
    // softhsm2-util 2.6.1 exits 0 on an unknown option, after its help.
    let o = ferrohsm(&["softhsm2-util", "--frobnicate"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(err(&o).contains("softhsm2-util: unrecognized option '--frobnicate'"), "{}", err(&o));
    // No action: its usage and exit 1.
    let o = ferrohsm(&["softhsm2-util"]);
    assert_eq!(o.status.code(), Some(1));
}
