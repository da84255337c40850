//! Every shell command in README.md and docs/*.md runs here, as written, so
//! what a reader copies works.
//!
//! The convention (this test enforces it):
//! - Commands live in fenced ```` ```sh ```` blocks, and every line of such a
//!   block that is neither blank nor a `#` comment is a command. A line ending
//!   in `\` continues on the next; a here-document (`<<WORD`) runs to its
//!   `WORD` line. Other fenced blocks (toml, text, c, ...) are not commands;
//!   ```` ```bash ````, ```` ```console ````, ```` ```shell ```` and `$ `-prefixed
//!   lines are refused so there is one convention only.
//! - `# not run by tests: WHY` on the line before a command skips it (keep
//!   these few). Any other command must exit 0 (one meant to fail is written
//!   `! command`, which the shell turns into exit 0).
//! - `# output: TEXT` after a command: its stdout + stderr must contain TEXT.
//! - A ```` ```toml ```` block must be a configuration the module accepts.
//!
//! How the environment is mapped (each page runs top to bottom, as one reader
//! in one terminal would, in one `bash` in a fresh directory):
//! - The docs write paths as they are from the repository root after
//!   `cargo build --release`: `target/release/...`. The page's directory has
//!   `target/release` as a symlink to this test build's own target directory
//!   (`target/debug` under `cargo test`), and `include` and `examples` as
//!   symlinks to the repository's, so those paths work unchanged.
//! - A `cargo build ...` command is not run again: the test build already
//!   built the binaries (`CARGO_BIN_EXE_*`) and `common::module_path()` the
//!   library and examples, with this build's profile and features.
//! - `cargo bench [--locked] --bench NAME [-- ARGS]` builds that bench target
//!   with this build's profile and features (a release build of every
//!   dependency would cost CI minutes), then runs it as `cargo bench` does:
//!   `--bench ARGS`, from the page's directory (which stands for the
//!   repository root). So a page's benchmark command runs as written, only
//!   slower than on a release build; pages show short runs (`--quick`).
//! - `FERROHSM_CONF` points at a test configuration (`common::world`: a
//!   store in the temporary directory, the cheap test KDF); `HOME` and the
//!   XDG directories are inside the temporary directory; the PIN variables
//!   and `SOFTHSM2_CONF` are removed, so the pages must set what they use.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const SKIP: &str = "# not run by tests:";
const OUTPUT: &str = "# output:";

/// One command of a page.
#[derive(Debug)]
struct Cmd {
    line: usize,
    text: String,
    skip: Option<String>,
    output: Vec<String>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The commands of one Markdown file, in order.
fn commands(file: &str) -> Vec<Cmd> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Cmd> = Vec::new();
    let mut fence: Option<String> = None;
    let mut skip: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        i += 1;
        if t.starts_with("```") {
            match fence {
                Some(_) => {
                    assert!(skip.is_none(), "{file}:{i}: `{SKIP}` ends a block without a command");
                    fence = None;
                }
                None => {
                    let lang = t.trim_start_matches('`').trim().to_string();
                    assert!(
                        !matches!(lang.as_str(), "bash" | "console" | "shell" | "shell-session"),
                        "{file}:{i}: shell commands go in ```sh blocks (found ```{lang})"
                    );
                    fence = Some(lang);
                }
            }
            continue;
        }
        let Some(lang) = &fence else { continue };
        if lang != "sh" {
            assert!(!t.starts_with("$ "), "{file}:{i}: a `$ ` command outside a ```sh block");
            continue;
        }
        assert!(!t.starts_with("$ "), "{file}:{i}: no `$ ` prompts in ```sh blocks: every line is a command");
        if t.is_empty() {
            continue;
        }
        if let Some(why) = t.strip_prefix(SKIP) {
            assert!(!why.trim().is_empty(), "{file}:{i}: say why a command is not run");
            skip = Some(why.trim().to_string());
            continue;
        }
        if let Some(o) = t.strip_prefix(OUTPUT) {
            let last = out.last_mut().unwrap_or_else(|| panic!("{file}:{i}: `{OUTPUT}` before any command"));
            last.output.push(o.trim().to_string());
            continue;
        }
        if t.starts_with('#') {
            continue;
        }
        // A command: its continuation lines and here-document.
        let start = i;
        let mut cmd = line.to_string();
        while cmd.ends_with('\\') {
            assert!(i < lines.len(), "{file}:{start}: continued past the end");
            cmd.push('\n');
            cmd.push_str(lines[i]);
            i += 1;
        }
        if let Some(word) = heredoc_word(&cmd) {
            loop {
                assert!(i < lines.len(), "{file}:{start}: here-document {word} never ends");
                cmd.push('\n');
                cmd.push_str(lines[i]);
                i += 1;
                if lines[i - 1].trim() == word {
                    break;
                }
            }
        }
        out.push(Cmd { line: start, text: cmd, skip: skip.take(), output: Vec::new() });
    }
    assert!(fence.is_none(), "{file}: a code block is never closed");
    out
}

/// The terminator of a `<<WORD` / `<<'WORD'` / `<<-WORD` here-document.
fn heredoc_word(cmd: &str) -> Option<String> {
    let at = cmd.find("<<")?;
    let rest = cmd[at + 2..].trim_start_matches('-').trim_start();
    let word: String =
        rest.trim_start_matches(['\'', '"']).chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!word.is_empty()).then_some(word)
}

/// Runs every command of `file` in one shell, each one's output kept apart.
fn run_page(file: &str) {
    run_page_with(file, &[]);
}

/// As `run_page`, with more variables in the page's environment.
fn run_page_with(file: &str, env: &[(&str, &str)]) {
    let cmds = commands(file);
    let w = common::world("");
    let _ = common::module_path(); // builds the library and examples (see the top)
    let work = w.dir.path().join("work");
    let logs = w.dir.path().join("logs");
    let home = w.dir.path().join("home");
    for d in [&work, &logs, &home, &work.join("target")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let target = common::target_dir();
    // Debug builds of the binaries sit beside the library.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ferrohsm"));
    assert_eq!(bin.parent().unwrap(), target, "ferrohsm is not beside libferrohsm.so");
    std::os::unix::fs::symlink(&target, work.join("target/release")).unwrap();
    for d in ["include", "examples"] {
        std::os::unix::fs::symlink(root().join(d), work.join(d)).unwrap();
    }

    let mut script = String::new();
    for (n, c) in cmds.iter().enumerate() {
        if c.skip.is_some() {
            continue;
        }
        // `cargo build ... && rest`: the build is this test build's (see the top); the rest runs.
        let body = if let Some(rest) = c.text.trim_start().strip_prefix("cargo build") {
            match rest.split_once("&&") {
                Some((_, after)) => format!("true &&{after}"),
                None => "true".to_string(),
            }
        } else if c.text.trim_start().starts_with("cargo bench") {
            bench_command(&c.text, &format!("{file}:{}", c.line))
        } else {
            c.text.clone()
        };
        script.push_str(&format!(
            "{{ {body}\n}} >{out:?} 2>&1 </dev/null\necho $? >{rc:?}\n",
            out = logs.join(format!("{n}.out")),
            rc = logs.join(format!("{n}.rc")),
        ));
    }
    let status = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("FERROHSM_CONF", &w.conf)
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("FERROHSM_USER_PIN")
        .env_remove("FERROHSM_SO_PIN")
        .env_remove("SOFTHSM2_CONF")
        .envs(env.iter().copied())
        .status()
        .unwrap();
    assert!(status.success(), "{file}: the shell itself failed");

    let mut ran = 0;
    for (n, c) in cmds.iter().enumerate() {
        if c.skip.is_some() {
            continue;
        }
        let out = std::fs::read_to_string(logs.join(format!("{n}.out"))).unwrap_or_default();
        let rc = std::fs::read_to_string(logs.join(format!("{n}.rc"))).unwrap_or_default();
        let here = format!("{file}:{}: `{}`", c.line, c.text);
        assert_eq!(rc.trim(), "0", "{here} exited {rc:?}:\n{out}");
        for o in &c.output {
            assert!(out.contains(o.as_str()), "{here}: {o:?} not in its output:\n{out}");
        }
        ran += 1;
    }
    eprintln!("{file}: {ran} commands run, {} marked not run", cmds.len() - ran);
}

/// `cargo bench [--locked] --bench NAME [-- ARGS]` as the shell text that
/// runs the bench target built in this test build's profile (see the top).
fn bench_command(cmd: &str, here: &str) -> String {
    let (cargo, args) = cmd.split_once(" -- ").unwrap_or((cmd, ""));
    let mut words = cargo.split_whitespace().filter(|w| *w != "\\").skip(2);
    let mut name = None;
    while let Some(w) = words.next() {
        match w {
            "--locked" => {}
            "--bench" => name = words.next(),
            other => panic!("{here}: `cargo bench ... {other}`: only --locked and --bench NAME are mapped"),
        }
    }
    let name = name.unwrap_or_else(|| panic!("{here}: `cargo bench` without --bench NAME"));
    format!("{:?} --bench {args}", bench_exe(name))
}

/// Builds bench target `name` with this test build's profile and features
/// (into its target directory) and returns the executable.
fn bench_exe(name: &str) -> PathBuf {
    let out = common::cargo_build()
        .args(["--bench", name, "--message-format=json"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("cargo");
    assert!(out.status.success(), "building bench {name} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo build --bench {name} named no executable"))
}

/// The pages this test runs: README.md and every docs/*.md.
fn pages() -> Vec<String> {
    let mut v = vec!["README.md".to_string()];
    for e in std::fs::read_dir(root().join("docs")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            v.push(format!("docs/{name}"));
        }
    }
    v.sort();
    v
}

#[test]
fn readme() {
    run_page("README.md");
}

#[test]
fn pkcs11() {
    run_page("docs/pkcs11.md");
}

#[test]
fn kms() {
    run_page("docs/kms.md");
}

#[test]
fn kms_api() {
    run_page("docs/kms-api.md");
}

#[test]
fn reliability_crash() {
    run_page("docs/reliability-crash.md");
}

#[test]
fn softhsm() {
    run_page("docs/softhsm.md");
}

#[test]
fn operators() {
    run_page("docs/operators.md");
}

/// Its commands copy a store into PostgreSQL: `FLEET_DB` is a fresh,
/// empty schema on the test server (.ci/run always has one); and run the
/// benchmarks on that server: `URL` is the server itself (each benchmark
/// makes and drops a schema of its own; `PGPASSWORD` comes from the
/// test's environment).
#[test]
fn storage() {
    let Some(base) = common::pg::url_or_skip("docs::storage") else { return };
    let (url, name) = common::pg::fresh_schema(&base);
    let _schema = common::pg::Schema { base: base.clone(), name, url: url.clone() };
    run_page_with("docs/storage.md", &[("FLEET_DB", &url), ("URL", &base)]);
}

#[test]
fn audit() {
    run_page("docs/audit.md");
}

#[test]
fn threat_model() {
    run_page("docs/threat-model.md");
}

#[test]
fn reliability() {
    run_page("docs/reliability.md");
}

/// A new page gets a test above, and the commands marked not run stay few
/// and listed here (each with its reason in the page).
#[test]
fn every_page_is_run_and_skips_are_few() {
    let tested = [
        "README.md",
        "docs/audit.md",
        "docs/kms-api.md",
        "docs/kms.md",
        "docs/operators.md",
        "docs/pkcs11.md",
        "docs/reliability-crash.md",
        "docs/reliability.md",
        "docs/softhsm.md",
        "docs/storage.md",
        "docs/threat-model.md",
    ];
    assert_eq!(pages(), tested, "a page without a test in tests/docs.rs");
    let mut skipped = Vec::new();
    for p in pages() {
        for c in commands(&p) {
            if let Some(why) = c.skip {
                skipped.push(format!("{p}:{}: {} ({why})", c.line, c.text));
            }
        }
    }
    // Three of these are the long campaigns (fuzzing, crash/stress, memory), whose CI-length runs are tests.
    assert!(skipped.len() <= 6, "too many commands not run:\n{}", skipped.join("\n"));
}

/// Every ```toml block of the pages is a configuration the module accepts
/// (unknown keys and bad values are errors, so a stale example fails here).
#[test]
fn every_toml_block_is_a_valid_configuration() {
    let mut n = 0;
    for p in pages() {
        let text = std::fs::read_to_string(root().join(&p)).unwrap();
        let mut block: Option<String> = None;
        for line in text.lines() {
            let t = line.trim_start();
            match &mut block {
                Some(b) if t.starts_with("```") => {
                    if let Err(e) = ferrohsm::config::Config::from_toml(b) {
                        panic!("{p}: a ```toml block the module refuses: {e}\n{b}");
                    }
                    n += 1;
                    block = None;
                }
                Some(b) => {
                    b.push_str(line);
                    b.push('\n');
                }
                None if t == "```toml" => block = Some(String::new()),
                None => {}
            }
        }
    }
    assert!(n >= 2, "the configuration references are gone");
}
