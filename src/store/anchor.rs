//! The audit trail's outside anchors. The chain in the store proves order
//! and content but not its own length: whoever can write the database can
//! drop the last batches and move the head back. So after every commit
//! that appends a batch, its number and hash also go where a database
//! writer does not reach by writing the database: an append-only sidecar
//! file (`<seq> <hex hash>` per line) and, optionally, the log (which the
//! host can route to syslog or journald).
//!
//! The sidecar may lag the store (a crash between commit and append loses
//! a line; nothing is synced, the commit already is), but an entry that
//! names a batch the store lacks, or another hash, means the store was
//! truncated or rewritten.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where a store anchors its audit batches.
#[derive(Clone, Debug, Default)]
pub struct Anchor {
    pub sidecar: Option<PathBuf>,
    /// Also log each anchored head at info level, prefixed
    /// `ferrohsm-audit-head`.
    pub syslog: bool,
    /// Mode of a new sidecar file.
    pub mode: u32,
}

/// What the sidecar holds.
pub enum Sidecar {
    /// None configured.
    Off,
    /// Configured but absent.
    Missing(PathBuf),
    /// Its entries (seq, hash), in file order.
    Entries(PathBuf, Vec<(i64, Vec<u8>)>),
}

/// Entries are short; a line longer than this is damage, not an entry.
const MAX_LINE: usize = 200;

impl Anchor {
    /// Anchors batches just committed. A failure is logged, not returned:
    /// the batches are durable and the caller must not write them again; a
    /// sidecar that lags is allowed.
    pub fn record(&self, batches: &[(i64, Vec<u8>)]) {
        if batches.is_empty() {
            return;
        }
        if let Some(path) = &self.sidecar {
            let mut lines = String::new();
            for (seq, hash) in batches {
                lines.push_str(&format!("{seq} {}\n", crate::hex::hex(hash)));
            }
            // One write on an O_APPEND descriptor: lines from several
            // processes never interleave within a line.
            let r = match self.open() {
                Ok(Some(mut f)) => f.write_all(lines.as_bytes()).map_err(|e| e.to_string()),
                Ok(None) => Ok(()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = r {
                log::error!("audit sidecar {}: {e}", path.display());
            }
        }
        if self.syslog {
            if let Some((seq, hash)) = batches.last() {
                log::info!("ferrohsm-audit-head seq={seq} hash={}", crate::hex::hex(hash));
            }
        }
    }

    /// Opens (creating) the sidecar for appending: fails when it cannot be.
    pub fn open(&self) -> Result<Option<std::fs::File>> {
        let Some(path) = &self.sidecar else { return Ok(None) };
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(self.mode)
            .open(path)
            .map(Some)
            .map_err(|e| Error::device(format!("audit sidecar {}: {e}", path.display())))
    }

    /// Reads the sidecar; a malformed line fails (the file is ours alone).
    pub fn read(&self) -> Result<Sidecar> {
        let Some(path) = &self.sidecar else { return Ok(Sidecar::Off) };
        read_sidecar(path)
    }
}

fn read_sidecar(path: &Path) -> Result<Sidecar> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Sidecar::Missing(path.to_path_buf())),
        Err(e) => return Err(Error::device(format!("audit sidecar {}: {e}", path.display()))),
    };
    let bad = |n: usize| Error::AuditInvalid(format!("the sidecar {} has a malformed line {n}", path.display()));
    let text = String::from_utf8(text).map_err(|_| bad(0))?;
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = (line.len() <= MAX_LINE)
            .then(|| line.split_once(' '))
            .flatten()
            .and_then(|(seq, hash)| Some((seq.parse::<i64>().ok()?, crate::hex::from_hex(hash)?)))
            .filter(|(seq, hash)| *seq > 0 && hash.len() == 32);
        entries.push(entry.ok_or_else(|| bad(i + 1))?);
    }
    Ok(Sidecar::Entries(path.to_path_buf(), entries))
}
