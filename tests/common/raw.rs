//! Raw C calls into the module, for what the safe wrapper will not do.

use std::ptr::null_mut;

use cryptoki_sys::*;

use super::{module_path, SO_PIN, USER_PIN};

/// Calls a function from the module's 2.40 table.
macro_rules! call {
    ($r:expr, $f:ident ( $($a:expr),* )) => {
        unsafe { ($r.f.$f.unwrap())($($a),*) }
    };
}

pub struct Raw {
    pub f: &'static CK_FUNCTION_LIST,
    pub lib: &'static libloading::Library,
}

pub fn raw() -> Raw {
    // SAFETY (test): loading our own module; leaked for 'static use.
    let lib: &'static libloading::Library =
        Box::leak(Box::new(unsafe { libloading::Library::new(module_path()) }.unwrap()));
    let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
        unsafe { lib.get(b"C_GetFunctionList") }.unwrap();
    let mut p: *mut CK_FUNCTION_LIST = null_mut();
    assert_eq!(unsafe { get(null_mut()) }, CKR_ARGUMENTS_BAD);
    assert_eq!(unsafe { get(&mut p) }, CKR_OK);
    let r = Raw { f: unsafe { &*p }, lib };
    // A test that failed earlier in this process may have left it initialized.
    unsafe { (r.f.C_Finalize.unwrap())(null_mut()) };
    r
}

pub fn init(r: &Raw) {
    assert_eq!(call!(r, C_Initialize(null_mut())), CKR_OK);
}

pub fn pin_args(p: &str) -> (*mut u8, CK_ULONG) {
    (p.as_ptr() as *mut u8, p.len() as CK_ULONG)
}

/// Initializes slot 0 and returns an RW session logged in as the user.
pub fn ready_session(r: &Raw) -> CK_SESSION_HANDLE {
    let mut label = [b' '; 32];
    label[..3].copy_from_slice(b"abi");
    let (so, so_len) = pin_args(SO_PIN);
    assert_eq!(call!(r, C_InitToken(0, so, so_len, label.as_mut_ptr())), CKR_OK);
    let mut h = 0;
    assert_eq!(call!(r, C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut h)), CKR_OK);
    assert_eq!(call!(r, C_Login(h, CKU_SO, so, so_len)), CKR_OK);
    let (u, u_len) = pin_args(USER_PIN);
    assert_eq!(call!(r, C_InitPIN(h, u, u_len)), CKR_OK);
    assert_eq!(call!(r, C_Logout(h)), CKR_OK);
    assert_eq!(call!(r, C_Login(h, CKU_USER, u, u_len)), CKR_OK);
    h
}
