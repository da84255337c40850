//! The audit trail: every key-management event and every use of a token key,
//! appended to a hash chain in the store (`Store::append_audit`). Management
//! events are written at once; uses are buffered and written in batches (at
//! 512 records, after a second, at C_Finalize and at process exit), one
//! chained row per batch, so auditing costs a fraction of a microsecond per
//! operation. Records are JSON lines; a batch's hash covers every byte of
//! every record in it, and the chain and its stored head cover the order and
//! the number of batches.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cryptoki_sys::CK_RV;

use super::clock;
use super::Module;
use crate::error::{Error, Result};
use crate::store::{audit_hash, seal::hex, Uid};

const BATCH_RECORDS: usize = 512;
const BATCH_AGE: Duration = Duration::from_secs(1);
/// Past this many unwritten records (the store failing), the oldest go.
const MAX_PENDING: usize = 100_000;

#[derive(Default)]
pub(crate) struct Audit {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    body: String,
    count: usize,
    first: Option<Instant>,
}

/// One audit record. `key` is the key's CKA_UNIQUE_ID (or an alias name),
/// empty when the event concerns no key.
pub(crate) struct Record<'a> {
    pub event: &'a str,
    pub token: Option<&'a Uid>,
    pub session: u64,
    pub key: &'a str,
    pub version: u64,
    pub mechanism: Option<u64>,
    pub rv: CK_RV,
    pub detail: &'a str,
}

impl Record<'_> {
    pub fn new(event: &str) -> Record<'_> {
        Record { event, token: None, session: 0, key: "", version: 0, mechanism: None, rv: 0, detail: "" }
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn line(r: &Record) -> String {
    let mut s = String::with_capacity(200);
    let _ = write!(s, "{{\"time\":{},\"pid\":{},\"event\":", clock::now(), std::process::id());
    json_str(&mut s, r.event);
    s.push_str(",\"token\":");
    json_str(&mut s, &r.token.map(|u| hex(u)).unwrap_or_default());
    let _ = write!(s, ",\"session\":{},\"key\":", r.session);
    json_str(&mut s, r.key);
    let _ = write!(s, ",\"version\":{}", r.version);
    if let Some(m) = r.mechanism {
        let _ = write!(s, ",\"mechanism\":\"{m:#x}\"");
    }
    let _ = write!(s, ",\"rv\":\"{:#x}\",\"detail\":", r.rv);
    json_str(&mut s, r.detail);
    s.push_str("}\n");
    s
}

/// What `audit verify` found on an intact log.
pub struct AuditSummary {
    pub batches: usize,
    pub records: usize,
}

impl Module {
    /// A use of a key: buffered.
    pub(crate) fn audit_use(&self, r: &Record) {
        let due = {
            let Ok(mut p) = self.audit.pending.lock() else { return };
            if p.count >= MAX_PENDING {
                log::error!("audit: {MAX_PENDING} records could not be written; dropping the buffer");
                *p = Pending::default();
            }
            p.body.push_str(&line(r));
            p.count += 1;
            let first = *p.first.get_or_insert_with(Instant::now);
            p.count >= BATCH_RECORDS || first.elapsed() >= BATCH_AGE
        };
        if due {
            let _ = self.flush_audit();
        }
    }

    /// A key-management event: written before the call returns.
    pub(crate) fn audit_event(&self, r: &Record) {
        if let Ok(mut p) = self.audit.pending.lock() {
            p.body.push_str(&line(r));
            p.count += 1;
        }
        if let Err(e) = self.flush_audit() {
            log::error!("audit: could not write the {} event: {e}", r.event);
        }
    }

    /// Writes every buffered record as one batch.
    pub fn flush_audit(&self) -> Result<()> {
        let mut p = self.audit.pending.lock().map_err(|_| Error::CantLock)?;
        if p.count == 0 {
            return Ok(());
        }
        self.store.append_audit(&p.body)?;
        *p = Pending::default();
        Ok(())
    }

    /// Checks the whole chain: consecutive batch numbers, each batch's
    /// link to the one before, its hash over its records, and the stored
    /// head against the last batch.
    pub fn audit_verify(&self) -> Result<AuditSummary> {
        self.flush_audit()?;
        let (rows, head) = self.store.audit_log(1)?;
        let mut prev = vec![0u8; 32];
        let mut records = 0;
        for (i, row) in rows.iter().enumerate() {
            let want = i as i64 + 1;
            if row.seq != want {
                return Err(Error::AuditInvalid(format!("batch {want} is missing (found {} next)", row.seq)));
            }
            if row.prev != prev {
                return Err(Error::AuditInvalid(format!("batch {want} does not follow batch {}", want - 1)));
            }
            if audit_hash(&prev, row.seq, &row.body) != row.hash {
                return Err(Error::AuditInvalid(format!("batch {want} was altered")));
            }
            records += row.body.lines().count();
            prev = row.hash.clone();
        }
        match (head, rows.last()) {
            (None, None) => {}
            (Some((seq, hash)), Some(last)) if seq == last.seq && hash == last.hash => {}
            (Some((seq, _)), _) => {
                return Err(Error::AuditInvalid(format!("the log ends before batch {seq}, its recorded end")))
            }
            (None, Some(_)) => return Err(Error::AuditInvalid("the log's recorded end is missing".into())),
        }
        Ok(AuditSummary { batches: rows.len(), records })
    }

    /// Records at or after `since` (Unix seconds), optionally only those
    /// naming `key`, oldest first.
    pub fn audit_records(&self, since: u64, key: Option<&str>) -> Result<Vec<serde_json::Value>> {
        self.flush_audit()?;
        let (rows, _) = self.store.audit_log(1)?;
        let mut out = Vec::new();
        for row in rows {
            for l in row.body.lines() {
                let v: serde_json::Value = serde_json::from_str(l)
                    .map_err(|_| Error::AuditInvalid(format!("batch {}: a record is not JSON", row.seq)))?;
                if v["time"].as_u64().unwrap_or(0) < since {
                    continue;
                }
                if key.is_some_and(|k| v["key"].as_str() != Some(k)) {
                    continue;
                }
                out.push(v);
            }
        }
        Ok(out)
    }
}
