//! C_WrapKey / C_UnwrapKey for secret keys, with the wrap policy:
//! CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED / CKA_TRUSTED, CKA_WRAP_TEMPLATE
//! and CKA_UNWRAP_TEMPLATE, the usage flags and CKA_ALLOWED_MECHANISMS.
//!
//! Mechanisms: CKM_AES_KEY_WRAP (RFC 3394), CKM_AES_KEY_WRAP_KWP (RFC 5649)
//! and CKM_AES_KEY_WRAP_PAD answered as RFC 5649 (as SoftHSM files it), plus
//! CKM_AES_CBC_PAD and CKM_AES_GCM.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::crypto::Produced;
use super::newobj::{build, check_new_template};
use super::{Access, Module, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::aes::{AesCipher, CipherSpec};
use crate::mech::{keygen, raw, registry};
use crate::model::{policy, AttrType, Mechanism, Object, Param, Template, Value};

/// A KEK for one direction, its errors already mapped to the wrap codes.
struct Kek {
    value: Zeroizing<Vec<u8>>,
    trusted: bool,
    template: Vec<crate::model::Attribute>,
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

impl Module {
    fn kek(&self, a: &Access, mech: &Mechanism, h: ObjectHandle, wrap: bool) -> Result<Kek> {
        let (usage, template_attr): (AttrType, AttrType) =
            if wrap { (ck::CKA_WRAP, ck::CKA_WRAP_TEMPLATE) } else { (ck::CKA_UNWRAP, ck::CKA_UNWRAP_TEMPLATE) };
        let k = self.usable_key(a, h, usage, mech.mtype).map_err(|e| match (e, wrap) {
            (Error::KeyHandleInvalid, true) => Error::WrappingKeyHandleInvalid,
            (Error::KeyHandleInvalid, false) => Error::UnwrappingKeyHandleInvalid,
            (e, _) => e,
        })?;
        if k.class() != ck::CKO_SECRET_KEY || k.ulong(ck::CKA_KEY_TYPE) != Some(ck::CKK_AES) {
            return Err(if wrap { Error::WrappingKeyTypeInconsistent } else { Error::UnwrappingKeyTypeInconsistent });
        }
        let value = Zeroizing::new(k.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?.to_vec());
        let template = match k.get(template_attr) {
            Some(Value::Template(t)) => t.clone(),
            _ => Vec::new(),
        };
        Ok(Kek { value, trusted: k.bool(ck::CKA_TRUSTED), template })
    }

    /// Encrypts key bytes under a KEK with a wrap mechanism.
    fn seal_key(mech: &Mechanism, kek: &[u8], data: &[u8]) -> Result<Vec<u8>> {
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

    fn open_key(mech: &Mechanism, kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let invalid = |_| Error::WrappedKeyInvalid;
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
        let s = self.session(h)?;
        let a = self.access(&s)?;
        registry::for_operation(mech.mtype, ck::CKF_WRAP)?;
        let kek = self.kek(&a, mech, wrapping, true)?;
        let found = self.find_object(&a, key).map_err(|e| match e {
            Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
            e => e,
        })?;
        let target = found.object();
        if target.class() != ck::CKO_SECRET_KEY {
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
        let value = target.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?;
        let wrapped = Self::seal_key(mech, &kek.value, value)?;
        Ok(match cap {
            None => Produced::Length(wrapped.len()),
            Some(c) if c < wrapped.len() => Produced::TooSmall(wrapped.len()),
            Some(_) => Produced::Public(wrapped),
        })
    }

    pub fn unwrap_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        unwrapping: ObjectHandle,
        wrapped: &[u8],
        tmpl: &Template,
    ) -> Result<ObjectHandle> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        registry::for_operation(mech.mtype, ck::CKF_UNWRAP)?;
        let kek = self.kek(&a, mech, unwrapping, false)?;
        // The unwrap template's attributes apply to the new key; the
        // caller may repeat them but not contradict them.
        let mut full = tmpl.clone();
        for t in &kek.template {
            match tmpl.get(t.atype) {
                Some(v) if v != &t.value => return Err(Error::TemplateInconsistent),
                Some(_) => {}
                None => full.push(t.clone()),
            }
        }
        let class = full.ulong(ck::CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
        if class != ck::CKO_SECRET_KEY {
            return Err(Error::TemplateInconsistent);
        }
        let key_type = full.ulong(ck::CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?;
        if full.contains(ck::CKA_VALUE) {
            return Err(Error::TemplateInconsistent);
        }
        check_new_template(policy::SECRET, &full, a.is_so())?;
        let mut value = Self::open_key(mech, &kek.value, wrapped)?;
        if let Some(len) = full.ulong(ck::CKA_VALUE_LEN) {
            let len = usize::try_from(len).map_err(|_| Error::TemplateInconsistent)?;
            if len > value.len() {
                return Err(Error::TemplateInconsistent);
            }
            value.truncate(len);
        }
        keygen::check_secret_len(key_type, value.len()).map_err(|_| Error::WrappedKeyInvalid)?;
        let kcv = keygen::check_value(key_type, &value);
        let len = value.len() as u64;
        let obj = build(
            policy::SECRET,
            &full,
            vec![
                (ck::CKA_VALUE, Value::Bytes(value)),
                (ck::CKA_VALUE_LEN, Value::Ulong(len)),
                (ck::CKA_CHECK_VALUE, Value::bytes(kcv)),
                (ck::CKA_LOCAL, Value::Bool(false)),
                (ck::CKA_KEY_GEN_MECHANISM, Value::Ulong(ck::CK_UNAVAILABLE_INFORMATION)),
            ],
        );
        self.store_new(&a, &s, obj)
    }
}
