//! The C ABI: the only `unsafe` code besides the `sys` shim. Every `C_*` export
//! converts its C arguments into owned Rust values once (`decode`), calls
//! the safe core, and writes results back; `guard` catches panics and turns
//! `Result` into `CK_RV`.
//!
//! Each `unsafe fn` named after a `C_*` (or vendor `FHSM_*`) function is
//! that function's implementation, called only from its export: its safety
//! contract is the PKCS#11 one (every pointer NULL or valid for the call).
//! Helpers that take raw pointers say what they need under `# Safety`. The
//! references they return are tied to a `decode::Scope`, a local of the
//! function reading the pointers, so the compiler keeps every borrow of
//! caller memory within the call: a decoded slice cannot be returned,
//! stored, or kept past it.

#![allow(non_snake_case)]

mod crypto;
mod decode;
mod general;
mod kem;
pub mod kms;
mod message;
mod objects;
mod sessions;
mod tables;
mod unsupported;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::sync::Mutex;

use arc_swap::ArcSwapOption;

use cryptoki_sys::{CKR_GENERAL_ERROR, CKR_OK, CK_RV};

use crate::error::{Error, Result};
use crate::token::Module;

/// The initialized module, if any. Read on every call by every thread, so
/// it is an `ArcSwapOption`: a load takes no lock and writes no shared
/// cache line (an `RwLock` read and an `Arc` clone per call made parallel
/// threads bounce its line between cores). `INIT` serialises
/// C_Initialize / C_Finalize.
static STATE: ArcSwapOption<Module> = ArcSwapOption::const_empty();
static INIT: Mutex<()> = Mutex::new(());
/// The fork generation (`sys::fork::generation`) `STATE` was made in. In a
/// forked child the two differ: the inherited state must not be used; the
/// child calls C_Initialize again and gets a fresh state.
static STATE_GENERATION: AtomicU64 = AtomicU64::new(0);

/// In a child forked since `STATE` was made.
fn forked() -> bool {
    STATE_GENERATION.load(Ordering::Acquire) != crate::sys::fork::generation()
}

/// The module for one call (a guard: valid while it lives).
pub(crate) struct ModuleRef(arc_swap::Guard<Option<Arc<Module>>>);

impl std::ops::Deref for ModuleRef {
    type Target = Module;
    fn deref(&self) -> &Module {
        // `module` only makes a ModuleRef around Some.
        self.0.as_deref().expect("checked in module()")
    }
}

/// The module for a call, or CKR_CRYPTOKI_NOT_INITIALIZED.
fn module() -> Result<ModuleRef> {
    if forked() {
        return Err(Error::CryptokiNotInitialized);
    }
    let g = STATE.load();
    if g.is_none() {
        return Err(Error::CryptokiNotInitialized);
    }
    Ok(ModuleRef(g))
}

/// Runs one entry point: panics become CKR_GENERAL_ERROR, errors their code.
fn guard(name: &str, f: impl FnOnce() -> Result<CK_RV>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(rv)) => rv,
        Ok(Err(e)) => {
            log::debug!("{name}: {e}");
            e.ck_rv()
        }
        Err(_) => {
            log::error!("{name}: panic caught at the C boundary");
            CKR_GENERAL_ERROR
        }
    }
}

fn ok() -> Result<CK_RV> {
    Ok(CKR_OK)
}

/// Declares `#[no_mangle]` exports, each one line: `guard` around its
/// implementation with the same arguments, plus any fixed trailing
/// arguments given in brackets (`=> imp[true]`).
macro_rules! exports {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ) => $imp:path $([ $($extra:expr),* ])?; )*) => {
        $(
            #[doc = concat!("The PKCS#11 `", stringify!($name), "` entry point.")]
            ///
            /// # Safety
            ///
            /// The caller upholds the PKCS#11 contract of this function: every
            /// pointer argument is NULL or valid, for the duration of the call,
            /// for what the specification says the function reads or writes
            /// through it (NULL where it is required is CKR_ARGUMENTS_BAD).
            #[no_mangle]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> cryptoki_sys::CK_RV {
                // SAFETY: the caller upholds the PKCS#11 contract for these
                // pointers; the implementation checks NULLs and lengths.
                $crate::ffi::guard(stringify!($name), || unsafe { $imp($($arg),* $($(, $extra)*)?) })
            }
        )*
    };
}
pub(crate) use exports;
