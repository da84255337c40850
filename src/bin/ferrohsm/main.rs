//! `ferrohsm`: token administration, KMS key management and the SoftHSM
//! compatibility front. It links the library's safe core directly (no
//! dlopen), so it reads the same configuration and store as the module.
//!
//! Exit codes: 0 success, 1 a failed operation (message on stderr), 2 a
//! usage error (clap's message; `softhsm2-util` keeps SoftHSM's codes).

mod cli;
mod common;
mod kms;
mod migrate;
mod pem;
mod serve;
mod softhsm_util;
mod store;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};

fn main() {
    ferrohsm::sys::default_sigpipe();
    // `--help`/`--version` exit 0, usage errors 2 (clap's `exit`).
    let cli = Cli::parse();
    std::process::exit(run(cli.command));
}

fn run(cmd: Command) -> i32 {
    match cmd {
        Command::Softhsm2Util { args } => softhsm_util::run(&args),
        // The same operations under our own names: the flags clap checked,
        // handed to the front as softhsm2-util would get them.
        Command::InitToken(a) => softhsm_util::run(&init_token_args(&a)),
        Command::ShowSlots => softhsm_util::run(&["--show-slots".into()]),
        Command::DeleteToken(a) => {
            let mut v = vec!["--delete-token".to_string()];
            opt(&mut v, "token", a.token);
            opt(&mut v, "serial", a.serial);
            softhsm_util::run(&v)
        }
        Command::Import(a) => softhsm_util::run(&import_args(&a)),
        Command::MigrateSofthsm(a) => migrate::run(&a),
        Command::Store(c) => store::run(&c),
        Command::Serve(a) => serve::serve(&a),
        Command::Principal(c) => serve::principal(c),
        Command::Group(c) => serve::group(c),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "ferrohsm", &mut std::io::stdout());
            0
        }
        Command::Key(_)
        | Command::Alias(_)
        | Command::Encrypt(_)
        | Command::Decrypt(_)
        | Command::ReEncrypt(_)
        | Command::DataKey(_)
        | Command::Audit(_) => kms::run(cmd),
    }
}

fn opt(v: &mut Vec<String>, flag: &str, value: Option<impl ToString>) {
    if let Some(x) = value {
        v.push(format!("--{flag}"));
        v.push(x.to_string());
    }
}

fn pin_args(v: &mut Vec<String>, p: &cli::UserPin) {
    opt(v, "pin-fd", p.pin_fd);
    opt(v, "pin-env", p.pin_env.as_deref());
    opt(v, "pin", p.pin.as_deref());
}

fn init_token_args(a: &cli::InitToken) -> Vec<String> {
    let mut v = vec!["--init-token".to_string()];
    opt(&mut v, "slot", a.slot);
    if a.free {
        v.push("--free".into());
    }
    opt(&mut v, "token", a.token.as_deref());
    opt(&mut v, "label", Some(&a.label));
    opt(&mut v, "so-pin-fd", a.so_pin.so_pin_fd);
    opt(&mut v, "so-pin-env", a.so_pin.so_pin_env.as_deref());
    opt(&mut v, "so-pin", a.so_pin.so_pin.as_deref());
    pin_args(&mut v, &a.pin);
    v
}

fn import_args(a: &cli::Import) -> Vec<String> {
    let mut v = vec!["--import".to_string(), a.file.clone()];
    opt(&mut v, "import-type", Some(&a.import_type));
    opt(&mut v, "label", Some(&a.label));
    opt(&mut v, "id", Some(&a.id));
    opt(&mut v, "token", a.token.as_deref());
    opt(&mut v, "slot", a.slot);
    opt(&mut v, "serial", a.serial.as_deref());
    if a.no_public_key {
        v.push("--no-public-key".into());
    }
    if a.force {
        v.push("--force".into());
    }
    pin_args(&mut v, &a.pin);
    v
}
