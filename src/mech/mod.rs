//! Mechanisms: the registry that drives C_GetMechanismList/Info and
//! dispatch, and one module per family.

pub mod aes;
pub mod asym;
pub mod curve;
pub mod digest;
pub mod kdf;
pub mod keygen;
pub mod keys;
mod names;
pub mod registry;
