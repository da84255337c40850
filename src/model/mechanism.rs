//! A mechanism with its parameter, owned and typed once at the boundary.

use zeroize::Zeroizing;

pub type MechType = cryptoki_sys::CK_MECHANISM_TYPE;

#[derive(Clone)]
pub enum Param {
    None,
    /// A parameter that is a plain byte string (an IV, ...).
    Bytes(Zeroizing<Vec<u8>>),
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
