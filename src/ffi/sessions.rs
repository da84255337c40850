//! Slots, tokens, sessions, PINs and login.

use std::ffi::c_void;

use cryptoki_sys::{
    CK_BBOOL, CK_FLAGS, CK_MECHANISM_INFO, CK_MECHANISM_TYPE, CK_NOTIFY, CK_RV, CK_SESSION_HANDLE, CK_SESSION_INFO,
    CK_SLOT_ID, CK_SLOT_INFO, CK_TOKEN_INFO, CK_ULONG, CK_USER_TYPE, CK_UTF8CHAR,
};

use super::decode::{bounded, out, secret, slice, write_array, Scope};
use super::{exports, module, ok};
use crate::config::PIN_LEN_LIMIT;
use crate::error::{Error, Result};

/// A new PIN longer than any configuration allows: CKR_PIN_LEN_RANGE, the
/// code C_InitToken, C_InitPIN and C_SetPIN name for it, before any copy.
///
/// # Safety
///
/// As `decode::secret`: `p` is NULL or points to `n` readable bytes.
unsafe fn new_pin(p: *const u8, n: CK_ULONG) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    // SAFETY: the caller's PIN buffer and length, readable for the call (PKCS#11); NULL and the length bound
    // are checked, and the bytes are copied at once.
    unsafe { secret(p, n, PIN_LEN_LIMIT, Error::PinLenRange) }
}

/// A PIN to check, longer than any configuration allows: it cannot be the
/// PIN, so CKR_PIN_INCORRECT (C_Login lists no CKR_PIN_LEN_RANGE). It is
/// refused before it is copied and is not counted as a failed attempt: it
/// is a malformed argument, not a guess.
///
/// # Safety
///
/// As `decode::secret`: `p` is NULL or points to `n` readable bytes.
unsafe fn given_pin(p: *const u8, n: CK_ULONG) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    // SAFETY: the caller's PIN buffer and length, readable for the call (PKCS#11); NULL and the length bound
    // are checked, and the bytes are copied at once.
    unsafe { secret(p, n, PIN_LEN_LIMIT, Error::PinIncorrect) }
}

unsafe fn get_slot_list(_present: CK_BBOOL, list: *mut CK_SLOT_ID, count: *mut CK_ULONG) -> Result<CK_RV> {
    let m = module()?;
    // Every slot holds a token (initialized or not), so `present` changes nothing.
    // SAFETY: the caller's output array and count pointer, valid for the call (PKCS#11); `write_array` checks
    // NULL and writes at most *count items.
    unsafe { write_array(list, count, &m.slots().slot_list()?) }
}

/// C_WaitForSlotEvent. Every slot always holds its token (a soft token is
/// never removed), so no slot event ever happens: with CKF_DONT_BLOCK the
/// answer is CKR_NO_EVENT. A blocking wait would never return (until
/// C_Finalize), so it is refused with CKR_FUNCTION_NOT_SUPPORTED rather
/// than hang the caller's thread (docs/pkcs11.md).
unsafe fn wait_for_slot_event(
    flags: CK_FLAGS,
    slot: *mut CK_SLOT_ID,
    reserved: *mut std::ffi::c_void,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    module()?;
    if !reserved.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: `slot` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call; nothing is written (there is no event).
    let _ = unsafe { out(&scope, slot) }?;
    if flags & cryptoki_sys::CKF_DONT_BLOCK != 0 {
        return Err(Error::NoEvent);
    }
    Err(Error::FunctionNotSupported)
}

unsafe fn get_slot_info(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: `info` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let info = unsafe { out(&scope, info) }?;
    *info = m.slots().slot_info(slot)?;
    ok()
}

unsafe fn get_token_info(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: `info` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let info = unsafe { out(&scope, info) }?;
    *info = m.slots().token_info(slot)?;
    ok()
}

unsafe fn get_mechanism_list(slot: CK_SLOT_ID, list: *mut CK_MECHANISM_TYPE, count: *mut CK_ULONG) -> Result<CK_RV> {
    let m = module()?;
    // SAFETY: the caller's output array and count pointer, valid for the call (PKCS#11); `write_array` checks
    // NULL and writes at most *count items.
    unsafe { write_array(list, count, &m.slots().mechanism_list(slot)?) }
}

unsafe fn get_mechanism_info(slot: CK_SLOT_ID, mech: CK_MECHANISM_TYPE, info: *mut CK_MECHANISM_INFO) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: `info` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let info = unsafe { out(&scope, info) }?;
    *info = m.slots().mechanism_info(slot, mech)?;
    ok()
}

unsafe fn init_token(slot: CK_SLOT_ID, pin: *mut CK_UTF8CHAR, len: CK_ULONG, label: *mut CK_UTF8CHAR) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's PIN buffer and length, readable for the call (PKCS#11); NULL and the length bound
    // are checked, and the bytes are copied at once.
    let pin = unsafe { new_pin(pin, len) }?;
    // SAFETY: pointer and count are this call's arguments, readable for the call (PKCS#11); NULL is checked,
    // and the slice is not kept past the call.
    let label: [u8; 32] = unsafe { slice(&scope, label, 32) }?.try_into().map_err(|_| Error::ArgumentsBad)?;
    m.slots().init_token(slot, &pin, &label)?;
    ok()
}

unsafe fn init_pin(h: CK_SESSION_HANDLE, pin: *mut CK_UTF8CHAR, len: CK_ULONG) -> Result<CK_RV> {
    let m = module()?;
    m.session(h)?;
    // SAFETY: the caller's PIN buffer and length, readable for the call (PKCS#11); NULL and the length bound
    // are checked, and the bytes are copied at once.
    let pin = unsafe { new_pin(pin, len) }?;
    m.slots().init_pin(h, &pin)?;
    ok()
}

unsafe fn set_pin(
    h: CK_SESSION_HANDLE,
    old: *mut CK_UTF8CHAR,
    old_len: CK_ULONG,
    new: *mut CK_UTF8CHAR,
    new_len: CK_ULONG,
) -> Result<CK_RV> {
    let m = module()?;
    m.session(h)?;
    // SAFETY: the caller's PIN buffer and length, readable for the call (PKCS#11); NULL and the length bound
    // are checked, and the bytes are copied at once.
    let old = unsafe { given_pin(old, old_len) }?;
    // SAFETY: the caller's PIN buffer and length, readable for the call (PKCS#11); NULL and the length bound
    // are checked, and the bytes are copied at once.
    let new = unsafe { new_pin(new, new_len) }?;
    m.slots().set_pin(h, &old, &new)?;
    ok()
}

unsafe fn open_session(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _app: *mut c_void,
    _notify: CK_NOTIFY,
    ph: *mut CK_SESSION_HANDLE,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: `ph` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    let ph = unsafe { out(&scope, ph) }?;
    *ph = m.sessions().open_session(slot, flags)?;
    ok()
}

unsafe fn close_session(h: CK_SESSION_HANDLE) -> Result<CK_RV> {
    module()?.sessions().close_session(h)?;
    ok()
}

unsafe fn close_all_sessions(slot: CK_SLOT_ID) -> Result<CK_RV> {
    module()?.sessions().close_all_sessions(slot)?;
    ok()
}

unsafe fn get_session_info(h: CK_SESSION_HANDLE, info: *mut CK_SESSION_INFO) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: `info` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let info = unsafe { out(&scope, info) }?;
    *info = m.sessions().session_info(h)?;
    ok()
}

unsafe fn login(h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: *mut CK_UTF8CHAR, len: CK_ULONG) -> Result<CK_RV> {
    let m = module()?;
    m.session(h)?;
    // SAFETY: the caller's PIN buffer and length, readable for the call (PKCS#11); NULL and the length bound
    // are checked, and the bytes are copied at once.
    let pin = unsafe { given_pin(pin, len) }?;
    m.slots().login(h, user, &pin)?;
    ok()
}

/// C_LoginUser: this token has one user per role, so the user name is
/// checked for readability only and otherwise ignored.
unsafe fn login_user(
    h: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: *mut CK_UTF8CHAR,
    len: CK_ULONG,
    name: *mut CK_UTF8CHAR,
    name_len: CK_ULONG,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the call
    // (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past the
    // call.
    unsafe { bounded(&scope, name, name_len, PIN_LEN_LIMIT, Error::ArgumentsBad) }?;
    // SAFETY: this entry point's own pointer arguments, passed on unchanged to the C_Login implementation,
    // which has the same contract.
    unsafe { login(h, user, pin, len) }
}

unsafe fn logout(h: CK_SESSION_HANDLE) -> Result<CK_RV> {
    module()?.slots().logout(h)?;
    ok()
}

unsafe fn session_cancel(h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<CK_RV> {
    module()?.sessions().session_cancel(h, flags)?;
    ok()
}

exports! {
    C_GetSlotList(present: CK_BBOOL, list: *mut CK_SLOT_ID, count: *mut CK_ULONG) => get_slot_list;
    C_WaitForSlotEvent(flags: CK_FLAGS, slot: *mut CK_SLOT_ID, reserved: *mut std::ffi::c_void) => wait_for_slot_event;
    C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) => get_slot_info;
    C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) => get_token_info;
    C_GetMechanismList(slot: CK_SLOT_ID, list: *mut CK_MECHANISM_TYPE, count: *mut CK_ULONG) => get_mechanism_list;
    C_GetMechanismInfo(slot: CK_SLOT_ID, mech: CK_MECHANISM_TYPE, info: *mut CK_MECHANISM_INFO) => get_mechanism_info;
    C_InitToken(slot: CK_SLOT_ID, pin: *mut CK_UTF8CHAR, len: CK_ULONG, label: *mut CK_UTF8CHAR) => init_token;
    C_InitPIN(h: CK_SESSION_HANDLE, pin: *mut CK_UTF8CHAR, len: CK_ULONG) => init_pin;
    C_SetPIN(h: CK_SESSION_HANDLE, old: *mut CK_UTF8CHAR, old_len: CK_ULONG, new: *mut CK_UTF8CHAR, new_len: CK_ULONG) => set_pin;
    C_OpenSession(slot: CK_SLOT_ID, flags: CK_FLAGS, app: *mut c_void, notify: CK_NOTIFY, ph: *mut CK_SESSION_HANDLE) => open_session;
    C_CloseSession(h: CK_SESSION_HANDLE) => close_session;
    C_CloseAllSessions(slot: CK_SLOT_ID) => close_all_sessions;
    C_GetSessionInfo(h: CK_SESSION_HANDLE, info: *mut CK_SESSION_INFO) => get_session_info;
    C_Login(h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: *mut CK_UTF8CHAR, len: CK_ULONG) => login;
    C_LoginUser(h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: *mut CK_UTF8CHAR, len: CK_ULONG, name: *mut CK_UTF8CHAR, name_len: CK_ULONG) => login_user;
    C_Logout(h: CK_SESSION_HANDLE) => logout;
    C_SessionCancel(h: CK_SESSION_HANDLE, flags: CK_FLAGS) => session_cancel;
}
