//! C_Initialize, C_Finalize, C_GetInfo (the calls that hand out the
//! function tables are with the tables, in tables.rs).

use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};

use cryptoki_sys as ck;
use cryptoki_sys::{CK_C_INITIALIZE_ARGS, CK_INFO, CK_RV};

use super::decode::{maybe_ref, out, Scope};
use super::{exports, forked, module, ok, INIT, STATE, STATE_GENERATION};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::token::Module;

static ATFORK: Once = Once::new();

/// At process exit without C_Finalize: write the buffered audit records.
/// From a thread of its own: this one's thread-locals may already be
/// destroyed (exit runs their destructors before the atexit handlers), and
/// a store client that needs one (PostgreSQL's runtime) would panic here.
extern "C" fn flush_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if forked() {
            return;
        }
        if let Some(m) = STATE.load_full() {
            let flushed = std::thread::Builder::new().name("ferrohsm-exit-flush".into()).spawn(move || {
                let _ = m.audit().flush_with(true);
            });
            if let Ok(t) = flushed {
                let _ = t.join();
            }
        }
    });
}

unsafe fn initialize(args: *mut c_void) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: NULL is allowed and checked; otherwise it is a CK_C_INITIALIZE_ARGS, readable for the call.
    if let Some(a) = unsafe { maybe_ref(&scope, args as *const CK_C_INITIALIZE_ARGS) } {
        if !a.pReserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let given = [a.CreateMutex.is_some(), a.DestroyMutex.is_some(), a.LockMutex.is_some(), a.UnlockMutex.is_some()];
        let all = given.iter().all(|g| *g);
        if !all && given.iter().any(|g| *g) {
            return Err(Error::ArgumentsBad);
        }
        // We lock with the OS primitives; callbacks alone cannot be honoured.
        if all && a.flags & ck::CKF_OS_LOCKING_OK == 0 {
            return Err(Error::CantLock);
        }
    }
    ATFORK.call_once(|| {
        crate::sys::fork::watch();
        // SAFETY: registers a plain function; the library is never unloaded
        // (linked -z nodelete), so it is still there at exit.
        unsafe { libc::atexit(flush_at_exit) };
    });
    let _init = INIT.lock();
    if forked() {
        // The parent's module (its SQLite connections, its locks) must not be
        // touched, not even dropped, in the child.
        if let Some(old) = STATE.swap(None) {
            std::mem::forget(old);
        }
    }
    if STATE.load().is_some() {
        return Err(Error::CryptokiAlreadyInitialized);
    }
    let (config, notes) = Config::load_with_notes()?;
    crate::logging::init(&config.log);
    for n in notes {
        log::warn!("{n}");
    }
    let module = Arc::new(Module::new(config)?);
    // The generation first: a call racing C_Initialize sees no state yet.
    STATE_GENERATION.store(crate::sys::fork::generation(), Ordering::Release);
    STATE.store(Some(module));
    ok()
}

unsafe fn finalize(reserved: *mut c_void) -> Result<CK_RV> {
    if !reserved.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let _init = INIT.lock();
    let m = module()?;
    if let Err(e) = m.audit().flush() {
        log::error!("C_Finalize: audit records not written: {e}");
    }
    drop(m);
    // Calls still running keep their guard's module alive until they end.
    STATE.store(None);
    ok()
}

unsafe fn get_info(info: *mut CK_INFO) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: `info` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    *unsafe { out(&scope, info) }? = m.slots().info();
    ok()
}

exports! {
    C_Initialize(args: *mut c_void) => initialize;
    C_Finalize(reserved: *mut c_void) => finalize;
    C_GetInfo(info: *mut CK_INFO) => get_info;
}
