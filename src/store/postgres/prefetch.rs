//! Objects read with a find's answer, kept for the loads that follow it.
//! A find among a token's objects names ids; the token then opens each
//! (`load_object`) to check it against the template. When a find matches
//! few objects, their rows come in the find's own statement and wait here,
//! so a first-time find is one round trip.
//!
//! The rule is the find cache's (see `findcache`): rows belong to the
//! listener's generation read before the find's query, and any change of
//! it (any commit on any host, this process's own, a reconnect) drops them
//! all; nothing is kept while the listener is down. A row taken from here
//! is therefore exactly as current as one read at that moment would be
//! under the staleness bound docs/storage.md states. A kept object is
//! still only sealed bytes: opening it checks its tag as any load does.
//! Each is handed out once (the token keeps what it opened).

use std::collections::HashMap;

use super::super::{ObjectId, StoredObject, TokenId};
use crate::sync::Mutex;

/// A find that matches at most this many objects brings their rows.
pub(super) const FIND_ROWS_WITH_OBJECTS: usize = 32;

/// Objects kept at most; when full, all go.
const MAX: usize = 1024;

#[derive(Default)]
pub(super) struct Prefetched {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    gen: u64,
    map: HashMap<(TokenId, ObjectId), StoredObject>,
}

impl Prefetched {
    /// Keeps the objects a find under generation `gen` read.
    pub fn put(&self, gen: u64, token: TokenId, objects: Vec<StoredObject>) {
        if objects.is_empty() {
            return;
        }
        let mut g = self.inner.lock();
        if gen < g.gen {
            return;
        }
        if gen > g.gen || g.map.len() + objects.len() > MAX {
            g.map.clear();
            g.gen = gen;
        }
        for o in objects {
            g.map.insert((token, o.id), o);
        }
    }

    /// The object kept for `(token, id)` while the generation is still
    /// `gen`, handed out once.
    pub fn take(&self, gen: u64, token: TokenId, id: ObjectId) -> Option<StoredObject> {
        let mut g = self.inner.lock();
        if g.gen != gen {
            if !g.map.is_empty() {
                g.map.clear();
            }
            return None;
        }
        g.map.remove(&(token, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(id: ObjectId) -> StoredObject {
        StoredObject { id, uid: [id as u8; 16], private: false, version: 0, tag: None, rows: Vec::new() }
    }

    #[test]
    fn objects_live_for_one_generation_and_are_handed_out_once() {
        let p = Prefetched::default();
        p.put(5, 1, vec![obj(10), obj(11)]);
        assert_eq!(p.take(5, 2, 10).map(|o| o.id), None, "another token");
        assert_eq!(p.take(5, 1, 10).map(|o| o.id), Some(10));
        assert!(p.take(5, 1, 10).is_none(), "handed out once");
        p.put(4, 1, vec![obj(12)]);
        assert!(p.take(5, 1, 12).is_none(), "an older generation's rows are not kept");
        assert!(p.take(6, 1, 11).is_none(), "a new generation drops them");
        assert!(p.take(5, 1, 11).is_none(), "and they do not come back");
        p.put(7, 1, (0..MAX as ObjectId + 1).map(obj).collect());
        p.put(7, 1, vec![obj(5000)]);
        assert!(p.take(7, 1, 5000).is_some());
        assert!(p.take(7, 1, 3).is_none(), "past the bound, all went");
    }
}
