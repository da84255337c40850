//! The self-describing KMS ciphertext and the encryption-context encoding.
//!
//! ```text
//! "FHK" 0x01                      magic and format version
//! flags (1)                       bit 0: the context is stored below
//! [ctx_len (4, BE) ‖ context]     canonical encoding, only with bit 0
//! n (1)                           entries, 1..=16 (one per master key)
//! n × { uid (16) ‖ version (4, BE) ‖ iv (12) ‖ len (4, BE) ‖ ciphertext ‖ tag (16) }
//! ```
//! Each entry is AES-256-GCM of the same payload under one master key
//! version; its AAD is the magic, the flags, its own uid and version, and
//! the canonical context, so a changed header, a moved entry or another
//! context fails to open. Any one entry recovers the payload.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sys::rand::random;

const MAGIC: &[u8; 4] = b"FHK\x01";
pub const FLAG_STORE_CONTEXT: u8 = 1;
pub const MAX_ENTRIES: usize = 16;
const TAG: usize = 16;
/// Bytes an entry adds besides its ciphertext.
pub const ENTRY_OVERHEAD: usize = 16 + 4 + 12 + 4 + TAG;

pub struct Entry {
    pub uid: [u8; 16],
    pub version: u32,
    iv: [u8; 12],
    ct: Vec<u8>,
}

impl Entry {
    /// The payload's length (the ciphertext less its tag).
    pub fn plain_len(&self) -> usize {
        self.ct.len() - TAG
    }
}

pub struct Blob {
    pub flags: u8,
    /// The canonical context, when the blob carries it.
    pub stored_context: Option<Vec<u8>>,
    pub entries: Vec<Entry>,
}

/// The canonical encoding of an encryption context: pairs sorted by key,
/// count then each key and value length-prefixed (4 bytes BE), so
/// {"ab":"c"} and {"a":"bc"} differ. Empty keys and repeated keys are
/// refused (CKR_ARGUMENTS_BAD).
pub fn canonical_context(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut sorted: Vec<&(Vec<u8>, Vec<u8>)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    if sorted.windows(2).any(|w| w[0].0 == w[1].0) || sorted.iter().any(|p| p.0.is_empty()) {
        return Err(Error::ArgumentsBad);
    }
    let mut out = (sorted.len() as u32).to_be_bytes().to_vec();
    for (k, v) in sorted {
        for part in [k, v] {
            let n = u32::try_from(part.len()).map_err(|_| Error::ArgumentsBad)?;
            out.extend_from_slice(&n.to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    Ok(out)
}

/// Decodes a canonical context back into pairs (for a stored context).
pub fn parse_context(mut b: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let n = take_u32(&mut b)? as usize;
    let mut out = Vec::new();
    for _ in 0..n {
        let kl = take_u32(&mut b)? as usize;
        let k = take(&mut b, kl)?.to_vec();
        let vl = take_u32(&mut b)? as usize;
        let v = take(&mut b, vl)?.to_vec();
        out.push((k, v));
    }
    b.is_empty().then_some(out)
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Some(h)
}

fn take_u32(b: &mut &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(take(b, 4)?.try_into().ok()?))
}

fn aad(flags: u8, uid: &[u8; 16], version: u32, context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(4 + 1 + 16 + 4 + context.len());
    a.extend_from_slice(MAGIC);
    a.push(flags);
    a.extend_from_slice(uid);
    a.extend_from_slice(&version.to_be_bytes());
    a.extend_from_slice(context);
    a
}

fn gcm_key(key: &[u8]) -> Result<LessSafeKey> {
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::general("KMS key is not AES-256"))?))
}

/// Encrypts `payload` for one master key version.
pub fn seal_entry(key: &[u8], uid: [u8; 16], version: u32, flags: u8, context: &[u8], payload: &[u8]) -> Result<Entry> {
    let mut iv = [0u8; 12];
    random(&mut iv)?;
    let mut ct = payload.to_vec();
    gcm_key(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(aad(flags, &uid, version, context)),
            &mut ct,
        )
        .map_err(|_| Error::general("AES-GCM failed"))?;
    Ok(Entry { uid, version, iv, ct })
}

/// Opens one entry; any mismatch (key, header, context, data) is
/// CKR_ENCRYPTED_DATA_INVALID and yields nothing.
pub fn open_entry(key: &[u8], e: &Entry, flags: u8, context: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(e.ct.clone());
    let n = gcm_key(key)?
        .open_in_place(Nonce::assume_unique_for_key(e.iv), Aad::from(aad(flags, &e.uid, e.version, context)), &mut buf)
        .map_err(|_| Error::EncryptedDataInvalid)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

impl Blob {
    /// Length of the encoding of a blob with these entry payload lengths.
    pub fn encoded_len(stored_context: Option<&[u8]>, payload: usize, entries: usize) -> usize {
        4 + 1 + stored_context.map_or(0, |c| 4 + c.len()) + 1 + entries * (ENTRY_OVERHEAD + payload)
    }

    pub fn encode(&self) -> Vec<u8> {
        let payload = self.entries.first().map_or(0, Entry::plain_len);
        let mut out =
            Vec::with_capacity(Self::encoded_len(self.stored_context.as_deref(), payload, self.entries.len()));
        out.extend_from_slice(MAGIC);
        out.push(self.flags);
        if let Some(c) = &self.stored_context {
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
            out.extend_from_slice(c);
        }
        out.push(self.entries.len() as u8);
        for e in &self.entries {
            out.extend_from_slice(&e.uid);
            out.extend_from_slice(&e.version.to_be_bytes());
            out.extend_from_slice(&e.iv);
            out.extend_from_slice(&(e.ct.len() as u32).to_be_bytes());
            out.extend_from_slice(&e.ct);
        }
        out
    }

    /// Parses a blob; anything malformed or truncated is
    /// CKR_ENCRYPTED_DATA_INVALID.
    pub fn parse(mut b: &[u8]) -> Result<Blob> {
        let bad = || Error::EncryptedDataInvalid;
        if take(&mut b, 4).ok_or_else(bad)? != MAGIC {
            return Err(bad());
        }
        let flags = *take(&mut b, 1).ok_or_else(bad)?.first().ok_or_else(bad)?;
        if flags & !FLAG_STORE_CONTEXT != 0 {
            return Err(bad());
        }
        let stored_context = if flags & FLAG_STORE_CONTEXT != 0 {
            let n = take_u32(&mut b).ok_or_else(bad)? as usize;
            let c = take(&mut b, n).ok_or_else(bad)?.to_vec();
            parse_context(&c).ok_or_else(bad)?;
            Some(c)
        } else {
            None
        };
        let n = take(&mut b, 1).ok_or_else(bad)?[0] as usize;
        if n == 0 || n > MAX_ENTRIES {
            return Err(bad());
        }
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let uid = take(&mut b, 16).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
            let version = take_u32(&mut b).ok_or_else(bad)?;
            let iv = take(&mut b, 12).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
            let len = take_u32(&mut b).ok_or_else(bad)? as usize;
            if len < TAG {
                return Err(bad());
            }
            let ct = take(&mut b, len).ok_or_else(bad)?.to_vec();
            entries.push(Entry { uid, version, iv, ct });
        }
        if !b.is_empty() {
            return Err(bad());
        }
        Ok(Blob { flags, stored_context, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(p: &[(&str, &str)]) -> Vec<u8> {
        canonical_context(&p.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect::<Vec<_>>())
            .unwrap()
    }

    #[test]
    fn context_encoding_is_canonical_and_unambiguous() {
        assert_eq!(ctx(&[("a", "1"), ("b", "2")]), ctx(&[("b", "2"), ("a", "1")]));
        assert_ne!(ctx(&[("ab", "c")]), ctx(&[("a", "bc")]));
        assert_eq!(ctx(&[]), vec![0, 0, 0, 0]);
        assert_eq!(ctx(&[("k", "v")]), b"\0\0\0\x01\0\0\0\x01k\0\0\0\x01v".to_vec());
        let dup = vec![(b"k".to_vec(), b"1".to_vec()), (b"k".to_vec(), b"2".to_vec())];
        assert_eq!(canonical_context(&dup), Err(Error::ArgumentsBad));
        let pairs = parse_context(&ctx(&[("user", "alice"), ("app", "x")])).unwrap();
        assert_eq!(pairs[0], (b"app".to_vec(), b"x".to_vec()));
    }

    #[test]
    fn blob_round_trip_and_tamper() {
        let key = [7u8; 32];
        let c = ctx(&[("user", "alice")]);
        let e = seal_entry(&key, [1; 16], 3, 0, &c, b"secret").unwrap();
        let blob = Blob { flags: 0, stored_context: None, entries: vec![e] };
        let enc = blob.encode();
        assert_eq!(enc.len(), Blob::encoded_len(None, 6, 1));
        let p = Blob::parse(&enc).unwrap();
        assert_eq!(p.entries[0].version, 3);
        assert_eq!(&open_entry(&key, &p.entries[0], 0, &c).unwrap()[..], b"secret");
        assert_eq!(
            open_entry(&key, &p.entries[0], 0, &ctx(&[("user", "bob")])).err(),
            Some(Error::EncryptedDataInvalid)
        );
        for i in 0..enc.len() {
            let mut t = enc.clone();
            t[i] ^= 1;
            let opened = Blob::parse(&t).and_then(|b| open_entry(&key, &b.entries[0], b.flags, &c));
            assert!(opened.is_err(), "flipping byte {i} went unnoticed");
        }
        for n in 0..enc.len() {
            assert!(Blob::parse(&enc[..n]).is_err());
        }
    }
}
