//! C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal. Token objects
//! are found through the store's attribute index, then each candidate is
//! opened (its tag checked) and compared in full.

use super::Objects;
use std::collections::VecDeque;

use cryptoki_sys as ck;

use super::{ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::model::{Template, Value};
use crate::store::{codec, Visible};

pub(crate) struct FindOp {
    results: VecDeque<ObjectHandle>,
}

impl Objects<'_> {
    pub fn find_init(&self, h: SessionHandle, tmpl: &Template) -> Result<()> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let mut ops = s.ops.lock();
        if ops.find.is_some() {
            return Err(Error::OperationActive);
        }
        let mut results = VecDeque::new();
        {
            let objs = self.session_objects();
            let mut handles: Vec<_> = objs
                .iter()
                .filter(|(_, e)| e.slot == s.slot)
                .filter(|(_, e)| {
                    let o = e.object.read();
                    (!o.is_private() || a.user_logged_in()) && o.matches(tmpl)
                })
                .map(|(h, _)| *h)
                .collect();
            handles.sort_unstable();
            results.extend(handles);
        }
        let filters = codec::find_filters(a.sealer(), tmpl);
        let vis = visibility(tmpl, a.user_logged_in());
        let candidates = self.m.store.find(a.token.token_id, vis, &filters)?;
        // Checked before any candidate is opened: a find that could match
        // more than the limit is refused whole (narrow the template),
        // never answered in part.
        if results.len().saturating_add(candidates.len()) > self.m.config.limits.find_results {
            return Err(Error::HostMemory);
        }
        // Every candidate is opened and compared, even when the index
        // answered every attribute: index entries are not covered by an
        // object's tag (an entry copied from another object would
        // otherwise make a find name the wrong key). Opened objects are
        // cached, so a repeated find costs a lookup per result.
        for id in candidates {
            match self.find_object(&a, id as ObjectHandle) {
                Ok(f) if f.object().matches(tmpl) => results.push_back(id as ObjectHandle),
                Ok(_) => {}
                // Destroyed meanwhile by another process.
                Err(Error::ObjectHandleInvalid) => {}
                // A tampered object is logged by `decode` and left out; using
                // it by handle fails the same way.
                Err(Error::General(_)) => {}
                Err(e) => return Err(e),
            }
        }
        ops.find = Some(FindOp { results });
        Ok(())
    }

    pub fn find_next(&self, h: SessionHandle, max: usize) -> Result<Vec<ObjectHandle>> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let op = ops.find.as_mut().ok_or(Error::OperationNotInitialized)?;
        let n = max.min(op.results.len());
        Ok(op.results.drain(..n).collect())
    }

    pub fn find_final(&self, h: SessionHandle) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        ops.find.take().map(|_| ()).ok_or(Error::OperationNotInitialized)
    }
}

/// What CKA_TOKEN and CKA_PRIVATE in a template say about stored objects,
/// which need no index entry for them: every stored object is a token
/// object, and whether it is private is a column of its own. Returns the
/// objects to look at.
fn visibility(tmpl: &Template, user_logged_in: bool) -> Visible {
    let mut vis = Visible::to(user_logged_in);
    for a in tmpl.iter() {
        match (a.atype, &a.value) {
            (ck::CKA_TOKEN, Value::Bool(false)) => vis = Visible { public: false, private: false },
            (ck::CKA_PRIVATE, Value::Bool(private)) => {
                if *private {
                    vis.public = false;
                } else {
                    vis.private = false;
                }
            }
            _ => {}
        }
    }
    vis
}
