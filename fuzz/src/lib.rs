//! Shared code of the FerroHSM fuzz targets (see `fuzz/README.md`).
//!
//! Each target in `fuzz_targets/` is one line calling a function here, so
//! the same code also runs without libFuzzer: `replay` (a plain binary)
//! feeds a corpus directory to it.
//!
//! A panic anywhere in the module is a finding, even one the C boundary
//! catches and turns into CKR_GENERAL_ERROR: libFuzzer's panic hook
//! (libfuzzer-sys) aborts the process on every panic, before unwinding
//! reaches the module's `catch_unwind`; `replay` installs the same hook.

pub mod buf;
pub mod config;
pub mod kms_ciphertext;
pub mod kms_http;
pub mod p11;
pub mod store_record;

/// A target: one input in, nothing out (a finding aborts).
pub type Target = fn(&[u8]);

/// Every target by name, for `replay`.
pub const TARGETS: &[(&str, Target)] = &[
    ("pkcs11_objects", p11::objects),
    ("pkcs11_crypto", p11::crypto),
    ("pkcs11_keys", p11::keys),
    ("store_record", store_record::run),
    ("kms_ciphertext", kms_ciphertext::run),
    ("config", config::run),
    ("kms_http", kms_http::run),
];

/// A private directory for this process's store, under `TMPDIR`. libFuzzer
/// leaves by `exit`, so nothing removes it: the scripts point `TMPDIR` at
/// a directory they remove after each run.
pub fn scratch_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::Builder::new().prefix("ferrohsm-fuzz-").tempdir().expect("temp dir")).path()
}

/// The configuration the stateful targets run the module under: a store
/// in `scratch_dir`, the cheapest KDF, no log output (panics are caught by
/// the hook, not by reading the log), PIN attempts that never lock.
pub fn write_config() -> std::path::PathBuf {
    let dir = scratch_dir();
    let conf = dir.join("ferrohsm.toml");
    let db = dir.join("store.db");
    std::fs::write(
        &conf,
        format!(
            "[store]\npath = {:?}\n[kdf]\nm_cost_kib = 64\nt_cost = 1\np_cost = 1\n[log]\nlevel = \"off\"\n",
            db.to_str().expect("utf-8 temp path")
        ),
    )
    .expect("write config");
    conf
}
