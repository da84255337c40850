//! Building new objects from templates: the caller-side checks against the
//! policy table, the defaults, and storing the result where it belongs.

use cryptoki_sys as ck;

use super::{Access, Module, ObjectHandle, Session, SessionObject};
use crate::error::{Error, Result};
use crate::hex::hex;
use crate::mech::keygen;
use crate::model::policy::{self, flag};
use crate::model::{AttrType, Object, Template, Ulong, Value};
use crate::store::codec;
use crate::sys::rand::random_uid;

/// Checks every attribute a caller supplied for a new object of class
/// `bit`: known, applicable, not token-set, CKA_TRUSTED only by the SO.
pub(crate) fn check_new_template(bit: u8, tmpl: &Template, is_so: bool) -> Result<()> {
    tmpl.check_consistent()?;
    for a in tmpl.iter() {
        let rule = policy::rule(a.atype).ok_or(Error::AttributeTypeInvalid)?;
        if rule.classes & bit == 0 {
            return Err(Error::AttributeTypeInvalid);
        }
        if rule.flags & flag::TOKEN_SET != 0 {
            return Err(Error::AttributeReadOnly);
        }
        if rule.flags & flag::SO_ONLY != 0 && a.value == Value::Bool(true) && !is_so {
            return Err(Error::AttributeReadOnly);
        }
    }
    Ok(())
}

/// The defaults of each class as an object, built once (cloning it is
/// cheaper than inserting thirty attributes per new object).
fn default_object(bit: u8) -> Object {
    static CACHE: std::sync::OnceLock<Vec<(u8, Object)>> = std::sync::OnceLock::new();
    let all = CACHE.get_or_init(|| {
        [policy::DATA, policy::CERT, policy::PUB, policy::PRIV, policy::SECRET]
            .into_iter()
            .map(|b| {
                let mut o = Object::default();
                for (t, v) in policy::defaults(b) {
                    o.set(t, v);
                }
                (b, o)
            })
            .collect()
    });
    all.iter().find(|(b, _)| *b == bit).map(|(_, o)| o.clone()).unwrap_or_default()
}

/// Defaults, then the caller's template, then what the token sets.
pub(crate) fn build(bit: u8, tmpl: &Template, token_set: Vec<(AttrType, Value)>) -> Object {
    let mut o = default_object(bit);
    for a in tmpl.iter() {
        o.set(a.atype, a.value.clone());
    }
    for (t, v) in token_set {
        o.set(t, v);
    }
    if bit & (policy::PRIV | policy::SECRET) != 0 {
        // Set at creation from the key's own flags (PKCS#11 §4.9).
        let sensitive = o.bool(ck::CKA_SENSITIVE);
        let extractable = o.bool(ck::CKA_EXTRACTABLE);
        let local = o.bool(ck::CKA_LOCAL);
        o.set(ck::CKA_ALWAYS_SENSITIVE, Value::Bool(local && sensitive));
        o.set(ck::CKA_NEVER_EXTRACTABLE, Value::Bool(local && !extractable));
    }
    o
}

/// A caller's template for a key made from another (unwrapped by a key with
/// CKA_UNWRAP_TEMPLATE, derived from one with CKA_DERIVE_TEMPLATE): the
/// governing template's attributes apply to the new key; the caller may
/// repeat them, never contradict them (CKR_TEMPLATE_INCONSISTENT).
pub(crate) fn governed(tmpl: &Template, governing: &[crate::model::Attribute]) -> Result<Template> {
    let mut full = tmpl.clone();
    for t in governing {
        match tmpl.get(t.atype) {
            Some(v) if v != &t.value => return Err(Error::TemplateInconsistent),
            Some(_) => {}
            None => full.push(t.clone()),
        }
    }
    Ok(full)
}

/// The attributes a secret key's value fixes: its length checked against
/// the key type (CKR_ATTRIBUTE_VALUE_INVALID otherwise), CKA_VALUE_LEN and
/// CKA_CHECK_VALUE.
pub(crate) fn secret_value_attrs(key_type: Ulong, value: &[u8]) -> Result<Vec<(AttrType, Value)>> {
    let kcv = keygen::check_value(key_type, value)?;
    Ok(vec![(ck::CKA_VALUE_LEN, Value::Ulong(value.len() as u64)), (ck::CKA_CHECK_VALUE, Value::bytes(kcv))])
}

/// The one constructor of a new secret key, whatever made it (generate,
/// derive, unwrap; create and migration take `secret_value_attrs` into
/// their own class-generic build): the value checked for the key type,
/// the policy table's defaults, the caller's template, then what the token
/// sets. `generated_by` is the key-generation mechanism of a key made here
/// (CKA_LOCAL true), None for one that came from elsewhere.
pub(crate) fn secret_key(
    tmpl: &Template,
    key_type: Ulong,
    value: zeroize::Zeroizing<Vec<u8>>,
    generated_by: Option<crate::model::MechType>,
) -> Result<Object> {
    let mut set = secret_value_attrs(key_type, &value)?;
    set.extend([
        (ck::CKA_CLASS, Value::Ulong(ck::CKO_SECRET_KEY)),
        (ck::CKA_KEY_TYPE, Value::Ulong(key_type)),
        (ck::CKA_VALUE, Value::Bytes(value)),
        (ck::CKA_LOCAL, Value::Bool(generated_by.is_some())),
        (ck::CKA_KEY_GEN_MECHANISM, Value::Ulong(generated_by.unwrap_or(ck::CK_UNAVAILABLE_INFORMATION))),
    ]);
    Ok(build(policy::SECRET, tmpl, set))
}

impl Module {
    /// Stores a new object as a token object or a session object of `s`,
    /// after the access checks every creating call shares.
    pub(crate) fn store_new(&self, a: &Access, s: &Session, mut obj: Object) -> Result<ObjectHandle> {
        if obj.is_private() {
            a.require(super::Need::User)?;
        }
        if obj.bool(crate::vendor::CKA_FHSM_KMS) && obj.get(crate::vendor::CKA_FHSM_VERSIONS).is_none() {
            // Only generation and import make master keys (not unwrap,
            // derive or copy).
            return Err(Error::TemplateInconsistent);
        }
        let uid = random_uid()?;
        if obj.is_token() {
            a.require(super::Need::Rw)?;
            let stored = codec::encode(a.sealer(), 0, &uid, &obj)?;
            let event = match (obj.is_key(), obj.bool(ck::CKA_LOCAL), obj.bool(crate::vendor::CKA_FHSM_KMS)) {
                (true, true, true) => "create-kms-key",
                (true, false, true) => "import-kms-key",
                (true, true, false) => "generate-key",
                (true, false, false) => "import-key",
                _ => "create-object",
            };
            let key = hex(&uid);
            let detail = format!("class {:#x}", obj.class());
            // Committed with the object, in one transaction.
            self.audit_with_next_write(&super::audit::Record {
                key: &key,
                detail: &detail,
                ..super::audit::Record::of(a, event)
            });
            let id = self.store.insert_object(a.token.token_id, a.writer()?, &stored)?;
            return ObjectHandle::try_from(id).map_err(|_| Error::general("object id out of range"));
        }
        obj.set(ck::CKA_UNIQUE_ID, Value::bytes(hex(&uid).into_bytes()));
        let h = self.sessions.next_object_handle();
        let entry = SessionObject {
            session: s.handle,
            slot: s.slot,
            object: crate::sync::RwLock::new(std::sync::Arc::new(obj)),
        };
        self.sessions.objects.write().insert(h, std::sync::Arc::new(entry));
        Ok(h)
    }
}
