//! The audit tables on PostgreSQL: the same chain, head, checkpoints,
//! pruned base and export mark as the SQLite store's (`sqlite/audit.rs`),
//! each function run inside a write transaction that holds the
//! generation-row lock (so the head is read and moved by one writer at a
//! time across every host).

use postgres::GenericClient;

use super::super::{audit_hash, AuditLog, AuditMark, AuditRow, AuditSigner, BASE_DOMAIN, CHECKPOINT_DOMAIN};
use super::pool::Db;
use crate::error::{Error, Result};

type Tx<'a, 'b> = Db<'a, postgres::Transaction<'b>>;

/// Appends one batch to the chain; returns its seq and hash.
pub(super) fn append_in(tx: &mut Tx, body: &str) -> Result<(i64, Vec<u8>)> {
    let head = tx.opt("SELECT seq, hash FROM audit_head WHERE one = 1", &[])?;
    let (seq, prev): (i64, Vec<u8>) = match head {
        Some(r) => (r.get::<_, i64>(0) + 1, r.get(1)),
        None => (1, vec![0u8; 32]),
    };
    let hash = audit_hash(&prev, seq, body);
    // The batch and the new head in one statement (one round trip).
    tx.exec(
        "WITH a AS (INSERT INTO audit (seq, body, prev, hash) VALUES ($1, $3, $4, $2))
         INSERT INTO audit_head (one, seq, hash) VALUES (1, $1, $2)
         ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        &[&seq, &hash, &body, &prev],
    )?;
    Ok((seq, hash))
}

/// Stores a checkpoint; one already there for that seq stays (the
/// evidence of a chain cut back and written again).
pub(super) fn checkpoint_in(tx: &mut Tx, m: &AuditMark) -> Result<()> {
    tx.exec(
        "INSERT INTO audit_checkpoint (seq, hash, time, token_uid, mac) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (seq) DO NOTHING",
        &[&m.seq, &m.hash, &(m.time as i64), &m.token_uid, &m.mac],
    )?;
    Ok(())
}

/// A checkpoint of the head, if the head has none yet.
pub(super) fn checkpoint_head_in(tx: &mut Tx, signer: &AuditSigner) -> Result<()> {
    let head = tx.opt(
        "SELECT seq, hash FROM audit_head WHERE one = 1
         AND NOT EXISTS (SELECT 1 FROM audit_checkpoint c WHERE c.seq = audit_head.seq)",
        &[],
    )?;
    match head {
        Some(r) => {
            let (seq, hash): (i64, Vec<u8>) = (r.get(0), r.get(1));
            checkpoint_in(tx, &signer.mark(CHECKPOINT_DOMAIN, seq, &hash))
        }
        None => Ok(()),
    }
}

fn mark_of(r: &postgres::Row) -> AuditMark {
    AuditMark {
        seq: r.get(0),
        hash: r.get(1),
        time: r.get::<_, i64>(2).max(0) as u64,
        token_uid: r.get(3),
        mac: r.get(4),
    }
}

/// Everything about the trail from one snapshot (the caller's
/// REPEATABLE READ transaction).
pub(super) fn log_in<C: GenericClient>(tx: &mut Db<C>) -> Result<AuditLog> {
    let rows = tx
        .query("SELECT seq, body, prev, hash FROM audit ORDER BY seq", &[])?
        .iter()
        .map(|r| AuditRow { seq: r.get(0), body: r.get(1), prev: r.get(2), hash: r.get(3) })
        .collect();
    let head = tx.opt("SELECT seq, hash FROM audit_head WHERE one = 1", &[])?.map(|r| (r.get(0), r.get(1)));
    let base =
        tx.opt("SELECT seq, hash, time, token_uid, mac FROM audit_base WHERE one = 1", &[])?.map(|r| mark_of(&r));
    let checkpoints = tx
        .query("SELECT seq, hash, time, token_uid, mac FROM audit_checkpoint ORDER BY seq", &[])?
        .iter()
        .map(mark_of)
        .collect();
    let exported = tx.opt("SELECT seq, hash FROM audit_exported WHERE one = 1", &[])?.map(|r| (r.get(0), r.get(1)));
    Ok(AuditLog { rows, head, base, checkpoints, exported })
}

pub(super) fn mark_exported_in(tx: &mut Tx, seq: i64, hash: &[u8]) -> Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    tx.exec(
        "INSERT INTO audit_exported (one, seq, hash, time) VALUES (1, $1, $2, $3)
         ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, time = excluded.time
         WHERE excluded.seq > audit_exported.seq",
        &[&seq, &hash, &(now as i64)],
    )?;
    Ok(())
}

/// Deletes batches up to `upto`, never past the export mark, and makes the
/// last one deleted the base (as `sqlite::audit::prune_in`).
pub(super) fn prune_in(tx: &mut Tx, upto: i64, signer: &AuditSigner) -> Result<Option<i64>> {
    let Some(r) = tx.opt("SELECT seq, hash FROM audit_exported WHERE one = 1", &[])? else { return Ok(None) };
    let (exp_seq, exp_hash): (i64, Vec<u8>) = (r.get(0), r.get(1));
    let base: i64 = tx.one("SELECT coalesce(max(seq), 0)::BIGINT FROM audit_base", &[])?.get(0);
    let n = upto.min(exp_seq);
    if n <= base {
        return Ok(None);
    }
    let hash: Vec<u8> = tx
        .opt("SELECT hash FROM audit WHERE seq = $1", &[&n])?
        .map(|r| r.get(0))
        .ok_or_else(|| Error::AuditInvalid(format!("batch {n} is missing")))?;
    if n == exp_seq && hash != exp_hash {
        return Err(Error::AuditInvalid(format!("batch {n} differs from the exported one")));
    }
    tx.exec("DELETE FROM audit WHERE seq <= $1", &[&n])?;
    tx.exec("DELETE FROM audit_checkpoint WHERE seq < $1", &[&n])?;
    let m = signer.mark(BASE_DOMAIN, n, &hash);
    tx.exec(
        "INSERT INTO audit_base (one, seq, hash, time, token_uid, mac) VALUES (1, $1, $2, $3, $4, $5)
         ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, time = excluded.time,
         token_uid = excluded.token_uid, mac = excluded.mac",
        &[&m.seq, &m.hash, &(m.time as i64), &m.token_uid, &m.mac],
    )?;
    Ok(Some(n))
}
