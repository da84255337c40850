//! Configuration: an embedded default, optionally overridden by the TOML file
//! named in `FERROHSM_CONF`, or else taken from a SoftHSMv2 `softhsm2.conf`
//! (see `softhsm`). Every key is documented in docs/operators.md.

pub mod softhsm;

use serde::Deserialize;
use std::path::PathBuf;

use crate::error::{Error, Result};
/// The log settings are the logger's own type (the logger depends on
/// nothing here).
pub use crate::logging::LogConf;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub store: StoreConf,
    pub slots: SlotsConf,
    pub log: LogConf,
    pub pin: PinConf,
    pub kdf: KdfConf,
    pub audit: AuditConf,
    pub limits: LimitsConf,
}

/// What one process may hold at once (see docs/operators.md): past a
/// limit the call fails with the code the spec names, and nothing else
/// is affected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConf {
    /// Open sessions, all slots together (C_OpenSession: CKR_SESSION_COUNT).
    pub sessions: usize,
    /// Session objects, all sessions together (CKR_DEVICE_MEMORY).
    pub session_objects: usize,
    /// Objects one C_FindObjectsInit may match (CKR_HOST_MEMORY past it:
    /// narrow the template).
    pub find_results: usize,
    /// Data one multi-part operation may hold until its final call (GCM
    /// decryption holds the ciphertext until the tag verifies; signatures
    /// over the whole message hold the message): CKR_DATA_LEN_RANGE or
    /// CKR_ENCRYPTED_DATA_LEN_RANGE past it. At most 256 MiB.
    pub operation_bytes: usize,
}

impl Default for LimitsConf {
    fn default() -> Self {
        LimitsConf {
            sessions: 16_384,
            session_objects: 100_000,
            find_results: 1_000_000,
            operation_bytes: crate::model::mechanism::bound::DATA,
        }
    }
}

/// Where the audit trail is anchored outside the store (see docs/audit.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConf {
    /// `true` (default): `<store>.audit`; `false`: none; or an absolute path.
    pub sidecar: Sidecar,
    /// Also log every new audit head at info level
    /// (`ferrohsm-audit-head seq=.. hash=..`).
    pub syslog: bool,
}

/// `[audit] sidecar`, parsed: a flag or an absolute path, nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sidecar {
    #[default]
    BesideStore,
    Off,
    At(PathBuf),
}

impl<'de> Deserialize<'de> for Sidecar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Sidecar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false or an absolute path")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> std::result::Result<Sidecar, E> {
                Ok(if b { Sidecar::BesideStore } else { Sidecar::Off })
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<Sidecar, E> {
                let p = PathBuf::from(s);
                // A relative path would depend on each process's working
                // directory, so processes would anchor in different files.
                if !p.is_absolute() {
                    return Err(E::custom(format!("audit.sidecar: {s:?} is not an absolute path (or true/false)")));
                }
                Ok(Sidecar::At(p))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConf {
    /// SQLite file. Default: `$XDG_DATA_HOME/ferrohsm/ferrohsm.db`.
    pub path: Option<PathBuf>,
    /// Mask for the store's files and directory (octal). Default: files
    /// 0600, directory 0700.
    pub umask: Option<u32>,
    /// How long a write waits for another process's write to finish before
    /// the call fails with CKR_DEVICE_ERROR (milliseconds, 1..=600000).
    /// Default 30000.
    pub busy_timeout_ms: Option<u64>,
    /// PostgreSQL instead of SQLite: `postgresql://user@host:port/db?sslmode=..`
    /// (disable, prefer, require or verify-full; `sslrootcert=` for the
    /// latter). Never with a password: that comes from `password_file` or
    /// `PGPASSWORD`. The environment's `FERROHSM_STORE_URL` overrides it.
    pub url: Option<String>,
    /// The PostgreSQL password: the first line of this file.
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlotsConf {
    /// Slots always listed (IDs 0..count). One more free slot is added
    /// whenever all of them hold a token.
    pub count: u64,
    /// Report the slots as removable devices (CKF_REMOVABLE_DEVICE).
    pub removable: bool,
    /// Which mechanisms are offered, SoftHSM's syntax: `ALL` (default),
    /// `CKM_A,CKM_B` (only these) or `-CKM_A,CKM_B` (all but these).
    pub mechanisms: Option<String>,
}

/// The longest `pin.max_len` a configuration may set: no PIN of any
/// configuration is longer, so the C boundary refuses a longer one before
/// copying it.
pub const PIN_LEN_LIMIT: usize = 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PinConf {
    pub min_len: usize,
    pub max_len: usize,
    /// Consecutive wrong PINs before the PIN locks; 0 disables the lockout.
    pub max_failed: u32,
}

/// Argon2id cost for new tokens and new PINs; stored per token, so changing
/// it never locks out an existing token.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KdfConf {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for SlotsConf {
    fn default() -> Self {
        SlotsConf { count: 1, removable: false, mechanisms: None }
    }
}

impl Default for PinConf {
    fn default() -> Self {
        PinConf { min_len: 4, max_len: 255, max_failed: 10 }
    }
}

impl Default for KdfConf {
    /// 19 MiB, 2 passes (the OWASP Argon2id baseline): ≈53 ms per
    /// derivation on the 2-core reference machine.
    fn default() -> Self {
        KdfConf { m_cost_kib: 19456, t_cost: 2, p_cost: 1 }
    }
}

impl Config {
    /// The configuration for this process: `FERROHSM_CONF` if set, else the
    /// embedded default.
    pub fn load() -> Result<Config> {
        Ok(Self::load_with_notes()?.0)
    }

    /// As `load`, with the notes a SoftHSM configuration produced (keys
    /// that do not apply here), for the caller to log once.
    pub fn load_with_notes() -> Result<(Config, Vec<String>)> {
        let (mut c, notes) = Self::load_files()?;
        // The environment names the store for a whole fleet's processes;
        // checked as the file's key is (fail closed).
        if let Some(url) = std::env::var("FERROHSM_STORE_URL").ok().filter(|u| !u.is_empty()) {
            crate::store::postgres::conn::parse(&url)
                .map_err(|e| Error::general(format!("FERROHSM_STORE_URL: {e}")))?;
            c.store.url = Some(url);
            c.store.path = None;
        }
        Ok((c, notes))
    }

    fn load_files() -> Result<(Config, Vec<String>)> {
        if let Some(p) = std::env::var_os("FERROHSM_CONF").filter(|p| !p.is_empty()) {
            return Ok((Self::from_file(&PathBuf::from(p))?, Vec::new()));
        }
        let Some(path) = softhsm::find() else { return Ok((Config::default(), Vec::new())) };
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::general(format!("config {}: {e}", path.display())))?;
        let (c, mut notes) = softhsm::parse(&text, &path);
        c.validate().map_err(|e| Error::general(format!("config {}: {e}", path.display())))?;
        notes.insert(0, format!("no FERROHSM_CONF: using the SoftHSM configuration {}", path.display()));
        Ok((c, notes))
    }

    pub fn from_file(path: &std::path::Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::general(format!("config {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| Error::general(format!("config {}: {e}", path.display())))
    }

    pub fn from_toml(text: &str) -> std::result::Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.slots.count == 0 || self.slots.count > 1024 {
            return Err("slots.count must be 1..=1024".into());
        }
        if self.pin.min_len == 0 || self.pin.min_len > self.pin.max_len || self.pin.max_len > PIN_LEN_LIMIT {
            return Err(format!("pin.min_len/max_len must satisfy 1 <= min_len <= max_len <= {PIN_LEN_LIMIT}"));
        }
        // The store's limits (a PIN record it would refuse to open must not be written).
        let k = &self.kdf;
        crate::store::KdfParams { m_cost_kib: k.m_cost_kib, t_cost: k.t_cost, p_cost: k.p_cost }.check()?;
        if let Some(list) = &self.slots.mechanisms {
            crate::mech::registry::Filter::parse(list).map_err(|e| format!("slots.mechanisms: {e}"))?;
        }
        if self.store.umask.is_some_and(|m| m > 0o777) {
            return Err("store.umask must be an octal mask up to 0777".into());
        }
        if self.store.busy_timeout_ms.is_some_and(|ms| ms == 0 || ms > 600_000) {
            return Err("store.busy_timeout_ms must be 1..=600000".into());
        }
        if let Some(url) = &self.store.url {
            crate::store::postgres::conn::parse(url)?;
            if self.store.path.is_some() {
                return Err("store.url and store.path name two stores: set one".into());
            }
        } else if self.store.password_file.is_some() {
            return Err("store.password_file needs store.url".into());
        }
        let l = &self.limits;
        if l.sessions == 0 || l.sessions > 1_000_000 {
            return Err("limits.sessions must be 1..=1000000".into());
        }
        if l.session_objects == 0 || l.session_objects > 10_000_000 {
            return Err("limits.session_objects must be 1..=10000000".into());
        }
        if l.find_results == 0 || l.find_results > 100_000_000 {
            return Err("limits.find_results must be 1..=100000000".into());
        }
        let most = crate::model::mechanism::bound::DATA;
        if l.operation_bytes < 1024 || l.operation_bytes > most {
            return Err(format!("limits.operation_bytes must be 1024..={most}"));
        }
        let level = self.log.level;
        // The head is logged at info: a lower level would drop it unseen.
        if self.audit.syslog && level < log::LevelFilter::Info {
            return Err("audit.syslog = true needs log.level = \"info\" (or debug, trace)".into());
        }
        Ok(())
    }

    /// The audit sidecar file, if any: `<store>.audit` unless configured.
    pub fn audit_sidecar(&self) -> Result<Option<PathBuf>> {
        Ok(match &self.audit.sidecar {
            Sidecar::Off => None,
            Sidecar::At(p) => Some(p.clone()),
            // A database has no file to put one beside.
            Sidecar::BesideStore if self.store.url.is_some() => None,
            Sidecar::BesideStore => {
                let mut p = self.store_path()?.into_os_string();
                p.push(".audit");
                Some(PathBuf::from(p))
            }
        })
    }

    /// The PostgreSQL store, if one is configured, with its password.
    pub fn store_target(&self) -> Result<Option<crate::store::postgres::Target>> {
        let Some(url) = &self.store.url else { return Ok(None) };
        let t = crate::store::postgres::conn::parse(url).map_err(Error::general)?;
        Ok(Some(t.with_password(self.store.password_file.as_deref())?))
    }

    /// Where the store lives: the configured path, or the per-user default.
    pub fn store_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.store.path {
            return Ok(p.clone());
        }
        let base = match std::env::var_os("XDG_DATA_HOME") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => match std::env::var_os("HOME") {
                Some(h) if !h.is_empty() => PathBuf::from(h).join(".local/share"),
                _ => return Err(Error::general("neither XDG_DATA_HOME nor HOME is set; set store.path")),
            },
        };
        Ok(base.join("ferrohsm").join("ferrohsm.db"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let c = Config::from_toml(
            r#"
            [store]
            path = "/tmp/x.db"
            umask = 0o027
            [slots]
            count = 3
            removable = true
            mechanisms = "-CKM_AES_ECB"
            [log]
            level = "info"
            file = "/tmp/ferrohsm.log"
            [pin]
            min_len = 6
            max_len = 64
            max_failed = 3
            [kdf]
            m_cost_kib = 64
            t_cost = 1
            p_cost = 1
            [audit]
            sidecar = "/var/log/ferrohsm/audit-anchor"
            syslog = true
            "#,
        )
        .unwrap();
        assert_eq!(c.slots.count, 3);
        assert_eq!(c.store.umask, Some(0o027));
        assert!(c.slots.removable);
        assert!(Config::from_toml("[slots]\nmechanisms = \"-\"").is_err());
        assert_eq!(c.pin.max_failed, 3);
        assert_eq!(c.kdf.m_cost_kib, 64);
        assert_eq!(c.store_path().unwrap(), PathBuf::from("/tmp/x.db"));
        assert_eq!(c.audit_sidecar().unwrap(), Some(PathBuf::from("/var/log/ferrohsm/audit-anchor")));
        assert!(c.audit.syslog);
    }

    #[test]
    fn audit_sidecar_is_a_flag_or_an_absolute_path() {
        let c = Config::from_toml("[store]\npath = \"/s/x.db\"").unwrap();
        assert_eq!(c.audit_sidecar().unwrap(), Some(PathBuf::from("/s/x.db.audit")));
        assert!(!c.audit.syslog);
        let c = Config::from_toml("[audit]\nsidecar = false").unwrap();
        assert_eq!(c.audit_sidecar().unwrap(), None);
        assert!(Config::from_toml("[audit]\nsyslog = true").unwrap_err().contains("log.level"));
        // A level is parsed at load: an unknown word stops the configuration.
        assert!(Config::from_toml("[log]\nlevel = \"loud\"").unwrap_err().contains("unknown level"));
        for bad in ["0", "600001"] {
            let e = Config::from_toml(&format!("[store]\nbusy_timeout_ms = {bad}")).unwrap_err();
            assert!(e.contains("busy_timeout_ms"), "{e}");
        }
        assert!(Config::from_toml("[store]\nbusy_timeout_ms = 250").is_ok());
        assert_eq!(Config::from_toml("[log]\nlevel = \"DEBUG\"").unwrap().log.level, log::LevelFilter::Debug);
        assert!(Config::from_toml("[audit]\nsyslog = true\n[log]\nlevel = \"info\"").is_ok());
        for bad in ["sidecar = \"rel/path\"", "sidecar = 1", "sidecar = \"\"", "syslog = \"yes\"", "anchor = 1"] {
            let e = Config::from_toml(&format!("[audit]\n{bad}")).unwrap_err();
            assert!(e.contains("sidecar") || e.contains("syslog") || e.contains("anchor"), "{bad}: {e}");
        }
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(Config::from_toml("[store]\nbogus = 1").is_err());
        assert!(Config::from_toml("[slots]\ncount = 0").is_err());
        assert!(Config::from_toml("[pin]\nmin_len = 9\nmax_len = 4").is_err());
        assert!(Config::from_toml("[log]\nlevel = \"loud\"").is_err());
    }

    #[test]
    fn store_url_is_checked_at_load() {
        let c = Config::from_toml("[store]\nurl = \"postgresql://hsm@db:5432/keys?sslmode=require\"").unwrap();
        assert!(c.store_target().unwrap().is_some());
        // No sidecar beside a database unless one is named.
        assert_eq!(c.audit_sidecar().unwrap(), None);
        for (bad, why) in [
            ("url = \"postgresql://hsm:pw@db/keys\"", "password"),
            ("url = \"postgresql://hsm@db/keys?sslmode=sometimes\"", "sslmode"),
            ("url = \"postgresql://hsm@db:x/keys\"", "store.url"),
            ("url = \"/var/lib/x.db\"", "postgresql://"),
            ("url = \"postgresql://hsm@db/k\"\npath = \"/x.db\"", "one"),
            ("password_file = \"/run/pw\"", "store.url"),
        ] {
            let e = Config::from_toml(&format!("[store]\n{bad}")).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn empty_file_is_the_default() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.kdf, KdfConf::default());
        assert_eq!(c.slots.count, 1);
    }
}
