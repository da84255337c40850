//! The slots-and-login component: each slot's login state (shared by every
//! session of the process on it), and the token records and slot list
//! read from the store, cached under the one rule of `cache`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{cache, UserKind};
use crate::error::Result;
use crate::store::{SlotId, TokenKey, TokenRecord, Uid};
use crate::sync::{Mutex, RwLock};

pub(crate) struct SlotStates {
    states: RwLock<HashMap<SlotId, Arc<SlotState>>>,
    /// Token records, stamped with the store generation.
    pub tokens: cache::Stamped<SlotId, Option<Arc<TokenRecord>>>,
    /// The slot list, stamped with the store generation.
    pub ids: cache::Stamped<(), Vec<SlotId>>,
}

impl SlotStates {
    pub fn new() -> SlotStates {
        SlotStates {
            states: RwLock::new(HashMap::new()),
            tokens: cache::Stamped::new(1_024),
            ids: cache::Stamped::new(1),
        }
    }

    /// A slot's login state (made at its first use).
    pub fn state(&self, slot: SlotId) -> Arc<SlotState> {
        // Read-locked on every call, by every thread: shared locks only.
        if let Some(st) = self.states.read().get(&slot) {
            return st.clone();
        }
        self.states.write().entry(slot).or_insert_with(|| Arc::new(SlotState::new())).clone()
    }

    /// The slots' login states if no writer holds the map now.
    pub fn try_states(&self) -> Option<crate::sync::RwLockReadGuard<'_, HashMap<SlotId, Arc<SlotState>>>> {
        self.states.try_read()
    }
}

/// Login state of one slot, shared by every session of the process.
#[derive(Default)]
pub(crate) struct Login {
    /// The token this state belongs to; a re-initialized token (here or in
    /// another process) invalidates it.
    pub token_uid: Option<Uid>,
    pub user: Option<UserKind>,
    pub key: Option<Arc<TokenKey>>,
}

pub(crate) struct SlotState {
    pub login: RwLock<Login>,
    /// Bumped after every change of `login`: a session whose copy was taken
    /// at the current epoch uses it without reading `login`.
    pub epoch: AtomicU64,
    /// Serializes C_Login/C_Logout/C_InitToken on this slot (PIN derivation
    /// happens under it, not under `login`).
    pub auth: Mutex<()>,
}

impl SlotState {
    pub fn new() -> SlotState {
        SlotState { login: RwLock::new(Login::default()), epoch: AtomicU64::new(0), auth: Mutex::new(()) }
    }

    /// Replaces the login state (and so every session's copy of it).
    pub fn set_login(&self, f: impl FnOnce(&mut Login)) -> Result<()> {
        let mut login = self.login.write();
        f(&mut login);
        self.epoch.fetch_add(1, Ordering::Release);
        Ok(())
    }
}
