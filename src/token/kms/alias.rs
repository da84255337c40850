//! Aliases: `alias/NAME` → a master key. Each is a private token data object
//! (CKA_APPLICATION "ferrohsm.kms.alias", CKA_LABEL the name, CKA_VALUE the
//! key's CKA_UNIQUE_ID), so every process sees the others' and C_FindObjects
//! lists them too.

use cryptoki_sys as ck;

use super::super::audit::Record;
use super::super::newobj::{data_object, Checked};
use crate::error::{Error, Result};
use crate::model::{policy, Attribute, Template, Value};
use crate::store::{codec, ObjectId};
use crate::token::Kms;
use crate::token::{Access, SessionHandle};
use crate::vendor::ALIAS_APPLICATION;

/// `alias/` then 1..=250 of [A-Za-z0-9/_-].
pub fn valid_alias(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("alias/") else { return false };
    !rest.is_empty()
        && rest.len() <= 250
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
}

impl Kms<'_> {
    /// Every alias of the token: (object id, name, target key id).
    pub(crate) fn alias_list(&self, a: &Access) -> Result<Vec<(ObjectId, String, String)>> {
        Ok(self
            .docs_list(a, ALIAS_APPLICATION)?
            .into_iter()
            .map(|(id, name, target)| (id, name, String::from_utf8_lossy(&target).into_owned()))
            .collect())
    }

    fn alias_entry(&self, a: &Access, name: &str) -> Result<Option<(ObjectId, String)>> {
        Ok(self.alias_list(a)?.into_iter().find(|(_, n, _)| n == name).map(|(id, _, t)| (id, t)))
    }

    pub(crate) fn alias_target(&self, a: &Access, name: &str) -> Result<String> {
        Ok(self.alias_entry(a, name)?.ok_or(Error::KmsNotFound)?.1)
    }

    /// Stages an alias change's record into the change's transaction.
    fn alias_record(&self, a: &Access, event: &str, name: &str, key: &str) {
        self.m.audit().with_next_write(&Record { key, detail: name, ..Record::of(a, event) });
    }

    /// After an alias call: a success has its record committed with it; a
    /// failure drops what was staged and records the failure (if that
    /// record cannot be written either, the call still fails).
    fn alias_audit(&self, a: &Access, event: &str, name: &str, key: &str, r: Result<()>) -> Result<()> {
        if r.is_err() {
            self.m.store.discard_staged();
            let _ = self.m.audit().event(&Record { key, detail: name, ..Record::of(a, event) }.result(&r));
        }
        r
    }

    pub fn create_alias(&self, h: SessionHandle, name: &str, key_id: &str) -> Result<()> {
        let a = self.rw_access(h)?;
        if !valid_alias(name) {
            return Err(Error::ArgumentsBad);
        }
        let s = self.m.session(h)?;
        let r = self.key(&a, key_id).and_then(|k| {
            if self.alias_entry(&a, name)?.is_some() {
                return Err(Error::KmsAliasExists);
            }
            let tmpl = Template::new(vec![
                Attribute { atype: ck::CKA_TOKEN, value: Value::Bool(true) },
                Attribute { atype: ck::CKA_PRIVATE, value: Value::Bool(true) },
                Attribute { atype: ck::CKA_LABEL, value: Value::bytes(name.as_bytes()) },
                Attribute { atype: ck::CKA_APPLICATION, value: Value::bytes(ALIAS_APPLICATION) },
                Attribute { atype: ck::CKA_VALUE, value: Value::bytes(k.key_id().into_bytes()) },
            ]);
            let obj = data_object(&Checked::new(policy::DATA, &tmpl, a.is_so())?, None)?;
            self.alias_record(&a, "create-alias", name, key_id);
            self.m.objects().store_new(&a, &s, obj).map(|_| ())
        });
        self.alias_audit(&a, "create-alias", name, key_id, r)
    }

    /// Repoints an existing alias.
    pub fn update_alias(&self, h: SessionHandle, name: &str, key_id: &str) -> Result<()> {
        let a = self.rw_access(h)?;
        let r = self.key(&a, key_id).and_then(|k| {
            let (id, _) = self.alias_entry(&a, name)?.ok_or(Error::KmsNotFound)?;
            let target = k.key_id();
            let w = a.writer()?;
            self.alias_record(&a, "update-alias", name, key_id);
            self.m.store.update_object(a.token.token_id, w, id, &mut |stored| {
                let mut o = codec::decode(a.sealer(), &stored)?;
                o.set(ck::CKA_VALUE, Value::bytes(target.as_bytes()));
                Ok(Some(codec::encode(a.sealer(), stored.id, &stored.uid, &o)?))
            })?;
            Ok(())
        });
        self.alias_audit(&a, "update-alias", name, key_id, r)
    }

    pub fn delete_alias(&self, h: SessionHandle, name: &str) -> Result<()> {
        let a = self.rw_access(h)?;
        let r = self.alias_entry(&a, name).and_then(|e| {
            let (id, _) = e.ok_or(Error::KmsNotFound)?;
            let w = a.writer()?;
            self.alias_record(&a, "delete-alias", name, "");
            self.m.store.delete_object(a.token.token_id, w, id)?;
            Ok(())
        });
        self.alias_audit(&a, "delete-alias", name, "", r)
    }

    /// (name, key id) of every alias.
    pub fn aliases(&self, h: SessionHandle) -> Result<Vec<(String, String)>> {
        let a = self.access(h)?;
        Ok(self.alias_list(&a)?.into_iter().map(|(_, n, t)| (n, t)).collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alias_names() {
        assert!(super::valid_alias("alias/prod-db_key/2"));
        for bad in ["alias/", "prod", "alias/a b", "alias/é", &format!("alias/{}", "x".repeat(251))] {
            assert!(!super::valid_alias(bad), "{bad}");
        }
    }
}
