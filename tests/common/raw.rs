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

/// A CK_ATTRIBUTE pointing at `v` (which must outlive the call).
pub fn attr<T>(t: CK_ATTRIBUTE_TYPE, v: &mut T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: t,
        pValue: v as *mut T as *mut std::ffi::c_void,
        ulValueLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

/// A CK_ATTRIBUTE over a byte buffer.
pub fn bytes_attr(t: CK_ATTRIBUTE_TYPE, v: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE { type_: t, pValue: v.as_mut_ptr() as *mut std::ffi::c_void, ulValueLen: v.len() as CK_ULONG }
}

/// A mechanism without a parameter.
pub fn mech(t: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM { mechanism: t, pParameter: null_mut(), ulParameterLen: 0 }
}

/// A mechanism whose parameter is `p`.
pub fn mech_with<T>(t: CK_MECHANISM_TYPE, p: &mut T) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: t,
        pParameter: p as *mut T as *mut std::ffi::c_void,
        ulParameterLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

/// A session secret key of type `kt` with `value`, every usage flag true,
/// extractable and not sensitive (for tests that read values back).
pub fn secret_key(r: &Raw, h: CK_SESSION_HANDLE, kt: CK_KEY_TYPE, value: &[u8]) -> CK_OBJECT_HANDLE {
    let mut class = CKO_SECRET_KEY;
    let mut kt = kt;
    let mut yes: CK_BBOOL = 1;
    let (mut y2, mut y3, mut y4, mut y5, mut y6, mut y7) = (yes, yes, yes, yes, yes, yes);
    let mut no: CK_BBOOL = 0;
    let mut v = value.to_vec();
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_ENCRYPT, &mut yes),
        attr(CKA_DECRYPT, &mut y2),
        attr(CKA_SIGN, &mut y3),
        attr(CKA_VERIFY, &mut y4),
        attr(CKA_DERIVE, &mut y5),
        attr(CKA_WRAP, &mut y6),
        attr(CKA_EXTRACTABLE, &mut y7),
        attr(CKA_SENSITIVE, &mut no),
        bytes_attr(CKA_VALUE, &mut v),
    ];
    let mut o = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut o)), CKR_OK);
    o
}

/// CKA_VALUE of an object.
pub fn value_of(r: &Raw, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Vec<u8> {
    let mut q = [CK_ATTRIBUTE { type_: CKA_VALUE, pValue: null_mut(), ulValueLen: 0 }];
    assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)), CKR_OK);
    let mut buf = vec![0u8; q[0].ulValueLen as usize];
    q[0].pValue = buf.as_mut_ptr() as *mut std::ffi::c_void;
    assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)), CKR_OK);
    buf
}
