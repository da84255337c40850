//! Trusted import for migration from another token (SoftHSM): objects
//! arrive with every attribute the source had, including the ones only a
//! token may set (CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
//! CKA_KEY_GEN_MECHANISM), so a key that was never extractable stays so.
//! All objects of one import are stored in one store transaction.

use super::Slots;
use cryptoki_sys as ck;

use super::newobj;
use super::{ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::model::policy::{self, flag};
use crate::model::{Object, Template};
use crate::store::codec;
use crate::sys::rand::random_uid;

/// The object a migrated template becomes, or why it cannot be migrated.
/// Every attribute must be one this module knows for the class; key
/// components are checked the way C_CreateObject checks them.
pub fn migrated_object(tmpl: &Template) -> Result<Object> {
    let class = tmpl.ulong(ck::CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
    let bit = policy::class_bit(class).ok_or(Error::AttributeValueInvalid)?;
    if tmpl.bool(ck::CKA_TOKEN) != Some(true) {
        return Err(Error::TemplateInconsistent);
    }
    for a in tmpl.iter() {
        let rule = policy::rule(a.atype).ok_or(Error::AttributeTypeInvalid)?;
        if rule.classes & bit == 0 {
            return Err(Error::AttributeTypeInvalid);
        }
    }
    // What a caller may give goes through the ordinary checks; what only a
    // token sets is taken from the source afterwards.
    let settable = Template::new(
        tmpl.iter()
            .filter(|a| policy::rule(a.atype).is_some_and(|r| r.flags & flag::TOKEN_SET == 0))
            // Follows from the modulus; the token sets it.
            .filter(|a| !(bit == policy::PUB && a.atype == ck::CKA_MODULUS_BITS))
            .cloned()
            .collect(),
    );
    let mut obj = newobj::from_template(&newobj::Checked::migrated(bit, &settable)?)?;
    for a in tmpl.iter() {
        let ours_nonempty = obj.bytes(a.atype).is_some_and(|b| !b.is_empty());
        let theirs_empty = a.value.as_bytes().is_some_and(|b| b.is_empty());
        if policy::rule(a.atype).is_some_and(|r| r.flags & flag::TOKEN_SET != 0) && !(ours_nonempty && theirs_empty) {
            obj.set(a.atype, a.value.clone());
        }
    }
    if bit & (policy::PRIV | policy::SECRET) != 0 {
        if obj.bool(ck::CKA_ALWAYS_SENSITIVE) && !obj.bool(ck::CKA_SENSITIVE) {
            return Err(Error::TemplateInconsistent);
        }
        if obj.bool(ck::CKA_NEVER_EXTRACTABLE) && obj.bool(ck::CKA_EXTRACTABLE) {
            return Err(Error::TemplateInconsistent);
        }
    }
    Ok(obj)
}

impl Slots<'_> {
    /// Stores migrated objects as token objects of the session's token,
    /// all or none. Needs a read-write session logged in as the user.
    pub fn import_migrated(&self, h: SessionHandle, objects: &[Template]) -> Result<Vec<ObjectHandle>> {
        let (_, a) = self.m.authorize(h, super::Need::UserRw)?;
        let mut stored = Vec::with_capacity(objects.len());
        let mut records = Vec::with_capacity(objects.len());
        for tmpl in objects {
            let obj = migrated_object(tmpl)?;
            let uid = random_uid()?;
            stored.push(codec::encode(a.sealer(), 0, &uid, &obj)?);
            records.push((crate::hex::hex(&uid), format!("class {:#x}, migrated", obj.class())));
        }
        // One audit record per object, committed with them.
        for (key, detail) in &records {
            self.m.audit().with_next_write(&super::audit::Record {
                key,
                detail,
                ..super::audit::Record::of(&a, "migrate-object")
            });
        }
        let ids = self.m.store.insert_objects(a.token.token_id, a.writer()?, &stored)?;
        ids.into_iter()
            .map(|id| ObjectHandle::try_from(id).map_err(|_| Error::general("object id out of range")))
            .collect()
    }

    /// Removes the token in a slot and all its objects (softhsm2-util
    /// --delete-token: access to the store is the authority, as access to
    /// the token directory is for SoftHSM). Fails while sessions are open.
    pub fn delete_token(&self, slot: crate::store::SlotId) -> Result<()> {
        let rec = self.m.store.token_at(slot)?.ok_or(Error::TokenNotPresent)?;
        if self.m.sessions().session_count(slot)?.0 > 0 {
            return Err(Error::SessionExists);
        }
        let label = String::from_utf8_lossy(&rec.label).trim_end().to_string();
        self.m.audit().with_next_write(&super::audit::Record {
            token: Some(&rec.uid),
            detail: &label,
            ..super::audit::Record::new("delete-token")
        });
        self.m.store.delete_token(rec.token_id)?;
        self.m.forget_opened();
        Ok(())
    }

    /// C_InitToken for a migrated token that keeps the source's serial
    /// number (scripts and PKCS#11 URIs name tokens by it) unless another
    /// token here already has it. Returns whether the serial was kept.
    pub fn init_token_with_serial(
        &self,
        slot: crate::store::SlotId,
        so_pin: &[u8],
        label: &[u8; 32],
        serial: &str,
    ) -> Result<bool> {
        self.init_token(slot, so_pin, label)?;
        let want = super::slots::padded::<16>(serial);
        if serial.is_empty() || serial.len() > 16 || self.m.store.tokens()?.iter().any(|t| t.serial == want) {
            return Ok(false);
        }
        // The new token has no objects and no user PIN yet, so storing it
        // again with the serial changed loses nothing.
        let mut rec = self.m.store.token_at(slot)?.ok_or(Error::TokenNotPresent)?;
        rec.serial = want;
        self.m.store.put_token(&rec)?;
        Ok(true)
    }

    /// The serial number of the token in a slot as stored (hex text).
    pub fn token_serial(&self, slot: crate::store::SlotId) -> Result<Option<String>> {
        Ok(self.m.store.token_at(slot)?.map(|t| String::from_utf8_lossy(&t.serial).trim_end().to_string()))
    }
}
