//! C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetInterfaceList,
//! C_GetInterface.

use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};

use cryptoki_sys as ck;
use cryptoki_sys::{
    CK_C_INITIALIZE_ARGS, CK_FLAGS, CK_FUNCTION_LIST, CK_INFO, CK_INTERFACE, CK_RV, CK_ULONG, CK_UTF8CHAR, CK_VERSION,
};

use super::decode::{maybe_ref, out, Scope};
use super::tables::{FUNCTION_LIST, INTERFACES};
use super::{exports, forked, module, ok, INIT, STATE, STATE_GENERATION};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::token::Module;

static ATFORK: Once = Once::new();

/// At process exit without C_Finalize: write the buffered audit records.
extern "C" fn flush_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if forked() {
            return;
        }
        if let Some(m) = STATE.load_full() {
            let _ = m.flush_audit_with(true);
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
    if let Err(e) = m.flush_audit() {
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
    *unsafe { out(&scope, info) }? = m.info();
    ok()
}

unsafe fn get_function_list(pp: *mut *mut CK_FUNCTION_LIST) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: `pp` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    *unsafe { out(&scope, pp) }? = &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST;
    ok()
}

unsafe fn get_interface_list(list: *mut CK_INTERFACE, count: *mut CK_ULONG) -> Result<CK_RV> {
    let items: Vec<CK_INTERFACE> = INTERFACES.iter().map(|i| i.0).collect();
    // SAFETY: the caller's output array and count pointer, valid for the call
    // (PKCS#11); `write_array` checks NULL and writes at most *count items.
    unsafe { super::decode::write_array(list, count, &items) }
}

unsafe fn get_interface(
    name: *mut CK_UTF8CHAR,
    version: *mut CK_VERSION,
    pp: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: `pp` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    let pp = unsafe { out(&scope, pp) }?;
    let wanted_name = if name.is_null() {
        None
    } else {
        // SAFETY: a NUL-terminated string per the spec.
        Some(unsafe { std::ffi::CStr::from_ptr(name as *const std::ffi::c_char) }.to_bytes().to_vec())
    };
    // SAFETY: NULL allowed, checked by `maybe_ref`; otherwise readable for the call.
    let wanted_version = unsafe { maybe_ref(&scope, version) }.map(|v| (v.major, v.minor));
    let found = INTERFACES.iter().find(|i| {
        let iface = &i.0;
        // SAFETY: our own static, NUL-terminated name.
        let iname = unsafe { std::ffi::CStr::from_ptr(iface.pInterfaceName as *const std::ffi::c_char) }.to_bytes();
        // SAFETY: every function list starts with its CK_VERSION.
        let iver = unsafe { *(iface.pFunctionList as *const CK_VERSION) };
        wanted_name.as_deref().is_none_or(|n| n == iname)
            && wanted_version.is_none_or(|v| v == (iver.major, iver.minor))
            && iface.flags & flags == flags
    });
    match found {
        Some(i) => {
            *pp = &i.0 as *const CK_INTERFACE as *mut CK_INTERFACE;
            ok()
        }
        None => Err(Error::ArgumentsBad),
    }
}

exports! {
    C_Initialize(args: *mut c_void) => initialize;
    C_Finalize(reserved: *mut c_void) => finalize;
    C_GetInfo(info: *mut CK_INFO) => get_info;
    C_GetFunctionList(pp: *mut *mut CK_FUNCTION_LIST) => get_function_list;
    C_GetInterfaceList(list: *mut CK_INTERFACE, count: *mut CK_ULONG) => get_interface_list;
    C_GetInterface(name: *mut CK_UTF8CHAR, version: *mut CK_VERSION, pp: *mut *mut CK_INTERFACE, flags: CK_FLAGS) => get_interface;
}
