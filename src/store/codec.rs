//! Object ⇄ stored rows. Decides per attribute what is sealed and what is
//! indexed; the cryptography itself is in `seal`.

use cryptoki_sys as ck;

use super::seal::{hex, public_index, Idx, TokenKey, Uid};
use super::{ObjectId, Row, StoredObject};
use crate::error::{Error, Result};
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

/// Seals an object for storage. Every attribute of a private object and every
/// secret key component is sealed; that needs the token key, so without a
/// login it fails with CKR_USER_NOT_LOGGED_IN.
pub fn encode(s: Sealer, id: ObjectId, uid: &Uid, obj: &Object) -> Result<StoredObject> {
    let private = obj.is_private();
    let bit = obj.class_bit();
    let mut rows = Vec::with_capacity(obj.attrs.len());
    for (&atype, value) in &obj.attrs {
        if atype == ck::CKA_UNIQUE_ID {
            continue; // derived from the object's uid
        }
        let plain = value.encode();
        let secret = policy::is_secret_part(bit, atype);
        let idx = match (secret || !indexable(atype, plain.len()), private) {
            (true, _) => None,
            (false, true) => Some(s.key.ok_or(Error::UserNotLoggedIn)?.index(atype, &plain)),
            (false, false) => Some(public_index(atype, &plain)),
        };
        let (sealed, stored) = if private || secret {
            let key = s.key.ok_or(Error::UserNotLoggedIn)?;
            (true, key.seal(s.token_uid, uid, atype, &plain)?)
        } else {
            (false, plain.to_vec())
        };
        rows.push(Row { atype, sealed, value: stored, idx });
    }
    Ok(StoredObject { id, uid: *uid, private, rows })
}

/// Opens a stored object. Sealed secret parts of a public object that
/// cannot be opened without a login are marked `locked`.
pub fn decode(s: Sealer, stored: &StoredObject) -> Result<Object> {
    if stored.private && s.key.is_none() {
        return Err(Error::ObjectHandleInvalid);
    }
    let mut obj = Object::default();
    for row in &stored.rows {
        let kind = policy::kind_of(row.atype);
        if row.sealed {
            match s.key {
                Some(k) => {
                    let plain = k.open(s.token_uid, &stored.uid, row.atype, &row.value)?;
                    obj.set(row.atype, decode_value(kind, &plain)?);
                }
                None => {
                    obj.locked.insert(row.atype);
                }
            }
        } else {
            obj.set(row.atype, decode_value(kind, &row.value)?);
        }
    }
    obj.set(ck::CKA_UNIQUE_ID, Value::bytes(hex(&stored.uid).into_bytes()));
    Ok(obj)
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
