//! PINs and login state. A PIN is checked by unwrapping the token key with
//! the key derived from it (Argon2id, once per attempt); failures are counted
//! in the store, so the lockout holds across processes and restarts.

use super::Slots;
use std::sync::Arc;

use cryptoki_sys as ck;

use super::{Login, UserKind};
use crate::error::{Error, Result};
use crate::store::{TokenKey, TokenRecord, Who};

impl Slots<'_> {
    /// Checks a PIN against the stored wrapped key, refusing a locked PIN
    /// before any derivation. The verdict reaches the caller only once it
    /// is written: a wrong PIN's count (with `failed`, its audit record) or
    /// a right PIN's reset of the count (with `ok`, if given) commits first,
    /// in one transaction; if that write fails — another process holding
    /// the store's write lock, say — the call fails without saying whether
    /// the PIN was right, so nobody can guess PINs uncounted. Returns the
    /// token key and whether its record is from before store format 6.
    pub(crate) fn verify_pin(
        &self,
        token: &TokenRecord,
        who: Who,
        pin: &[u8],
        ok: Option<&super::audit::Record>,
        failed: Option<&super::audit::Record>,
    ) -> Result<(TokenKey, bool)> {
        let (rec, fails) = match who {
            Who::So => (&token.so_pin, token.so_fail),
            Who::User => (token.user_pin.as_ref().ok_or(Error::UserPinNotInitialized)?, token.user_fail),
        };
        let max = self.m.config.pin.max_failed;
        if max > 0 && fails >= max {
            return Err(Error::PinLocked);
        }
        let unwrapped = TokenKey::unwrap_with_pin(pin, rec);
        crate::sys::release_free_memory();
        match unwrapped {
            Ok(k) => {
                if let Some(r) = ok {
                    self.m.audit().with_next_write(&r.clone_with_rv(0));
                }
                // Checked again inside the write: another process may have
                // locked the PIN meanwhile.
                self.m.store.clear_failures(token.token_id, who, max)?;
                Ok(k)
            }
            Err(Error::PinIncorrect) => {
                if let Some(r) = failed {
                    self.m.audit().with_next_write(&r.clone_with_rv(cryptoki_sys::CKR_PIN_INCORRECT));
                }
                let n = self.m.store.add_failure(token.token_id, who)?;
                log::warn!("wrong {who:?} PIN on slot {} ({n} consecutive)", token.slot_id);
                Err(Error::PinIncorrect)
            }
            Err(e) => Err(e),
        }
    }

    /// After a login with a PIN record from before store format 6: the
    /// token's objects have no tags yet. Each is authenticated as it stands
    /// (trusted once, at this first login after the upgrade; see
    /// docs/threat-model.md) if its rows are sealed as the policy table
    /// says and it is complete, else left untagged (unusable) and logged;
    /// then this PIN's record is rewritten in the new format.
    fn authenticate_legacy_store(&self, token: &TokenRecord, key: &TokenKey, who: Who, pin: &[u8]) -> Result<()> {
        let sealer = crate::store::codec::Sealer { token_uid: &token.uid, key: Some(key) };
        let writer = crate::store::Writer { token_uid: &token.uid, key };
        if token.digest.is_none() {
            // Objects are added to it as they are authenticated.
            let mut empty = crate::store::SetDigest::default();
            key.sign_set_digest(&token.uid, &mut empty);
            self.m.store.set_digest(token.token_id, &empty)?;
        }
        let ids = self.m.store.untagged_objects(token.token_id)?;
        let (mut done, mut refused) = (0usize, 0usize);
        for id in ids {
            let Some(stored) = self.m.store.load_object(token.token_id, id)? else { continue };
            match crate::store::codec::authenticate_legacy(sealer, &stored) {
                Ok((version, tag)) => {
                    self.m.store.tag_object(token.token_id, writer, id, version, &tag)?;
                    done += 1;
                }
                Err(_) => refused += 1, // logged by the codec
            }
        }
        if done + refused > 0 {
            log::warn!(
                "slot {}: store from before format 6: {done} objects authenticated as found, {refused} refused",
                token.slot_id
            );
        }
        let kdf = match who {
            Who::So => token.so_pin.kdf,
            Who::User => token.user_pin.as_ref().map_or(self.kdf(), |r| r.kdf),
        };
        let rec = key.wrap_for_pin(pin, kdf);
        crate::sys::release_free_memory();
        self.m.store.set_pin(token.token_id, who, &rec?)
    }

    pub fn login(&self, h: super::SessionHandle, user_type: ck::CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let kind = match user_type {
            ck::CKU_SO => UserKind::So,
            ck::CKU_USER => UserKind::User,
            ck::CKU_CONTEXT_SPECIFIC => {
                a.require(super::Need::User)?;
                let mut ops = s.ops.lock();
                let sign = ops.sign.as_ref().is_some_and(|o| o.needs_login);
                let decrypt = ops.decrypt.as_ref().is_some_and(|o| o.needs_login);
                if !sign && !decrypt {
                    return Err(Error::OperationNotInitialized);
                }
                self.verify_pin(&a.token, Who::User, pin, None, None)?;
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
        let state = self.state(s.slot);
        let _auth = state.auth.lock();
        super::hooks::panic_point("C_Login");
        // Re-read under the slot's auth lock: another thread may have logged in.
        let a = self.m.access(&s)?;
        match a.user {
            Some(u) if u == kind => return Err(Error::UserAlreadyLoggedIn),
            Some(_) => return Err(Error::UserAnotherAlreadyLoggedIn),
            None => {}
        }
        if kind == UserKind::So {
            let ro = self.m.sessions().read_only_open(s.slot);
            if ro {
                return Err(Error::SessionReadOnlyExists);
            }
        }
        let who = if kind == UserKind::So { Who::So } else { Who::User };
        let detail = if kind == UserKind::So { "so" } else { "user" };
        let ok = super::audit::Record { detail, ..super::audit::Record::of(&a, "login") };
        let failed = super::audit::Record { detail, ..super::audit::Record::of(&a, "login-failed") };
        let (key, legacy) = self.verify_pin(&a.token, who, pin, Some(&ok), Some(&failed))?;
        if legacy {
            self.authenticate_legacy_store(&a.token, &key, who, pin)?;
        }
        let key = Arc::new(key);
        state.set_login(|l| *l = Login { token_uid: Some(a.token.uid), user: Some(kind), key: Some(key) })?;
        drop(_auth);
        if kind == UserKind::User {
            // Master keys whose deletion window has passed go now.
            self.m.kms().sweep(&self.m.access(&s)?);
        }
        Ok(())
    }

    pub fn logout(&self, h: super::SessionHandle) -> Result<()> {
        let s = self.m.session(h)?;
        if self.m.access(&s)?.user.is_none() {
            return Err(Error::UserNotLoggedIn);
        }
        self.end_login(s.slot)
    }

    /// Ends the slot's login (C_Logout, or its last session closed): every
    /// session's copy of it, and what only a login could open, go with it.
    pub(crate) fn end_login(&self, slot: crate::store::SlotId) -> Result<()> {
        self.state(slot).set_login(|l| *l = Login::default())?;
        self.m.forget_opened();
        Ok(())
    }

    /// C_InitPIN: the SO sets (or resets, unlocking) the user PIN.
    pub fn init_pin(&self, h: super::SessionHandle, pin: &[u8]) -> Result<()> {
        let (_, a) = self.m.authorize(h, super::Need::SoRw)?;
        self.check_pin_len(pin)?;
        let key = a.key.as_ref().ok_or(Error::UserNotLoggedIn)?;
        let rec = key.wrap_for_pin(pin, self.kdf());
        crate::sys::release_free_memory();
        let rec = rec?;
        // The record commits with the change, or neither does.
        self.m
            .audit()
            .with_next_write(&super::audit::Record { detail: "user", ..super::audit::Record::of(&a, "init-pin") });
        self.m.store.set_pin(a.token.token_id, Who::User, &rec)
    }

    /// C_SetPIN: changes the PIN of whoever is logged in, or the user PIN in
    /// a public session.
    pub fn set_pin(&self, h: super::SessionHandle, old: &[u8], new: &[u8]) -> Result<()> {
        let (s, a) = self.m.authorize(h, super::Need::Rw)?;
        let who = if a.is_so() { Who::So } else { Who::User };
        self.check_pin_len(new)?;
        let state = self.state(s.slot);
        let _auth = state.auth.lock();
        let detail = if who == Who::So { "so" } else { "user" };
        let rec = super::audit::Record { detail, ..super::audit::Record::of(&a, "set-pin") };
        let (key, _) = self.verify_pin(&a.token, who, old, None, Some(&rec))?;
        let wrapped = key.wrap_for_pin(new, self.kdf());
        crate::sys::release_free_memory();
        let wrapped = wrapped?;
        // The record commits with the new PIN, or neither does.
        self.m.audit().with_next_write(&rec);
        self.m.store.set_pin(a.token.token_id, who, &wrapped)
    }
}
