//! C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize,
//! C_GetAttributeValue, C_SetAttributeValue.

use super::Objects;
use cryptoki_sys as ck;

use super::newobj;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::sync::RwLock;

use super::cache::Stamped;
use super::{Access, Found, ObjectHandle, SessionHandle, SessionObject, SESSION_OBJECT_BASE};
use crate::error::{Error, Result};
use crate::model::policy::{self, flag};
use crate::model::{AttrType, Object, Read, Template, Value};
use crate::store::codec;
use crate::store::{ObjectId, TokenId, Uid};

pub use super::AttrOut;

/// The objects component's state: token objects already opened, stamped
/// with their token's revision (see `cache`; cleared at logout), and the
/// session objects, which live only as long as their session.
pub(crate) struct ObjectTable {
    opened: Stamped<(TokenId, ObjectId), Arc<Opened>>,
    /// Session objects by handle (always ≥ `SESSION_OBJECT_BASE`).
    session: RwLock<HashMap<ObjectHandle, Arc<SessionObject>>>,
    next_session: AtomicU64,
}

struct Opened {
    uid: Uid,
    private: bool,
    object: Arc<Object>,
}

impl ObjectTable {
    pub fn new(cap: usize) -> ObjectTable {
        ObjectTable {
            opened: Stamped::new(cap),
            session: RwLock::new(HashMap::new()),
            next_session: AtomicU64::new(SESSION_OBJECT_BASE),
        }
    }
    pub fn clear(&self) {
        self.opened.clear();
    }
}

impl Objects<'_> {
    /// Looks an object up by handle with the visibility rules applied: a
    /// private object does not exist for a caller who is not logged in as
    /// the user.
    pub(crate) fn find_object(&self, a: &Access, h: ObjectHandle) -> Result<Found> {
        if h >= SESSION_OBJECT_BASE {
            let entry = self.m.objects.session.read().get(&h).cloned().ok_or(Error::ObjectHandleInvalid)?;
            let object = entry.object.read().clone();
            if entry.slot != a.slot || (object.is_private() && !a.user_logged_in()) {
                return Err(Error::ObjectHandleInvalid);
            }
            return Ok(Found::Session { handle: h, entry, object });
        }
        let id = ObjectId::try_from(h).map_err(|_| Error::ObjectHandleInvalid)?;
        let token_id = a.token.token_id;
        if a.key.is_some() {
            if let Some(o) = self.m.objects.opened.get(&(token_id, id), a.token.rev as u64) {
                if o.private && !a.user_logged_in() {
                    return Err(Error::ObjectHandleInvalid);
                }
                return Ok(Found::Token { token_id, id, uid: o.uid, object: o.object.clone() });
            }
        }
        let stored = self.m.store.load_object(token_id, id)?.ok_or(Error::ObjectHandleInvalid)?;
        if stored.private && !a.user_logged_in() {
            return Err(Error::ObjectHandleInvalid);
        }
        let object = Arc::new(crate::store::codec::decode(a.sealer(), &stored)?);
        if a.key.is_some() && object.locked.is_empty() {
            let entry = Opened { uid: stored.uid, private: stored.private, object: object.clone() };
            self.m.objects.opened.put((token_id, id), a.token.rev as u64, Arc::new(entry));
        }
        Ok(Found::Token { token_id, id, uid: stored.uid, object })
    }

    /// Keeps a new session object; its handle.
    /// CKR_DEVICE_MEMORY past `limits.session_objects`.
    pub(crate) fn add_session_object(&self, entry: SessionObject) -> Result<ObjectHandle> {
        let mut table = self.m.objects.session.write();
        if table.len() >= self.m.config.limits.session_objects {
            return Err(Error::DeviceMemory);
        }
        let h = self.m.objects.next_session.fetch_add(1, Ordering::Relaxed);
        table.insert(h, Arc::new(entry));
        Ok(h)
    }

    /// The session objects, read-locked.
    pub(crate) fn session_objects(
        &self,
    ) -> crate::sync::RwLockReadGuard<'_, HashMap<ObjectHandle, Arc<SessionObject>>> {
        self.m.objects.session.read()
    }

    /// Forgets a session object.
    pub(crate) fn remove_session_object(&self, h: ObjectHandle) {
        self.m.objects.session.write().remove(&h);
    }

    /// Drops the objects of sessions that closed.
    pub(crate) fn drop_session_objects(&self, closed: &[SessionHandle]) {
        self.m.objects.session.write().retain(|_, o| !closed.contains(&o.session));
    }

    /// `find_object` for a *use* of the object (a key in an operation, a
    /// value digested, wrapped or derived from): a public object read
    /// without the token key has not had its tag checked, so it cannot be
    /// used until someone logs in (CKR_USER_NOT_LOGGED_IN).
    pub(crate) fn find_for_use(&self, a: &Access, h: ObjectHandle) -> Result<Found> {
        let found = self.find_object(a, h)?;
        if found.object().unverified {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(found)
    }

    /// A token key this session used before, while its token's revision is
    /// unchanged: the session's own copy (see `session::Kept`).
    pub(crate) fn kept_key(&self, a: &Access, h: ObjectHandle) -> Result<Option<Found>> {
        let Ok(id) = ObjectId::try_from(h) else { return Ok(None) };
        if a.key.is_none() || h >= SESSION_OBJECT_BASE {
            return Ok(None);
        }
        let mut kept = a.kept.lock();
        let Some(i) = kept.iter().position(|k| k.id == id && k.token_id == a.token.token_id) else { return Ok(None) };
        let k = kept.remove(i);
        if k.rev != a.token.rev {
            return Ok(None);
        }
        if k.object.is_private() && !a.user_logged_in() {
            return Err(Error::ObjectHandleInvalid);
        }
        let found = Found::Token { token_id: k.token_id, id, uid: k.uid, object: k.object.clone() };
        kept.push(k);
        Ok(Some(found))
    }

    /// Keeps a copy of a token key the session is about to use, and returns
    /// the key as that copy.
    pub(crate) fn keep_key(&self, a: &Access, found: Found) -> Found {
        let Found::Token { token_id, id, uid, object } = found else { return found };
        if a.key.is_none() || !object.locked.is_empty() {
            return Found::Token { token_id, id, uid, object };
        }
        let object = Arc::new(Object::clone(&object));
        {
            let mut kept = a.kept.lock();
            kept.retain(|k| !(k.id == id && k.token_id == token_id));
            if kept.len() >= super::session::KEPT_MAX {
                kept.remove(0);
            }
            kept.push(super::session::KeptKey { token_id, id, rev: a.token.rev, uid, object: object.clone() });
        }
        Found::Token { token_id, id, uid, object }
    }
}

impl Objects<'_> {
    pub fn create_object(&self, h: SessionHandle, tmpl: &Template) -> Result<ObjectHandle> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
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
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
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
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let found = self.find_object(&a, obj)?;
        if !found.object().bool(ck::CKA_DESTROYABLE) {
            return Err(Error::ActionProhibited);
        }
        if found.object().bool(crate::vendor::CKA_FHSM_KMS) {
            a.require(super::Need::Rw)?;
            if let Found::Token { uid, .. } = found {
                // A master key is never destroyed at once: KMS semantics.
                return self.m.kms().destroy(&a, &uid);
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
                self.m.audit().with_next_write(&rec);
                if !self.m.store.delete_object(token_id, w, id)? {
                    return Err(Error::ObjectHandleInvalid);
                }
            }
            Found::Session { handle, .. } => {
                self.remove_session_object(handle);
            }
        }
        Ok(())
    }

    pub fn object_size(&self, h: SessionHandle, obj: ObjectHandle) -> Result<u64> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        Ok(self.find_object(&a, obj)?.object().size() as u64)
    }

    /// Per-attribute answers, in template order; the boundary writes them
    /// and picks the overall return code.
    pub fn get_attributes(&self, h: SessionHandle, obj: ObjectHandle, types: &[AttrType]) -> Result<Vec<AttrOut>> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
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
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
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
                self.m.audit().with_next_write(&rec);
                if !self.m.store.replace_object(token_id, a.writer()?, &stored)? {
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
