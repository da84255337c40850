//! A mechanism with its parameter, owned and typed once at the boundary.

use zeroize::Zeroizing;

pub type MechType = cryptoki_sys::CK_MECHANISM_TYPE;

#[derive(Clone)]
pub enum Param {
    None,
    /// A parameter that is a plain byte string or a pointer-free struct
    /// (an IV, CK_AES_CTR_PARAMS, CK_MAC_GENERAL_PARAMS, ...), as laid out
    /// in memory.
    Bytes(Zeroizing<Vec<u8>>),
    /// CK_GCM_PARAMS (3.0 layout, or 2.40 without ulIvBits).
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_bits: u64,
    },
}

#[derive(Clone)]
pub struct Mechanism {
    pub mtype: MechType,
    pub param: Param,
}

impl Mechanism {
    pub fn new(mtype: MechType) -> Mechanism {
        Mechanism { mtype, param: Param::None }
    }
}
