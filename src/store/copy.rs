//! `ferrohsm store copy`: every row of one store (SQLite or PostgreSQL)
//! written into another, empty one, then read back and compared object by
//! object. Only bytes move: sealed values stay sealed (their AAD binds the
//! token's and the object's unique ids, not row numbers), tags and digests
//! stay valid, and the audit chain with its checkpoints, base and export
//! mark is copied as it is.

use super::{AuditLog, Store, StoredObject, TokenRecord};
use crate::error::{Error, Result};

/// One token with its objects (each row with its index entry).
pub struct TokenDump {
    pub token: TokenRecord,
    pub objects: Vec<StoredObject>,
}

/// Everything a store holds.
pub struct Dump {
    pub tokens: Vec<TokenDump>,
    pub audit: AuditLog,
}

/// Reads every token, object and audit batch of `s`. Copy a store that no
/// process is writing: the reads are several transactions.
pub fn dump(s: &dyn Store) -> Result<Dump> {
    let mut tokens = Vec::new();
    for token in s.tokens()? {
        let mut objects = Vec::new();
        for id in s.all_objects(token.token_id)? {
            let Some(mut obj) = s.load_object(token.token_id, id)? else { continue };
            let index = s.object_index(id)?;
            for row in &mut obj.rows {
                row.idx = match index.iter().find(|(t, _)| *t == row.atype) {
                    Some((_, Some(i))) => Some(
                        i.as_slice()
                            .try_into()
                            .map_err(|_| Error::general(format!("object {id}: a malformed index entry")))?,
                    ),
                    _ => None,
                };
            }
            objects.push(obj);
        }
        tokens.push(TokenDump { token, objects });
    }
    Ok(Dump { tokens, audit: s.audit_log()? })
}

/// What `verify` counted.
pub struct Counts {
    pub tokens: usize,
    pub objects: usize,
    pub batches: usize,
}

/// Compares a copy with what was copied: every token record, every object
/// (found by its unique id: row numbers differ) with all its rows and
/// index entries, and the whole audit trail.
pub fn verify(from: &Dump, to: &dyn Store) -> Result<Counts> {
    let copied = dump(to)?;
    let bad = |what: String| Err(Error::general(format!("the copy differs: {what}")));
    if copied.tokens.len() != from.tokens.len() {
        return bad(format!("{} tokens, not {}", copied.tokens.len(), from.tokens.len()));
    }
    let mut objects = 0;
    for (a, b) in from.tokens.iter().zip(&copied.tokens) {
        let (x, y) = (&a.token, &b.token);
        let same = x.slot_id == y.slot_id
            && x.uid == y.uid
            && x.label == y.label
            && x.serial == y.serial
            && pin_eq(&x.so_pin, &y.so_pin)
            && match (&x.user_pin, &y.user_pin) {
                (Some(p), Some(q)) => pin_eq(p, q),
                (None, None) => true,
                _ => false,
            }
            && x.so_fail == y.so_fail
            && x.user_fail == y.user_fail
            && digest_eq(&x.digest, &y.digest);
        if !same {
            return bad(format!("the token in slot {}", x.slot_id));
        }
        if a.objects.len() != b.objects.len() {
            return bad(format!("slot {}: {} objects, not {}", x.slot_id, b.objects.len(), a.objects.len()));
        }
        for o in &a.objects {
            let Some(c) = b.objects.iter().find(|c| c.uid == o.uid) else {
                return bad(format!("object {} is missing", crate::hex::hex(&o.uid)));
            };
            if !object_eq(o, c) {
                return bad(format!("object {}", crate::hex::hex(&o.uid)));
            }
            objects += 1;
        }
    }
    let (p, q) = (&from.audit, &copied.audit);
    let rows_eq = p.rows.len() == q.rows.len()
        && p.rows
            .iter()
            .zip(&q.rows)
            .all(|(r, s)| r.seq == s.seq && r.body == s.body && r.prev == s.prev && r.hash == s.hash);
    let marks_eq = |a: &[super::AuditMark], b: &[super::AuditMark]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(m, n)| {
                m.seq == n.seq && m.hash == n.hash && m.time == n.time && m.token_uid == n.token_uid && m.mac == n.mac
            })
    };
    if !rows_eq
        || p.head != q.head
        || p.exported != q.exported
        || !marks_eq(&p.checkpoints, &q.checkpoints)
        || !marks_eq(p.base.as_slice(), q.base.as_slice())
    {
        return bad("the audit trail".into());
    }
    Ok(Counts { tokens: from.tokens.len(), objects, batches: p.rows.len() })
}

fn pin_eq(a: &super::PinRecord, b: &super::PinRecord) -> bool {
    a.salt == b.salt && a.wrapped == b.wrapped && a.kdf.to_text() == b.kdf.to_text()
}

fn digest_eq(a: &Option<super::SetDigest>, b: &Option<super::SetDigest>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.acc == y.acc && x.count == y.count && x.tag == y.tag,
        (None, None) => true,
        _ => false,
    }
}

fn object_eq(a: &StoredObject, b: &StoredObject) -> bool {
    let key = |o: &StoredObject| {
        let mut rows: Vec<_> = o.rows.iter().map(|r| (r.atype, r.sealed, r.value.clone(), r.idx)).collect();
        rows.sort_by_key(|r| r.0);
        rows
    };
    a.uid == b.uid && a.private == b.private && a.version == b.version && a.tag == b.tag && key(a) == key(b)
}
