//! SoftHSMv2's `softhsm2.conf`, read when `FERROHSM_CONF` is absent so a
//! SoftHSM user's setup carries over: each key that means something here is
//! mapped onto our configuration; the others are reported once.
//!
//! | softhsm2.conf | here |
//! |---|---|
//! | `directories.tokendir` | `store.path` = `<tokendir>/ferrohsm.db` |
//! | `log.level` (ERROR, WARNING, INFO, DEBUG) | `log.level` |
//! | `objectstore.umask` (octal) | `store.umask` |
//! | `slots.removable` | `slots.removable` (CKF_REMOVABLE_DEVICE) |
//! | `slots.mechanisms` (ALL, a list, or `-`list) | `slots.mechanisms` |
//! | `library.reset_on_fork` | always true here: a child must call C_Initialize and gets a fresh state |
//! | `objectstore.backend` | does not apply (one SQLite store) |

use std::path::{Path, PathBuf};

use super::Config;

/// Where SoftHSM would look: `SOFTHSM2_CONF`, else the per-user file.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SOFTHSM2_CONF").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let p = PathBuf::from(home).join(".config/softhsm2/softhsm2.conf");
    p.is_file().then_some(p)
}

/// Our configuration from a softhsm2.conf text, and the notes to log once
/// (keys that do not apply, values that could not be used).
pub fn parse(text: &str, source: &Path) -> (Config, Vec<String>) {
    let mut c = Config::default();
    let mut notes = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            notes.push(format!("{}:{}: not `key = value`, ignored", source.display(), i + 1));
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "directories.tokendir" => c.store.path = Some(PathBuf::from(value).join("ferrohsm.db")),
            "log.level" => match value.to_ascii_uppercase().as_str() {
                "ERROR" => c.log.level = log::LevelFilter::Error,
                "WARNING" => c.log.level = log::LevelFilter::Warn,
                "INFO" => c.log.level = log::LevelFilter::Info,
                "DEBUG" => c.log.level = log::LevelFilter::Debug,
                _ => notes.push(format!("log.level = {value}: unknown level, keeping {}", c.log.level)),
            },
            "objectstore.umask" => match u32::from_str_radix(value.trim_start_matches("0o"), 8) {
                Ok(m) if m <= 0o777 => c.store.umask = Some(m),
                _ => notes.push(format!("objectstore.umask = {value}: not an octal mask, ignored")),
            },
            "slots.removable" => match value {
                "true" => c.slots.removable = true,
                "false" => c.slots.removable = false,
                _ => notes.push(format!("slots.removable = {value}: not true/false, ignored")),
            },
            "slots.mechanisms" => c.slots.mechanisms = Some(value.to_string()),
            "library.reset_on_fork" => {
                if value == "false" {
                    notes.push(
                        "library.reset_on_fork = false: FerroHSM always gives a forked child a fresh state \
                         after its own C_Initialize"
                            .into(),
                    );
                }
            }
            "objectstore.backend" => notes.push(format!(
                "objectstore.backend = {value} does not apply: FerroHSM keeps every token in one SQLite store"
            )),
            other => notes.push(format!("{other}: not a SoftHSM key FerroHSM knows, ignored")),
        }
    }
    (c, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_keys_that_mean_something() {
        let text = "# SoftHSM v2 configuration file\n\
                    directories.tokendir = /var/lib/softhsm/tokens/\n\
                    objectstore.backend = file\n\
                    objectstore.umask = 0027\n\
                    log.level = INFO\n\
                    slots.removable = true\n\
                    slots.mechanisms = -CKM_AES_ECB,CKM_SHA_1\n\
                    library.reset_on_fork = false\n\
                    bogus.key = 1\n";
        let (c, notes) = parse(text, Path::new("softhsm2.conf"));
        assert_eq!(c.store.path, Some(PathBuf::from("/var/lib/softhsm/tokens/ferrohsm.db")));
        assert_eq!(c.store.umask, Some(0o027));
        assert_eq!(c.log.level, log::LevelFilter::Info);
        assert!(c.slots.removable);
        assert_eq!(c.slots.mechanisms.as_deref(), Some("-CKM_AES_ECB,CKM_SHA_1"));
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("objectstore.backend")));
        assert!(notes.iter().any(|n| n.contains("bogus.key")));
    }

    #[test]
    fn bad_values_are_reported_not_used() {
        let (c, notes) = parse("log.level = LOUD\nobjectstore.umask = 99\nnot a line\n", Path::new("x"));
        assert_eq!(c.log.level, log::LevelFilter::Warn);
        assert_eq!(c.store.umask, None);
        assert_eq!(notes.len(), 3);
    }
}
