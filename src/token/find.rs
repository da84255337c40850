//! C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal. Token objects
//! are found through the store's attribute index; only when some template
//! attribute is not indexed are the candidates opened and compared in full.

use std::collections::VecDeque;

use cryptoki_sys as ck;

use super::{Module, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::model::{Template, Value};
use crate::store::{codec, Visible};

pub(crate) struct FindOp {
    results: VecDeque<ObjectHandle>,
}

impl Module {
    pub fn find_init(&self, h: SessionHandle, tmpl: &Template) -> Result<()> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        let mut ops = s.ops.lock().map_err(|_| Error::CantLock)?;
        if ops.find.is_some() {
            return Err(Error::OperationActive);
        }
        let mut results = VecDeque::new();
        {
            let objs = self.session_objects.read().map_err(|_| Error::CantLock)?;
            let mut handles: Vec<_> = objs
                .iter()
                .filter(|(_, e)| e.slot == s.slot)
                .filter(|(_, e)| {
                    e.object.read().is_ok_and(|o| (!o.is_private() || a.user_logged_in()) && o.matches(tmpl))
                })
                .map(|(h, _)| *h)
                .collect();
            handles.sort_unstable();
            results.extend(handles);
        }
        let filters = codec::find_filters(a.sealer(), tmpl);
        let (vis, known) = visibility(tmpl, a.user_logged_in());
        let candidates = self.store.find(a.token.token_id, vis, &filters)?;
        if filters.len() + known == tmpl.0.len() {
            // Every attribute matched through its (128-bit) index entry:
            // nothing left to compare. A tampered object is still listed;
            // any use of it fails with CKR_GENERAL_ERROR.
            results.extend(candidates.into_iter().map(|id| id as ObjectHandle));
            ops.find = Some(FindOp { results });
            return Ok(());
        }
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
        let s = self.session(h)?;
        let mut ops = s.ops.lock().map_err(|_| Error::CantLock)?;
        let op = ops.find.as_mut().ok_or(Error::OperationNotInitialized)?;
        let n = max.min(op.results.len());
        Ok(op.results.drain(..n).collect())
    }

    pub fn find_final(&self, h: SessionHandle) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops.lock().map_err(|_| Error::CantLock)?;
        ops.find.take().map(|_| ()).ok_or(Error::OperationNotInitialized)
    }
}

/// What CKA_TOKEN and CKA_PRIVATE in a template say about stored objects,
/// which need no index entry for them: every stored object is a token
/// object, and whether it is private is a column of its own. Returns the
/// objects to look at and how many template attributes that settles.
fn visibility(tmpl: &Template, user_logged_in: bool) -> (Visible, usize) {
    let mut vis = Visible::to(user_logged_in);
    let mut known = 0;
    for a in tmpl.iter() {
        match (a.atype, &a.value) {
            (ck::CKA_TOKEN, Value::Bool(token)) => {
                known += 1;
                if !token {
                    vis = Visible { public: false, private: false };
                }
            }
            (ck::CKA_PRIVATE, Value::Bool(private)) => {
                known += 1;
                if *private {
                    vis.public = false;
                } else {
                    vis.private = false;
                }
            }
            _ => {}
        }
    }
    (vis, known)
}
