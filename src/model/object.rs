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

/// An object's attributes, in type order: a sorted vector (one allocation
/// for the thirty-odd attributes of a key, copied at once from the class's
/// defaults and freed at once; a lookup is a binary search), with the
/// operations of the map it replaces.
#[derive(Clone, Default, Debug, PartialEq)]
pub struct AttrMap(Vec<(AttrType, Value)>);

impl AttrMap {
    fn at(&self, t: AttrType) -> Result<usize, usize> {
        self.0.binary_search_by_key(&t, |(a, _)| *a)
    }

    pub fn get(&self, t: &AttrType) -> Option<&Value> {
        self.at(*t).ok().map(|i| &self.0[i].1)
    }

    /// Sets `t`, returning the value it replaced.
    pub fn insert(&mut self, t: AttrType, v: Value) -> Option<Value> {
        match self.at(t) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, v)),
            Err(i) => {
                self.0.insert(i, (t, v));
                None
            }
        }
    }

    pub fn remove(&mut self, t: &AttrType) -> Option<Value> {
        self.at(*t).ok().map(|i| self.0.remove(i).1)
    }

    pub fn contains_key(&self, t: &AttrType) -> bool {
        self.at(*t).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }

    /// In type order.
    pub fn iter(&self) -> impl Iterator<Item = (&AttrType, &Value)> {
        self.0.iter().map(|(t, v)| (t, v))
    }
}

impl<'a> IntoIterator for &'a AttrMap {
    type Item = (&'a AttrType, &'a Value);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (AttrType, Value)>, fn(&'a (AttrType, Value)) -> Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(t, v)| (t, v))
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
        assert_eq!(m.insert(3, Value::Bool(true)), Some(Value::Ulong(30)));
        assert_eq!(m.get(&3), Some(&Value::Bool(true)));
        assert_eq!(m.get(&4), None);
        assert!(m.contains_key(&9) && !m.contains_key(&10));
        assert_eq!(m.remove(&5), Some(Value::Ulong(50)));
        assert_eq!(m.remove(&5), None);
        assert_eq!((&m).into_iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![1, 3, 7, 9]);
        assert_eq!(m.values().count(), 4);
    }
}
