//! Each token's object-set digest (`seal::SetDigest`), kept inside the
//! object writes' transactions.

use rusqlite::{params, OptionalExtension};

use super::super::{ObjectId, SetDigest, StoredObject, TokenId, Uid, Writer};
use crate::error::{Error, Result};

/// A stored digest; malformed parts make it one whose tag fails.
pub(in crate::store) fn digest_from(
    acc: Option<Vec<u8>>,
    count: Option<i64>,
    tag: Option<Vec<u8>>,
) -> Option<SetDigest> {
    let (acc, count) = (acc?, count?);
    Some(SetDigest {
        acc: acc.try_into().unwrap_or([0xff; 32]),
        count: count as u64,
        tag: tag.map(|t| t.try_into().unwrap_or([0u8; crate::store::seal::TAG_LEN])),
    })
}

pub(super) fn write_digest(tx: &rusqlite::Transaction, token: TokenId, d: &SetDigest) -> Result<()> {
    tx.prepare_cached(
        "UPDATE tokens SET objects_digest = ?1, objects_count = ?2, digest_tag = ?3 WHERE token_id = ?4",
    )?
    .execute(params![&d.acc[..], d.count as i64, d.tag.as_ref().map(|t| &t[..]), token])?;
    Ok(())
}

/// Applies object changes to a token's digest inside a write (`updated`).
pub(super) fn update_digest(
    tx: &rusqlite::Transaction,
    token: TokenId,
    w: Writer,
    remove: &[[u8; 32]],
    add: &[[u8; 32]],
) -> Result<()> {
    let d = tx
        .prepare_cached("SELECT objects_digest, objects_count, digest_tag FROM tokens WHERE token_id = ?1")?
        .query_row([token], |r| Ok(digest_from(r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .ok_or(Error::TokenNotRecognized)?;
    write_digest(tx, token, &updated(&w, d, remove, add)?)
}

/// A token's digest as stored (`digest_from`), after object changes: it
/// must pass its tag first (else the write fails: an edited digest is
/// never re-tagged), then it is updated and tagged again. Both stores'
/// writes go through it.
pub(in crate::store) fn updated(
    w: &Writer,
    stored: Option<SetDigest>,
    remove: &[[u8; 32]],
    add: &[[u8; 32]],
) -> Result<SetDigest> {
    let mut d = match stored {
        Some(d) if w.key.set_digest_ok(w.token_uid, &d) => d,
        _ => return Err(Error::general("the token's object digest failed authentication (tampered store?)")),
    };
    remove.iter().for_each(|m| d.remove(m));
    add.iter().for_each(|m| d.add(m));
    w.key.sign_set_digest(w.token_uid, &mut d);
    Ok(d)
}

/// The digest share of a stored object as it is now in the store (None:
/// gone, or without a tag and so not in the digest).
pub(super) fn member_in(tx: &rusqlite::Transaction, token: TokenId, id: ObjectId) -> Result<Option<[u8; 32]>> {
    let row: Option<(Vec<u8>, i64, Option<Vec<u8>>)> = tx
        .prepare_cached("SELECT uid, version, tag FROM objects WHERE obj_id = ?1 AND token_id = ?2")?
        .query_row(params![id, token], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(row.and_then(|(uid, version, tag)| {
        let uid: Uid = uid.try_into().ok()?;
        let tag: crate::store::seal::Tag = tag?.try_into().ok()?;
        Some(crate::store::seal::member_hash(&uid, version as u64, &tag))
    }))
}

/// The digest share of an object about to be written.
pub(in crate::store) fn member_of(obj: &StoredObject) -> Vec<[u8; 32]> {
    obj.tag.iter().map(|t| crate::store::seal::member_hash(&obj.uid, obj.version, t)).collect()
}
