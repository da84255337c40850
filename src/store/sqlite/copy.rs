//! `Store::import` for SQLite: a copy's rows written as they are.

use rusqlite::{params, Transaction};

use super::super::copy::Dump;
use crate::error::{Error, Result};

pub(super) fn import_in(tx: &Transaction, d: &Dump) -> Result<()> {
    let used: i64 = tx.query_row(
        "SELECT (SELECT count(*) FROM tokens) + (SELECT count(*) FROM audit) + (SELECT count(*) FROM audit_head)",
        [],
        |r| r.get(0),
    )?;
    if used > 0 {
        return Err(Error::general("the destination store is not empty"));
    }
    for t in &d.tokens {
        let r = &t.token;
        let user = r.user_pin.as_ref();
        tx.execute(
            "INSERT INTO tokens (slot_id, uid, label, serial, so_salt, so_wrapped, so_kdf, user_salt, user_wrapped, \
             user_kdf, so_fail, user_fail, objects_digest, objects_count, digest_tag) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                r.slot_id as i64,
                &r.uid[..],
                &r.label[..],
                &r.serial[..],
                r.so_pin.salt,
                r.so_pin.wrapped,
                r.so_pin.kdf.to_text(),
                user.map(|p| &p.salt),
                user.map(|p| &p.wrapped),
                user.map(|p| p.kdf.to_text()),
                r.so_fail,
                r.user_fail,
                r.digest.as_ref().map(|d| d.acc.to_vec()),
                r.digest.as_ref().map(|d| d.count as i64),
                r.digest.as_ref().and_then(|d| d.tag.map(|t| t.to_vec())),
            ],
        )?;
        let token = tx.last_insert_rowid();
        for o in &t.objects {
            tx.execute(
                "INSERT INTO objects (token_id, uid, private, version, tag) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token, &o.uid[..], o.private, o.version as i64, o.tag.as_ref().map(|t| &t[..])],
            )?;
            super::insert_rows(tx, tx.last_insert_rowid(), &o.rows)?;
        }
    }
    let a = &d.audit;
    for r in &a.rows {
        tx.execute(
            "INSERT INTO audit (seq, body, prev, hash) VALUES (?1, ?2, ?3, ?4)",
            params![r.seq, r.body, r.prev, r.hash],
        )?;
    }
    if let Some((seq, hash)) = &a.head {
        tx.execute("INSERT INTO audit_head (one, seq, hash) VALUES (1, ?1, ?2)", params![seq, hash])?;
    }
    for m in &a.checkpoints {
        tx.execute(
            "INSERT INTO audit_checkpoint (seq, hash, time, token_uid, mac) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![m.seq, m.hash, m.time as i64, m.token_uid, m.mac],
        )?;
    }
    if let Some(m) = &a.base {
        tx.execute(
            "INSERT INTO audit_base (one, seq, hash, time, token_uid, mac) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            params![m.seq, m.hash, m.time as i64, m.token_uid, m.mac],
        )?;
    }
    if let Some((seq, hash)) = &a.exported {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        tx.execute(
            "INSERT INTO audit_exported (one, seq, hash, time) VALUES (1, ?1, ?2, ?3)",
            params![seq, hash, now as i64],
        )?;
    }
    Ok(())
}
