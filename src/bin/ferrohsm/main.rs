//! `ferrohsm`: token administration, KMS key management and the SoftHSM
//! compatibility front. It links the library's safe core directly (no
//! dlopen), so it reads the same configuration and store as the module.
//!
//! Exit codes: 0 success, 1 a failed operation (message on stderr), 2 a
//! usage error.

mod common;
mod kms;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(run(&args));
}

fn run(args: &[String]) -> i32 {
    let Some(cmd) = args.first() else {
        eprintln!("{}", USAGE);
        return 2;
    };
    match cmd.as_str() {
        "key" | "alias" | "audit" | "data-key" | "encrypt" | "decrypt" | "re-encrypt" => kms::run(args),
        "-h" | "--help" | "help" => {
            println!("{}", USAGE);
            0
        }
        other => {
            eprintln!("ferrohsm: unknown command {other:?}\n{USAGE}");
            2
        }
    }
}

const USAGE: &str = "usage: ferrohsm COMMAND [ARGS]
KMS:   key | alias | audit | data-key | encrypt | decrypt | re-encrypt  (ferrohsm key --help)";
