//! Sessions: open, close, info. Each session carries its own operation state
//! behind its own lock.

use super::Sessions;
use std::sync::Arc;

use crate::sync::Mutex;

use cryptoki_sys as ck;
use cryptoki_sys::CK_SESSION_INFO;

use super::ops::{OpKind, Ops};
use super::{SessionHandle, UserKind};
use crate::error::{Error, Result};
use crate::model::Object;
use crate::store::{ObjectId, SlotId, TokenId, TokenKey, TokenRecord, Uid};

pub struct Session {
    pub handle: SessionHandle,
    pub slot: SlotId,
    pub rw: bool,
    pub(crate) ops: Mutex<Ops>,
    /// The slot's login state, fixed for the session's life.
    pub(crate) state: Arc<super::SlotState>,
    /// What the session last saw of its token and login.
    pub(crate) view: Mutex<View>,
    /// The token keys it used last.
    pub(crate) kept: Arc<Kept>,
}

/// A session's own copies of its token record and of the login state (the
/// token key included), with the store generation and login epoch they
/// were taken at.
///
/// Copies, not shared `Arc`s: cloning an `Arc` writes its count, and when
/// two threads on two sessions clone the same one per call, that cache line
/// moves between their cores on every call (as does a shared lock's reader
/// count). That cost two threads a third of their GCM-4k rate; with copies
/// a session used by one thread writes only lines of its own.
#[derive(Default)]
pub(crate) struct View {
    pub token: Option<(u64, Arc<TokenRecord>)>,
    pub login: Option<LoginCopy>,
}

pub(crate) struct LoginCopy {
    pub epoch: u64,
    pub token_uid: Uid,
    pub user: Option<UserKind>,
    pub key: Option<Arc<TokenKey>>,
}

/// Token keys a session used last (copies, for the same reason as `View`),
/// valid while their token's revision is unchanged. Gone at logout and when
/// the session closes.
pub(crate) type Kept = Mutex<Vec<KeptKey>>;

pub(crate) struct KeptKey {
    pub token_id: TokenId,
    pub id: ObjectId,
    pub rev: i64,
    pub uid: Uid,
    pub object: Arc<Object>,
}

/// Keys kept per session; the least recently used goes first.
pub(crate) const KEPT_MAX: usize = 8;

impl Session {
    /// Drops the session's copies of login state and keys (at logout).
    pub(crate) fn forget_copies(&self) {
        self.view.lock().login = None;
        self.kept.lock().clear();
    }
}

impl Sessions<'_> {
    pub fn open_session(&self, slot: SlotId, flags: ck::CK_FLAGS) -> Result<SessionHandle> {
        if flags & ck::CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        self.m.slots().check_slot(slot)?;
        if self.m.token_at(slot)?.is_none() {
            return Err(Error::TokenNotRecognized);
        }
        let rw = flags & ck::CKF_RW_SESSION != 0;
        let state = self.m.slots().state(slot);
        // Hold the login lock so a concurrent SO login cannot slip between
        // the check and the insert.
        let login = state.login.read();
        if !rw && login.user == Some(UserKind::So) {
            return Err(Error::SessionReadWriteSoExists);
        }
        let handle = self.m.sessions.next_handle();
        let s = Arc::new(Session {
            handle,
            slot,
            rw,
            ops: Mutex::new(Ops::default()),
            state: state.clone(),
            view: Mutex::new(View::default()),
            kept: Arc::new(Mutex::new(Vec::new())),
        });
        let cap = self.m.config.limits.sessions;
        self.m.sessions.edit(|m| {
            if m.len() >= cap {
                return Err(Error::SessionCount);
            }
            m.insert(handle, s);
            Ok(())
        })?;
        drop(login);
        Ok(handle)
    }

    pub fn close_session(&self, h: SessionHandle) -> Result<()> {
        let s = self.m.sessions.edit(|m| m.remove(&h)).ok_or(Error::SessionHandleInvalid)?;
        self.after_close(&[s.handle], s.slot)
    }

    pub fn close_all_sessions(&self, slot: SlotId) -> Result<()> {
        self.m.slots().check_slot(slot)?;
        let closed: Vec<SessionHandle> = self.m.sessions.edit(|m| {
            let hs: Vec<_> = m.values().filter(|s| s.slot == slot).map(|s| s.handle).collect();
            for h in &hs {
                m.remove(h);
            }
            hs
        });
        self.after_close(&closed, slot)
    }

    /// Whether a read-only session is open on the slot.
    pub(crate) fn read_only_open(&self, slot: SlotId) -> bool {
        self.m.sessions.all().values().any(|x| x.slot == slot && !x.rw)
    }

    /// Drops the closed sessions' objects; the last session of a slot to
    /// close logs the slot out.
    fn after_close(&self, closed: &[SessionHandle], slot: SlotId) -> Result<()> {
        self.m.objects().drop_session_objects(closed);
        if self.session_count(slot)?.0 == 0 {
            self.m.slots().end_login(slot)?;
        }
        Ok(())
    }

    /// (all, read-write) sessions of this process on a slot.
    pub(crate) fn session_count(&self, slot: SlotId) -> Result<(u64, u64)> {
        let m = self.m.sessions.all();
        let on_slot = m.values().filter(|s| s.slot == slot);
        let (mut all, mut rw) = (0, 0);
        for s in on_slot {
            all += 1;
            rw += s.rw as u64;
        }
        Ok((all, rw))
    }

    pub fn session_info(&self, h: SessionHandle) -> Result<CK_SESSION_INFO> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let state = match (a.user, s.rw) {
            (Some(UserKind::So), _) => ck::CKS_RW_SO_FUNCTIONS,
            (Some(UserKind::User), true) => ck::CKS_RW_USER_FUNCTIONS,
            (Some(UserKind::User), false) => ck::CKS_RO_USER_FUNCTIONS,
            (None, true) => ck::CKS_RW_PUBLIC_SESSION,
            (None, false) => ck::CKS_RO_PUBLIC_SESSION,
        };
        let flags = ck::CKF_SERIAL_SESSION | if s.rw { ck::CKF_RW_SESSION } else { 0 };
        Ok(CK_SESSION_INFO { slotID: s.slot, state, flags, ulDeviceError: 0 })
    }
}

impl Sessions<'_> {
    /// C_SessionCancel: ends the operations named by `flags`.
    pub fn session_cancel(&self, h: SessionHandle, flags: ck::CK_FLAGS) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        if flags & ck::CKF_FIND_OBJECTS != 0 {
            ops.find = None;
        }
        if flags & ck::CKF_MESSAGE_ENCRYPT != 0 {
            ops.msg_encrypt = None;
        }
        if flags & ck::CKF_MESSAGE_DECRYPT != 0 {
            ops.msg_decrypt = None;
        }
        for kind in [
            OpKind::Digest,
            OpKind::Sign,
            OpKind::Verify,
            OpKind::Encrypt,
            OpKind::Decrypt,
            OpKind::SignRecover,
            OpKind::VerifyRecover,
        ] {
            if flags & kind.flag() != 0 {
                ops.end(kind);
            }
        }
        Ok(())
    }

    /// Ends an operation after an error the boundary found (a NULL
    /// pointer), as any error other than a short buffer ends it.
    pub fn end_operation(&self, h: SessionHandle, kind: OpKind) -> Result<()> {
        let s = self.m.session(h)?;
        s.ops.lock().end(kind);
        Ok(())
    }

    /// An Init call with a NULL mechanism (PKCS#11 3.0 §5.8.1 and the other
    /// Init functions): ends the active operation of `kind`; with none
    /// active there is nothing to end and the NULL is a bad argument.
    pub fn init_cancel(&self, h: SessionHandle, kind: OpKind) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        if !ops.active(kind) {
            return Err(Error::ArgumentsBad);
        }
        ops.end(kind);
        Ok(())
    }
}
