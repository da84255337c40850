//! An object: its attributes, typed, plus the set of sealed attributes that
//! could not be opened because nobody is logged in.

use std::collections::BTreeSet;

use cryptoki_sys as ck;

use super::attr::{AttrType, Ulong, Value};
use super::policy;
use super::template::Template;

/// Something made from an object once and kept with it (a key's parsed
/// form, with its precomputed state). A copy of the object starts without
/// it, so copies kept by different sessions share nothing.
#[derive(Default)]
pub struct Memo(std::sync::OnceLock<std::sync::Arc<dyn std::any::Any + Send + Sync>>);

impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl Memo {
    /// The kept value, made by `make` at the first call.
    pub fn get_or_make<T: std::any::Any + Send + Sync, E>(
        &self,
        make: impl FnOnce() -> Result<std::sync::Arc<T>, E>,
    ) -> Result<std::sync::Arc<T>, E> {
        if let Some(v) = self.0.get() {
            if let Ok(t) = v.clone().downcast::<T>() {
                return Ok(t);
            }
        }
        let t = make()?;
        // Another thread may have set it meanwhile: either is the same key.
        let _ = self.0.set(t.clone());
        Ok(t)
    }
}

/// An object's attributes, in type order: a class's defaults, shared
/// (`with_defaults`: a static list, never copied), under the object's own
/// values, a sorted vector (a lookup is a binary search in each). A new
/// key costs one small vector of what its template and the token set, and
/// freeing it frees that alone; the operations are those of the map it
/// replaces.
#[derive(Clone, Default)]
pub struct AttrMap {
    base: &'static [(AttrType, Value)],
    own: Vec<(AttrType, Value)>,
}

fn find(v: &[(AttrType, Value)], t: AttrType) -> Result<usize, usize> {
    v.binary_search_by_key(&t, |(a, _)| *a)
}

impl AttrMap {
    /// Starts from `base` (in type order, each type once).
    pub fn with_defaults(base: &'static [(AttrType, Value)]) -> AttrMap {
        debug_assert!(base.windows(2).all(|w| w[0].0 < w[1].0));
        // Room for a template and what the token sets: one allocation.
        AttrMap { base, own: Vec::with_capacity(16) }
    }

    pub fn get(&self, t: &AttrType) -> Option<&Value> {
        match find(&self.own, *t) {
            Ok(i) => Some(&self.own[i].1),
            Err(_) => find(self.base, *t).ok().map(|i| &self.base[i].1),
        }
    }

    /// Sets `t`.
    pub fn insert(&mut self, t: AttrType, v: Value) {
        match find(&self.own, t) {
            Ok(i) => self.own[i].1 = v,
            Err(i) => self.own.insert(i, (t, v)),
        }
    }

    pub fn remove(&mut self, t: &AttrType) -> Option<Value> {
        if find(self.base, *t).is_ok() {
            // A default cannot be masked: the whole list becomes the
            // object's own (rare: a copy's CKA_UNIQUE_ID is no default).
            self.own = self.iter().map(|(a, v)| (*a, v.clone())).collect();
            self.base = &[];
        }
        find(&self.own, *t).ok().map(|i| self.own.remove(i).1)
    }

    pub fn contains_key(&self, t: &AttrType) -> bool {
        find(&self.own, *t).is_ok() || find(self.base, *t).is_ok()
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.own.is_empty() && self.base.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.iter().map(|(_, v)| v)
    }

    /// In type order, an own value hiding the default of its type.
    pub fn iter(&self) -> Iter<'_> {
        Iter { base: self.base, own: &self.own }
    }
}

impl std::fmt::Debug for AttrMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for AttrMap {
    fn eq(&self, other: &AttrMap) -> bool {
        self.iter().eq(other.iter())
    }
}

/// `AttrMap::iter`: the two sorted lists merged.
pub struct Iter<'a> {
    base: &'a [(AttrType, Value)],
    own: &'a [(AttrType, Value)],
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a AttrType, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        let take_own = match (self.base.first(), self.own.first()) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some((b, _)), Some((o, _))) => {
                if o == b {
                    self.base = &self.base[1..]; // hidden by the own value
                }
                o <= b
            }
        };
        let list = if take_own { &mut self.own } else { &mut self.base };
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some((&first.0, &first.1))
    }
}

impl<'a> IntoIterator for &'a AttrMap {
    type Item = (&'a AttrType, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[derive(Clone, Default)]
pub struct Object {
    pub attrs: AttrMap,
    /// Sealed secret parts of a public object, unavailable before login.
    pub locked: BTreeSet<AttrType>,
    /// A public token object read without the token key: its attributes
    /// may be read, but its authentication tag could not be checked, so it
    /// must not be used (`Module::use_check`) until someone logs in.
    pub unverified: bool,
    /// The stored version it was read at (0: never stored).
    pub version: u64,
    /// Made from it once: an asymmetric key's parsed form.
    pub memo: Memo,
}

/// What C_GetAttributeValue may reveal of one attribute.
pub enum Read<'a> {
    Value(&'a Value),
    Sensitive,
    Invalid,
}

impl Object {
    pub fn get(&self, t: AttrType) -> Option<&Value> {
        self.attrs.get(&t)
    }

    pub fn set(&mut self, t: AttrType, v: Value) {
        self.attrs.insert(t, v);
    }

    pub fn bool(&self, t: AttrType) -> bool {
        self.get(t).and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn ulong(&self, t: AttrType) -> Option<Ulong> {
        self.get(t).and_then(Value::as_ulong)
    }

    pub fn bytes(&self, t: AttrType) -> Option<&[u8]> {
        self.get(t).and_then(Value::as_bytes)
    }

    pub fn class(&self) -> Ulong {
        self.ulong(ck::CKA_CLASS).unwrap_or(ck::CK_UNAVAILABLE_INFORMATION)
    }

    pub fn class_bit(&self) -> u8 {
        policy::class_bit(self.class()).unwrap_or(0)
    }

    pub fn is_token(&self) -> bool {
        self.bool(ck::CKA_TOKEN)
    }

    pub fn is_private(&self) -> bool {
        self.bool(ck::CKA_PRIVATE)
    }

    pub fn is_key(&self) -> bool {
        matches!(self.class(), ck::CKO_SECRET_KEY | ck::CKO_PRIVATE_KEY | ck::CKO_PUBLIC_KEY)
    }

    /// Sensitive or unextractable: secret parts never leave in plaintext.
    pub fn hides_secrets(&self) -> bool {
        self.bool(ck::CKA_SENSITIVE) || !self.bool(ck::CKA_EXTRACTABLE)
    }

    pub fn read(&self, t: AttrType) -> Read<'_> {
        let bit = self.class_bit();
        if policy::is_secret_part(bit, t) && (self.hides_secrets() || self.locked.contains(&t)) {
            return Read::Sensitive;
        }
        match self.get(t) {
            Some(v) => Read::Value(v),
            None => Read::Invalid,
        }
    }

    /// C_FindObjects matching: every template attribute present and equal.
    /// Locked and hidden secret values never match.
    pub fn matches(&self, tmpl: &Template) -> bool {
        let bit = self.class_bit();
        tmpl.iter().all(|a| {
            // A hidden secret never matches: find must not be an oracle for it.
            let hidden = policy::is_secret_part(bit, a.atype) && self.hides_secrets();
            !hidden && !self.locked.contains(&a.atype) && self.get(a.atype) == Some(&a.value)
        })
    }

    /// C_GetObjectSize: the sum of the attribute values' C sizes.
    pub fn size(&self) -> usize {
        self.attrs.values().map(Value::c_len).sum::<usize>() + 64 * self.attrs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_map_keeps_type_order_and_replaces_in_place() {
        let mut m = AttrMap::default();
        assert!(m.is_empty());
        for t in [5u64, 1, 9, 3, 7, 1] {
            m.insert(t, Value::Ulong(t * 10));
        }
        assert_eq!(m.len(), 5);
        assert_eq!(m.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![1, 3, 5, 7, 9]);
        m.insert(3, Value::Bool(true));
        assert_eq!(m.get(&3), Some(&Value::Bool(true)));
        assert_eq!(m.get(&4), None);
        assert!(m.contains_key(&9) && !m.contains_key(&10));
        assert_eq!(m.remove(&5), Some(Value::Ulong(50)));
        assert_eq!(m.remove(&5), None);
        assert_eq!((&m).into_iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![1, 3, 7, 9]);
        assert_eq!(m.values().count(), 4);
    }

    #[test]
    fn attr_map_over_defaults_reads_writes_and_removes_as_one_map() {
        static BASE: std::sync::OnceLock<Vec<(AttrType, Value)>> = std::sync::OnceLock::new();
        let base = BASE.get_or_init(|| (1..=9u64).step_by(2).map(|t| (t, Value::Ulong(t))).collect());
        let mut m = AttrMap::with_defaults(base);
        let mut want = AttrMap::default();
        for t in (1..=9u64).step_by(2) {
            want.insert(t, Value::Ulong(t));
        }
        assert_eq!(m, want);
        assert_eq!(m.len(), 5);
        for (t, v) in [(4u64, 40u64), (3, 30), (10, 100), (0, 0), (9, 90)] {
            m.insert(t, Value::Ulong(v));
            want.insert(t, Value::Ulong(v));
            assert_eq!(m, want);
        }
        assert_eq!(m.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![0, 1, 3, 4, 5, 7, 9, 10]);
        assert_eq!(m.get(&3), Some(&Value::Ulong(30)), "an own value hides the default");
        assert_eq!(m.get(&5), Some(&Value::Ulong(5)));
        assert_eq!(m.len(), 8);
        assert!(m.contains_key(&7) && m.contains_key(&4) && !m.contains_key(&6));
        assert_eq!(m.remove(&4), want.remove(&4), "an own value");
        assert_eq!(m.remove(&5), want.remove(&5), "a default");
        assert_eq!(m.remove(&3), want.remove(&3), "an own value over a default");
        assert_eq!(m.remove(&3), None);
        assert_eq!(m, want);
        assert_eq!(m.values().count(), 5);
        assert_eq!(m.clone(), want);
    }
}
