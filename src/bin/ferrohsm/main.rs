//! `ferrohsm`: token administration, KMS key management and the SoftHSM
//! compatibility front. It links the library's safe core directly (no
//! dlopen), so it reads the same configuration and store as the module.
//!
//! Exit codes: 0 success, 1 a failed operation (message on stderr), 2 a
//! usage error.

mod common;
mod kms;
mod migrate;
mod pem;
mod softhsm_util;
mod store;

fn main() {
    ferrohsm::sys::default_sigpipe();
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
        "softhsm2-util" => softhsm_util::run(&args[1..]),
        // The same operations under our own names.
        "init-token" | "show-slots" | "delete-token" => {
            let mut a = vec![format!("--{cmd}")];
            a.extend(args[1..].iter().cloned());
            softhsm_util::run(&a)
        }
        "import" => {
            let mut a = vec!["--import".to_string()];
            a.extend(args[1..].iter().cloned());
            softhsm_util::run(&a)
        }
        "migrate-softhsm" => migrate::run(&args[1..]),
        "store" => store::run(args),
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
Tokens: init-token (--slot N | --free | --token L) --label L
        show-slots
        delete-token (--token L | --serial S)
        import FILE [--import-type keypair|aes|cert] --label L --id HEX (--token L | --slot N) [--no-public-key]
        migrate-softhsm [--tokendir DIR] [--token LABEL] [--dry-run] [--allow-partial]
        softhsm2-util ARGS...   (SoftHSM's softhsm2-util flags; see softhsm-compat/README.md)
        store verify [--token L] [--so]   (authenticate every object and the object set)
PINs:   --pin-fd N | --pin-env VAR | FERROHSM_USER_PIN | prompt (--so-pin-fd/--so-pin-env/FERROHSM_SO_PIN for the SO)
KMS:   key | alias | audit | data-key | encrypt | decrypt | re-encrypt  (ferrohsm key --help)";
