//! A copy of a token's stored objects in this process, kept current by the
//! listener's notifications, so that a find and the loads that follow it
//! cost no round trip (on SQLite they are reads of a local file; on
//! PostgreSQL each was a round trip to the server).
//!
//! What is kept is exactly what the database holds: sealed values, the
//! uid, version and tag of each object, and its find-index entries (blind
//! values). Nothing is opened here: an object handed out is checked
//! against its tag by the token, as one read from the database is.
//!
//! How it stays current:
//! * Every object row carries the generation of the transaction that last
//!   wrote it (`objects.gen`, set by a trigger), and every write
//!   transaction's notification names its generation, its token and the
//!   objects it changed (`payload`). Generations are totally ordered
//!   across the fleet (each write holds the generation row to its
//!   commit), so "keep the version with the higher generation" makes every
//!   way an object arrives here (the bulk read, a refresh, this process's
//!   own write) commute.
//! * A notification marks the objects it names stale unless the copy is
//!   already at that generation; a stale object is never handed out, and a
//!   find on a token with stale objects reads them again first (one
//!   statement for all of them). Object ids are never reused, so an object
//!   deleted stays gone.
//! * A notification that cannot say which objects changed (a token made or
//!   removed, a store imported, a notification this version cannot parse)
//!   drops every copy, as does the listener connecting or losing its
//!   connection: notifications may have been missed. A read that started
//!   before such a drop is not installed after it (`epoch`).
//! * Nothing is used while the listener is down (the caller checks).
//!
//! So what is served is never older than what the other caches serve: the
//! staleness bound in docs/storage.md.

use std::collections::{HashMap, HashSet};

use super::super::seal::Idx;
use super::super::{ObjectId, StoredObject, TokenId, Visible};
use crate::model::AttrType;
use crate::sync::Mutex;

/// A token with more objects than this is not copied (its finds are
/// statements, as without the copy): the copy costs about 1 KiB of memory
/// per object.
pub(super) const MAX_OBJECTS: i64 = 250_000;

/// What a write transaction changed, as this process knows it.
pub(super) enum Change {
    /// The object as written (its id set), with its index entries.
    Put(StoredObject),
    Gone(ObjectId),
    /// Changed in a way this process does not hold in full: read again.
    Touched(ObjectId),
}

/// The objects a write changed, for its notification and this process's
/// copy.
#[derive(Default)]
pub(super) enum Scope {
    /// No object changed.
    #[default]
    None,
    Objects(TokenId, Vec<Change>),
    /// Tokens made or removed, a store filled: every copy goes.
    All,
}

/// A notification's payload: `m1 STORE GEN`, `m1 STORE GEN TOKEN
/// ID,ID,...` or `m1 STORE GEN *`, STORE naming the store's schema (its
/// oid): notifications are per database, and two stores in two schemas of
/// one database number their generations, tokens and objects each on its
/// own. At most PostgreSQL's 8000 bytes: a longer list is `*`.
pub(super) fn payload(store: i64, gen: i64, scope: &Scope) -> String {
    match scope {
        Scope::None => format!("m1 {store} {gen}"),
        Scope::All => format!("m1 {store} {gen} *"),
        Scope::Objects(token, changes) => {
            let mut s = format!("m1 {store} {gen} {token} ");
            for (i, c) in changes.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let id = match c {
                    Change::Put(o) => o.id,
                    Change::Gone(id) | Change::Touched(id) => *id,
                };
                s.push_str(&id.to_string());
            }
            if s.len() > 7900 {
                format!("m1 {store} {gen} *")
            } else {
                s
            }
        }
    }
}

/// What a notification says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Heard {
    Nothing,
    Objects {
        gen: i64,
        token: TokenId,
        ids: Vec<ObjectId>,
    },
    /// Anything may have changed.
    All,
    /// Another store's (another schema of the database): nothing here.
    Elsewhere,
}

/// What `p` says to the store `store`. Anything it cannot read (another
/// version's payload, say) may have changed anything.
pub(super) fn parse(store: i64, p: &str) -> Heard {
    let mut it = p.split(' ');
    if it.next() != Some("m1") {
        return Heard::All;
    }
    match it.next().map(|s| s.parse::<i64>()) {
        Some(Ok(s)) if s == store => {}
        Some(Ok(_)) => return Heard::Elsewhere,
        _ => return Heard::All,
    }
    let Some(gen) = it.next().and_then(|g| g.parse::<i64>().ok()) else { return Heard::All };
    let (token, ids) = match (it.next(), it.next(), it.next()) {
        (None, None, None) => return Heard::Nothing,
        (Some(t), Some(ids), None) => (t, ids),
        _ => return Heard::All,
    };
    let Ok(token) = token.parse::<TokenId>() else { return Heard::All };
    let ids: Option<Vec<ObjectId>> = ids.split(',').map(|i| i.parse().ok()).collect();
    match ids {
        Some(ids) => Heard::Objects { gen, token, ids },
        None => Heard::All,
    }
}

#[derive(Default)]
pub(super) struct Mirror {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Moved by every drop: a read begun under another epoch is not
    /// installed.
    epoch: u64,
    tokens: HashMap<TokenId, TokenCopy>,
}

#[derive(Default)]
struct TokenCopy {
    /// The bulk read is done (until then the token is being copied and
    /// only collects changes).
    ready: bool,
    objects: HashMap<ObjectId, Entry>,
    /// Deleted objects (ids are never reused).
    gone: HashSet<ObjectId>,
    index: HashMap<(AttrType, Idx), Members>,
    /// Objects to read again, with the latest generation named for each.
    stale: HashMap<ObjectId, i64>,
}

struct Entry {
    gen: i64,
    obj: StoredObject,
}

/// The objects with one index entry: most entries (a label, an ID) name
/// one object, some (a class, a key type) nearly all, so a set, added to
/// and removed from in constant time, for those.
enum Members {
    One(ObjectId),
    Many(HashSet<ObjectId>),
}

impl Members {
    fn add(&mut self, id: ObjectId) {
        match self {
            Members::One(a) if *a == id => {}
            Members::One(a) => *self = Members::Many(HashSet::from([*a, id])),
            Members::Many(set) => {
                set.insert(id);
            }
        }
    }

    /// False when none is left.
    fn remove(&mut self, id: ObjectId) -> bool {
        match self {
            Members::One(a) => *a != id,
            Members::Many(set) => {
                set.remove(&id);
                match set.len() {
                    0 => false,
                    1 => {
                        let last = set.iter().next().copied().unwrap_or(id);
                        *self = Members::One(last);
                        true
                    }
                    _ => true,
                }
            }
        }
    }

    fn ids(&self) -> Box<dyn Iterator<Item = ObjectId> + '_> {
        match self {
            Members::One(a) => Box::new(std::iter::once(*a)),
            Members::Many(set) => Box::new(set.iter().copied()),
        }
    }
}

/// Where a token's copy stands, for the caller to act on.
pub(super) enum Standing {
    /// Not copied: the caller may copy it (`begin` said yes).
    Absent,
    /// Being copied by another call, or too large: ask the database.
    Unusable,
    /// Copied, with these objects to read again first (maybe none).
    Ready { stale: Vec<(ObjectId, i64)> },
}

impl TokenCopy {
    fn unindex(&mut self, id: ObjectId, obj: &StoredObject) {
        for r in &obj.rows {
            if let Some(i) = r.idx {
                if let Some(m) = self.index.get_mut(&(r.atype, i)) {
                    if !m.remove(id) {
                        self.index.remove(&(r.atype, i));
                    }
                }
            }
        }
    }

    /// Keeps `obj` at generation `gen` unless what is kept is as new.
    fn put(&mut self, gen: i64, obj: StoredObject) {
        let id = obj.id;
        if self.gone.contains(&id) {
            return;
        }
        if let Some(e) = self.objects.get(&id) {
            if e.gen >= gen {
                return;
            }
        }
        if let Some(old) = self.objects.remove(&id) {
            self.unindex(id, &old.obj);
        }
        for r in &obj.rows {
            if let Some(i) = r.idx {
                match self.index.get_mut(&(r.atype, i)) {
                    Some(m) => m.add(id),
                    None => {
                        self.index.insert((r.atype, i), Members::One(id));
                    }
                }
            }
        }
        if self.stale.get(&id).is_some_and(|g| *g <= gen) {
            self.stale.remove(&id);
        }
        self.objects.insert(id, Entry { gen, obj });
    }

    fn remove(&mut self, id: ObjectId) {
        if let Some(old) = self.objects.remove(&id) {
            self.unindex(id, &old.obj);
        }
        self.gone.insert(id);
        self.stale.remove(&id);
    }

    /// A change at `gen` to `id` made elsewhere: stale unless already held.
    fn mark(&mut self, gen: i64, id: ObjectId) {
        if self.gone.contains(&id) || self.objects.get(&id).is_some_and(|e| e.gen >= gen) {
            return;
        }
        let g = self.stale.entry(id).or_insert(gen);
        *g = (*g).max(gen);
    }
}

/// A copy of an object as the database hands it out (no index entries).
fn handed_out(o: &StoredObject) -> StoredObject {
    let mut c = o.clone();
    for r in &mut c.rows {
        r.idx = None;
    }
    c
}

impl Mirror {
    pub fn epoch(&self) -> u64 {
        self.inner.lock().epoch
    }

    /// Drops every copy (and any read under way).
    pub fn reset(&self) {
        let mut g = self.inner.lock();
        g.epoch += 1;
        g.tokens.clear();
    }

    /// What a notification said, applied.
    pub fn heard(&self, h: Heard) {
        match h {
            Heard::Nothing | Heard::Elsewhere => {}
            Heard::All => self.reset(),
            Heard::Objects { gen, token, ids } => {
                let mut g = self.inner.lock();
                if let Some(t) = g.tokens.get_mut(&token) {
                    for id in ids {
                        t.mark(gen, id);
                    }
                }
            }
        }
    }

    /// This process's own committed write at generation `gen`.
    pub fn apply(&self, gen: i64, scope: Scope) {
        match scope {
            Scope::None => {}
            Scope::All => self.reset(),
            Scope::Objects(token, changes) => {
                let mut g = self.inner.lock();
                let Some(t) = g.tokens.get_mut(&token) else { return };
                for c in changes {
                    match c {
                        Change::Put(o) => t.put(gen, o),
                        Change::Gone(id) => t.remove(id),
                        Change::Touched(id) => t.mark(gen, id),
                    }
                }
            }
        }
    }

    /// Where `token`'s copy stands under `epoch`; when absent, claims it
    /// for the caller's bulk read (later callers see it as Unusable).
    pub fn standing(&self, epoch: u64, token: TokenId) -> Standing {
        let mut g = self.inner.lock();
        if g.epoch != epoch {
            return Standing::Unusable;
        }
        match g.tokens.get(&token) {
            None => {
                g.tokens.insert(token, TokenCopy::default());
                Standing::Absent
            }
            Some(t) if !t.ready => Standing::Unusable,
            Some(t) => Standing::Ready { stale: t.stale.iter().map(|(id, g)| (*id, *g)).collect() },
        }
    }

    /// The bulk read of `token` (claimed by `standing`) is done: `None`
    /// when it failed or the token is too large (the token is then left
    /// uncopied until the next drop, so it is not read again at every
    /// find). Objects changed meanwhile keep their stale marks.
    pub fn built(&self, epoch: u64, token: TokenId, objects: Option<Vec<(i64, StoredObject)>>) {
        let mut g = self.inner.lock();
        if g.epoch != epoch {
            return;
        }
        let Some(t) = g.tokens.get_mut(&token) else { return };
        // Without objects the token stays claimed and not ready: Unusable
        // until the next drop.
        if let Some(objects) = objects {
            for (gen, o) in objects {
                t.put(gen, o);
            }
            t.ready = true;
        }
    }

    /// Objects read again (those of `asked` not among them are gone). The
    /// marks they were asked for are settled, even by a row older than the
    /// mark (a notification no commit sent: it must not keep the object
    /// stale for good); a mark made since the question stays.
    pub fn refreshed(&self, epoch: u64, token: TokenId, asked: &[(ObjectId, i64)], objects: Vec<(i64, StoredObject)>) {
        let mut g = self.inner.lock();
        if g.epoch != epoch {
            return;
        }
        let Some(t) = g.tokens.get_mut(&token) else { return };
        let found: HashSet<ObjectId> = objects.iter().map(|(_, o)| o.id).collect();
        for (gen, o) in objects {
            t.put(gen, o);
        }
        for (id, mark) in asked {
            if !found.contains(id) {
                t.remove(*id);
            } else if t.stale.get(id).is_some_and(|g| g <= mark) {
                t.stale.remove(id);
            }
        }
    }

    /// A find answered from the copy: None unless the token is copied
    /// with nothing stale. As `Store::find`: ids in order.
    pub fn find(
        &self,
        epoch: u64,
        token: TokenId,
        vis: Visible,
        filters: &[(AttrType, Vec<Idx>)],
    ) -> Option<Vec<ObjectId>> {
        let g = self.inner.lock();
        if g.epoch != epoch {
            return None;
        }
        let t = g.tokens.get(&token).filter(|t| t.ready && t.stale.is_empty())?;
        let visible = |o: &StoredObject| if o.private { vis.private } else { vis.public };
        let has = |o: &StoredObject, atype: AttrType, idxs: &[Idx]| {
            o.rows.iter().any(|r| r.atype == atype && r.idx.is_some_and(|i| idxs.contains(&i)))
        };
        let mut ids: Vec<ObjectId> = match filters.split_first() {
            None => t.objects.values().filter(|e| visible(&e.obj)).map(|e| e.obj.id).collect(),
            Some(((atype, idxs), rest)) => {
                let mut c: Vec<ObjectId> =
                    idxs.iter().filter_map(|i| t.index.get(&(*atype, *i))).flat_map(Members::ids).collect();
                c.sort_unstable();
                c.dedup();
                c.retain(|id| {
                    t.objects.get(id).is_some_and(|e| visible(&e.obj) && rest.iter().all(|(a, i)| has(&e.obj, *a, i)))
                });
                c
            }
        };
        ids.sort_unstable();
        Some(ids)
    }

    /// `token`'s object `id` from the copy: Some(None) when the copy saw
    /// it deleted; None when the copy cannot say (not copied, the object
    /// stale, or one the copy has not heard of: another process, or
    /// another store in this one, may have just made it, and whoever
    /// names it learned its id from there).
    pub fn load(&self, epoch: u64, token: TokenId, id: ObjectId) -> Option<Option<StoredObject>> {
        let g = self.inner.lock();
        if g.epoch != epoch {
            return None;
        }
        let t = g.tokens.get(&token).filter(|t| t.ready)?;
        if t.stale.contains_key(&id) {
            return None;
        }
        if t.gone.contains(&id) {
            return Some(None);
        }
        t.objects.get(&id).map(|e| Some(handed_out(&e.obj)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::Row;
    use super::*;

    fn obj(id: ObjectId, private: bool, version: u64, label: u8) -> StoredObject {
        StoredObject {
            id,
            uid: [id as u8; 16],
            private,
            version,
            tag: None,
            rows: vec![
                Row { atype: 3, sealed: false, value: vec![label], idx: Some([label; 16]) },
                Row { atype: 0, sealed: false, value: vec![1], idx: Some([100; 16]) },
                Row { atype: 17, sealed: true, value: vec![9; 40], idx: None },
            ],
        }
    }

    const ALL: Visible = Visible { public: true, private: true };

    fn ready(m: &Mirror, token: TokenId, objects: Vec<(i64, StoredObject)>) -> u64 {
        let e = m.epoch();
        assert!(matches!(m.standing(e, token), Standing::Absent));
        assert!(matches!(m.standing(e, token), Standing::Unusable), "claimed by the first caller");
        m.built(e, token, Some(objects));
        e
    }

    #[test]
    fn index_members_add_and_remove() {
        let mut m = Members::One(1);
        m.add(1);
        assert!(matches!(m, Members::One(1)));
        for i in 2..1000 {
            m.add(i);
        }
        let mut ids: Vec<_> = m.ids().collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..1000).collect::<Vec<_>>());
        for i in 1..999 {
            assert!(m.remove(i));
        }
        assert!(matches!(m, Members::One(999)));
        assert!(m.remove(5), "another id: still there");
        assert!(!m.remove(999), "the last one gone");
    }

    #[test]
    fn payloads_round_trip_and_anything_else_means_everything() {
        assert_eq!(parse(40, &payload(40, 7, &Scope::None)), Heard::Nothing);
        assert_eq!(parse(40, &payload(40, 7, &Scope::All)), Heard::All);
        let s = Scope::Objects(2, vec![Change::Gone(5), Change::Touched(6), Change::Put(obj(9, false, 1, 1))]);
        assert_eq!(parse(40, &payload(40, 7, &s)), Heard::Objects { gen: 7, token: 2, ids: vec![5, 6, 9] });
        assert_eq!(parse(41, &payload(40, 7, &s)), Heard::Elsewhere, "another schema's store");
        assert_eq!(parse(41, &payload(40, 7, &Scope::All)), Heard::Elsewhere);
        let many = Scope::Objects(2, (0..2000).map(|i| Change::Gone(1_000_000 + i)).collect());
        assert_eq!(parse(40, &payload(40, 8, &many)), Heard::All, "too long for a notification");
        let bad =
            ["7", "m1", "m1 40", "m1 x 7", "m1 40 x", "m1 40 7 2", "m1 40 7 2 5,x", "m1 40 7 2 5 6", "m2 40 7 2 5", ""];
        for bad in bad {
            assert_eq!(parse(40, bad), Heard::All, "{bad:?}");
        }
    }

    #[test]
    fn finds_and_loads_follow_every_change() {
        let m = Mirror::default();
        let e = ready(&m, 1, vec![(5, obj(10, false, 1, 1)), (5, obj(11, true, 1, 2)), (6, obj(12, true, 1, 1))]);
        let label = |l: u8| vec![(3, vec![[l; 16]])];
        assert_eq!(m.find(e, 1, ALL, &label(1)), Some(vec![10, 12]));
        assert_eq!(m.find(e, 1, Visible { public: true, private: false }, &label(1)), Some(vec![10]));
        assert_eq!(m.find(e, 1, ALL, &[(3, vec![[1; 16]]), (0, vec![[100; 16]])]), Some(vec![10, 12]));
        assert_eq!(m.find(e, 1, ALL, &[(3, vec![[1; 16]]), (0, vec![[101; 16]])]), Some(vec![]));
        assert_eq!(m.find(e, 1, ALL, &[]), Some(vec![10, 11, 12]));
        assert_eq!(m.find(e, 2, ALL, &[]), None, "another token is not copied");
        let o = m.load(e, 1, 11).unwrap().unwrap();
        assert!(o.rows.iter().all(|r| r.idx.is_none()), "handed out as the database would");
        assert!(m.load(e, 1, 99).is_none(), "an object the copy has not heard of: ask the database");

        // Another host renames 10 (generation 8): stale until read again.
        m.heard(Heard::Objects { gen: 8, token: 1, ids: vec![10] });
        assert_eq!(m.find(e, 1, ALL, &label(1)), None);
        assert!(m.load(e, 1, 10).is_none());
        assert!(m.load(e, 1, 11).is_some(), "the others are still served");
        let Standing::Ready { stale } = m.standing(e, 1) else { panic!() };
        assert_eq!(stale, vec![(10, 8)]);
        m.refreshed(e, 1, &stale, vec![(8, obj(10, false, 2, 3))]);
        assert_eq!(m.find(e, 1, ALL, &label(1)), Some(vec![12]));
        assert_eq!(m.find(e, 1, ALL, &label(3)), Some(vec![10]));

        // A notification for what the copy already holds changes nothing.
        m.heard(Heard::Objects { gen: 8, token: 1, ids: vec![10] });
        assert_eq!(m.find(e, 1, ALL, &label(3)), Some(vec![10]));

        // Own writes: an older version never replaces a newer one, and a
        // deleted object never comes back.
        m.apply(9, Scope::Objects(1, vec![Change::Put(obj(10, false, 3, 4))]));
        m.apply(7, Scope::Objects(1, vec![Change::Put(obj(10, false, 1, 5))]));
        assert_eq!(m.find(e, 1, ALL, &label(4)), Some(vec![10]));
        assert_eq!(m.find(e, 1, ALL, &label(5)), Some(vec![]));
        m.apply(10, Scope::Objects(1, vec![Change::Gone(12)]));
        m.refreshed(e, 1, &[], vec![(6, obj(12, true, 1, 1))]);
        assert_eq!(m.find(e, 1, ALL, &label(1)), Some(vec![]));
        assert!(m.load(e, 1, 12).unwrap().is_none());
        // Refreshing an object that is no longer there: gone.
        m.heard(Heard::Objects { gen: 11, token: 1, ids: vec![11] });
        m.refreshed(e, 1, &[(11, 11)], vec![]);
        assert_eq!(m.find(e, 1, ALL, &[]), Some(vec![10]));
        // A new object of another host.
        m.heard(Heard::Objects { gen: 12, token: 1, ids: vec![13] });
        assert_eq!(m.find(e, 1, ALL, &[]), None);
        m.refreshed(e, 1, &[(13, 12)], vec![(12, obj(13, false, 1, 4))]);
        assert_eq!(m.find(e, 1, ALL, &label(4)), Some(vec![10, 13]));

        // A mark no commit sent (the row read has an older generation)
        // is settled by the read, not kept for good; one made after the
        // question stays.
        m.heard(Heard::Objects { gen: 1000, token: 1, ids: vec![13] });
        let Standing::Ready { stale } = m.standing(e, 1) else { panic!() };
        m.heard(Heard::Objects { gen: 1001, token: 1, ids: vec![10] });
        m.refreshed(e, 1, &stale, vec![(12, obj(13, false, 1, 4))]);
        assert!(m.load(e, 1, 13).is_some());
        assert!(m.load(e, 1, 10).is_none(), "marked after the question");
    }

    #[test]
    fn a_drop_discards_reads_under_way_and_changes_while_copying_stay_stale() {
        let m = Mirror::default();
        let e = m.epoch();
        assert!(matches!(m.standing(e, 1), Standing::Absent));
        // Changed by another host while the bulk read runs: the read may
        // or may not hold the change, so it is read again.
        m.heard(Heard::Objects { gen: 9, token: 1, ids: vec![10] });
        m.built(e, 1, Some(vec![(5, obj(10, false, 1, 1))]));
        assert_eq!(m.find(e, 1, ALL, &[]), None);
        m.refreshed(e, 1, &[(10, 9)], vec![(9, obj(10, false, 2, 2))]);
        assert_eq!(m.find(e, 1, ALL, &[]), Some(vec![10]));

        m.heard(Heard::All);
        let e2 = m.epoch();
        assert_ne!(e, e2);
        assert_eq!(m.find(e, 1, ALL, &[]), None, "an old epoch sees nothing");
        assert_eq!(m.find(e2, 1, ALL, &[]), None, "everything went");
        assert!(matches!(m.standing(e, 1), Standing::Unusable));
        assert!(matches!(m.standing(e2, 1), Standing::Absent));
        m.reset();
        m.built(e2, 1, Some(vec![(5, obj(10, false, 1, 1))]));
        assert!(matches!(m.standing(m.epoch(), 1), Standing::Absent), "a read from before the drop is not installed");
        let e3 = m.epoch();
        m.built(e3, 1, None);
        assert!(matches!(m.standing(e3, 1), Standing::Unusable), "too large or failed: not tried again");
        m.reset();
        assert!(matches!(m.standing(m.epoch(), 1), Standing::Absent), "until the next drop");
    }
}
