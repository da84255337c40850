//! Object ⇄ stored rows. Decides per attribute what is sealed and what is
//! indexed; the cryptography itself is in `seal`.

use cryptoki_sys as ck;

use super::seal::{public_index, Idx, Tag, TokenKey, Uid};
use super::{ObjectId, Row, StoredObject};
use crate::error::{Error, Result};
use crate::hex::hex;
use crate::model::{policy, AttrType, Kind, Object, Template, Value};

/// Values longer than this are not indexed (find falls back to comparing).
const MAX_INDEXED: usize = 1024;

/// The token identity and, once someone is logged in, its key.
#[derive(Clone, Copy)]
pub struct Sealer<'a> {
    pub token_uid: &'a Uid,
    pub key: Option<&'a TokenKey>,
}

/// Flags are not indexed: each would cost every new object a page of the
/// index (all objects with SIGN=true share one spot), and a find by flags
/// alone is rare. CKA_TOKEN and CKA_PRIVATE are known without one (see
/// `find`); other flags are compared on the candidates.
fn indexable(atype: AttrType, encoded_len: usize) -> bool {
    let kind = policy::kind_of(atype);
    kind != Kind::Template && kind != Kind::Bool && encoded_len <= MAX_INDEXED
}

/// Seals and authenticates an object for storage, as the version after
/// the one it was read at. Every attribute of a private object and every
/// secret key component is sealed (`policy::sealed_at_rest`), and the whole
/// object is tagged under the token key, public objects too: storing a
/// token object needs a login (CKR_USER_NOT_LOGGED_IN without one).
pub fn encode(s: Sealer, id: ObjectId, uid: &Uid, obj: &Object) -> Result<StoredObject> {
    let key = s.key.ok_or(Error::UserNotLoggedIn)?;
    let private = obj.is_private();
    let bit = obj.class_bit();
    let mut rows = Vec::with_capacity(obj.attrs.len());
    for (&atype, value) in &obj.attrs {
        if atype == ck::CKA_UNIQUE_ID {
            continue; // derived from the object's uid
        }
        let plain = value.encode();
        let idx = index_entry(key, bit, private, atype, &plain);
        let (sealed, stored) = if policy::sealed_at_rest(bit, private, atype) {
            (true, key.seal(s.token_uid, uid, atype, &plain)?)
        } else {
            (false, plain.to_vec())
        };
        rows.push(Row { atype, sealed, value: stored, idx });
    }
    let mut stored = StoredObject { id, uid: *uid, private, version: obj.version + 1, tag: None, rows };
    stored.tag = Some(key.object_tag(s.token_uid, &stored));
    Ok(stored)
}

/// The find-index entry stored with an attribute: none for a secret part
/// or an attribute not indexed; a MAC under the token key for a private
/// object's; a plain hash for a public object's.
fn index_entry(key: &TokenKey, bit: u8, private: bool, atype: AttrType, plain: &[u8]) -> Option<Idx> {
    if policy::is_secret_part(bit, atype) || !indexable(atype, plain.len()) {
        return None;
    }
    Some(if private { key.index(atype, plain) } else { public_index(atype, plain) })
}

/// Checks an opened object's stored find-index entries against the ones
/// its attributes make: the attribute types whose entry is wrong, missing
/// or extra. (A find compares every candidate in full, so a wrong entry
/// can only hide an object from a find, never name another; this finds it.)
pub fn index_mismatches(key: &TokenKey, obj: &Object, stored: &[(AttrType, Option<Vec<u8>>)]) -> Vec<AttrType> {
    let private = obj.is_private();
    let bit = obj.class_bit();
    let mut bad: Vec<AttrType> = stored
        .iter()
        .filter(|(atype, idx)| {
            let want = obj.attrs.get(atype).and_then(|v| index_entry(key, bit, private, *atype, &v.encode()));
            want.as_ref().map(|w| &w[..]) != idx.as_deref()
        })
        .map(|(atype, _)| *atype)
        .collect();
    bad.sort_unstable();
    bad
}

/// Why a stored object is refused, logged with the object named.
fn corrupt(stored: &StoredObject, why: &str) -> Error {
    Error::general(format!("object {} failed authentication: {why} (tampered store?)", hex(&stored.uid)))
}

/// Opens a stored object. With the token key, its tag is checked first and
/// nothing of an object that fails is used. Without it (a public object
/// read before login) the tag cannot be checked: the object comes back
/// `unverified` (readable, not usable) and its sealed secret parts
/// `locked`. Either way every row must be sealed exactly as the policy
/// table says for its class and CKA_PRIVATE, and the object must be
/// complete for its class (`policy::check_complete`).
pub fn decode(s: Sealer, stored: &StoredObject) -> Result<Object> {
    if stored.private && s.key.is_none() {
        return Err(Error::ObjectHandleInvalid);
    }
    if let Some(k) = s.key {
        match &stored.tag {
            Some(tag) if k.object_tag_ok(s.token_uid, stored, tag) => {}
            Some(_) => return Err(corrupt(stored, "its tag does not match")),
            None => return Err(corrupt(stored, "it has no tag")),
        }
    }
    // The class first: it decides what must be sealed. It is sealed
    // exactly when the object is private.
    let class_row =
        stored.rows.iter().find(|r| r.atype == ck::CKA_CLASS).ok_or_else(|| corrupt(stored, "no CKA_CLASS"))?;
    if class_row.sealed != stored.private {
        return Err(corrupt(stored, "CKA_CLASS sealed against the policy"));
    }
    let mut obj = Object { version: stored.version, unverified: s.key.is_none(), ..Object::default() };
    let class_plain = open_row(s, stored, class_row)?.ok_or_else(|| corrupt(stored, "CKA_CLASS unreadable"))?;
    let class = decode_value(Kind::Ulong, &class_plain)?;
    let bit = class.as_ulong().and_then(policy::class_bit).ok_or_else(|| corrupt(stored, "unknown class"))?;
    obj.set(ck::CKA_CLASS, class);
    for row in &stored.rows {
        if row.sealed != policy::sealed_at_rest(bit, stored.private, row.atype) {
            return Err(corrupt(stored, &format!("attribute {:#x} sealed against the policy", row.atype)));
        }
        if row.atype == ck::CKA_CLASS {
            continue; // opened above
        }
        match open_row(s, stored, row)? {
            Some(plain) => obj.set(row.atype, decode_value(policy::kind_of(row.atype), &plain)?),
            None => {
                obj.locked.insert(row.atype);
            }
        }
    }
    if obj.is_private() != stored.private {
        return Err(corrupt(stored, "CKA_PRIVATE disagrees with the object"));
    }
    let has = |t| obj.attrs.contains_key(&t) || obj.locked.contains(&t);
    if let Err(t) = policy::check_complete(bit, &has, &mut stored.rows.iter().map(|r| r.atype)) {
        return Err(corrupt(stored, &format!("attribute {t:#x} missing or not allowed for its class")));
    }
    obj.set(ck::CKA_UNIQUE_ID, Value::bytes(hex(&stored.uid).into_bytes()));
    Ok(obj)
}

/// A row's plaintext; None for a sealed row without the token key.
fn open_row(s: Sealer, stored: &StoredObject, row: &Row) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    if !row.sealed {
        return Ok(Some(zeroize::Zeroizing::new(row.value.clone())));
    }
    match s.key {
        Some(k) => Ok(Some(k.open(s.token_uid, &stored.uid, row.atype, &row.value)?)),
        None => Ok(None),
    }
}

/// Authenticates an object of a store from before format 6 (no tag) as it
/// stands, once, at the first login after the upgrade: its rows must be
/// sealed as the policy table says and it must be complete, or it stays
/// untagged (unusable, logged). Returns the version and tag to store
/// (`Store::tag_object`).
pub fn authenticate_legacy(s: Sealer, stored: &StoredObject) -> Result<(u64, Tag)> {
    let key = s.key.ok_or(Error::UserNotLoggedIn)?;
    if stored.tag.is_some() {
        return Err(corrupt(stored, "already has a tag"));
    }
    let mut tagged = StoredObject {
        id: stored.id,
        uid: stored.uid,
        private: stored.private,
        version: 1,
        tag: None,
        rows: Vec::new(),
    };
    tagged.rows = stored
        .rows
        .iter()
        .map(|r| Row { atype: r.atype, sealed: r.sealed, value: r.value.clone(), idx: None })
        .collect();
    tagged.tag = Some(key.object_tag(s.token_uid, &tagged));
    // The same checks as any read: a row unsealed against the policy, a
    // missing flag, a sealed value that does not open — refused.
    decode(s, &tagged)?;
    Ok((tagged.version, tagged.tag.unwrap_or_default()))
}

fn decode_value(kind: Kind, raw: &[u8]) -> Result<Value> {
    Value::decode(kind, raw).map_err(|_| Error::general("stored attribute value is malformed"))
}

/// Index filters for C_FindObjectsInit: one per indexable template
/// attribute, matching both public and (when logged in) private entries —
/// the public one first, as `Store::find` expects.
pub fn find_filters(s: Sealer, tmpl: &Template) -> Vec<(AttrType, Vec<Idx>)> {
    tmpl.iter()
        .filter(|a| !policy::has_flag(a.atype, policy::flag::SECRET_PART))
        // Derived from the object's uid, not stored as an indexed row.
        .filter(|a| a.atype != ck::CKA_UNIQUE_ID)
        .filter_map(|a| {
            let plain = a.value.encode();
            if !indexable(a.atype, plain.len()) || policy::rule(a.atype).is_none() {
                return None;
            }
            let mut idxs = vec![public_index(a.atype, &plain)];
            if let Some(k) = s.key {
                idxs.push(k.index(a.atype, &plain));
            }
            Some((a.atype, idxs))
        })
        .collect()
}
