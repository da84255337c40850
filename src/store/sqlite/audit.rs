//! The audit tables of the SQLite store: the chain and its head (v4), and
//! checkpoints, the pruned base and the export mark (v7).

use rusqlite::{params, OptionalExtension, Transaction};

use super::super::{audit_hash, AuditLog, AuditMark, AuditRow, AuditSigner, BASE_DOMAIN, CHECKPOINT_DOMAIN};
use crate::error::{Error, Result};

/// Appends one batch to the chain inside a write transaction; returns its
/// seq and hash.
pub(super) fn append_in(tx: &Transaction, body: &str) -> Result<(i64, Vec<u8>)> {
    // Cached statements: this runs inside every audited write.
    let head: Option<(i64, Vec<u8>)> = tx
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE one = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, h),
        None => (1, vec![0u8; 32]),
    };
    let hash = audit_hash(&prev, seq, body);
    tx.prepare_cached("INSERT INTO audit (seq, body, prev, hash) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![seq, body, prev, hash])?;
    tx.prepare_cached(
        "INSERT INTO audit_head (one, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT(one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?
    .execute(params![seq, hash])?;
    Ok((seq, hash))
}

/// Stores a checkpoint. One already there for that seq stays: it can only
/// be there if the chain was cut back and written again, and it is the
/// evidence of that (verify finds it disagreeing with the chain).
pub(super) fn checkpoint_in(tx: &Transaction, m: &AuditMark) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO audit_checkpoint (seq, hash, time, token_uid, mac) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![m.seq, m.hash, m.time as i64, m.token_uid, m.mac])?;
    Ok(())
}

/// A checkpoint of the head, if the head has none yet.
pub(super) fn checkpoint_head_in(tx: &Transaction, signer: &AuditSigner) -> Result<()> {
    let head: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT seq, hash FROM audit_head WHERE one = 1
             AND NOT EXISTS (SELECT 1 FROM audit_checkpoint c WHERE c.seq = audit_head.seq)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match head {
        Some((seq, hash)) => checkpoint_in(tx, &signer.mark(CHECKPOINT_DOMAIN, seq, &hash)),
        None => Ok(()),
    }
}

fn mark_of(r: &rusqlite::Row) -> rusqlite::Result<AuditMark> {
    Ok(AuditMark {
        seq: r.get(0)?,
        hash: r.get(1)?,
        time: r.get::<_, i64>(2)?.max(0) as u64,
        token_uid: r.get(3)?,
        mac: r.get(4)?,
    })
}

/// Everything about the trail, in one read transaction (one snapshot).
pub(super) fn log_in(tx: &Transaction) -> Result<AuditLog> {
    let rows = tx
        .prepare("SELECT seq, body, prev, hash FROM audit ORDER BY seq")?
        .query_map([], |r| Ok(AuditRow { seq: r.get(0)?, body: r.get(1)?, prev: r.get(2)?, hash: r.get(3)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let head = tx
        .query_row("SELECT seq, hash FROM audit_head WHERE one = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let base =
        tx.query_row("SELECT seq, hash, time, token_uid, mac FROM audit_base WHERE one = 1", [], mark_of).optional()?;
    let checkpoints = tx
        .prepare("SELECT seq, hash, time, token_uid, mac FROM audit_checkpoint ORDER BY seq")?
        .query_map([], mark_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let exported = tx
        .query_row("SELECT seq, hash FROM audit_exported WHERE one = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(AuditLog { rows, head, base, checkpoints, exported })
}

pub(super) fn mark_exported_in(tx: &Transaction, seq: i64, hash: &[u8]) -> Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    tx.execute(
        "INSERT INTO audit_exported (one, seq, hash, time) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT(one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, time = excluded.time
         WHERE excluded.seq > audit_exported.seq",
        params![seq, hash, now as i64],
    )?;
    Ok(())
}

/// Deletes batches up to `upto`, never past the export mark, and makes the
/// last one deleted the base. The batch at the mark must still have the
/// exported hash: else what was exported is not what is deleted.
pub(super) fn prune_in(tx: &Transaction, upto: i64, signer: &AuditSigner) -> Result<Option<i64>> {
    let exported: Option<(i64, Vec<u8>)> = tx
        .query_row("SELECT seq, hash FROM audit_exported WHERE one = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((exp_seq, exp_hash)) = exported else { return Ok(None) };
    let base: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM audit_base", [], |r| r.get(0))?;
    let n = upto.min(exp_seq);
    if n <= base {
        return Ok(None);
    }
    let hash: Vec<u8> = tx
        .query_row("SELECT hash FROM audit WHERE seq = ?1", [n], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::AuditInvalid(format!("batch {n} is missing")))?;
    if n == exp_seq && hash != exp_hash {
        return Err(Error::AuditInvalid(format!("batch {n} differs from the exported one")));
    }
    tx.execute("DELETE FROM audit WHERE seq <= ?1", [n])?;
    tx.execute("DELETE FROM audit_checkpoint WHERE seq < ?1", [n])?;
    let m = signer.mark(BASE_DOMAIN, n, &hash);
    tx.execute(
        "INSERT OR REPLACE INTO audit_base (one, seq, hash, time, token_uid, mac) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![m.seq, m.hash, m.time as i64, m.token_uid, m.mac],
    )?;
    Ok(Some(n))
}
