//! The one mechanism table: type, key-size range and flags. It answers
//! C_GetMechanismList and C_GetMechanismInfo and tells the token layer
//! whether a mechanism may be used for an operation at all.

use cryptoki_sys as ck;
use cryptoki_sys::{CK_FLAGS, CK_MECHANISM_INFO};

use crate::error::{Error, Result};
use crate::model::MechType;

pub struct Entry {
    pub mtype: MechType,
    pub name: &'static str,
    /// Key size range in bytes, as C_GetMechanismInfo reports it for
    /// symmetric mechanisms.
    pub min_key: u64,
    pub max_key: u64,
    pub flags: CK_FLAGS,
}

pub static MECHANISMS: &[Entry] = &[
    Entry { mtype: ck::CKM_AES_KEY_GEN, name: "CKM_AES_KEY_GEN", min_key: 16, max_key: 32, flags: ck::CKF_GENERATE },
    Entry {
        mtype: ck::CKM_GENERIC_SECRET_KEY_GEN,
        name: "CKM_GENERIC_SECRET_KEY_GEN",
        min_key: 1,
        max_key: 512,
        flags: ck::CKF_GENERATE,
    },
];

pub fn lookup(mtype: MechType) -> Result<&'static Entry> {
    MECHANISMS.iter().find(|e| e.mtype == mtype).ok_or(Error::MechanismInvalid)
}

/// The registered mechanism if it supports the operation flag.
pub fn for_operation(mtype: MechType, op: CK_FLAGS) -> Result<&'static Entry> {
    let e = lookup(mtype)?;
    if e.flags & op == 0 {
        return Err(Error::MechanismInvalid);
    }
    Ok(e)
}

pub fn list() -> Vec<MechType> {
    MECHANISMS.iter().map(|e| e.mtype).collect()
}

pub fn info(mtype: MechType) -> Result<CK_MECHANISM_INFO> {
    let e = lookup(mtype)?;
    Ok(CK_MECHANISM_INFO { ulMinKeySize: e.min_key, ulMaxKeySize: e.max_key, flags: e.flags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_unique_and_has_flags() {
        for (i, e) in MECHANISMS.iter().enumerate() {
            assert!(e.flags != 0, "{}", e.name);
            assert!(e.min_key <= e.max_key, "{}", e.name);
            assert!(MECHANISMS[i + 1..].iter().all(|o| o.mtype != e.mtype), "{} twice", e.name);
        }
        assert_eq!(info(0xdead_beef).err(), Some(Error::MechanismInvalid));
        assert_eq!(for_operation(ck::CKM_AES_KEY_GEN, ck::CKF_ENCRYPT).err(), Some(Error::MechanismInvalid));
    }
}
