//! Named documents of the KMS API server — principals, groups, grants —
//! each a private token data object (CKA_APPLICATION the kind, CKA_LABEL
//! the name, CKA_VALUE a JSON document): sealed and authenticated like any
//! private object, shared by every process on the store, and audited.
//! Aliases are the same kind of object (`alias.rs`).

use cryptoki_sys as ck;

use super::super::audit::Record;
use super::super::newobj::{data_object, Checked};
use crate::error::{Error, Result};
use crate::model::{policy, Attribute, Template, Value};
use crate::store::{codec, ObjectId};
use crate::token::Kms;
use crate::token::{Access, SessionHandle};

impl Kms<'_> {
    /// Every document of a kind: (object id, name, body), by name.
    pub(crate) fn docs_list(&self, a: &Access, app: &[u8]) -> Result<Vec<(ObjectId, String, Vec<u8>)>> {
        let tmpl = Template::new(vec![
            Attribute { atype: ck::CKA_CLASS, value: Value::Ulong(ck::CKO_DATA) },
            Attribute { atype: ck::CKA_APPLICATION, value: Value::bytes(app) },
        ]);
        let filters = codec::find_filters(a.sealer(), &tmpl);
        let mut out = Vec::new();
        for id in self.m.store.find(a.token.token_id, crate::store::Visible::to(true), &filters)? {
            let Some((_, o)) = self.load_any(a, id)? else { continue };
            if !o.matches(&tmpl) {
                continue;
            }
            let name = String::from_utf8_lossy(o.bytes(ck::CKA_LABEL).unwrap_or_default()).into_owned();
            out.push((id, name, o.bytes(ck::CKA_VALUE).unwrap_or_default().to_vec()));
        }
        out.sort_by(|x, y| x.1.cmp(&y.1));
        Ok(out)
    }

    /// Every document of a kind, (name, body).
    pub fn docs(&self, h: SessionHandle, app: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
        let a = self.access(h)?;
        Ok(self.docs_list(&a, app)?.into_iter().map(|(_, n, b)| (n, b)).collect())
    }

    /// Creates (`create` true: KmsAliasExists if it exists) or replaces
    /// (KmsNotFound if it does not) a document, audited as `event` in the
    /// same transaction.
    pub fn put_doc(
        &self,
        h: SessionHandle,
        app: &[u8],
        name: &str,
        body: &[u8],
        create: bool,
        event: &str,
    ) -> Result<()> {
        let a = self.rw_access(h)?;
        let s = self.m.session(h)?;
        let r = (|| {
            let existing = self.docs_list(&a, app)?.into_iter().find(|(_, n, _)| n == name);
            let w = a.writer()?;
            match (existing, create) {
                (Some(_), true) => Err(Error::KmsAliasExists),
                (None, false) => Err(Error::KmsNotFound),
                (None, true) => {
                    let tmpl = Template::new(vec![
                        Attribute { atype: ck::CKA_TOKEN, value: Value::Bool(true) },
                        Attribute { atype: ck::CKA_PRIVATE, value: Value::Bool(true) },
                        Attribute { atype: ck::CKA_LABEL, value: Value::bytes(name.as_bytes()) },
                        Attribute { atype: ck::CKA_APPLICATION, value: Value::bytes(app) },
                        Attribute { atype: ck::CKA_VALUE, value: Value::bytes(body) },
                    ]);
                    let obj = data_object(&Checked::new(policy::DATA, &tmpl, a.is_so())?, None)?;
                    self.m.audit().with_next_write(&Record { detail: name, ..Record::of(&a, event) });
                    self.m.objects().store_new(&a, &s, obj).map(|_| ())
                }
                (Some((id, _, _)), false) => {
                    self.m.audit().with_next_write(&Record { detail: name, ..Record::of(&a, event) });
                    self.m.store.update_object(a.token.token_id, w, id, &mut |stored| {
                        let mut o = codec::decode(a.sealer(), &stored)?;
                        o.set(ck::CKA_VALUE, Value::bytes(body));
                        Ok(Some(codec::encode(a.sealer(), stored.id, &stored.uid, &o)?))
                    })?;
                    Ok(())
                }
            }
        })();
        self.doc_audit(&a, event, name, r)
    }

    /// Deletes a document (KmsNotFound if there is none by that name).
    pub fn delete_doc(&self, h: SessionHandle, app: &[u8], name: &str, event: &str) -> Result<()> {
        let a = self.rw_access(h)?;
        let r = self.docs_list(&a, app).and_then(|all| {
            let (id, _, _) = all.into_iter().find(|(_, n, _)| n == name).ok_or(Error::KmsNotFound)?;
            let w = a.writer()?;
            self.m.audit().with_next_write(&Record { detail: name, ..Record::of(&a, event) });
            self.m.store.delete_object(a.token.token_id, w, id)?;
            Ok(())
        });
        self.doc_audit(&a, event, name, r)
    }

    fn doc_audit(&self, a: &Access, event: &str, name: &str, r: Result<()>) -> Result<()> {
        if r.is_err() {
            self.m.store.discard_staged();
            let _ = self.m.audit().event(&Record { detail: name, ..Record::of(a, event) }.result(&r));
        }
        r
    }

    /// A stamp of the session's token's objects: it changes with every
    /// addition, change or removal of one of them, in any process (its
    /// revision and its object-set digest, read again at each new store
    /// generation): the cache stamp for callers that keep what they read,
    /// like the API server's principals and grants.
    pub fn token_stamp(&self, h: SessionHandle) -> Result<u64> {
        use std::hash::{Hash, Hasher};
        let a = self.access(h)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        a.token.rev.hash(&mut hasher);
        if let Some(d) = &a.token.digest {
            d.acc.hash(&mut hasher);
            d.count.hash(&mut hasher);
        }
        Ok(hasher.finish())
    }
}
