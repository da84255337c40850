//! The SP 800-108 KDFs through C_DeriveKey (PKCS#11 3.0 §2.42): counter,
//! feedback and double-pipeline mode, other keys' values as PRF input
//! (CK_SP800_108_KEY_HANDLE), and additional derived keys (CK_DERIVED_KEY),
//! all made or none.
//!
//! Attribute rules (§2.42.8): a derived key's CKA_SENSITIVE and
//! CKA_EXTRACTABLE, when its template leaves them out, are the base key's;
//! CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE hold only if they held for
//! the base key and every input key and still hold for the new key.

use std::sync::Arc;

use cryptoki_sys as ck;

use super::derive::{key_type_in, HMAC_BASES};
use super::newobj;
use super::{Access, ObjectHandle, Session, Sessions};
use crate::error::{Error, Result};
use crate::mech::kdf::{self, Input};
use crate::mech::keygen;
use crate::model::{policy, Attribute, Mechanism, Object, Param, PrfData, Template, Value};

impl Sessions<'_> {
    /// Derives the caller's key (`tmpl`, already governed by the base key's
    /// CKA_DERIVE_TEMPLATE) and the parameter's additional keys; the
    /// handles in that order.
    pub(super) fn derive_kdf108(
        &self,
        a: &Access,
        s: &Session,
        mech: &Mechanism,
        base: &Object,
        tmpl: &Template,
        governing: &[Attribute],
    ) -> Result<Vec<ObjectHandle>> {
        let Param::Kdf108 { mode, prf, data, extra } = &mech.param else {
            return Err(Error::MechanismParamInvalid);
        };
        let bases: &[ck::CK_KEY_TYPE] = if *prf == ck::CKM_AES_CMAC { &[ck::CKK_AES] } else { HMAC_BASES };
        key_type_in(base, bases)?;
        // The input keys, each allowed to derive as the base key is.
        let mut inputs: Vec<(u64, Arc<Object>)> = Vec::new();
        for d in data {
            if let PrfData::Key(h) = d {
                let k = self.usable_key(a, *h, ck::CKA_DERIVE, mech.mtype)?;
                if k.class() != ck::CKO_SECRET_KEY {
                    return Err(Error::KeyTypeInconsistent);
                }
                inputs.push((*h, k));
            }
        }
        // Every key's template checked, and its length known, before any
        // keying material is made.
        let mut templates = vec![tmpl.clone()];
        for t in extra {
            templates.push(newobj::governed(t, governing)?);
        }
        let mut plans = Vec::with_capacity(templates.len());
        for t in &templates {
            if t.ulong(ck::CKA_CLASS).is_some_and(|c| c != ck::CKO_SECRET_KEY) || t.contains(ck::CKA_VALUE) {
                return Err(Error::TemplateInconsistent);
            }
            let key_type = t.ulong(ck::CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?;
            let checked = newobj::Checked::new(policy::SECRET, t, a.is_so())?;
            let len = t.ulong(ck::CKA_VALUE_LEN).ok_or(Error::TemplateIncomplete)? as usize;
            keygen::check_secret_len(key_type, len).map_err(|_| Error::TemplateInconsistent)?;
            plans.push((checked, key_type, len));
        }
        let lens: Vec<usize> = plans.iter().map(|p| p.2).collect();
        let key_value = |h: u64| -> Result<&[u8]> {
            let k = inputs.iter().find(|(kh, _)| *kh == h).ok_or(Error::KeyHandleInvalid)?;
            k.1.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)
        };
        let layout = data.iter().map(|d| Input::of(d, key_value)).collect::<Result<Vec<_>>>()?;
        let value = base.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?;
        let values = kdf::sp800_108(mode, *prf, value, &layout, &lens)?;

        let sources = std::iter::once(base).chain(inputs.iter().map(|(_, k)| &**k));
        let always_sensitive = sources.clone().all(|k| k.bool(ck::CKA_ALWAYS_SENSITIVE));
        let never_extractable = sources.clone().all(|k| k.bool(ck::CKA_NEVER_EXTRACTABLE));
        let mut objects = Vec::with_capacity(plans.len());
        for (((checked, key_type, _), v), t) in plans.iter().zip(values).zip(&templates) {
            let mut obj = newobj::secret_key(checked, *key_type, v, None)?;
            for flag in [ck::CKA_SENSITIVE, ck::CKA_EXTRACTABLE] {
                if !t.contains(flag) {
                    obj.set(flag, Value::Bool(base.bool(flag)));
                }
            }
            let sensitive = obj.bool(ck::CKA_SENSITIVE);
            let extractable = obj.bool(ck::CKA_EXTRACTABLE);
            obj.set(ck::CKA_ALWAYS_SENSITIVE, Value::Bool(always_sensitive && sensitive));
            obj.set(ck::CKA_NEVER_EXTRACTABLE, Value::Bool(never_extractable && !extractable));
            objects.push(obj);
        }
        // All made or none: a key that cannot be stored takes back the ones
        // stored before it.
        let mut made = Vec::with_capacity(objects.len());
        for obj in objects {
            match self.m.objects().store_new(a, s, obj) {
                Ok(h) => made.push(h),
                Err(e) => {
                    for h in made {
                        self.discard(a, h);
                    }
                    return Err(e);
                }
            }
        }
        Ok(made)
    }
}
