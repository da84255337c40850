//! FerroHSM: an embedded software HSM exporting the PKCS#11 C ABI over an
//! encrypted SQLite slot store.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::missing_safety_doc)]

pub mod config;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
pub mod hex;
pub mod logging;
pub mod mech;
pub mod model;
pub mod server;
pub mod store;
pub mod sync;
#[allow(unsafe_code)]
pub mod sys;
pub mod token;
pub mod vendor;
