//! C_WrapKey / C_UnwrapKey for secret keys (their value) and private keys
//! (PKCS#8 PrivateKeyInfo), with the wrap policy: CKA_EXTRACTABLE,
//! CKA_WRAP_WITH_TRUSTED / CKA_TRUSTED, CKA_WRAP_TEMPLATE and
//! CKA_UNWRAP_TEMPLATE, the usage flags and CKA_ALLOWED_MECHANISMS.
//!
//! Mechanisms: CKM_AES_KEY_WRAP (RFC 3394), CKM_AES_KEY_WRAP_KWP (RFC 5649)
//! and CKM_AES_KEY_WRAP_PAD answered as RFC 5649 (as SoftHSM files it),
//! CKM_AES_CBC_PAD and CKM_AES_GCM under an AES key; the DES and TDES ECB,
//! CBC and CBC_PAD modes under a DES/DES2/DES3 key; CKM_RSA_PKCS,
//! CKM_RSA_PKCS_OAEP and CKM_RSA_AES_KEY_WRAP under an RSA key pair.

use super::Sessions;
use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::crypto::Produced;
use super::newobj;
use super::{Access, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::aes::{AesCipher, CipherSpec};
use crate::mech::asym::CryptAlg;
use crate::mech::des::{self, DesCipher, DesSpec};
use crate::mech::keys::Key;
use crate::mech::prims as raw;
use crate::mech::{keygen, registry};
use crate::model::{policy, AttrType, Mechanism, Object, Param, Template, Value};

/// The wrapping or unwrapping key's material.
enum KekKey {
    Aes(Zeroizing<Vec<u8>>),
    /// A DES, DES2 or DES3 key, for the DES modes.
    Des(Zeroizing<Vec<u8>>),
    Rsa(std::sync::Arc<Key>),
    /// A KMS master key, for CKM_FHSM_KMS_WRAP.
    Kms(super::kms::KmsKey),
}

/// A KEK for one direction, its errors already mapped to the wrap codes.
struct Kek {
    key: KekKey,
    trusted: bool,
    template: Vec<crate::model::Attribute>,
}

fn is_rsa_mech(m: ck::CK_MECHANISM_TYPE) -> bool {
    matches!(m, ck::CKM_RSA_PKCS | ck::CKM_RSA_PKCS_OAEP | ck::CKM_RSA_AES_KEY_WRAP)
}

impl Kek {
    fn aes(&self, wrap: bool) -> Result<&[u8]> {
        match &self.key {
            KekKey::Aes(v) => Ok(v),
            _ => Err(type_err(wrap)),
        }
    }

    fn rsa(&self, wrap: bool) -> Result<&Key> {
        match &self.key {
            KekKey::Rsa(k) => Ok(k),
            _ => Err(type_err(wrap)),
        }
    }
}

fn type_err(wrap: bool) -> Error {
    if wrap {
        Error::WrappingKeyTypeInconsistent
    } else {
        Error::UnwrappingKeyTypeInconsistent
    }
}

/// CKM_RSA_AES_KEY_WRAP: the temporary AES key's size and its OAEP scheme.
fn rsa_aes_params(param: &Param) -> Result<(usize, CryptAlg)> {
    let Param::RsaAesWrap { aes_bits, oaep } = param else { return Err(Error::MechanismParamInvalid) };
    let len = match aes_bits {
        128 | 192 | 256 => *aes_bits as usize / 8,
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok((len, CryptAlg::oaep(oaep)?))
}

fn kw_iv(param: &Param) -> Result<Option<[u8; 8]>> {
    match param {
        Param::None => Ok(None),
        Param::Bytes(b) => Ok(Some(b[..].try_into().map_err(|_| Error::MechanismParamInvalid)?)),
        _ => Err(Error::MechanismParamInvalid),
    }
}

fn no_param(param: &Param) -> Result<()> {
    match param {
        Param::None => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Does `obj` carry every attribute of `template` with the same value?
fn satisfies(obj: &Object, template: &[crate::model::Attribute]) -> bool {
    template.iter().all(|a| obj.get(a.atype) == Some(&a.value))
}

impl Sessions<'_> {
    fn key_handle_err(e: Error) -> Error {
        match e {
            Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
            e => e,
        }
    }

    fn kek(&self, a: &Access, mech: &Mechanism, h: ObjectHandle, wrap: bool) -> Result<Kek> {
        let (usage, template_attr): (AttrType, AttrType) =
            if wrap { (ck::CKA_WRAP, ck::CKA_WRAP_TEMPLATE) } else { (ck::CKA_UNWRAP, ck::CKA_UNWRAP_TEMPLATE) };
        let handle_err = |e| match (e, wrap) {
            (Error::KeyHandleInvalid, true) => Error::WrappingKeyHandleInvalid,
            (Error::KeyHandleInvalid, false) => Error::UnwrappingKeyHandleInvalid,
            (Error::KeyTypeInconsistent, w) => type_err(w),
            (e, _) => e,
        };
        // The key's kind is checked before its usage flags: an RSA private
        // key offered for wrapping is the wrong type, not a forbidden use.
        let class =
            self.m.objects().find_for_use(a, h).map_err(|e| handle_err(Self::key_handle_err(e)))?.object().class();
        let want = match (is_rsa_mech(mech.mtype), wrap) {
            (false, _) => ck::CKO_SECRET_KEY,
            (true, true) => ck::CKO_PUBLIC_KEY,
            (true, false) => ck::CKO_PRIVATE_KEY,
        };
        if class != want {
            return Err(type_err(wrap));
        }
        let k = self.usable_key(a, h, usage, mech.mtype).map_err(handle_err)?;
        let key = if mech.mtype == crate::vendor::CKM_FHSM_KMS_WRAP {
            // The object usable_key just found (and checked enabled); master
            // keys are token objects, so the handle is the store id.
            let uid = k.bytes(ck::CKA_UNIQUE_ID).and_then(super::keyid::uid_from_bytes).ok_or(type_err(wrap))?;
            let id = crate::store::ObjectId::try_from(h).map_err(|_| type_err(wrap))?;
            KekKey::Kms(super::kms::KmsKey { id, uid, obj: k.clone() })
        } else if is_rsa_mech(mech.mtype) {
            let want = if wrap { ck::CKO_PUBLIC_KEY } else { ck::CKO_PRIVATE_KEY };
            if k.class() != want || k.ulong(ck::CKA_KEY_TYPE) != Some(ck::CKK_RSA) {
                return Err(type_err(wrap));
            }
            KekKey::Rsa(self.operation_key(a, &k)?)
        } else if des::is_cipher(mech.mtype) {
            if k.class() != ck::CKO_SECRET_KEY
                || !k.ulong(ck::CKA_KEY_TYPE).is_some_and(|kt| des::key_type_ok(mech.mtype, kt))
            {
                return Err(type_err(wrap));
            }
            KekKey::Des(Zeroizing::new(k.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?.to_vec()))
        } else {
            if k.class() != ck::CKO_SECRET_KEY || k.ulong(ck::CKA_KEY_TYPE) != Some(ck::CKK_AES) {
                return Err(type_err(wrap));
            }
            KekKey::Aes(Zeroizing::new(k.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?.to_vec()))
        };
        let template = match k.get(template_attr) {
            Some(Value::Template(t)) => t.clone(),
            _ => Vec::new(),
        };
        Ok(Kek { key, trusted: k.bool(ck::CKA_TRUSTED), template })
    }

    /// The KMS context of a CKM_FHSM_KMS_WRAP parameter.
    fn kms_context(mech: &Mechanism) -> Result<&[(Vec<u8>, Vec<u8>)]> {
        match &mech.param {
            Param::None => Ok(&[]),
            Param::KmsContext(c) => Ok(c),
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    /// Wraps key bytes: the KMS blob, or `seal_key`.
    fn seal_any(&self, a: &Access, mech: &Mechanism, kek: &Kek, data: &[u8]) -> Result<Vec<u8>> {
        match &kek.key {
            KekKey::Kms(k) => self.m.kms().wrap_value(a, k, Self::kms_context(mech)?, data),
            _ => Self::seal_key(mech, kek, data),
        }
    }

    /// Unwraps key bytes: the KMS blob, or `open_key`.
    fn open_any(&self, a: &Access, mech: &Mechanism, kek: &Kek, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match &kek.key {
            KekKey::Kms(k) => self.m.kms().unwrap_value(a, k, Self::kms_context(mech)?, wrapped),
            _ => Self::open_key(mech, kek, wrapped),
        }
    }

    /// Encrypts key bytes under a KEK with a wrap mechanism.
    fn seal_key(mech: &Mechanism, kek: &Kek, data: &[u8]) -> Result<Vec<u8>> {
        if is_rsa_mech(mech.mtype) {
            let rsa = kek.rsa(true)?;
            if mech.mtype == ck::CKM_RSA_AES_KEY_WRAP {
                let (len, oaep) = rsa_aes_params(&mech.param)?;
                let temp = keygen::random_key(len)?;
                let mut out = oaep.encrypt(rsa, &temp)?;
                out.extend(raw::kwp_wrap(&temp, data).map_err(|_| Error::general("AES key wrap failed"))?);
                return Ok(out);
            }
            let alg = CryptAlg::parse(mech)?.ok_or(Error::MechanismInvalid)?;
            return alg.encrypt(rsa, data).map_err(|e| match e {
                Error::DataLenRange => Error::KeySizeRange,
                e => e,
            });
        }
        if let KekKey::Des(k) = &kek.key {
            // ECB and CBC take the value padded with zeros to whole blocks
            // (PKCS#11 3.0 §2.2's rule for block-cipher wrapping).
            let spec = DesSpec::parse(mech.mtype, &mech.param)?;
            let mut padded = Zeroizing::new(data.to_vec());
            if matches!(spec, DesSpec::Ecb | DesSpec::Cbc { pad: false, .. }) {
                padded.resize(data.len().div_ceil(8) * 8, 0);
            }
            return Ok(DesCipher::new(spec, k, true)?.oneshot(&padded)?.to_vec());
        }
        let kek = kek.aes(true)?;
        match mech.mtype {
            ck::CKM_AES_KEY_WRAP => {
                if data.len() % 8 != 0 || data.len() < 16 {
                    return Err(Error::KeySizeRange);
                }
                raw::kw_wrap(kek, kw_iv(&mech.param)?.as_ref(), data).map_err(|_| Error::general("AES key wrap failed"))
            }
            ck::CKM_AES_KEY_WRAP_KWP | ck::CKM_AES_KEY_WRAP_PAD => {
                no_param(&mech.param)?;
                raw::kwp_wrap(kek, data).map_err(|_| Error::general("AES key wrap failed"))
            }
            ck::CKM_AES_CBC_PAD | ck::CKM_AES_GCM => {
                let spec = CipherSpec::parse(mech.mtype, &mech.param)?;
                Ok(AesCipher::new(spec, kek, true)?.oneshot(data)?.to_vec())
            }
            _ => Err(Error::MechanismInvalid),
        }
    }

    fn open_key(mech: &Mechanism, kek: &Kek, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let invalid = |_| Error::WrappedKeyInvalid;
        let rsa_err = |e| match e {
            Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
            Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
            e => e,
        };
        if is_rsa_mech(mech.mtype) {
            let rsa = kek.rsa(false)?;
            let k = rsa.rsa().map_or(0, |r| r.size());
            if mech.mtype == ck::CKM_RSA_AES_KEY_WRAP {
                let (len, oaep) = rsa_aes_params(&mech.param)?;
                if wrapped.len() < k + 16 || (wrapped.len() - k) % 8 != 0 {
                    return Err(Error::WrappedKeyLenRange);
                }
                let temp = oaep.decrypt(rsa, &wrapped[..k]).map_err(rsa_err)?;
                if temp.len() != len {
                    return Err(Error::WrappedKeyInvalid);
                }
                return raw::kwp_unwrap(&temp, &wrapped[k..]).map_err(invalid);
            }
            let alg = CryptAlg::parse(mech)?.ok_or(Error::MechanismInvalid)?;
            return alg.decrypt(rsa, wrapped).map_err(rsa_err);
        }
        if let KekKey::Des(k) = &kek.key {
            let spec = DesSpec::parse(mech.mtype, &mech.param)?;
            return DesCipher::new(spec, k, false)?.oneshot(wrapped).map_err(|e| match e {
                Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
                Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
                e => e,
            });
        }
        let kek = kek.aes(false)?;
        match mech.mtype {
            ck::CKM_AES_KEY_WRAP => {
                if wrapped.len() % 8 != 0 || wrapped.len() < 24 {
                    return Err(Error::WrappedKeyLenRange);
                }
                raw::kw_unwrap(kek, kw_iv(&mech.param)?.as_ref(), wrapped).map_err(invalid)
            }
            ck::CKM_AES_KEY_WRAP_KWP | ck::CKM_AES_KEY_WRAP_PAD => {
                no_param(&mech.param)?;
                if wrapped.len() % 8 != 0 || wrapped.len() < 16 {
                    return Err(Error::WrappedKeyLenRange);
                }
                raw::kwp_unwrap(kek, wrapped).map_err(invalid)
            }
            ck::CKM_AES_CBC_PAD | ck::CKM_AES_GCM => {
                let spec = CipherSpec::parse(mech.mtype, &mech.param)?;
                AesCipher::new(spec, kek, false)?.oneshot(wrapped).map_err(|e| match e {
                    Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
                    Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
                    e => e,
                })
            }
            _ => Err(Error::MechanismInvalid),
        }
    }

    pub fn wrap_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        wrapping: ObjectHandle,
        key: ObjectHandle,
        cap: Option<usize>,
    ) -> Result<Produced> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        registry::for_operation(mech.mtype, ck::CKF_WRAP)?;
        let kek = self.kek(&a, mech, wrapping, true)?;
        let found = self.m.objects().find_for_use(&a, key).map_err(|e| match e {
            Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
            e => e,
        })?;
        let target = found.object();
        if !matches!(target.class(), ck::CKO_SECRET_KEY | ck::CKO_PRIVATE_KEY) {
            return Err(Error::KeyNotWrappable);
        }
        if !target.bool(ck::CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        if target.bool(ck::CKA_WRAP_WITH_TRUSTED) && !kek.trusted {
            return Err(Error::KeyNotWrappable);
        }
        if !satisfies(target, &kek.template) {
            return Err(Error::KeyNotWrappable);
        }
        if !target.locked.is_empty() {
            return Err(Error::UserNotLoggedIn);
        }
        let value = if target.class() == ck::CKO_PRIVATE_KEY {
            Key::from_object(target, false)?.pkcs8()?
        } else {
            Zeroizing::new(target.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?.to_vec())
        };
        let wrapped = self.seal_any(&a, mech, &kek, &value)?;
        Ok(Produced::public(wrapped, cap))
    }

    pub fn unwrap_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        unwrapping: ObjectHandle,
        wrapped: &[u8],
        tmpl: &Template,
    ) -> Result<ObjectHandle> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        registry::for_operation(mech.mtype, ck::CKF_UNWRAP)?;
        let kek = self.kek(&a, mech, unwrapping, false)?;
        // The unwrap template's attributes apply to the new key; the
        // caller may repeat them but not contradict them.
        let full = newobj::governed(tmpl, &kek.template)?;
        let class = full.ulong(ck::CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
        if class == ck::CKO_PRIVATE_KEY {
            return self.unwrap_private(a, &s, mech, &kek, wrapped, &full);
        }
        if class != ck::CKO_SECRET_KEY {
            return Err(Error::TemplateInconsistent);
        }
        let key_type = full.ulong(ck::CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?;
        if full.contains(ck::CKA_VALUE) {
            return Err(Error::TemplateInconsistent);
        }
        let checked = newobj::Checked::new(policy::SECRET, &full, a.is_so())?;
        let mut value = self.open_any(&a, mech, &kek, wrapped)?;
        if let Some(len) = full.ulong(ck::CKA_VALUE_LEN) {
            let len = usize::try_from(len).map_err(|_| Error::TemplateInconsistent)?;
            if len > value.len() {
                return Err(Error::TemplateInconsistent);
            }
            value.truncate(len);
        }
        if let Some(n) = des::key_len(key_type) {
            // A DES key has no CKA_VALUE_LEN: its type gives the length
            // (the rest is the zero padding of an ECB/CBC wrap); its
            // parity must be right (PKCS#11 3.0 §2.31).
            if value.len() < n || value[n..].iter().any(|b| *b != 0) {
                return Err(Error::WrappedKeyInvalid);
            }
            value.truncate(n);
            des::check_key(key_type, &value).map_err(|_| Error::WrappedKeyInvalid)?;
        }
        keygen::check_secret_len(key_type, value.len()).map_err(|_| Error::WrappedKeyInvalid)?;
        let obj = newobj::secret_key(&checked, key_type, value, None)?;
        self.m.objects().store_new(&a, &s, obj)
    }

    /// Unwraps a PKCS#8 private key into a private-key object.
    fn unwrap_private(
        &self,
        a: Access,
        s: &super::Session,
        mech: &Mechanism,
        kek: &Kek,
        wrapped: &[u8],
        full: &Template,
    ) -> Result<ObjectHandle> {
        // The key material comes from the PKCS#8, the exponent included.
        let checked = newobj::Checked::for_token_key(policy::PRIV, full, a.is_so(), None)?;
        let der = self.open_any(&a, mech, kek, wrapped)?;
        let key = Key::from_pkcs8(&der)?;
        let obj =
            newobj::private_key(&checked, Some(&newobj::TokenKey { key: &key, generated_by: None, ec_params: None }))?;
        self.m.objects().store_new(&a, s, obj)
    }
}
