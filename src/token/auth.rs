//! PINs and login state. A PIN is checked by unwrapping the token key with
//! the key derived from it (Argon2id, once per attempt); failures are counted
//! in the store, so the lockout holds across processes and restarts.

use std::sync::Arc;

use cryptoki_sys as ck;

use super::{Login, Module, UserKind};
use crate::error::{Error, Result};
use crate::store::{TokenKey, TokenRecord, Who};

impl Module {
    /// Checks a PIN against the stored wrapped key, counting failures and
    /// refusing a locked PIN before any derivation.
    pub(crate) fn verify_pin(&self, token: &TokenRecord, who: Who, pin: &[u8]) -> Result<TokenKey> {
        let (rec, fails) = match who {
            Who::So => (&token.so_pin, token.so_fail),
            Who::User => (token.user_pin.as_ref().ok_or(Error::UserPinNotInitialized)?, token.user_fail),
        };
        let max = self.config.pin.max_failed;
        if max > 0 && fails >= max {
            return Err(Error::PinLocked);
        }
        let unwrapped = TokenKey::unwrap_with_pin(pin, rec);
        crate::mech::raw::release_free_memory();
        match unwrapped {
            Ok(k) => {
                if fails > 0 {
                    self.store.clear_failures(token.token_id, who)?;
                }
                Ok(k)
            }
            Err(Error::PinIncorrect) => {
                let n = self.store.add_failure(token.token_id, who)?;
                log::warn!("wrong {who:?} PIN on slot {} ({n} consecutive)", token.slot_id);
                Err(Error::PinIncorrect)
            }
            Err(e) => Err(e),
        }
    }

    pub fn login(&self, h: super::SessionHandle, user_type: ck::CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        let kind = match user_type {
            ck::CKU_SO => UserKind::So,
            ck::CKU_USER => UserKind::User,
            ck::CKU_CONTEXT_SPECIFIC => {
                if !a.user_logged_in() {
                    return Err(Error::UserNotLoggedIn);
                }
                let mut ops = s.ops.lock().map_err(|_| Error::CantLock)?;
                let sign = ops.sign.as_ref().is_some_and(|o| o.needs_login);
                let decrypt = ops.decrypt.as_ref().is_some_and(|o| o.needs_login);
                if !sign && !decrypt {
                    return Err(Error::OperationNotInitialized);
                }
                self.verify_pin(&a.token, Who::User, pin)?;
                if let Some(o) = ops.sign.as_mut() {
                    o.needs_login = false;
                }
                if let Some(o) = ops.decrypt.as_mut() {
                    o.needs_login = false;
                }
                return Ok(());
            }
            _ => return Err(Error::UserTypeInvalid),
        };
        let state = self.slot_state(s.slot)?;
        let _auth = state.auth.lock().map_err(|_| Error::CantLock)?;
        // Re-read under the slot's auth lock: another thread may have logged in.
        let a = self.access(&s)?;
        match a.user {
            Some(u) if u == kind => return Err(Error::UserAlreadyLoggedIn),
            Some(_) => return Err(Error::UserAnotherAlreadyLoggedIn),
            None => {}
        }
        if kind == UserKind::So {
            let ro = self.sessions.load().values().any(|x| x.slot == s.slot && !x.rw);
            if ro {
                return Err(Error::SessionReadOnlyExists);
            }
        }
        let who = if kind == UserKind::So { Who::So } else { Who::User };
        let key = self.verify_pin(&a.token, who, pin);
        let event = if key.is_ok() { "login" } else { "login-failed" };
        self.audit_auth(&a, event, if kind == UserKind::So { "so" } else { "user" }, &key);
        let key = Arc::new(key?);
        state.set_login(|l| *l = Login { token_uid: Some(a.token.uid), user: Some(kind), key: Some(key) })?;
        drop(_auth);
        if kind == UserKind::User {
            // Master keys whose deletion window has passed go now.
            self.kms_sweep(&self.access(&s)?);
        }
        Ok(())
    }

    pub fn logout(&self, h: super::SessionHandle) -> Result<()> {
        let s = self.session(h)?;
        if self.access(&s)?.user.is_none() {
            return Err(Error::UserNotLoggedIn);
        }
        let state = self.slot_state(s.slot)?;
        state.set_login(|l| *l = Login::default())?;
        self.forget_opened();
        Ok(())
    }

    /// C_InitPIN: the SO sets (or resets, unlocking) the user PIN.
    pub fn init_pin(&self, h: super::SessionHandle, pin: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        let a = self.access(&s)?;
        if !a.is_so() {
            return Err(Error::UserNotLoggedIn);
        }
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        self.check_pin_len(pin)?;
        let key = a.key.as_ref().ok_or(Error::UserNotLoggedIn)?;
        let rec = key.wrap_for_pin(pin, self.kdf());
        crate::mech::raw::release_free_memory();
        let rec = rec?;
        let r = self.store.set_pin(a.token.token_id, Who::User, &rec);
        self.audit_auth(&a, "init-pin", "user", &r);
        r
    }

    /// C_SetPIN: changes the PIN of whoever is logged in, or the user PIN in
    /// a public session.
    pub fn set_pin(&self, h: super::SessionHandle, old: &[u8], new: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        let a = self.access(&s)?;
        let who = if a.is_so() { Who::So } else { Who::User };
        self.check_pin_len(new)?;
        let state = self.slot_state(s.slot)?;
        let _auth = state.auth.lock().map_err(|_| Error::CantLock)?;
        let detail = if who == Who::So { "so" } else { "user" };
        let key = self.verify_pin(&a.token, who, old);
        if key.is_err() {
            self.audit_auth(&a, "set-pin", detail, &key);
        }
        let rec = key?.wrap_for_pin(new, self.kdf());
        crate::mech::raw::release_free_memory();
        let rec = rec?;
        let r = self.store.set_pin(a.token.token_id, who, &rec);
        self.audit_auth(&a, "set-pin", detail, &r);
        r
    }

    fn audit_auth<T>(&self, a: &super::Access, event: &str, detail: &str, r: &Result<T>) {
        self.audit_event(&super::audit::Record { detail, ..super::audit::Record::of(a, event) }.result(r));
    }
}
