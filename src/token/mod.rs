//! The token core: one `Module` per `C_Initialize`, holding the store, the
//! per-slot login state and the process's sessions and session objects.
//!
//! Locking: the session table and the session-object table are `RwLock`s
//! held only for lookups; each session has its own `Mutex` for its
//! operation state; each slot has an `RwLock` for its login state. No lock
//! is held across a PIN derivation except the slot's own login mutex.

mod audit;
mod auth;
mod cert;
mod cipher;
pub mod clock;
pub mod crypto;
mod derive;
mod find;
mod keygen;
mod keypair;
pub mod kms;
pub mod migrate;
mod newobj;
pub mod objects;
mod session;
mod sign;
mod slots;
mod wrap;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Object;
use crate::store::codec::Sealer;
use crate::store::sqlite::SqliteStore;
use crate::store::{ObjectId, SlotId, Store, TokenId, TokenKey, TokenRecord, Uid};

pub use audit::AuditSummary;
pub use session::{OpKind, Session, SessionHandle};

pub type ObjectHandle = cryptoki_sys::CK_OBJECT_HANDLE;

/// Session objects get handles from here up; token objects use their store
/// id (always below), so a handle says where the object lives.
const SESSION_OBJECT_BASE: ObjectHandle = 0x8000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    So,
    User,
}

/// Login state of one slot, shared by every session of the process.
#[derive(Default)]
struct Login {
    /// The token this state belongs to; a re-initialized token (here or in
    /// another process) invalidates it.
    token_uid: Option<Uid>,
    user: Option<UserKind>,
    key: Option<Arc<TokenKey>>,
}

pub(crate) struct SlotState {
    login: RwLock<Login>,
    /// Serializes C_Login/C_Logout/C_InitToken on this slot (PIN derivation
    /// happens under it, not under `login`).
    auth: Mutex<()>,
}

pub(crate) struct SessionObject {
    session: SessionHandle,
    slot: SlotId,
    object: RwLock<Arc<Object>>,
}

pub struct Module {
    pub config: Config,
    store: Box<dyn Store>,
    slots: RwLock<HashMap<SlotId, Arc<SlotState>>>,
    sessions: RwLock<HashMap<SessionHandle, Arc<Session>>>,
    next_session: AtomicU64,
    session_objects: RwLock<HashMap<ObjectHandle, Arc<SessionObject>>>,
    next_session_object: AtomicU64,
    /// Token objects already opened, valid while their token's revision is
    /// unchanged (any process changing or destroying an object bumps it).
    /// Cleared when the slot logs out.
    opened: RwLock<HashMap<(TokenId, ObjectId), Opened>>,
    /// Token records read at a store generation, reused while it holds.
    tokens: RwLock<HashMap<SlotId, TokenAt>>,
    /// The slot list as read at a store generation.
    slot_ids: Mutex<Option<(u64, Vec<SlotId>)>>,
    /// Asymmetric keys already parsed (RSA with its Montgomery and blinding
    /// state, EC with its public point), by the address of the object they
    /// came from; an entry is good while that object is alive. Cleared at
    /// logout with the opened objects.
    keys: RwLock<HashMap<usize, ParsedKey>>,
    /// Audit records not yet written.
    audit: audit::Audit,
}

/// A parsed key and the object it came from.
type ParsedKey = (std::sync::Weak<Object>, Arc<crate::mech::keys::Key>);

/// A slot's token record as read at a store generation.
pub(crate) type TokenAt = (u64, Option<Arc<TokenRecord>>);

struct Opened {
    rev: i64,
    uid: Uid,
    private: bool,
    object: Arc<Object>,
}

/// Opened objects kept per process; past this the cache starts over.
const OPENED_MAX: usize = 4_096;

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
}

impl Access {
    pub fn sealer(&self) -> Sealer<'_> {
        Sealer { token_uid: &self.token.uid, key: self.key.as_deref() }
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
        let store = SqliteStore::open_with_umask(&path, config.store.umask)?;
        log::info!("store at {}", path.display());
        Ok(Module::with_store(config, Box::new(store)))
    }

    pub fn with_store(config: Config, store: Box<dyn Store>) -> Module {
        // Checked by Config::validate; a list that fails here offers all.
        use crate::mech::registry;
        let filter = config.slots.mechanisms.as_deref().map(registry::Filter::parse);
        registry::set_filter(filter.and_then(|f| f.ok()).unwrap_or(registry::Filter::All));
        Module {
            config,
            store,
            slots: RwLock::new(HashMap::new()),
            sessions: RwLock::new(HashMap::new()),
            next_session: AtomicU64::new(1),
            session_objects: RwLock::new(HashMap::new()),
            next_session_object: AtomicU64::new(SESSION_OBJECT_BASE),
            opened: RwLock::new(HashMap::new()),
            tokens: RwLock::new(HashMap::new()),
            slot_ids: Mutex::new(None),
            keys: RwLock::new(HashMap::new()),
            audit: audit::Audit::default(),
        }
    }

    fn slot_state(&self, slot: SlotId) -> Result<Arc<SlotState>> {
        // Read-locked on every call, by every thread: shared locks only.
        if let Some(st) = self.slots.read().map_err(|_| Error::CantLock)?.get(&slot) {
            return Ok(st.clone());
        }
        let mut m = self.slots.write().map_err(|_| Error::CantLock)?;
        Ok(m.entry(slot)
            .or_insert_with(|| Arc::new(SlotState { login: RwLock::new(Login::default()), auth: Mutex::new(()) }))
            .clone())
    }

    /// The session, or CKR_SESSION_HANDLE_INVALID.
    pub fn session(&self, h: SessionHandle) -> Result<Arc<Session>> {
        self.sessions.read().map_err(|_| Error::CantLock)?.get(&h).cloned().ok_or(Error::SessionHandleInvalid)
    }

    /// The token in a slot as the store has it now: re-read only when the
    /// store's generation changed (any process's write changes it).
    pub(crate) fn token_at(&self, slot: SlotId) -> Result<Option<Arc<TokenRecord>>> {
        let Some(generation) = self.store.generation() else {
            return Ok(self.store.token_at(slot)?.map(Arc::new));
        };
        if let Some((g, rec)) = self.tokens.read().map_err(|_| Error::CantLock)?.get(&slot) {
            if *g == generation {
                return Ok(rec.clone());
            }
        }
        let rec = self.store.token_at(slot)?.map(Arc::new);
        self.tokens.write().map_err(|_| Error::CantLock)?.insert(slot, (generation, rec.clone()));
        Ok(rec)
    }

    /// The token behind a session: from the session's own cache while the
    /// store generation is unchanged, else as `token_at` has it.
    fn session_token(&self, s: &Session) -> Result<Arc<TokenRecord>> {
        let Some(generation) = self.store.generation() else {
            return self.token_at(s.slot)?.ok_or(Error::SessionHandleInvalid);
        };
        if let Some((g, Some(rec))) = &*s.token.lock().map_err(|_| Error::CantLock)? {
            if *g == generation {
                return Ok(rec.clone());
            }
        }
        let rec = self.token_at(s.slot)?;
        // Stored with the generation read before: a change in between
        // only makes the next call look again.
        *s.token.lock().map_err(|_| Error::CantLock)? = Some((generation, rec.clone()));
        rec.ok_or(Error::SessionHandleInvalid)
    }

    /// The token behind a session and the caller's rights on it.
    pub(crate) fn access(&self, s: &Session) -> Result<Access> {
        let token = self.session_token(s)?;
        let login = s.state.login.read().map_err(|_| Error::CantLock)?;
        let (user, key) =
            if login.token_uid == Some(token.uid) { (login.user, login.key.clone()) } else { (None, None) };
        Ok(Access { slot: s.slot, token, user, key, rw: s.rw, session: s.handle })
    }

    /// Looks an object up by handle with the visibility rules applied: a
    /// private object does not exist for a caller who is not logged in as
    /// the user.
    pub(crate) fn find_object(&self, a: &Access, h: ObjectHandle) -> Result<Found> {
        if h >= SESSION_OBJECT_BASE {
            let entry = self
                .session_objects
                .read()
                .map_err(|_| Error::CantLock)?
                .get(&h)
                .cloned()
                .ok_or(Error::ObjectHandleInvalid)?;
            let object = entry.object.read().map_err(|_| Error::CantLock)?.clone();
            if entry.slot != a.slot || (object.is_private() && !a.user_logged_in()) {
                return Err(Error::ObjectHandleInvalid);
            }
            return Ok(Found::Session { handle: h, entry, object });
        }
        let id = ObjectId::try_from(h).map_err(|_| Error::ObjectHandleInvalid)?;
        let token_id = a.token.token_id;
        if a.key.is_some() {
            let cache = self.opened.read().map_err(|_| Error::CantLock)?;
            if let Some(o) = cache.get(&(token_id, id)).filter(|o| o.rev == a.token.rev) {
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
            let mut cache = self.opened.write().map_err(|_| Error::CantLock)?;
            if cache.len() >= OPENED_MAX {
                cache.clear();
            }
            let entry = Opened { rev: a.token.rev, uid: stored.uid, private: stored.private, object: object.clone() };
            cache.insert((token_id, id), entry);
        }
        Ok(Found::Token { token_id, id, uid: stored.uid, object })
    }

    /// Forgets every opened object of a slot's token (at logout).
    pub(crate) fn forget_opened(&self) {
        if let Ok(mut c) = self.opened.write() {
            c.clear();
        }
        if let Ok(mut k) = self.keys.write() {
            k.clear();
        }
    }

    fn new_session_object_handle(&self) -> ObjectHandle {
        self.next_session_object.fetch_add(1, Ordering::Relaxed)
    }
}

impl Drop for Module {
    /// A module that goes away cleanly (C_Finalize, the CLI's exit) writes
    /// its buffered audit records.
    fn drop(&mut self) {
        if let Err(e) = self.flush_audit() {
            log::error!("audit records not written: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
