//! Sealing at rest: the only place that encrypts or decrypts stored data.
//!
//! Each token has a random 256-bit token key. It is stored only wrapped
//! (AES-256-KW, RFC 3394) under a key-encryption key derived from a PIN with
//! Argon2id; the SO PIN and the user PIN each wrap their own copy. Attribute
//! values are sealed with AES-256-GCM under the token key, with AAD binding
//! the token, the object and the attribute type, so a sealed row moved to
//! another object, attribute or token fails to open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use aes_kw::KwAes256;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::hex::hex;
use crate::model::AttrType;
use crate::sys::rand::random;

pub const UID_LEN: usize = 16;
pub type Uid = [u8; UID_LEN];
/// Length of a blind-index entry.
pub const IDX_LEN: usize = 16;
pub type Idx = [u8; IDX_LEN];

const NONCE_LEN: usize = 12;
const AAD_TAG: &[u8; 8] = b"FHSMatr1";

/// Argon2id parameters, stored beside each wrapped copy of the token key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl KdfParams {
    /// Stored as `argon2id:m=..,t=..,p=..`.
    pub fn to_text(&self) -> String {
        format!("argon2id:m={},t={},p={}", self.m_cost_kib, self.t_cost, self.p_cost)
    }

    /// The most memory (KiB), passes and lanes a PIN derivation may take:
    /// RFC 9106's first recommended setting (2 GiB, one pass) is allowed,
    /// and so is the default with many more passes, but not unbounded
    /// work: the parameters come from the store file too, and an edited
    /// record must not make C_Login allocate without limit or run for hours.
    pub const MAX_M_COST_KIB: u32 = 2 << 20;
    pub const MAX_T_COST: u32 = 16;
    pub const MAX_P_COST: u32 = 16;

    /// Within the limits above (and Argon2's own minimums).
    pub fn check(&self) -> std::result::Result<(), String> {
        let KdfParams { m_cost_kib: m, t_cost: t, p_cost: p } = *self;
        if !(1..=Self::MAX_P_COST).contains(&p)
            || !(1..=Self::MAX_T_COST).contains(&t)
            || m < 8 * p
            || m > Self::MAX_M_COST_KIB
        {
            return Err(format!(
                "kdf: need 1 <= p_cost <= {}, 1 <= t_cost <= {}, 8*p_cost <= m_cost_kib <= {} (got m={m}, t={t}, p={p})",
                Self::MAX_P_COST,
                Self::MAX_T_COST,
                Self::MAX_M_COST_KIB
            ));
        }
        Ok(())
    }

    pub fn from_text(s: &str) -> Result<KdfParams> {
        let bad = || Error::general(format!("stored KDF parameters unreadable: {s:?}"));
        let rest = s.strip_prefix("argon2id:").ok_or_else(bad)?;
        let mut p = KdfParams { m_cost_kib: 0, t_cost: 0, p_cost: 0 };
        for kv in rest.split(',') {
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            let v: u32 = v.parse().map_err(|_| bad())?;
            match k {
                "m" => p.m_cost_kib = v,
                "t" => p.t_cost = v,
                "p" => p.p_cost = v,
                _ => return Err(bad()),
            }
        }
        Ok(p)
    }
}

/// A PIN's wrapped copy of the token key.
#[derive(Clone)]
pub struct PinRecord {
    pub salt: Vec<u8>,
    pub wrapped: Vec<u8>,
    pub kdf: KdfParams,
}

/// Argon2id(PIN, salt) → 256-bit key-encryption key.
/// Parameters beyond `KdfParams::check` (an edited store) are refused
/// before anything is allocated.
fn derive_kek(pin: &[u8], salt: &[u8], kdf: KdfParams) -> Result<Zeroizing<[u8; 32]>> {
    kdf.check().map_err(Error::general)?;
    let params = argon2::Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.p_cost, Some(32))
        .map_err(|e| Error::general(format!("argon2 params: {e}")))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(pin, salt, out.as_mut()).map_err(|e| Error::general(format!("argon2: {e}")))?;
    Ok(out)
}

/// The token key, with the ciphers derived from it. Zeroized on drop; no
/// `Debug`.
pub struct TokenKey {
    bytes: Zeroizing<[u8; 32]>,
    gcm: Aes256Gcm,
    /// HMAC-SHA256 keyed once with the blind-index key (aws-lc: finds
    /// compute one per template attribute, on the hot path).
    index_mac: aws_lc_rs::hmac::Key,
    /// Authenticates whole stored objects (see `codec`).
    object_mac: aws_lc_rs::hmac::Key,
}

/// What a PIN record wraps since store format 6: the token key followed by
/// this marker. A record without it (32 bytes wrapped) is from a store made
/// before objects were authenticated; logging in with it authenticates the
/// token's objects once (see `token::auth`).
const PIN_RECORD_MARKER: &[u8; 8] = b"FHSMpk06";

/// Length of an object's authentication tag.
pub const TAG_LEN: usize = 32;
pub type Tag = [u8; TAG_LEN];

impl TokenKey {
    pub fn generate() -> Result<TokenKey> {
        let mut k = Zeroizing::new([0u8; 32]);
        random(k.as_mut())?;
        Ok(TokenKey::from_bytes(k))
    }

    /// A copy with its own ciphers: each session keeps one, so threads on
    /// different sessions share no reference count (see `token::session`).
    pub fn duplicate(&self) -> TokenKey {
        TokenKey::from_bytes(Zeroizing::new(*self.bytes))
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> TokenKey {
        let gcm = Aes256Gcm::new_from_slice(bytes.as_ref()).expect("32-byte key");
        // A separate key for the blind index, so index entries say nothing
        // the GCM key could be attacked with.
        let mut mac = <Hmac<Sha256>>::new_from_slice(bytes.as_ref()).expect("any key length");
        mac.update(b"ferrohsm blind index v1");
        let mut index_key = Zeroizing::new([0u8; 32]);
        index_key.copy_from_slice(&mac.finalize().into_bytes());
        let index_mac = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, index_key.as_ref());
        let object_mac = mac_key_for(&bytes, b"ferrohsm object mac v1");
        TokenKey { bytes, gcm, index_mac, object_mac }
    }

    /// An HMAC-SHA256 key derived from the token key for one purpose
    /// (`label` names it, e.g. `b"ferrohsm object mac v1"`): object
    /// authentication, audit checkpoints and the token check value each use
    /// their own, so a tag made for one can never pass as another.
    pub fn derive_mac_key(&self, label: &[u8]) -> aws_lc_rs::hmac::Key {
        mac_key_for(&self.bytes, label)
    }

    /// The MAC of an audit mark: a checkpoint (`domain` `b"FHSMchk1"`) or
    /// the pruned base (`b"FHSMbas1"`), so one can never pass as the other.
    /// HMAC-SHA256 under the token's audit key over domain ‖ token uid ‖
    /// seq (8 bytes BE) ‖ hash ‖ time (8 bytes BE).
    pub fn audit_mac(&self, domain: &[u8; 8], token_uid: &[u8], seq: i64, hash: &[u8], time: u64) -> Vec<u8> {
        let key = self.derive_mac_key(AUDIT_MAC_LABEL);
        aws_lc_rs::hmac::sign(&key, &audit_mac_input(domain, token_uid, seq, hash, time)).as_ref().to_vec()
    }

    /// Checks an audit mark's MAC in constant time.
    pub fn audit_mac_ok(
        &self,
        domain: &[u8; 8],
        token_uid: &[u8],
        seq: i64,
        hash: &[u8],
        time: u64,
        mac: &[u8],
    ) -> bool {
        let key = self.derive_mac_key(AUDIT_MAC_LABEL);
        aws_lc_rs::hmac::verify(&key, &audit_mac_input(domain, token_uid, seq, hash, time), mac).is_ok()
    }

    /// Wraps this key under a PIN with a fresh salt.
    pub fn wrap_for_pin(&self, pin: &[u8], kdf: KdfParams) -> Result<PinRecord> {
        let mut salt = vec![0u8; 16];
        random(&mut salt)?;
        let kek = derive_kek(pin, &salt, kdf)?;
        let kw = KwAes256::new_from_slice(kek.as_ref()).expect("32-byte kek");
        let mut payload = Zeroizing::new([0u8; 40]);
        payload[..32].copy_from_slice(self.bytes.as_ref());
        payload[32..].copy_from_slice(PIN_RECORD_MARKER);
        let mut wrapped = vec![0u8; 48];
        kw.wrap_key(payload.as_ref(), &mut wrapped).map_err(|e| Error::general(format!("key wrap: {e}")))?;
        Ok(PinRecord { salt, wrapped, kdf })
    }

    /// Unwraps the token key with a PIN; `Err(PinIncorrect)` if the PIN is
    /// wrong (the key wrap's integrity check fails). The flag says whether
    /// the record is of the format before objects were authenticated.
    pub fn unwrap_with_pin(pin: &[u8], rec: &PinRecord) -> Result<(TokenKey, bool)> {
        let kek = derive_kek(pin, &rec.salt, rec.kdf)?;
        let kw = KwAes256::new_from_slice(kek.as_ref()).expect("32-byte kek");
        let mut out = Zeroizing::new([0u8; 40]);
        let legacy = match rec.wrapped.len() {
            40 => true,
            48 => false,
            _ => return Err(Error::PinIncorrect),
        };
        let n = rec.wrapped.len() - 8;
        let opened = kw.unwrap_key(&rec.wrapped, &mut out[..n]).is_ok();
        match opened {
            true if legacy || &out[32..40] == PIN_RECORD_MARKER => {
                let mut k = Zeroizing::new([0u8; 32]);
                k.copy_from_slice(&out[..32]);
                Ok((TokenKey::from_bytes(k), legacy))
            }
            _ => Err(Error::PinIncorrect),
        }
    }

    /// The authentication tag of a stored object: an HMAC over the token,
    /// the object's uid, whether it is private, its version and every row
    /// (type, whether sealed, value as stored) in type order, each length-
    /// prefixed. Any edit, removal, addition or move of a row, a flipped
    /// private bit or a changed version changes it.
    pub fn object_tag(&self, token: &Uid, obj: &super::StoredObject) -> Tag {
        let mut m = aws_lc_rs::hmac::Context::with_key(&self.object_mac);
        m.update(b"FHSMobj1");
        m.update(token);
        m.update(&obj.uid);
        m.update(&[u8::from(obj.private)]);
        m.update(&obj.version.to_le_bytes());
        let mut rows: Vec<&super::Row> = obj.rows.iter().collect();
        rows.sort_by_key(|r| r.atype);
        m.update(&(rows.len() as u64).to_le_bytes());
        for r in rows {
            m.update(&r.atype.to_le_bytes());
            m.update(&[u8::from(r.sealed)]);
            m.update(&(r.value.len() as u64).to_le_bytes());
            m.update(&r.value);
        }
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(m.sign().as_ref());
        out
    }

    /// Checks a token's object-set digest against its tag.
    pub fn set_digest_ok(&self, token: &Uid, d: &SetDigest) -> bool {
        let want = self.set_digest_tag(token, d);
        d.tag.is_some_and(|t| aws_lc_rs::constant_time::verify_slices_are_equal(&want, &t).is_ok())
    }

    /// Tags a token's object-set digest after a change.
    pub fn sign_set_digest(&self, token: &Uid, d: &mut SetDigest) {
        d.tag = Some(self.set_digest_tag(token, d));
    }

    fn set_digest_tag(&self, token: &Uid, d: &SetDigest) -> Tag {
        let mut m = aws_lc_rs::hmac::Context::with_key(&self.object_mac);
        m.update(b"FHSMset1");
        m.update(token);
        m.update(&d.acc);
        m.update(&d.count.to_le_bytes());
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(m.sign().as_ref());
        out
    }

    /// Constant-time check of a stored object's tag.
    pub fn object_tag_ok(&self, token: &Uid, obj: &super::StoredObject, tag: &[u8]) -> bool {
        let want = self.object_tag(token, obj);
        tag.len() == TAG_LEN && aws_lc_rs::constant_time::verify_slices_are_equal(&want, tag).is_ok()
    }

    /// AES-256-GCM with a random 96-bit nonce; output is nonce ‖ ct ‖ tag.
    pub fn seal(&self, token: &Uid, object: &Uid, atype: AttrType, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce)?;
        let aad = aad(token, object, atype);
        let ct = self
            .gcm
            .encrypt(&nonce.into(), Payload { msg: plain, aad: &aad })
            .map_err(|_| Error::general("seal failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a sealed value. Fails (CKR_GENERAL_ERROR, logged) when the value
    /// was altered or belongs to another token, object or attribute.
    pub fn open(&self, token: &Uid, object: &Uid, atype: AttrType, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let fail = || {
            Error::general(format!(
                "sealed attribute {atype:#x} of object {} failed its integrity check (tampered or moved row)",
                hex(object)
            ))
        };
        if sealed.len() < NONCE_LEN + 16 {
            return Err(fail());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
        let aad = aad(token, object, atype);
        self.gcm.decrypt(&nonce.into(), Payload { msg: ct, aad: &aad }).map(Zeroizing::new).map_err(|_| fail())
    }

    /// Blind index of a private object's attribute: keyed, so the store
    /// reveals only equality between values of the same token.
    pub fn index(&self, atype: AttrType, value: &[u8]) -> Idx {
        let mut mac = aws_lc_rs::hmac::Context::with_key(&self.index_mac);
        mac.update(&atype.to_le_bytes());
        mac.update(value);
        let mut out = [0u8; IDX_LEN];
        out.copy_from_slice(&mac.sign().as_ref()[..IDX_LEN]);
        out
    }
}

/// A token's object set, summarized so that each write updates it in
/// constant time: the XOR of every tagged object's `member_hash` and their
/// count, tagged under the token key. An object rolled back to an older
/// copy of itself (rows, version and tag), deleted, or brought back after
/// its deletion passes its own tag check but changes this sum, which
/// `ferrohsm store verify` recomputes from every object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetDigest {
    pub acc: [u8; 32],
    pub count: u64,
    pub tag: Option<Tag>,
}

impl SetDigest {
    pub fn add(&mut self, member: &[u8; 32]) {
        self.acc.iter_mut().zip(member).for_each(|(a, m)| *a ^= m);
        self.count = self.count.wrapping_add(1);
    }

    pub fn remove(&mut self, member: &[u8; 32]) {
        self.acc.iter_mut().zip(member).for_each(|(a, m)| *a ^= m);
        self.count = self.count.wrapping_sub(1);
    }
}

/// An object's share of its token's `SetDigest`: a hash of its identity,
/// version and tag (the tag is keyed, so this need not be).
pub fn member_hash(uid: &Uid, version: u64, tag: &Tag) -> [u8; 32] {
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    h.update(b"FHSMmem1");
    h.update(uid);
    h.update(&version.to_le_bytes());
    h.update(tag);
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finish().as_ref());
    out
}

/// Index entry of a public attribute (stored in the clear anyway).
pub fn public_index(atype: AttrType, value: &[u8]) -> Idx {
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    h.update(b"FHSMidx1");
    h.update(&atype.to_le_bytes());
    h.update(value);
    let mut out = [0u8; IDX_LEN];
    out.copy_from_slice(&h.finish().as_ref()[..IDX_LEN]);
    out
}

fn aad(token: &Uid, object: &Uid, atype: AttrType) -> [u8; 8 + 2 * UID_LEN + 8] {
    let mut a = [0u8; 8 + 2 * UID_LEN + 8];
    a[..8].copy_from_slice(AAD_TAG);
    a[8..24].copy_from_slice(token);
    a[24..40].copy_from_slice(object);
    a[40..].copy_from_slice(&atype.to_le_bytes());
    a
}

impl Drop for PinRecord {
    fn drop(&mut self) {
        self.wrapped.zeroize();
    }
}

/// HMAC-SHA256(token key, label) as an HMAC key: one key per purpose.
fn mac_key_for(token_key: &[u8; 32], label: &[u8]) -> aws_lc_rs::hmac::Key {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token_key);
    let tag = aws_lc_rs::hmac::sign(&k, label);
    aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, tag.as_ref())
}

/// The purpose label of the audit checkpoint key (see `derive_mac_key`).
const AUDIT_MAC_LABEL: &[u8] = b"ferrohsm audit checkpoint v1";

fn audit_mac_input(domain: &[u8; 8], token_uid: &[u8], seq: i64, hash: &[u8], time: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + token_uid.len() + 8 + hash.len() + 8);
    m.extend_from_slice(domain);
    m.extend_from_slice(token_uid);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&time.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams { m_cost_kib: 64, t_cost: 1, p_cost: 1 };

    #[test]
    fn pin_wraps_and_wrong_pin_fails() {
        let tk = TokenKey::generate().unwrap();
        let rec = tk.wrap_for_pin(b"1234", CHEAP).unwrap();
        let (back, legacy) = TokenKey::unwrap_with_pin(b"1234", &rec).unwrap();
        assert_eq!(back.bytes.as_ref(), tk.bytes.as_ref());
        assert!(!legacy);
        assert!(matches!(TokenKey::unwrap_with_pin(b"1235", &rec), Err(Error::PinIncorrect)));
    }

    #[test]
    fn sealed_value_is_bound_to_token_object_and_attribute() {
        let tk = TokenKey::generate().unwrap();
        let (t, o) = ([1u8; 16], [2u8; 16]);
        let s = tk.seal(&t, &o, 0x11, b"secret").unwrap();
        assert_eq!(&tk.open(&t, &o, 0x11, &s).unwrap()[..], b"secret");
        assert!(tk.open(&t, &[3u8; 16], 0x11, &s).is_err());
        assert!(tk.open(&[3u8; 16], &o, 0x11, &s).is_err());
        assert!(tk.open(&t, &o, 0x3, &s).is_err());
        let mut bad = s.clone();
        bad[20] ^= 1;
        assert!(tk.open(&t, &o, 0x11, &bad).is_err());
    }

    /// Found by the store_record fuzz target's PIN-record mode: stored KDF
    /// parameters were used as read, so an edited record made a login
    /// allocate gigabytes or run billions of passes. Now refused before
    /// anything is allocated.
    #[test]
    fn stored_kdf_parameters_beyond_the_limits_are_refused() {
        let tk = TokenKey::generate().unwrap();
        let mut rec = tk.wrap_for_pin(b"1234", CHEAP).unwrap();
        for text in ["argon2id:m=4000000,t=1,p=1", "argon2id:m=64,t=4000000000,p=1", "argon2id:m=64000,t=1,p=4000"] {
            rec.kdf = KdfParams::from_text(text).unwrap();
            let t = std::time::Instant::now();
            assert!(TokenKey::unwrap_with_pin(b"1234", &rec).is_err(), "{text}");
            assert!(tk.wrap_for_pin(b"1234", rec.kdf).is_err(), "{text}");
            assert!(t.elapsed() < std::time::Duration::from_secs(1), "{text}: refused only after the work");
        }
        let most = KdfParams { m_cost_kib: 64, t_cost: KdfParams::MAX_T_COST, p_cost: 1 };
        assert!(most.check().is_ok());
        assert!(KdfParams { m_cost_kib: KdfParams::MAX_M_COST_KIB, t_cost: 1, p_cost: 1 }.check().is_ok());
    }

    #[test]
    fn kdf_text_round_trips() {
        assert_eq!(KdfParams::from_text(&CHEAP.to_text()).unwrap(), CHEAP);
        assert!(KdfParams::from_text("pbkdf2:x").is_err());
    }

    #[test]
    fn rfc3394_vector_256_bit_kek() {
        // RFC 3394 §4.6: 256-bit KEK wrapping 256 bits of key data.
        let kek: Vec<u8> = (0u8..32).collect();
        let data = unhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        let want = unhex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21");
        let kw = KwAes256::new_from_slice(&kek).unwrap();
        let mut out = vec![0u8; 40];
        kw.wrap_key(&data, &mut out).unwrap();
        assert_eq!(out, want);
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
