//! Checking the audit trail, and retention: export with a proof, pruning
//! behind a MACed base. What each check proves is in docs/audit.md.

use super::Audit;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::{clock, SessionHandle};
use crate::error::{Error, Result};
use crate::hex::{from_hex, hex};
use crate::store::anchor::Sidecar;
use crate::store::{audit_hash, AuditMark, AuditSigner, TokenKey, Uid, BASE_DOMAIN, CHECKPOINT_DOMAIN};

/// What `audit verify` found on an intact log: exactly what it could prove.
pub struct AuditSummary {
    pub batches: usize,
    /// Lines in the log.
    pub records: usize,
    /// Events and uses they stand for (a line counts identical uses).
    pub events: u64,
    /// First and last stored batch, each with its earliest / latest record
    /// time (None: no batch stored).
    pub first: Option<(i64, u64)>,
    pub last: Option<(i64, u64)>,
    /// The chain's end: the last batch, or the base when all were pruned.
    pub end: i64,
    /// The last pruned batch, and whether its MAC was checked.
    pub pruned: Option<(i64, bool)>,
    pub checkpoints: usize,
    /// Of them, how many had their MAC checked (a logged-in token's key).
    pub checkpoints_verified: usize,
    /// The newest checkpoint's seq and time.
    pub newest_checkpoint: Option<(i64, u64)>,
    pub anchor: Anchored,
}

/// What the outside anchor says about the chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Anchored {
    /// No sidecar configured.
    Off,
    /// Configured, but the file is absent (or empty): the tail is unproven.
    Missing,
    /// The oldest and newest batch the sidecar names (all its entries
    /// agree with the chain).
    Entries { first: i64, last: i64 },
}

/// An export: its text (JSON lines) and what its proof line says.
pub struct AuditExport {
    pub text: String,
    pub proof: ExportProof,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ExportProof {
    pub first_seq: i64,
    pub last_seq: i64,
    pub prev_hash: Vec<u8>,
    pub last_hash: Vec<u8>,
    pub batches: usize,
    pub records: usize,
}

fn invalid<T>(why: String) -> Result<T> {
    Err(Error::AuditInvalid(why))
}

/// Earliest and latest record time in a batch body.
fn times(body: &str) -> (u64, u64) {
    let ts = body
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["time"].as_u64());
    ts.fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)))
}

/// Checks a mark's MAC when its token's key is at hand: Some(true) good,
/// None no key, an error when it does not check.
fn check_mark(m: &AuditMark, domain: &[u8; 8], keys: &HashMap<Uid, Arc<TokenKey>>, what: &str) -> Result<bool> {
    let Some(key) = Uid::try_from(m.token_uid.as_slice()).ok().and_then(|u| keys.get(&u)) else { return Ok(false) };
    if !key.audit_mac_ok(domain, &m.token_uid, m.seq, &m.hash, m.time, &m.mac) {
        return invalid(format!("the {what} for batch {} has a bad MAC (forged or altered)", m.seq));
    }
    Ok(true)
}

impl Audit<'_> {
    /// Checks the whole trail: the chain from its base (consecutive batch
    /// numbers, links, each batch's hash over its records), the stored head,
    /// every checkpoint (not beyond the end, agreeing with the chain, MACs
    /// where a logged-in token's key allows) and every sidecar entry (not
    /// beyond the end, agreeing with the chain).
    pub fn verify(&self) -> Result<AuditSummary> {
        self.flush()?;
        // The sidecar first: every entry read now names a committed batch.
        let sidecar = self.m.store.audit_anchor()?;
        let log = self.m.store.audit_log()?;
        let keys: HashMap<Uid, Arc<TokenKey>> = self.keys().into_iter().collect();
        let (base_seq, mut prev) = log.base.as_ref().map_or((0, vec![0u8; 32]), |b| (b.seq, b.hash.clone()));
        let pruned = match &log.base {
            Some(b) => Some((b.seq, check_mark(b, BASE_DOMAIN, &keys, "pruned base")?)),
            None => None,
        };
        let (mut records, mut events) = (0, 0);
        let (mut first, mut last) = (None, None);
        for (i, row) in log.rows.iter().enumerate() {
            let want = base_seq + i as i64 + 1;
            if row.seq != want {
                return invalid(format!("batch {want} is missing (found {} next)", row.seq));
            }
            if row.prev != prev {
                return invalid(format!("batch {want} does not follow batch {}", want - 1));
            }
            if audit_hash(&prev, row.seq, &row.body) != row.hash {
                return invalid(format!("batch {want} was altered"));
            }
            records += row.body.lines().count();
            events += row
                .body
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .map(|v| v["count"].as_u64().unwrap_or(1))
                .sum::<u64>();
            let (lo, hi) = times(&row.body);
            first.get_or_insert((row.seq, lo));
            last = Some((row.seq, hi));
            prev = row.hash.clone();
        }
        let end = log.rows.last().map_or(base_seq, |r| r.seq);
        match (&log.head, log.rows.last()) {
            (None, None) if base_seq == 0 => {}
            (Some((seq, hash)), Some(l)) if *seq == l.seq && *hash == l.hash => {}
            (Some((seq, hash)), None) if *seq == base_seq && *hash == prev => {}
            (Some((seq, _)), _) => return invalid(format!("the log ends before batch {seq}, its recorded end")),
            (None, _) => return invalid("the log's recorded end is missing".into()),
        }
        // The chain's hash at a seq it still holds (or its base).
        let hash_at = |seq: i64| -> Option<&[u8]> {
            if seq == base_seq {
                return log.base.as_ref().map(|b| b.hash.as_slice());
            }
            log.rows.get(usize::try_from(seq - base_seq - 1).ok()?).map(|r| r.hash.as_slice())
        };
        let mut checkpoints_verified = 0;
        for c in &log.checkpoints {
            if c.seq > end {
                return invalid(format!(
                    "a checkpoint names batch {}, beyond the log's last batch {end}: the log was truncated",
                    c.seq
                ));
            }
            if c.seq >= base_seq && hash_at(c.seq).is_some_and(|h| h != c.hash) {
                return invalid(format!(
                    "the checkpoint for batch {} disagrees with the chain: the log was rewritten (or cut back and \
                     written again)",
                    c.seq
                ));
            }
            if check_mark(c, CHECKPOINT_DOMAIN, &keys, "checkpoint")? {
                checkpoints_verified += 1;
            }
        }
        let anchor = match sidecar {
            Sidecar::Off => Anchored::Off,
            Sidecar::Missing(_) => Anchored::Missing,
            Sidecar::Entries(path, entries) => {
                for (seq, hash) in &entries {
                    if *seq > end {
                        return invalid(if end == 0 {
                            format!("the log is empty but the sidecar {} names batch {seq}: truncated", path.display())
                        } else {
                            format!(
                                "the sidecar {} names batch {seq}, beyond the log's last batch {end}: the log was truncated",
                                path.display()
                            )
                        });
                    }
                    if *seq >= base_seq && hash_at(*seq).is_some_and(|h| h != hash.as_slice()) {
                        return invalid(format!(
                            "the sidecar's hash for batch {seq} differs from the log's: the log was rewritten (or cut \
                             back and written again)"
                        ));
                    }
                }
                let seqs = entries.iter().map(|(s, _)| *s);
                match (seqs.clone().min(), seqs.max()) {
                    (Some(first), Some(last)) => Anchored::Entries { first, last },
                    _ => Anchored::Missing,
                }
            }
        };
        Ok(AuditSummary {
            batches: log.rows.len(),
            records,
            events,
            first,
            last,
            end,
            pruned,
            checkpoints: log.checkpoints.len(),
            checkpoints_verified,
            newest_checkpoint: log.checkpoints.last().map(|c| (c.seq, c.time)),
            anchor,
        })
    }

    /// Records at or after `since` (Unix seconds), optionally only those
    /// naming `key`, oldest first.
    pub fn records(&self, since: u64, key: Option<&str>) -> Result<Vec<serde_json::Value>> {
        self.flush()?;
        let mut out = Vec::new();
        for row in self.m.store.audit_log()?.rows {
            for l in row.body.lines() {
                let v: serde_json::Value = serde_json::from_str(l)
                    .map_err(|_| Error::AuditInvalid(format!("batch {}: a record is not JSON", row.seq)))?;
                if v["time"].as_u64().unwrap_or(0) < since {
                    continue;
                }
                if key.is_some_and(|k| !same_key(v["key"].as_str().unwrap_or(""), k)) {
                    continue;
                }
                out.push(v);
            }
        }
        Ok(out)
    }

    /// The stored batches all of whose records are before `until`, from
    /// the first stored one (a prefix: an export must be one piece of
    /// chain). Verifies the trail first.
    fn batches_before(&self, until: u64) -> Result<(crate::store::AuditLog, usize)> {
        self.verify()?;
        let log = self.m.store.audit_log()?;
        let n = log.rows.iter().take_while(|r| times(&r.body).1 < until).count();
        Ok((log, n))
    }

    /// Exports the batches before `until` (see `batches_before`) as JSON
    /// lines: per batch a header `{"batch":{"seq","prev","hash"}}` then its
    /// records verbatim, then a proof line. None when no batch qualifies.
    /// Once the export is safely stored, `audit_exported` lets pruning
    /// reach it.
    pub fn export(&self, until: u64) -> Result<Option<AuditExport>> {
        let (log, n) = self.batches_before(until)?;
        let rows = &log.rows[..n];
        let (Some(f), Some(l)) = (rows.first(), rows.last()) else { return Ok(None) };
        let mut text = String::new();
        let mut records = 0;
        for r in rows {
            let _ = writeln!(
                text,
                "{{\"batch\":{{\"seq\":{},\"prev\":\"{}\",\"hash\":\"{}\"}}}}",
                r.seq,
                hex(&r.prev),
                hex(&r.hash)
            );
            text.push_str(&r.body);
            records += r.body.lines().count();
        }
        let proof = ExportProof {
            first_seq: f.seq,
            last_seq: l.seq,
            prev_hash: f.prev.clone(),
            last_hash: l.hash.clone(),
            batches: rows.len(),
            records,
        };
        let _ = writeln!(
            text,
            "{}",
            serde_json::json!({"proof": {
                "first_seq": proof.first_seq, "last_seq": proof.last_seq,
                "prev_hash": hex(&proof.prev_hash), "last_hash": hex(&proof.last_hash),
                "batches": proof.batches, "records": proof.records,
            }})
        );
        Ok(Some(AuditExport { text, proof }))
    }

    /// Records that an export was stored (pruning stops at its last batch).
    pub fn exported(&self, proof: &ExportProof) -> Result<()> {
        self.m.store.mark_audit_exported(proof.last_seq, &proof.last_hash)
    }

    /// Deletes the stored batches before `until` that were exported, behind
    /// a base MACed with the session's token key (so a login is needed:
    /// pruning destroys evidence). With `export` (a verified export's
    /// proof), also no further than that export, whose last batch must be
    /// the log's: the store's own export mark is unkeyed. Returns the new
    /// base seq, None when nothing could go; the prune is itself audited.
    pub fn prune(&self, h: SessionHandle, until: u64, export: Option<&ExportProof>) -> Result<Option<i64>> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let key = a.key.as_deref().ok_or(Error::UserNotLoggedIn)?;
        let (log, n) = self.batches_before(until)?;
        let Some(mut upto) = n.checked_sub(1).map(|i| log.rows[i].seq) else { return Ok(None) };
        if let Some(p) = export {
            let base = log.base.as_ref().map_or(0, |b| b.seq);
            if p.last_seq <= base {
                return Ok(None);
            }
            match log.rows.iter().find(|r| r.seq == p.last_seq) {
                Some(r) if r.hash == p.last_hash => upto = upto.min(p.last_seq),
                Some(_) => return invalid(format!("the export's batch {} differs from the log's", p.last_seq)),
                None => {
                    return invalid(format!("the export ends at batch {}, which the log does not hold", p.last_seq))
                }
            }
        }
        let signer = AuditSigner { token_uid: a.token.uid, key, time: clock::now() };
        let r = self.m.store.prune_audit(upto, &signer);
        let detail = match &r {
            Ok(Some(seq)) => format!("batches up to {seq}"),
            _ => String::new(),
        };
        let logged = self
            .event(&super::audit::Record { detail: &detail, ..super::audit::Record::of(&a, "audit-prune") }.result(&r));
        let pruned = r?;
        logged?;
        Ok(pruned)
    }
}

/// Re-verifies an export offline: every batch's hash over its records
/// (SHA-256 of prev ‖ seq as 8 bytes big-endian ‖ the record lines, each
/// with its newline), the links from the proof's prev_hash, and the proof's
/// last seq and hash. Returns the proof.
pub fn verify_export(text: &str) -> Result<ExportProof> {
    let bad = |why: &str| Error::AuditInvalid(format!("export: {why}"));
    let hash_of = |v: &serde_json::Value| v.as_str().and_then(from_hex).ok_or_else(|| bad("a hash is not hex"));
    // (seq, prev, hash, body) per batch.
    let mut batches: Vec<(i64, Vec<u8>, Vec<u8>, String)> = Vec::new();
    let mut proof = None;
    for line in text.lines() {
        if proof.is_some() {
            return Err(bad("lines after the proof"));
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|_| bad("a line is not JSON"))?;
        if let Some(b) = v.get("batch") {
            let seq = b["seq"].as_i64().ok_or_else(|| bad("a batch without seq"))?;
            batches.push((seq, hash_of(&b["prev"])?, hash_of(&b["hash"])?, String::new()));
        } else if let Some(p) = v.get("proof") {
            proof = Some(p.clone());
        } else {
            let b = batches.last_mut().ok_or_else(|| bad("a record before the first batch"))?;
            b.3.push_str(line);
            b.3.push('\n');
        }
    }
    let p = proof.ok_or_else(|| bad("no proof line (cut short?)"))?;
    let first_seq = p["first_seq"].as_i64().ok_or_else(|| bad("proof without first_seq"))?;
    let last_seq = p["last_seq"].as_i64().ok_or_else(|| bad("proof without last_seq"))?;
    let prev_hash = hash_of(&p["prev_hash"])?;
    let last_hash = hash_of(&p["last_hash"])?;
    let mut prev = prev_hash.clone();
    let mut records = 0;
    for (i, (seq, bprev, hash, body)) in batches.iter().enumerate() {
        if *seq != first_seq + i as i64 || *bprev != prev {
            return Err(bad(&format!("batch {seq} is out of place")));
        }
        if audit_hash(&prev, *seq, body) != *hash {
            return Err(bad(&format!("batch {seq} was altered")));
        }
        records += body.lines().count();
        prev = hash.clone();
    }
    if batches.last().map(|b| b.0) != Some(last_seq) || prev != last_hash {
        return Err(bad("the batches do not end where the proof says"));
    }
    Ok(ExportProof { first_seq, last_seq, prev_hash, last_hash, batches: batches.len(), records })
}

/// Does a record's key (a hex key id, or a key ARN in the API server's
/// records) name the key `want` (hex id or UUID)?
fn same_key(recorded: &str, want: &str) -> bool {
    if recorded == want {
        return true;
    }
    let id = |s: &str| crate::token::keyid::uid_from_text(s.rsplit('/').next().unwrap_or(s));
    matches!((id(recorded), id(want)), (Some(a), Some(b)) if a == b)
}
