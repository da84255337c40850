//! `config`: the configuration readers — the TOML file (`Config::from_toml`,
//! with its validation), SoftHSM's `softhsm2.conf` (`config::softhsm::parse`),
//! the `slots.mechanisms` filter, and the stored KDF parameter text.

use ferrohsm::config::{softhsm, Config};

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let rest = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    match data.first().map(|b| b % 4) {
        Some(0) => {
            let (c, _notes) = softhsm::parse(&text, std::path::Path::new("fuzz/softhsm2.conf"));
            let _ = c.audit_sidecar();
        }
        Some(1) => {
            let _ = ferrohsm::mech::registry::Filter::parse(&rest);
        }
        Some(2) => {
            let _ = ferrohsm::store::KdfParams::from_text(&rest);
        }
        _ => {
            if let Ok(c) = Config::from_toml(&text) {
                let _ = c.audit_sidecar();
            }
        }
    }
}
