//! The one cache type of the token core. Every value it holds was read
//! from the store and is stamped with the store's state it was read at: a
//! token's revision (which every change to or removal of one of its
//! objects bumps, in any process) or the store's generation (which every
//! commit changes). The one rule: an entry is used only while the caller's
//! current stamp equals the entry's; anything else is a miss, and the
//! caller reads the store again. Past `cap` entries the cache starts over.
//! Logout clears the caches that hold what only a login could open.
//!
//! (Each session also keeps its own copies of what it used last —
//! `session::View` and `session::Kept` — under the same rule, so that
//! threads on different sessions share no cache line per call.)

use std::collections::HashMap;
use std::hash::Hash;

use crate::sync::RwLock;

pub(crate) struct Stamped<K, V> {
    map: RwLock<HashMap<K, (u64, V)>>,
    cap: usize,
}

impl<K: Hash + Eq, V: Clone> Stamped<K, V> {
    pub fn new(cap: usize) -> Stamped<K, V> {
        Stamped { map: RwLock::new(HashMap::new()), cap }
    }

    /// The value for `k` if it was read at `stamp`.
    pub fn get(&self, k: &K, stamp: u64) -> Option<V> {
        self.map.read().get(k).filter(|(s, _)| *s == stamp).map(|(_, v)| v.clone())
    }

    /// Keeps `v`, read at `stamp`.
    pub fn put(&self, k: K, stamp: u64, v: V) {
        let mut m = self.map.write();
        if m.len() >= self.cap && !m.contains_key(&k) {
            m.clear();
        }
        m.insert(k, (stamp, v));
    }

    pub fn clear(&self) {
        self.map.write().clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_entry_serves_only_its_stamp() {
        let c = super::Stamped::new(2);
        c.put(1, 7, "a");
        assert_eq!(c.get(&1, 7), Some("a"));
        assert_eq!(c.get(&1, 8), None);
        c.put(2, 7, "b");
        c.put(3, 7, "c"); // past the cap: starts over
        assert_eq!(c.get(&1, 7), None);
        assert_eq!(c.get(&3, 7), Some("c"));
        c.clear();
        assert_eq!(c.get(&3, 7), None);
    }
}
