//! The token core: one `Module` per `C_Initialize`. `Module` itself holds
//! only what every part needs — the configuration, the store, the one
//! `authorize(session, Need)` and the session's view of its token (`access`)
//! — and the state of five components, each reached through its own
//! interface and each owning its state (no component reads another's):
//!
//! | component | interface | state | files |
//! |---|---|---|---|
//! | slots and login | `m.slots()` → `Slots` | `logins::SlotStates` | slots.rs, auth.rs, logins.rs, migrate.rs |
//! | sessions and operations | `m.sessions()` → `Sessions` | `sessions::SessionTable` | session.rs, sessions.rs, ops.rs, crypto.rs, cipher.rs, message.rs, sign.rs, keygen.rs, keypair.rs, derive.rs, wrap.rs |
//! | objects | `m.objects()` → `Objects` | `objects::ObjectTable` | objects.rs, find.rs, newobj.rs, cert.rs |
//! | KMS | `m.kms()` → `Kms` | `kms::KeyCache` | kms/ |
//! | audit | `m.audit()` → `Audit` | `audit::AuditBuffer` | audit.rs, audit_check.rs, verify.rs |
//!
//! A component calls another only through that one's interface (for
//! example the KMS component creates its key objects with
//! `m.objects().store_new` and records with `m.audit().event`).
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
mod dual;
mod find;
mod hooks;
mod kbkdf;
mod kem;
mod keygen;
pub mod keyid;
mod keypair;
pub mod kms;
mod logins;
pub mod message;
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
pub use dual::Dual;
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
    slots: logins::SlotStates,
    /// Open sessions and session objects.
    sessions: sessions::SessionTable,
    /// The objects component's state: token objects already opened.
    objects: objects::ObjectTable,
    /// The KMS component's state: its opened keys.
    kms: kms::KeyCache,
    /// Audit records not yet written.
    audit: audit::AuditBuffer,
}

/// Opened objects (and KMS keys) kept per process; past this the cache
/// starts over.
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

// The components' interfaces (see the table at the top). Each is a view of
// the module; its methods live in the component's files.

/// The slots-and-login component (see `Module::slots`): the slot list, token and slot information, mechanisms, token initialization, login, logout and PINs, and provisioning a token from a migration.
pub struct Slots<'m> {
    pub(super) m: &'m Module,
}

/// The sessions-and-operations component (see `Module::sessions`): opening and closing sessions, and every operation run in one (digest, encrypt/decrypt, sign/verify, key generation, derivation, wrapping, random).
pub struct Sessions<'m> {
    pub(super) m: &'m Module,
}

/// The objects component (see `Module::objects`): objects by handle, with
/// the visibility rules; creating, copying, destroying, reading and
/// changing them; finding them.
pub struct Objects<'m> {
    pub(super) m: &'m Module,
}

/// The audit component (see `Module::audit`): records written for every use and change, their chain, its verification, export and pruning, and the store check.
pub struct Audit<'m> {
    pub(super) m: &'m Module,
}

/// The KMS operations of a module (see `Module::kms`).
pub struct Kms<'m> {
    pub(super) m: &'m Module,
}

impl Module {
    /// The slots-and-login component.
    pub fn slots(&self) -> Slots<'_> {
        Slots { m: self }
    }

    /// The sessions-and-operations component.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { m: self }
    }

    /// The objects component.
    pub fn objects(&self) -> Objects<'_> {
        Objects { m: self }
    }

    /// The audit component.
    pub fn audit(&self) -> Audit<'_> {
        Audit { m: self }
    }

    /// The KMS component.
    pub fn kms(&self) -> Kms<'_> {
        Kms { m: self }
    }
}

impl Module {
    pub fn new(config: Config) -> Result<Module> {
        if let Some(target) = config.store_target()? {
            let where_ = format!("{:?}", target.config.get_hosts());
            let store = crate::store::postgres::PgStore::open(target)?
                .with_audit_anchor(config.audit_sidecar()?, config.audit.syslog)?;
            log::info!("store in PostgreSQL at {where_}");
            return Module::with_store(config, Box::new(store));
        }
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
        crate::model::mechanism::bound::set_operation_bytes(config.limits.operation_bytes);
        Ok(Module {
            config,
            store,
            slots: logins::SlotStates::new(),
            sessions: sessions::SessionTable::new(),
            objects: objects::ObjectTable::new(OPENED_MAX),
            kms: kms::KeyCache::new(OPENED_MAX),
            audit: audit::AuditBuffer::default(),
        })
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

    /// Forgets every opened object of a slot's token (at logout), also the
    /// sessions' copies.
    pub(crate) fn forget_opened(&self) {
        for s in self.sessions.all().values() {
            s.forget_copies();
        }
        self.objects.clear();
        self.kms.clear();
    }
}

impl Drop for Module {
    /// A module that goes away cleanly (C_Finalize, the CLI's exit) writes
    /// its buffered audit records.
    fn drop(&mut self) {
        if let Err(e) = self.audit().flush_with(true) {
            log::error!("audit records not written: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
