//! Slots and tokens: the slot list, slot/token info, token initialization,
//! mechanism queries.
//!
//! Slot IDs are small integers kept in the store with their token, so they
//! never change when a token is initialized. The list is every configured
//! slot (0..slots.count) and every initialized one, plus one free slot
//! after them whenever all are taken, so `C_InitToken` always has a target.

use super::Slots;
use cryptoki_sys as ck;
use cryptoki_sys::{CK_INFO, CK_MECHANISM_INFO, CK_SLOT_INFO, CK_TOKEN_INFO, CK_VERSION};

use super::Login;
use crate::error::{Error, Result};
use crate::mech::registry;
use crate::model::MechType;
use crate::store::{KdfParams, SlotId, TokenKey, TokenRecord, Who};
use crate::sys::rand::{random, random_uid};

pub const MANUFACTURER: &str = "FerroHSM project";
pub const LIBRARY_DESCRIPTION: &str = "FerroHSM PKCS#11 module";
pub const MODEL: &str = "FerroHSM";

fn version() -> CK_VERSION {
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    CK_VERSION { major, minor }
}

/// Blank-padded fixed-width field, as every PKCS#11 info string is.
pub fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let b = s.as_bytes();
    let n = b.len().min(N);
    out[..n].copy_from_slice(&b[..n]);
    out
}

impl Slots<'_> {
    /// A slot's login state, shared by the process's sessions on it.
    pub(crate) fn state(&self, slot: SlotId) -> std::sync::Arc<super::logins::SlotState> {
        self.m.slots.state(slot)
    }

    /// The token keys of logged-in slots, by token uid. Only `try_read`s:
    /// the audit asks while writing records, which some callers do while
    /// holding a slot's locks; a busy slot is skipped, never waited for.
    pub(crate) fn logged_in_keys(&self) -> Vec<(crate::store::Uid, std::sync::Arc<crate::store::TokenKey>)> {
        let Some(slots) = self.m.slots.try_states() else { return Vec::new() };
        slots
            .values()
            .filter_map(|st| {
                let l = st.login.try_read()?;
                Some((l.token_uid?, l.key.clone()?))
            })
            .collect()
    }

    pub fn info(&self) -> CK_INFO {
        CK_INFO {
            cryptokiVersion: CK_VERSION { major: 3, minor: 0 },
            manufacturerID: padded(MANUFACTURER),
            flags: 0,
            libraryDescription: padded(LIBRARY_DESCRIPTION),
            libraryVersion: version(),
        }
    }

    /// The slot list, re-read from the store only when its generation
    /// changed.
    pub fn slot_list(&self) -> Result<Vec<SlotId>> {
        let generation = self.m.store.generation();
        if let Some(ids) = generation.and_then(|g| self.m.slots.ids.get(&(), g)) {
            return Ok(ids);
        }
        let ids = self.read_slot_list()?;
        if let Some(g) = generation {
            self.m.slots.ids.put((), g, ids.clone());
        }
        Ok(ids)
    }

    fn read_slot_list(&self) -> Result<Vec<SlotId>> {
        let tokens = self.m.store.tokens()?;
        let mut ids: Vec<SlotId> = (0..self.m.config.slots.count).collect();
        ids.extend(tokens.iter().map(|t| t.slot_id));
        ids.sort_unstable();
        ids.dedup();
        let all_taken = ids.iter().all(|id| tokens.iter().any(|t| t.slot_id == *id));
        if all_taken {
            ids.push(ids.last().map_or(0, |m| m + 1));
        }
        Ok(ids)
    }

    pub(crate) fn check_slot(&self, slot: SlotId) -> Result<()> {
        if self.slot_list()?.contains(&slot) {
            Ok(())
        } else {
            Err(Error::SlotIdInvalid)
        }
    }

    pub fn slot_info(&self, slot: SlotId) -> Result<CK_SLOT_INFO> {
        self.check_slot(slot)?;
        Ok(CK_SLOT_INFO {
            slotDescription: padded(&format!("FerroHSM slot {slot}")),
            manufacturerID: padded(MANUFACTURER),
            flags: ck::CKF_TOKEN_PRESENT | if self.m.config.slots.removable { ck::CKF_REMOVABLE_DEVICE } else { 0 },
            hardwareVersion: version(),
            firmwareVersion: version(),
        })
    }

    fn pin_flags(&self, fails: u32, low: u64, final_try: u64, locked: u64) -> u64 {
        let max = self.m.config.pin.max_failed;
        match fails {
            0 => 0,
            f if max > 0 && f >= max => locked,
            f if max > 0 && f + 1 == max => low | final_try,
            _ => low,
        }
    }

    pub fn token_info(&self, slot: SlotId) -> Result<CK_TOKEN_INFO> {
        self.check_slot(slot)?;
        let rec = self.m.token_at(slot)?;
        let (sessions, rw) = self.m.sessions().session_count(slot)?;
        let mut flags = ck::CKF_RNG | ck::CKF_LOGIN_REQUIRED | ck::CKF_RESTORE_KEY_NOT_NEEDED;
        let (label, serial) = match &rec {
            Some(t) => {
                flags |= ck::CKF_TOKEN_INITIALIZED;
                if t.user_pin.is_some() {
                    flags |= ck::CKF_USER_PIN_INITIALIZED;
                }
                flags |= self.pin_flags(
                    t.user_fail,
                    ck::CKF_USER_PIN_COUNT_LOW,
                    ck::CKF_USER_PIN_FINAL_TRY,
                    ck::CKF_USER_PIN_LOCKED,
                );
                flags |= self.pin_flags(
                    t.so_fail,
                    ck::CKF_SO_PIN_COUNT_LOW,
                    ck::CKF_SO_PIN_FINAL_TRY,
                    ck::CKF_SO_PIN_LOCKED,
                );
                (t.label, t.serial)
            }
            None => ([b' '; 32], padded("")),
        };
        Ok(CK_TOKEN_INFO {
            label,
            manufacturerID: padded(MANUFACTURER),
            model: padded(MODEL),
            serialNumber: serial,
            flags,
            ulMaxSessionCount: self.m.config.limits.sessions as ck::CK_ULONG,
            ulSessionCount: sessions,
            ulMaxRwSessionCount: self.m.config.limits.sessions as ck::CK_ULONG,
            ulRwSessionCount: rw,
            ulMaxPinLen: self.m.config.pin.max_len as u64,
            ulMinPinLen: self.m.config.pin.min_len as u64,
            ulTotalPublicMemory: ck::CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: ck::CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: ck::CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: ck::CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: version(),
            firmwareVersion: version(),
            utcTime: [b' '; 16],
        })
    }

    pub(crate) fn check_pin_len(&self, pin: &[u8]) -> Result<()> {
        let p = &self.m.config.pin;
        if pin.len() < p.min_len || pin.len() > p.max_len {
            return Err(Error::PinLenRange);
        }
        Ok(())
    }

    /// The configured Argon2id cost for new PIN records (the store keeps
    /// its own parameter type: it does not depend on the configuration).
    pub(crate) fn kdf(&self) -> KdfParams {
        let c = self.m.config.kdf;
        KdfParams { m_cost_kib: c.m_cost_kib, t_cost: c.t_cost, p_cost: c.p_cost }
    }

    /// C_InitToken: a new token, or a re-initialized one (SO PIN checked),
    /// whose objects are all destroyed.
    pub fn init_token(&self, slot: SlotId, so_pin: &[u8], label: &[u8; 32]) -> Result<()> {
        self.check_slot(slot)?;
        let state = self.state(slot);
        let _auth = state.auth.lock();
        if self.m.sessions().session_count(slot)?.0 > 0 {
            return Err(Error::SessionExists);
        }
        match self.m.store.token_at(slot)? {
            Some(old) => {
                self.verify_pin(&old, Who::So, so_pin, None, None)?;
            }
            None => self.check_pin_len(so_pin)?,
        }
        let key = TokenKey::generate()?;
        let mut serial_raw = [0u8; 8];
        random(&mut serial_raw)?;
        let serial_hex = crate::hex::hex(&serial_raw);
        let rec = TokenRecord {
            token_id: 0,
            slot_id: slot,
            uid: random_uid()?,
            label: *label,
            serial: padded(&serial_hex),
            so_pin: key.wrap_for_pin(so_pin, self.kdf())?,
            user_pin: None,
            so_fail: 0,
            user_fail: 0,
            rev: 0,
            digest: None,
        };
        // No objects yet: the empty set, tagged.
        let mut empty = crate::store::SetDigest::default();
        key.sign_set_digest(&rec.uid, &mut empty);
        let rec = TokenRecord { digest: Some(empty), ..rec };
        crate::sys::release_free_memory();
        let label_text = String::from_utf8_lossy(label).trim_end().to_string();
        // The record commits with the token, or neither does.
        self.m.audit().with_next_write(&super::audit::Record {
            token: Some(&rec.uid),
            detail: &label_text,
            ..super::audit::Record::new("init-token")
        });
        self.m.store.put_token(&rec)?;
        state.set_login(|l| *l = Login::default())?;
        log::info!("token initialized in slot {slot}");
        Ok(())
    }

    pub fn mechanism_list(&self, slot: SlotId) -> Result<Vec<MechType>> {
        self.check_slot(slot)?;
        Ok(registry::list())
    }

    pub fn mechanism_info(&self, slot: SlotId, m: MechType) -> Result<CK_MECHANISM_INFO> {
        self.check_slot(slot)?;
        registry::info(m)
    }
}
