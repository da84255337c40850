//! The token core: one `Module` per `C_Initialize`, holding the store, the
//! per-slot login state and the process's sessions and session objects.
//!
//! Locking: the session table is an `ArcSwap` (lookups take no lock and
//! write nothing shared), the session-object table an `RwLock` held only
//! for lookups; each session has its own `Mutex`es for its operation state
//! and its view (its own copies of token record, login and recently used
//! keys, see `session::View`); each slot has an `RwLock` for its login
//! state and an epoch that tells sessions it changed. No lock is held
//! across a PIN derivation except the slot's own login mutex. Locks are
//! `crate::sync`'s: a panic caught at the C boundary never wedges them.
//!
//! Caching: one type, `cache::Stamped`, with one rule (an entry serves only
//! the store state it was read at); a key's parsed form lives with its
//! object (`Object::memo`). Rights: one `authorize(session, Need)`.

mod audit;
mod audit_check;
mod auth;
mod cache;
mod cert;
mod cipher;
pub mod clock;
pub mod crypto;
mod derive;
mod find;
mod hooks;
mod keygen;
mod keypair;
pub mod kms;
mod logins;
pub mod migrate;
mod newobj;
pub mod objects;
mod ops;
mod session;
mod sessions;
mod sign;
mod slots;
mod verify;
mod wrap;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::sync::RwLock;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Object;
use crate::store::codec::Sealer;
use crate::store::sqlite::SqliteStore;
use crate::store::{ObjectId, SlotId, Store, TokenId, TokenKey, TokenRecord};

pub use crate::store::Uid;
pub use audit::{with_caller, Caller};
pub use audit_check::{verify_export, Anchored, AuditExport, AuditSummary, ExportProof};
pub use crypto::Produced;
use logins::{Login, SlotState};
pub use ops::OpKind;
pub use session::Session;
pub use verify::StoreReport;

pub type ObjectHandle = cryptoki_sys::CK_OBJECT_HANDLE;
pub type SessionHandle = cryptoki_sys::CK_SESSION_HANDLE;

/// Session objects get handles from here up; token objects use their store
/// id (always below), so a handle says where the object lives.
const SESSION_OBJECT_BASE: ObjectHandle = 0x8000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    So,
    User,
}

pub(crate) struct SessionObject {
    session: SessionHandle,
    slot: SlotId,
    object: RwLock<Arc<Object>>,
}

pub struct Module {
    pub config: Config,
    store: Box<dyn Store>,
    /// Slots, their login state and the token records read for them.
    slots: logins::Slots,
    /// Open sessions and session objects.
    sessions: sessions::Sessions,
    /// Token objects already opened, stamped with their token's revision
    /// (see `cache`). Cleared at logout.
    opened: cache::Stamped<(TokenId, ObjectId), Arc<Opened>>,
    /// The KMS component's state: its opened keys.
    kms: kms::KeyCache,
    /// Audit records not yet written.
    audit: audit::Audit,
}

struct Opened {
    uid: Uid,
    private: bool,
    object: Arc<Object>,
}

/// Opened objects kept per process; past this the cache starts over.
const OPENED_MAX: usize = 4_096;

/// One attribute's answer to C_GetAttributeValue.
pub enum AttrOut {
    Value(crate::model::Value),
    Sensitive,
    Invalid,
}

/// An object found by handle, with where it lives.
pub(crate) enum Found {
    Token { token_id: TokenId, id: ObjectId, uid: Uid, object: Arc<Object> },
    Session { handle: ObjectHandle, entry: Arc<SessionObject>, object: Arc<Object> },
}

impl Found {
    pub fn into_object(self) -> Arc<Object> {
        match self {
            Found::Token { object, .. } | Found::Session { object, .. } => object,
        }
    }

    pub fn object(&self) -> &Object {
        match self {
            Found::Token { object, .. } | Found::Session { object, .. } => object,
        }
    }
}

/// What a session may see and use, taken once per call.
pub(crate) struct Access {
    pub slot: SlotId,
    pub token: Arc<TokenRecord>,
    pub user: Option<UserKind>,
    pub key: Option<Arc<TokenKey>>,
    pub rw: bool,
    pub session: SessionHandle,
    /// The session's copies of the token keys it used last.
    pub kept: Arc<session::Kept>,
}

/// What a call needs of its session: the one place the role and
/// read-write rules are written (`Access::require`, `Module::authorize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// A read-write session (CKR_SESSION_READ_ONLY).
    Rw,
    /// The user logged in (CKR_USER_NOT_LOGGED_IN).
    User,
    /// The user, in a read-write session.
    UserRw,
    /// The SO, in a read-write session.
    SoRw,
    /// Someone logged in (user or SO): the token key is at hand.
    Login,
}

impl Access {
    /// Checks what a call needs; the login is checked before the session
    /// kind, as the spec orders the codes.
    pub fn require(&self, need: Need) -> Result<()> {
        let login_ok = match need {
            Need::Rw => true,
            Need::User | Need::UserRw => self.user_logged_in(),
            Need::SoRw => self.is_so(),
            Need::Login => self.key.is_some(),
        };
        if !login_ok {
            return Err(Error::UserNotLoggedIn);
        }
        if matches!(need, Need::Rw | Need::UserRw | Need::SoRw) && !self.rw {
            return Err(Error::SessionReadOnly);
        }
        Ok(())
    }

    pub fn sealer(&self) -> Sealer<'_> {
        Sealer { token_uid: &self.token.uid, key: self.key.as_deref() }
    }
    /// What an object write needs: the token key (a login).
    pub fn writer(&self) -> Result<crate::store::Writer<'_>> {
        let key = self.key.as_deref().ok_or(Error::UserNotLoggedIn)?;
        Ok(crate::store::Writer { token_uid: &self.token.uid, key })
    }
    pub fn user_logged_in(&self) -> bool {
        self.user == Some(UserKind::User)
    }
    pub fn is_so(&self) -> bool {
        self.user == Some(UserKind::So)
    }
}

impl Module {
    pub fn new(config: Config) -> Result<Module> {
        let path = config.store_path()?;
        let busy = std::time::Duration::from_millis(config.store.busy_timeout_ms.unwrap_or(30_000));
        let store = SqliteStore::open_with(&path, config.store.umask, busy)?
            .with_audit_anchor(config.audit_sidecar()?, config.audit.syslog)?;
        log::info!("store at {}", path.display());
        Module::with_store(config, Box::new(store))
    }

    /// Fails closed: a mechanism list that does not parse stops the module
    /// (Config::validate refuses it first; this holds for any caller).
    pub fn with_store(config: Config, store: Box<dyn Store>) -> Result<Module> {
        use crate::mech::registry;
        let filter = match config.slots.mechanisms.as_deref() {
            None => registry::Filter::All,
            Some(list) => registry::Filter::parse(list)
                .map_err(|e| Error::general(format!("slots.mechanisms: {e}: refusing to start")))?,
        };
        registry::set_filter(filter);
        Ok(Module {
            config,
            store,
            slots: logins::Slots::new(),
            sessions: sessions::Sessions::new(),
            opened: cache::Stamped::new(OPENED_MAX),
            kms: kms::KeyCache::new(OPENED_MAX),
            audit: audit::Audit::default(),
        })
    }

    fn slot_state(&self, slot: SlotId) -> Result<Arc<SlotState>> {
        Ok(self.slots.state(slot))
    }

    /// The session and what the caller may do on it, checked against what
    /// the call needs.
    pub(crate) fn authorize(&self, h: SessionHandle, need: Need) -> Result<(Arc<Session>, Access)> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        a.require(need)?;
        Ok((s, a))
    }

    /// The session, or CKR_SESSION_HANDLE_INVALID.
    pub fn session(&self, h: SessionHandle) -> Result<Arc<Session>> {
        self.sessions.get(h)
    }

    /// The token in a slot as the store has it now: re-read only when the
    /// store's generation changed (any process's write changes it).
    pub(crate) fn token_at(&self, slot: SlotId) -> Result<Option<Arc<TokenRecord>>> {
        let Some(generation) = self.store.generation() else {
            return Ok(self.store.token_at(slot)?.map(Arc::new));
        };
        if let Some(rec) = self.slots.tokens.get(&slot, generation) {
            return Ok(rec);
        }
        let rec = self.store.token_at(slot)?.map(Arc::new);
        self.slots.tokens.put(slot, generation, rec.clone());
        Ok(rec)
    }

    /// The token behind a session and the caller's rights on it, from the
    /// session's own view while the store generation and the slot's login
    /// epoch are unchanged; else read again (and copied, see `View`).
    pub(crate) fn access(&self, s: &Session) -> Result<Access> {
        let epoch = s.state.epoch.load(Ordering::Acquire);
        let generation = self.store.generation();
        let mut v = s.view.lock();
        let token = match (&v.token, generation) {
            (Some((g, t)), Some(now)) if *g == now => t.clone(),
            _ => {
                // Stored with the generation read before: a change in
                // between only makes the next call look again.
                let shared = self.token_at(s.slot)?.ok_or(Error::SessionHandleInvalid)?;
                let own = Arc::new(TokenRecord::clone(&shared));
                v.token = generation.map(|g| (g, own.clone()));
                own
            }
        };
        let (user, key) = match &v.login {
            Some(l) if l.epoch == epoch && l.token_uid == token.uid => (l.user, l.key.clone()),
            _ => {
                let login = s.state.login.read();
                let (user, key) = if login.token_uid == Some(token.uid) {
                    (login.user, login.key.as_deref().map(|k| Arc::new(k.duplicate())))
                } else {
                    (None, None)
                };
                drop(login);
                v.login = Some(session::LoginCopy { epoch, token_uid: token.uid, user, key: key.clone() });
                (user, key)
            }
        };
        Ok(Access { slot: s.slot, token, user, key, rw: s.rw, session: s.handle, kept: s.kept.clone() })
    }

    /// Looks an object up by handle with the visibility rules applied: a
    /// private object does not exist for a caller who is not logged in as
    /// the user.
    pub(crate) fn find_object(&self, a: &Access, h: ObjectHandle) -> Result<Found> {
        if h >= SESSION_OBJECT_BASE {
            let entry = self.sessions.objects.read().get(&h).cloned().ok_or(Error::ObjectHandleInvalid)?;
            let object = entry.object.read().clone();
            if entry.slot != a.slot || (object.is_private() && !a.user_logged_in()) {
                return Err(Error::ObjectHandleInvalid);
            }
            return Ok(Found::Session { handle: h, entry, object });
        }
        let id = ObjectId::try_from(h).map_err(|_| Error::ObjectHandleInvalid)?;
        let token_id = a.token.token_id;
        if a.key.is_some() {
            if let Some(o) = self.opened.get(&(token_id, id), a.token.rev as u64) {
                if o.private && !a.user_logged_in() {
                    return Err(Error::ObjectHandleInvalid);
                }
                return Ok(Found::Token { token_id, id, uid: o.uid, object: o.object.clone() });
            }
        }
        let stored = self.store.load_object(token_id, id)?.ok_or(Error::ObjectHandleInvalid)?;
        if stored.private && !a.user_logged_in() {
            return Err(Error::ObjectHandleInvalid);
        }
        let object = Arc::new(crate::store::codec::decode(a.sealer(), &stored)?);
        if a.key.is_some() && object.locked.is_empty() {
            let entry = Opened { uid: stored.uid, private: stored.private, object: object.clone() };
            self.opened.put((token_id, id), a.token.rev as u64, Arc::new(entry));
        }
        Ok(Found::Token { token_id, id, uid: stored.uid, object })
    }

    /// `find_object` for a *use* of the object (a key in an operation, a
    /// value digested, wrapped or derived from): a public object read
    /// without the token key has not had its tag checked, so it cannot be
    /// used until someone logs in (CKR_USER_NOT_LOGGED_IN).
    pub(crate) fn find_for_use(&self, a: &Access, h: ObjectHandle) -> Result<Found> {
        let found = self.find_object(a, h)?;
        if found.object().unverified {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(found)
    }

    /// A token key this session used before, while its token's revision is
    /// unchanged: the session's own copy (see `session::Kept`).
    pub(crate) fn kept_key(&self, a: &Access, h: ObjectHandle) -> Result<Option<Found>> {
        let Ok(id) = ObjectId::try_from(h) else { return Ok(None) };
        if a.key.is_none() || h >= SESSION_OBJECT_BASE {
            return Ok(None);
        }
        let mut kept = a.kept.lock();
        let Some(i) = kept.iter().position(|k| k.id == id && k.token_id == a.token.token_id) else { return Ok(None) };
        let k = kept.remove(i);
        if k.rev != a.token.rev {
            return Ok(None);
        }
        if k.object.is_private() && !a.user_logged_in() {
            return Err(Error::ObjectHandleInvalid);
        }
        let found = Found::Token { token_id: k.token_id, id, uid: k.uid, object: k.object.clone() };
        kept.push(k);
        Ok(Some(found))
    }

    /// Keeps a copy of a token key the session is about to use, and returns
    /// the key as that copy.
    pub(crate) fn keep_key(&self, a: &Access, found: Found) -> Found {
        let Found::Token { token_id, id, uid, object } = found else { return found };
        if a.key.is_none() || !object.locked.is_empty() {
            return Found::Token { token_id, id, uid, object };
        }
        let object = Arc::new(Object::clone(&object));
        {
            let mut kept = a.kept.lock();
            kept.retain(|k| !(k.id == id && k.token_id == token_id));
            if kept.len() >= session::KEPT_MAX {
                kept.remove(0);
            }
            kept.push(session::KeptKey { token_id, id, rev: a.token.rev, uid, object: object.clone() });
        }
        Found::Token { token_id, id, uid, object }
    }

    /// Forgets every opened object of a slot's token (at logout), also the
    /// sessions' copies.
    pub(crate) fn forget_opened(&self) {
        for s in self.sessions.all().values() {
            s.forget_copies();
        }
        self.opened.clear();
        self.kms.clear();
    }
}

impl Drop for Module {
    /// A module that goes away cleanly (C_Finalize, the CLI's exit) writes
    /// its buffered audit records.
    fn drop(&mut self) {
        if let Err(e) = self.flush_audit_with(true) {
            log::error!("audit records not written: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
