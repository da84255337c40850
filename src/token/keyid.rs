//! Key ids as text: a token object's 16-byte uid (its CKA_UNIQUE_ID) as
//! 32 hex digits or as a UUID (8-4-4-4-12), the form the KMS API shows.

use crate::hex::hex;
use crate::store::Uid;

pub(crate) fn uid_from_bytes(b: &[u8]) -> Option<Uid> {
    uid_from_hex(std::str::from_utf8(b).ok()?)
}

/// A key id as the KMS API shows it: the uid as a UUID
/// (8-4-4-4-12 hex digits). Stable: it is the key's CKA_UNIQUE_ID with
/// dashes, and every call that takes a key id takes either form.
pub fn uuid(uid: &Uid) -> String {
    let h = hex(uid);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A key id in either form (32 hex digits or a UUID) as a uid.
pub fn uid_from_text(s: &str) -> Option<Uid> {
    uid_from_hex(s)
}

pub(crate) fn uid_from_hex(s: &str) -> Option<Uid> {
    let undashed;
    let s = if s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| s.as_bytes()[i] == b'-') {
        undashed = s.replace('-', "");
        undashed.as_str()
    } else {
        s
    };
    let b = s.as_bytes();
    if b.len() != 2 * std::mem::size_of::<Uid>() {
        return None;
    }
    let mut out = Uid::default();
    for (i, pair) in b.chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}
