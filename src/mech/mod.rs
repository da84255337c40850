//! Mechanisms: the registry that drives C_GetMechanismList/Info and
//! dispatch, and one module per family.

pub mod aead;
pub mod aes;
pub mod asym;
pub mod curve;
pub mod curve448;
pub mod der;
pub mod des;
pub mod digest;
pub mod dlog;
pub mod eddsa;
pub mod kdf;
pub mod keygen;
pub mod keys;
pub mod msgiv;
mod names;
pub mod p192;
pub mod pq;
pub mod registry;

/// What the token layer uses of the aws-lc shims, through this layer (the
/// token core depends on `mech`, `mech` on `sys`): key wrap, X25519, the
/// digest choice of the KDFs, and the fast wipe of plaintext buffers.
pub mod prims {
    pub use crate::sys::awslc::ec::x25519;
    pub use crate::sys::awslc::{kw_unwrap, kw_wrap, kwp_unwrap, kwp_wrap, wipe, Md};
}
