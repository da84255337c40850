//! Answers to finds, kept while nothing changed: a find is otherwise one
//! round trip, and applications look the same keys up by label again and
//! again. Entries belong to one value of the listener's generation (see
//! `listen`): any commit on any host (its notification), a commit of this
//! process, or the listener reconnecting moves it, and every entry goes.
//! Nothing is kept while the listener is down. So an answer from here is
//! never older than the other caches' (the staleness bound in
//! docs/storage.md): the generation is read before the query, so an entry
//! is dropped by any commit whose notification arrives after that read.

use std::collections::HashMap;

use super::super::seal::Idx;
use super::super::{ObjectId, TokenId, Visible};
use crate::model::AttrType;
use crate::sync::Mutex;

/// Entries kept at most (a few hundred KiB); when full, all go.
const MAX: usize = 4096;

#[derive(Default)]
pub(super) struct FindCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    gen: u64,
    map: HashMap<Vec<u8>, Vec<ObjectId>>,
}

/// The cache key of a find: the token, the visibility and the filters'
/// index entries (blind values: no attribute value is kept here).
pub(super) fn key(token: TokenId, vis: Visible, filters: &[(AttrType, Vec<Idx>)]) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + filters.iter().map(|(_, i)| 16 + i.len() * 16).sum::<usize>());
    k.extend_from_slice(&token.to_le_bytes());
    k.push(u8::from(vis.public));
    k.push(u8::from(vis.private));
    for (atype, idxs) in filters {
        k.extend_from_slice(&atype.to_le_bytes());
        k.extend_from_slice(&(idxs.len() as u64).to_le_bytes());
        for i in idxs {
            k.extend_from_slice(&i[..]);
        }
    }
    k
}

impl FindCache {
    /// The answer kept for `key` under generation `gen`.
    pub fn get(&self, gen: u64, key: &[u8]) -> Option<Vec<ObjectId>> {
        let g = self.inner.lock();
        if g.gen != gen {
            return None;
        }
        g.map.get(key).cloned()
    }

    /// Keeps an answer found under generation `gen` (read before the
    /// query); an older generation's answer is not kept.
    pub fn put(&self, gen: u64, key: Vec<u8>, ids: Vec<ObjectId>) {
        let mut g = self.inner.lock();
        if gen < g.gen {
            return;
        }
        if gen > g.gen || g.map.len() >= MAX {
            g.map.clear();
            g.gen = gen;
        }
        g.map.insert(key, ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_for_one_generation() {
        let c = FindCache::default();
        let vis = Visible { public: true, private: true };
        let k = key(1, vis, &[(3, vec![[7; 16]])]);
        assert_ne!(k, key(1, Visible { public: true, private: false }, &[(3, vec![[7; 16]])]));
        assert_ne!(k, key(2, vis, &[(3, vec![[7; 16]])]));
        assert_ne!(k, key(1, vis, &[(3, vec![[8; 16]])]));
        c.put(5, k.clone(), vec![10, 11]);
        assert_eq!(c.get(5, &k), Some(vec![10, 11]));
        assert_eq!(c.get(6, &k), None, "another generation");
        c.put(4, k.clone(), vec![12]);
        assert_eq!(c.get(5, &k), Some(vec![10, 11]), "an older answer is not kept");
        c.put(6, key(1, vis, &[]), vec![]);
        assert_eq!(c.get(5, &k), None);
        assert_eq!(c.get(6, &k), None, "a new generation starts empty");
    }
}
