//! Link flags for the cdylib.
//!
//! `-z nodelete`: aws-lc keeps per-thread state (its random generator)
//! behind pthread keys whose destructors live in this library. A host that
//! dlclose()s the module and later ends a thread would run unmapped code;
//! marking the library NODELETE keeps it mapped, as long-lived PKCS#11
//! modules commonly do.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os == "freebsd" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
