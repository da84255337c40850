//! C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize,
//! C_GetAttributeValue, C_SetAttributeValue.

use cryptoki_sys as ck;

use super::newobj;
use super::{Found, Module, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::model::policy::{self, flag};
use crate::model::{AttrType, Object, Read, Template, Value};
use crate::store::codec;

pub use super::AttrOut;

impl Module {
    pub fn create_object(&self, h: SessionHandle, tmpl: &Template) -> Result<ObjectHandle> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        let class = tmpl.ulong(ck::CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
        let bit = policy::class_bit(class).ok_or(Error::AttributeValueInvalid)?;
        let checked = newobj::Checked::new(bit, tmpl, a.is_so())?;
        let mut obj = newobj::from_template(&checked)?;
        if bit == policy::SECRET && tmpl.bool(crate::vendor::CKA_FHSM_KMS) == Some(true) {
            // An imported master key (origin EXTERNAL); `from_template`
            // checked the key type and value are there.
            let key_type = tmpl.ulong(ck::CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?;
            let value = tmpl.bytes(ck::CKA_VALUE).ok_or(Error::TemplateIncomplete)?;
            for (t, v) in super::kms::new_key_attrs(tmpl, key_type, value)? {
                obj.set(t, v);
            }
        }
        self.store_new(&a, &s, obj)
    }

    pub fn copy_object(&self, h: SessionHandle, obj: ObjectHandle, tmpl: &Template) -> Result<ObjectHandle> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        let found = self.find_object(&a, obj)?;
        let src = found.object();
        if !src.bool(ck::CKA_COPYABLE) {
            return Err(Error::ActionProhibited);
        }
        let mut copy = changed(src, tmpl, a.is_so(), policy::is_copy_modifiable)?;
        copy.attrs.remove(&ck::CKA_UNIQUE_ID);
        self.store_new(&a, &s, copy)
    }

    pub fn destroy_object(&self, h: SessionHandle, obj: ObjectHandle) -> Result<()> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        let found = self.find_object(&a, obj)?;
        if !found.object().bool(ck::CKA_DESTROYABLE) {
            return Err(Error::ActionProhibited);
        }
        if found.object().bool(crate::vendor::CKA_FHSM_KMS) {
            a.require(super::Need::Rw)?;
            if let Found::Token { uid, .. } = found {
                // A master key is never destroyed at once: KMS semantics.
                return self.kms().destroy(&a, &uid);
            }
        }
        match found {
            Found::Token { token_id, id, uid, ref object } => {
                a.require(super::Need::Rw)?;
                let key = crate::hex::hex(&uid);
                let detail = format!("class {:#x}", object.class());
                let rec = super::audit::Record {
                    key: &key,
                    detail: &detail,
                    ..super::audit::Record::of(&a, "destroy-object")
                };
                let w = a.writer()?;
                self.audit_with_next_write(&rec);
                if !self.store.delete_object(token_id, w, id)? {
                    return Err(Error::ObjectHandleInvalid);
                }
            }
            Found::Session { handle, .. } => {
                self.sessions.objects.write().remove(&handle);
            }
        }
        Ok(())
    }

    pub fn object_size(&self, h: SessionHandle, obj: ObjectHandle) -> Result<u64> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        Ok(self.find_object(&a, obj)?.object().size() as u64)
    }

    /// Per-attribute answers, in template order; the boundary writes them
    /// and picks the overall return code.
    pub fn get_attributes(&self, h: SessionHandle, obj: ObjectHandle, types: &[AttrType]) -> Result<Vec<AttrOut>> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        let found = self.find_object(&a, obj)?;
        let o = found.object();
        Ok(types
            .iter()
            .map(|&t| match o.read(t) {
                Read::Value(v) => AttrOut::Value(v.clone()),
                Read::Sensitive => AttrOut::Sensitive,
                Read::Invalid => AttrOut::Invalid,
            })
            .collect())
    }

    pub fn set_attributes(&self, h: SessionHandle, obj: ObjectHandle, tmpl: &Template) -> Result<()> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        let found = self.find_object(&a, obj)?;
        let cur = found.object();
        if !cur.bool(ck::CKA_MODIFIABLE) {
            return Err(Error::ActionProhibited);
        }
        if matches!(found, Found::Token { .. }) {
            a.require(super::Need::Rw)?;
        }
        let next = changed(cur, tmpl, a.is_so(), policy::is_modifiable)?;
        match found {
            Found::Token { token_id, id, uid, .. } => {
                let stored = codec::encode(a.sealer(), id, &uid, &next)?;
                let types: Vec<String> = tmpl.iter().map(|t| format!("{:#x}", t.atype)).collect();
                let key = crate::hex::hex(&uid);
                let detail = format!("attributes {}", types.join(","));
                let rec = super::audit::Record {
                    key: &key,
                    detail: &detail,
                    ..super::audit::Record::of(&a, "set-attribute")
                };
                self.audit_with_next_write(&rec);
                if !self.store.replace_object(token_id, a.writer()?, &stored)? {
                    return Err(Error::ObjectHandleInvalid);
                }
            }
            Found::Session { entry, .. } => {
                *entry.object.write() = std::sync::Arc::new(next);
            }
        }
        Ok(())
    }
}

/// The object with the template applied, if every change is allowed (set
/// or copy, as `allowed` says).
fn changed(cur: &Object, tmpl: &Template, is_so: bool, allowed: fn(u8, AttrType) -> bool) -> Result<Object> {
    tmpl.check_consistent()?;
    let bit = cur.class_bit();
    for at in tmpl.iter() {
        check_change(cur, bit, at.atype, &at.value, is_so, allowed)?;
    }
    if !cur.locked.is_empty() {
        // Its sealed secret could not be opened without a login, so it
        // cannot be re-sealed either.
        return Err(Error::UserNotLoggedIn);
    }
    let mut next = cur.clone();
    for at in tmpl.iter() {
        next.set(at.atype, at.value.clone());
    }
    Ok(next)
}

/// May this attribute take this value on an existing object (set or copy)?
fn check_change(
    cur: &Object,
    bit: u8,
    atype: AttrType,
    value: &Value,
    is_so: bool,
    allowed: fn(u8, AttrType) -> bool,
) -> Result<()> {
    if !policy::applies(bit, atype) {
        return Err(Error::AttributeTypeInvalid);
    }
    if !allowed(bit, atype) {
        return Err(Error::AttributeReadOnly);
    }
    let now = cur.get(atype).and_then(Value::as_bool);
    let new = value.as_bool();
    if policy::has_flag(atype, flag::ONLY_TO_TRUE) && now == Some(true) && new == Some(false) {
        return Err(Error::AttributeReadOnly);
    }
    if policy::has_flag(atype, flag::ONLY_TO_FALSE) && now == Some(false) && new == Some(true) {
        return Err(Error::AttributeReadOnly);
    }
    if policy::has_flag(atype, flag::SO_ONLY) && !is_so {
        return Err(Error::AttributeReadOnly);
    }
    Ok(())
}
