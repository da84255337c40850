//! `Store::import` for PostgreSQL: a copy's rows written as they are.

use super::super::copy::Dump;
use super::Tx;
use crate::error::{Error, Result};

pub(super) fn import_in(tx: &mut Tx, d: &Dump) -> Result<()> {
    let used: i64 = tx
        .one(
            "SELECT (SELECT count(*) FROM tokens) + (SELECT count(*) FROM audit) + (SELECT count(*) FROM audit_head)",
            &[],
        )?
        .get(0);
    if used > 0 {
        return Err(Error::general("the destination store is not empty"));
    }
    for t in &d.tokens {
        let r = &t.token;
        let user = r.user_pin.as_ref();
        let token: i64 = tx
            .one(
                "INSERT INTO tokens (slot_id, uid, label, serial, so_salt, so_wrapped, so_kdf, user_salt, user_wrapped, \
                 user_kdf, so_fail, user_fail, objects_digest, objects_count, digest_tag) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING token_id",
                &[
                    &(r.slot_id as i64),
                    &&r.uid[..],
                    &&r.label[..],
                    &&r.serial[..],
                    &r.so_pin.salt,
                    &r.so_pin.wrapped,
                    &r.so_pin.kdf.to_text(),
                    &user.map(|p| &p.salt),
                    &user.map(|p| &p.wrapped),
                    &user.map(|p| p.kdf.to_text()),
                    &i64::from(r.so_fail),
                    &i64::from(r.user_fail),
                    &r.digest.as_ref().map(|d| d.acc.to_vec()),
                    &r.digest.as_ref().map(|d| d.count as i64),
                    &r.digest.as_ref().and_then(|d| d.tag.map(|t| t.to_vec())),
                ],
            )?
            .get(0);
        for o in &t.objects {
            super::insert_object_in(tx, token, o)?;
        }
    }
    let a = &d.audit;
    for r in &a.rows {
        tx.exec(
            "INSERT INTO audit (seq, body, prev, hash) VALUES ($1, $2, $3, $4)",
            &[&r.seq, &r.body, &r.prev, &r.hash],
        )?;
    }
    if let Some((seq, hash)) = &a.head {
        tx.exec("INSERT INTO audit_head (one, seq, hash) VALUES (1, $1, $2)", &[seq, hash])?;
    }
    for m in &a.checkpoints {
        tx.exec(
            "INSERT INTO audit_checkpoint (seq, hash, time, token_uid, mac) VALUES ($1, $2, $3, $4, $5)",
            &[&m.seq, &m.hash, &(m.time as i64), &m.token_uid, &m.mac],
        )?;
    }
    if let Some(m) = &a.base {
        tx.exec(
            "INSERT INTO audit_base (one, seq, hash, time, token_uid, mac) VALUES (1, $1, $2, $3, $4, $5)",
            &[&m.seq, &m.hash, &(m.time as i64), &m.token_uid, &m.mac],
        )?;
    }
    if let Some((seq, hash)) = &a.exported {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        tx.exec(
            "INSERT INTO audit_exported (one, seq, hash, time) VALUES (1, $1, $2, $3)",
            &[seq, hash, &(now as i64)],
        )?;
    }
    Ok(())
}
