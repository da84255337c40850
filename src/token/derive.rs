//! C_DeriveKey: HKDF (key or data output), the SP 800-108 KDFs (in
//! kbkdf.rs), the
//! AES ECB/CBC "encrypt data" derivations, and ECDH (NIST curves and
//! X25519, X448) with the null or ANSI X9.63 SHA-2 KDFs. Derived keys are never local;
//! CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE follow the base key as
//! PKCS#11 §4.9 says.

use super::crypto::ulong_param;
use super::Sessions;
use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::newobj;
use super::{Access, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::aes::{AesCipher, CipherSpec};
use crate::mech::curve::point_of;
use crate::mech::des::{self, DesCipher, DesSpec};
use crate::mech::keys::Key;
use crate::mech::prims::{self as raw, Md};
use crate::mech::{kdf, keygen, registry};
use crate::model::{policy, HkdfSalt, Mechanism, Object, Param, Template, Value};

pub(super) fn key_type_in(k: &Object, allowed: &[ck::CK_KEY_TYPE]) -> Result<()> {
    match k.ulong(ck::CKA_KEY_TYPE) {
        Some(t) if allowed.contains(&t) => Ok(()),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// The length of a secret key's value.
fn value_len(k: &Object) -> Result<usize> {
    Ok(k.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?.len())
}

pub(super) const HMAC_BASES: &[ck::CK_KEY_TYPE] = &[
    ck::CKK_GENERIC_SECRET,
    ck::CKK_HKDF,
    ck::CKK_AES,
    ck::CKK_SHA_1_HMAC,
    ck::CKK_SHA224_HMAC,
    ck::CKK_SHA256_HMAC,
    ck::CKK_SHA384_HMAC,
    ck::CKK_SHA512_HMAC,
    ck::CKK_SHA3_224_HMAC,
    ck::CKK_SHA3_256_HMAC,
    ck::CKK_SHA3_384_HMAC,
    ck::CKK_SHA3_512_HMAC,
];

/// The generic derivations of PKCS#11 §2.43 (concatenation, XOR,
/// extraction): the derived key inherits the base keys' sensitivity and
/// non-extractability whatever the template says.
const GENERIC: &[ck::CK_MECHANISM_TYPE] = &[
    ck::CKM_CONCATENATE_BASE_AND_KEY,
    ck::CKM_CONCATENATE_BASE_AND_DATA,
    ck::CKM_CONCATENATE_DATA_AND_BASE,
    ck::CKM_XOR_BASE_AND_DATA,
    ck::CKM_EXTRACT_KEY_FROM_KEY,
];

/// The DH base key (a CKK_DH private key).
fn dh_key(base: &Object) -> Result<crate::mech::dlog::DlogKey> {
    if base.ulong(ck::CKA_KEY_TYPE) != Some(ck::CKK_DH) {
        return Err(Error::KeyTypeInconsistent);
    }
    match Key::from_object(base, false)? {
        Key::Dh(k) => Ok(k),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// The length of a DH shared secret: the prime's.
fn dh_len(base: &Object) -> Result<usize> {
    let k = dh_key(base)?;
    Ok(k.p.len())
}

/// CKM_DH_PKCS_DERIVE: the shared secret with the other party's public
/// value (the parameter), left-padded to the prime's length (PKCS #3); a
/// shorter key takes its low-order (trailing) bytes, as SoftHSM does.
fn dh_bytes(mech: &Mechanism, base: &Object, len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let Param::Bytes(peer) = &mech.param else { return Err(Error::MechanismParamInvalid) };
    let z = dh_key(base)?.agree(peer)?;
    if len > z.len() || len == 0 {
        return Err(Error::TemplateInconsistent);
    }
    Ok(Zeroizing::new(z[z.len() - len..].to_vec()))
}

/// The DES and TDES "encrypt data" derivations: the data (whole blocks)
/// encrypted under the base key, its first `len` bytes.
fn des_encrypt_data(
    m: ck::CK_MECHANISM_TYPE,
    base: &Object,
    spec: DesSpec,
    key: &[u8],
    data: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if !base.ulong(ck::CKA_KEY_TYPE).is_some_and(|kt| des::key_type_ok(m, kt)) {
        return Err(Error::KeyTypeInconsistent);
    }
    if data.is_empty() || data.len() % 8 != 0 {
        return Err(Error::MechanismParamInvalid);
    }
    let mut out = DesCipher::new(spec, key, true)?.oneshot(data)?;
    if len > out.len() {
        return Err(Error::MechanismParamInvalid);
    }
    out.truncate(len);
    Ok(out)
}

/// `len` bytes of `key`'s bits from bit `start` on, wrapping around at the
/// end (CKM_EXTRACT_KEY_FROM_KEY; bit 0 is the first byte's high bit).
fn extract_bits(key: &[u8], start: u64, len: usize) -> Result<Zeroizing<Vec<u8>>> {
    if key.is_empty() || len > key.len() {
        return Err(Error::TemplateInconsistent);
    }
    let bits = key.len() as u64 * 8;
    let mut out = Zeroizing::new(vec![0u8; len]);
    for j in 0..len as u64 * 8 {
        let i = (start % bits + j) % bits;
        let bit = (key[(i / 8) as usize] >> (7 - i % 8)) & 1;
        out[(j / 8) as usize] |= bit << (7 - j % 8);
    }
    Ok(out)
}

impl Sessions<'_> {
    /// The second key of CKM_CONCATENATE_BASE_AND_KEY: a secret key the
    /// caller may use (CKR_KEY_HANDLE_INVALID otherwise).
    fn other_key(&self, a: &Access, mech: &Mechanism) -> Result<std::sync::Arc<Object>> {
        let h = ulong_param(mech)? as ObjectHandle;
        let found = self.m.objects().find_for_use(a, h).map_err(|e| match e {
            Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
            e => e,
        })?;
        if found.object().class() != ck::CKO_SECRET_KEY {
            return Err(Error::KeyTypeInconsistent);
        }
        Ok(found.into_object())
    }

    fn salt_key(&self, a: &Access, h: ObjectHandle) -> Result<Zeroizing<Vec<u8>>> {
        let found = self.m.objects().find_for_use(a, h).map_err(|_| Error::MechanismParamInvalid)?;
        let o = found.object();
        if o.class() != ck::CKO_SECRET_KEY {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(Zeroizing::new(o.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?.to_vec()))
    }

    /// ECDH: the shared secret Z, then the KDF.
    fn ecdh_bytes(&self, mech: &Mechanism, base: &Object, len: usize) -> Result<Zeroizing<Vec<u8>>> {
        let Param::Ecdh { kdf, shared, public } = &mech.param else { return Err(Error::MechanismParamInvalid) };
        let key = Key::from_object(base, false)?;
        let raw_len = key.curve_id().map_or(32, |c| c.point_len());
        let peer = point_of(public, raw_len);
        let z = match (&key, mech.mtype) {
            (Key::Ec { key, .. }, _) => key.ecdh(peer).map_err(|_| Error::MechanismParamInvalid)?,
            (Key::X25519 { private: Some(d), .. }, ck::CKM_ECDH1_DERIVE) => {
                raw::x25519(d, peer).map_err(|_| Error::MechanismParamInvalid)?
            }
            (Key::X448 { private: Some(d), .. }, ck::CKM_ECDH1_DERIVE) => {
                crate::mech::curve448::x448(d, peer).ok_or(Error::MechanismParamInvalid)?
            }
            _ => return Err(Error::KeyTypeInconsistent),
        };
        let md = match *kdf {
            ck::CKD_NULL => {
                if !shared.is_empty() {
                    return Err(Error::MechanismParamInvalid);
                }
                if len > z.len() {
                    return Err(Error::TemplateInconsistent);
                }
                // Shorter keys take the low-order (trailing) bytes of Z, as
                // SoftHSM and NSS do.
                return Ok(Zeroizing::new(z[z.len() - len..].to_vec()));
            }
            ck::CKD_SHA1_KDF => Md::Sha1,
            ck::CKD_SHA224_KDF => Md::Sha224,
            ck::CKD_SHA256_KDF => Md::Sha256,
            ck::CKD_SHA384_KDF => Md::Sha384,
            ck::CKD_SHA512_KDF => Md::Sha512,
            _ => return Err(Error::MechanismParamInvalid),
        };
        Ok(kdf::x963(md, &z, shared, len))
    }

    /// The length of Z for an ECDH base key (the default derived length).
    fn ecdh_len(&self, base: &Object) -> Result<usize> {
        Ok(match &Key::from_object(base, false)? {
            Key::Ec { curve, .. } => curve.byte_len(),
            _ => 32,
        })
    }

    /// The derived bytes, `len` long. `other` is CKM_CONCATENATE_BASE_AND_KEY's
    /// second key, looked up once by the caller.
    fn derive_bytes(
        &self,
        a: &Access,
        mech: &Mechanism,
        base: &Object,
        other: Option<&Object>,
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if matches!(mech.mtype, ck::CKM_ECDH1_DERIVE | ck::CKM_ECDH1_COFACTOR_DERIVE) {
            return self.ecdh_bytes(mech, base, len);
        }
        if mech.mtype == ck::CKM_DH_PKCS_DERIVE {
            return dh_bytes(mech, base, len);
        }
        let value = base.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?;
        match (&mech.param, mech.mtype) {
            (Param::Hkdf { extract, expand, prf, salt, info }, ck::CKM_HKDF_DERIVE | ck::CKM_HKDF_DATA) => {
                key_type_in(base, &[ck::CKK_GENERIC_SECRET, ck::CKK_HKDF, ck::CKK_AES])?;
                let salt_bytes = match salt {
                    HkdfSalt::Null => None,
                    HkdfSalt::Data(d) => Some(Zeroizing::new(d.clone())),
                    HkdfSalt::Key(h) => Some(self.salt_key(a, *h)?),
                };
                kdf::hkdf(*prf, *extract, *expand, salt_bytes.as_deref().map(|v| &v[..]), value, info, len)
            }
            (Param::DataString(d), ck::CKM_AES_ECB_ENCRYPT_DATA) => {
                key_type_in(base, &[ck::CKK_AES])?;
                self.encrypt_data(CipherSpec::Ecb, value, d, len)
            }
            (Param::CbcData { iv, data }, ck::CKM_AES_CBC_ENCRYPT_DATA) => {
                key_type_in(base, &[ck::CKK_AES])?;
                self.encrypt_data(CipherSpec::Cbc { iv: *iv, pad: false }, value, data, len)
            }
            (Param::DataString(d), ck::CKM_DES_ECB_ENCRYPT_DATA | ck::CKM_DES3_ECB_ENCRYPT_DATA) => {
                des_encrypt_data(mech.mtype, base, DesSpec::Ecb, value, d, len)
            }
            (Param::DesCbcData { iv, data }, ck::CKM_DES_CBC_ENCRYPT_DATA | ck::CKM_DES3_CBC_ENCRYPT_DATA) => {
                des_encrypt_data(mech.mtype, base, DesSpec::Cbc { iv: *iv, pad: false }, value, data, len)
            }
            (_, m) if GENERIC.contains(&m) => {
                let mut whole = Zeroizing::new(Vec::new());
                match (&mech.param, m) {
                    (Param::DataString(d), ck::CKM_CONCATENATE_BASE_AND_DATA) => {
                        whole.extend_from_slice(value);
                        whole.extend_from_slice(d);
                    }
                    (Param::DataString(d), ck::CKM_CONCATENATE_DATA_AND_BASE) => {
                        whole.extend_from_slice(d);
                        whole.extend_from_slice(value);
                    }
                    (Param::DataString(d), ck::CKM_XOR_BASE_AND_DATA) => {
                        whole.extend(value.iter().zip(d.iter()).map(|(x, y)| x ^ y));
                    }
                    (_, ck::CKM_CONCATENATE_BASE_AND_KEY) => {
                        let other = other.ok_or(Error::MechanismParamInvalid)?;
                        whole.extend_from_slice(value);
                        whole.extend_from_slice(other.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?);
                    }
                    (_, ck::CKM_EXTRACT_KEY_FROM_KEY) => return extract_bits(value, ulong_param(mech)?, len),
                    _ => return Err(Error::MechanismParamInvalid),
                }
                // The leading bytes, if the key asked for is shorter.
                if len > whole.len() {
                    return Err(Error::TemplateInconsistent);
                }
                whole.truncate(len);
                Ok(whole)
            }
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    fn encrypt_data(&self, spec: CipherSpec, key: &[u8], data: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
        if data.is_empty() || data.len() % 16 != 0 {
            return Err(Error::MechanismParamInvalid);
        }
        let mut out = AesCipher::new(spec, key, true)?.oneshot(data)?;
        if len > out.len() {
            // The data is too short for the key asked for.
            return Err(Error::MechanismParamInvalid);
        }
        out.truncate(len);
        Ok(out)
    }

    pub fn derive_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        base_h: ObjectHandle,
        tmpl: &Template,
    ) -> Result<ObjectHandle> {
        Ok(self.derive_keys(h, mech, base_h, tmpl)?[0])
    }

    /// C_DeriveKey: the derived key's handle, then (SP 800-108 only) those
    /// of the parameter's additional derived keys, in their order.
    pub fn derive_keys(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        base_h: ObjectHandle,
        tmpl: &Template,
    ) -> Result<Vec<ObjectHandle>> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        registry::for_operation(mech.mtype, ck::CKF_DERIVE)?;
        let base = self.usable_key(&a, base_h, ck::CKA_DERIVE, mech.mtype)?;
        let ecdh = matches!(mech.mtype, ck::CKM_ECDH1_DERIVE | ck::CKM_ECDH1_COFACTOR_DERIVE | ck::CKM_DH_PKCS_DERIVE);
        let want = if ecdh { ck::CKO_PRIVATE_KEY } else { ck::CKO_SECRET_KEY };
        if base.class() != want {
            return Err(Error::KeyTypeInconsistent);
        }
        // The base key's CKA_DERIVE_TEMPLATE governs what it derives.
        let governing: &[crate::model::Attribute] = match base.get(ck::CKA_DERIVE_TEMPLATE) {
            Some(Value::Template(t)) => t,
            _ => &[],
        };
        let tmpl = &newobj::governed(tmpl, governing)?;
        if let Param::Kdf108 { .. } = mech.param {
            return self.derive_kdf108(&a, &s, mech, &base, tmpl, governing);
        }

        if mech.mtype == ck::CKM_HKDF_DATA {
            // The output is a data object; CKA_VALUE_LEN only sizes it.
            if tmpl.ulong(ck::CKA_CLASS).is_some_and(|c| c != ck::CKO_DATA) {
                return Err(Error::TemplateInconsistent);
            }
            let len = tmpl.ulong(ck::CKA_VALUE_LEN).ok_or(Error::TemplateIncomplete)? as usize;
            let rest = Template::new(tmpl.iter().filter(|t| t.atype != ck::CKA_VALUE_LEN).cloned().collect());
            let checked = newobj::Checked::new(policy::DATA, &rest, a.is_so())?;
            let data = self.derive_bytes(&a, mech, &base, None, len)?;
            let obj = newobj::data_object(&checked, Some(data))?;
            return Ok(vec![self.m.objects().store_new(&a, &s, obj)?]);
        }

        if tmpl.ulong(ck::CKA_CLASS).is_some_and(|c| c != ck::CKO_SECRET_KEY) {
            return Err(Error::TemplateInconsistent);
        }
        let generic = GENERIC.contains(&mech.mtype);
        // CONCATENATE_BASE_AND_KEY's second key, looked up once: its length,
        // its value and its flags then all come from the same object.
        let other = if mech.mtype == ck::CKM_CONCATENATE_BASE_AND_KEY { Some(self.other_key(&a, mech)?) } else { None };
        // The generic derivations make a generic secret unless told otherwise.
        let key_type = match tmpl.ulong(ck::CKA_KEY_TYPE) {
            Some(kt) => kt,
            // HKDF too: "the mechanism contributes CKA_CLASS and CKA_VALUE;
            // other attributes ... are assigned default values".
            None if generic || matches!(mech.param, Param::Hkdf { .. }) => ck::CKK_GENERIC_SECRET,
            None => return Err(Error::TemplateIncomplete),
        };
        if tmpl.contains(ck::CKA_VALUE) {
            return Err(Error::TemplateInconsistent);
        }
        let checked = newobj::Checked::new(policy::SECRET, tmpl, a.is_so())?;
        let len = match tmpl.ulong(ck::CKA_VALUE_LEN) {
            Some(l) => l as usize,
            // A DES key's length is its type's.
            None if des::key_len(key_type).is_some() => des::key_len(key_type).unwrap_or(0),
            None => match (&mech.param, key_type) {
                // Whatever the generic derivations produce in full.
                (Param::DataString(d), _)
                    if mech.mtype == ck::CKM_CONCATENATE_BASE_AND_DATA
                        || mech.mtype == ck::CKM_CONCATENATE_DATA_AND_BASE =>
                {
                    value_len(&base)? + d.len()
                }
                (Param::DataString(d), _) if mech.mtype == ck::CKM_XOR_BASE_AND_DATA => value_len(&base)?.min(d.len()),
                (_, _) if mech.mtype == ck::CKM_CONCATENATE_BASE_AND_KEY => {
                    value_len(&base)? + value_len(other.as_deref().ok_or(Error::MechanismParamInvalid)?)?
                }
                (Param::DataString(d), _)
                | (Param::CbcData { data: d, .. }, _)
                | (Param::DesCbcData { data: d, .. }, _) => d.len(),
                (Param::Ecdh { .. }, _) => self.ecdh_len(&base)?,
                // The whole shared secret: the prime's length.
                (_, _) if mech.mtype == ck::CKM_DH_PKCS_DERIVE => dh_len(&base)?,
                // HKDF into a key of no fixed length, or extract only (the
                // PRK, whatever the key type): the hash's length.
                (Param::Hkdf { prf, .. }, ck::CKK_GENERIC_SECRET | ck::CKK_HKDF) => kdf::hkdf_hash_len(*prf)?,
                (Param::Hkdf { prf, expand: false, .. }, _) => kdf::hkdf_hash_len(*prf)?,
                _ => return Err(Error::TemplateIncomplete),
            },
        };
        keygen::check_secret_len(key_type, len).map_err(|_| Error::TemplateInconsistent)?;
        let mut value = self.derive_bytes(&a, mech, &base, other.as_deref(), len)?;
        if des::key_len(key_type).is_some() {
            // Derived DES keys get odd parity (as SoftHSM sets it).
            des::fix_parity(&mut value);
        }
        let mut obj = newobj::secret_key(&checked, key_type, value, None)?;
        let mut always_sensitive = base.bool(ck::CKA_ALWAYS_SENSITIVE);
        let mut never_extractable = base.bool(ck::CKA_NEVER_EXTRACTABLE);
        if generic {
            // §2.43: a sensitive base makes the derived key sensitive, a
            // non-extractable one makes it non-extractable (both keys, for
            // CONCATENATE_BASE_AND_KEY), whatever the template says.
            for b in std::iter::once(&base).chain(other.as_ref()) {
                if b.bool(ck::CKA_SENSITIVE) {
                    obj.set(ck::CKA_SENSITIVE, Value::Bool(true));
                }
                if !b.bool(ck::CKA_EXTRACTABLE) {
                    obj.set(ck::CKA_EXTRACTABLE, Value::Bool(false));
                }
                always_sensitive &= b.bool(ck::CKA_ALWAYS_SENSITIVE);
                never_extractable &= b.bool(ck::CKA_NEVER_EXTRACTABLE);
            }
        }
        let always_sensitive = always_sensitive && obj.bool(ck::CKA_SENSITIVE);
        let never_extractable = never_extractable && !obj.bool(ck::CKA_EXTRACTABLE);
        obj.set(ck::CKA_ALWAYS_SENSITIVE, Value::Bool(always_sensitive));
        obj.set(ck::CKA_NEVER_EXTRACTABLE, Value::Bool(never_extractable));
        Ok(vec![self.m.objects().store_new(&a, &s, obj)?])
    }
}
