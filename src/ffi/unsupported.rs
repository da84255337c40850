//! Entry points this module does not implement (yet): they answer
//! CKR_FUNCTION_NOT_SUPPORTED once the library is initialized. The legacy
//! parallel-function calls answer CKR_FUNCTION_NOT_PARALLEL as the spec says.

use std::ffi::c_void;

use cryptoki_sys as ck;
use cryptoki_sys::{CK_BYTE, CK_FLAGS, CK_MECHANISM, CK_OBJECT_HANDLE, CK_RV, CK_SESSION_HANDLE, CK_ULONG};

use super::module;
use crate::error::{Error, Result};

fn not_supported() -> Result<CK_RV> {
    module()?;
    Err(Error::FunctionNotSupported)
}

fn not_parallel() -> Result<CK_RV> {
    module()?;
    Ok(ck::CKR_FUNCTION_NOT_PARALLEL)
}

macro_rules! unsupported {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ); )*) => {
        $(
            #[no_mangle]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> CK_RV {
                super::guard(stringify!($name), not_supported)
            }
        )*
    };
}

unsupported! {
    C_GetOperationState(_a0: CK_SESSION_HANDLE, _a1: *mut CK_BYTE, _a2: *mut CK_ULONG);
    C_SetOperationState(_a0: CK_SESSION_HANDLE, _a1: *mut CK_BYTE, _a2: CK_ULONG, _a3: CK_OBJECT_HANDLE, _a4: CK_OBJECT_HANDLE);
    C_MessageSignInit(_a0: CK_SESSION_HANDLE, _a1: *mut CK_MECHANISM, _a2: CK_OBJECT_HANDLE);
    C_SignMessage(_a0: CK_SESSION_HANDLE, _a1: *mut c_void, _a2: CK_ULONG, _a3: *mut CK_BYTE, _a4: CK_ULONG, _a5: *mut CK_BYTE, _a6: *mut CK_ULONG);
    C_SignMessageBegin(_a0: CK_SESSION_HANDLE, _a1: *mut c_void, _a2: CK_ULONG);
    C_SignMessageNext(_a0: CK_SESSION_HANDLE, _a1: *mut c_void, _a2: CK_ULONG, _a3: *mut CK_BYTE, _a4: CK_ULONG, _a5: *mut CK_BYTE, _a6: *mut CK_ULONG);
    C_MessageSignFinal(_a0: CK_SESSION_HANDLE);
    C_MessageVerifyInit(_a0: CK_SESSION_HANDLE, _a1: *mut CK_MECHANISM, _a2: CK_OBJECT_HANDLE);
    C_VerifyMessage(_a0: CK_SESSION_HANDLE, _a1: *mut c_void, _a2: CK_ULONG, _a3: *mut CK_BYTE, _a4: CK_ULONG, _a5: *mut CK_BYTE, _a6: CK_ULONG);
    C_VerifyMessageBegin(_a0: CK_SESSION_HANDLE, _a1: *mut c_void, _a2: CK_ULONG);
    C_VerifyMessageNext(_a0: CK_SESSION_HANDLE, _a1: *mut c_void, _a2: CK_ULONG, _a3: *mut CK_BYTE, _a4: CK_ULONG, _a5: *mut CK_BYTE, _a6: CK_ULONG);
    C_MessageVerifyFinal(_a0: CK_SESSION_HANDLE);
    // PKCS#11 3.2 functions other than C_EncapsulateKey / C_DecapsulateKey.
    C_VerifySignatureInit(_a0: CK_SESSION_HANDLE, _a1: *mut CK_MECHANISM, _a2: CK_OBJECT_HANDLE, _a3: *mut CK_BYTE, _a4: CK_ULONG);
    C_VerifySignature(_a0: CK_SESSION_HANDLE, _a1: *mut CK_BYTE, _a2: CK_ULONG);
    C_VerifySignatureUpdate(_a0: CK_SESSION_HANDLE, _a1: *mut CK_BYTE, _a2: CK_ULONG);
    C_VerifySignatureFinal(_a0: CK_SESSION_HANDLE);
    C_GetSessionValidationFlags(_a0: CK_SESSION_HANDLE, _a1: ck::CK_SESSION_VALIDATION_FLAGS_TYPE, _a2: *mut CK_FLAGS);
    C_AsyncComplete(_a0: CK_SESSION_HANDLE, _a1: *mut ck::CK_UTF8CHAR, _a2: *mut ck::CK_ASYNC_DATA);
    C_AsyncGetID(_a0: CK_SESSION_HANDLE, _a1: *mut ck::CK_UTF8CHAR, _a2: *mut CK_ULONG);
    C_AsyncJoin(_a0: CK_SESSION_HANDLE, _a1: *mut ck::CK_UTF8CHAR, _a2: CK_ULONG, _a3: *mut CK_BYTE, _a4: CK_ULONG);
    C_WrapKeyAuthenticated(_a0: CK_SESSION_HANDLE, _a1: *mut CK_MECHANISM, _a2: CK_OBJECT_HANDLE, _a3: CK_OBJECT_HANDLE, _a4: *mut CK_BYTE, _a5: CK_ULONG, _a6: *mut CK_BYTE, _a7: *mut CK_ULONG);
    C_UnwrapKeyAuthenticated(_a0: CK_SESSION_HANDLE, _a1: *mut CK_MECHANISM, _a2: CK_OBJECT_HANDLE, _a3: *mut CK_BYTE, _a4: CK_ULONG, _a5: *mut ck::CK_ATTRIBUTE, _a6: CK_ULONG, _a7: *mut CK_BYTE, _a8: CK_ULONG, _a9: *mut CK_OBJECT_HANDLE);
}

#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionStatus(_h: CK_SESSION_HANDLE) -> CK_RV {
    super::guard("C_GetFunctionStatus", not_parallel)
}

#[no_mangle]
pub unsafe extern "C" fn C_CancelFunction(_h: CK_SESSION_HANDLE) -> CK_RV {
    super::guard("C_CancelFunction", not_parallel)
}
