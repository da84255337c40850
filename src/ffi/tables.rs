//! The 2.40 function list and the 3.0 interface table, and the calls that
//! hand them out (C_GetFunctionList, C_GetInterfaceList, C_GetInterface).
//! The fields are listed in the header's order; the compiler checks every
//! signature.

use std::ffi::c_void;

use cryptoki_sys::{
    CK_FLAGS, CK_FUNCTION_LIST, CK_FUNCTION_LIST_3_0, CK_FUNCTION_LIST_3_2, CK_INTERFACE, CK_RV, CK_ULONG, CK_UTF8CHAR,
    CK_VERSION,
};

use super::decode::{maybe_ref, out, Scope};
use super::{exports, ok};
use crate::error::{Error, Result};

use super::crypto::*;
use super::general::*;
use super::kem::*;
use super::message::*;
use super::objects::*;
use super::sessions::*;
use super::unsupported::*;

/// Builds a function table: the 2.40 functions in header order, then
/// `$extra` (the 3.0 additions).
macro_rules! function_list {
    ($ty:ident, $major:expr, $minor:expr, [$($extra:ident),* $(,)?]) => {
        function_list!(@fill $ty, $major, $minor, [
            C_Initialize,
            C_Finalize,
            C_GetInfo,
            C_GetFunctionList,
            C_GetSlotList,
            C_GetSlotInfo,
            C_GetTokenInfo,
            C_GetMechanismList,
            C_GetMechanismInfo,
            C_InitToken,
            C_InitPIN,
            C_SetPIN,
            C_OpenSession,
            C_CloseSession,
            C_CloseAllSessions,
            C_GetSessionInfo,
            C_GetOperationState,
            C_SetOperationState,
            C_Login,
            C_Logout,
            C_CreateObject,
            C_CopyObject,
            C_DestroyObject,
            C_GetObjectSize,
            C_GetAttributeValue,
            C_SetAttributeValue,
            C_FindObjectsInit,
            C_FindObjects,
            C_FindObjectsFinal,
            C_EncryptInit,
            C_Encrypt,
            C_EncryptUpdate,
            C_EncryptFinal,
            C_DecryptInit,
            C_Decrypt,
            C_DecryptUpdate,
            C_DecryptFinal,
            C_DigestInit,
            C_Digest,
            C_DigestUpdate,
            C_DigestKey,
            C_DigestFinal,
            C_SignInit,
            C_Sign,
            C_SignUpdate,
            C_SignFinal,
            C_SignRecoverInit,
            C_SignRecover,
            C_VerifyInit,
            C_Verify,
            C_VerifyUpdate,
            C_VerifyFinal,
            C_VerifyRecoverInit,
            C_VerifyRecover,
            C_DigestEncryptUpdate,
            C_DecryptDigestUpdate,
            C_SignEncryptUpdate,
            C_DecryptVerifyUpdate,
            C_GenerateKey,
            C_GenerateKeyPair,
            C_WrapKey,
            C_UnwrapKey,
            C_DeriveKey,
            C_SeedRandom,
            C_GenerateRandom,
            C_GetFunctionStatus,
            C_CancelFunction,
            C_WaitForSlotEvent,
            $($extra,)*
        ])
    };
    (@fill $ty:ident, $major:expr, $minor:expr, [$($f:ident),* $(,)?]) => {
        $ty {
            version: CK_VERSION { major: $major, minor: $minor },
            $( $f: Some($f), )*
        }
    };
}

pub static FUNCTION_LIST: CK_FUNCTION_LIST = function_list!(CK_FUNCTION_LIST, 2, 40, []);

pub static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = function_list!(
    CK_FUNCTION_LIST_3_0,
    3,
    0,
    [
        C_GetInterfaceList,
        C_GetInterface,
        C_LoginUser,
        C_SessionCancel,
        C_MessageEncryptInit,
        C_EncryptMessage,
        C_EncryptMessageBegin,
        C_EncryptMessageNext,
        C_MessageEncryptFinal,
        C_MessageDecryptInit,
        C_DecryptMessage,
        C_DecryptMessageBegin,
        C_DecryptMessageNext,
        C_MessageDecryptFinal,
        C_MessageSignInit,
        C_SignMessage,
        C_SignMessageBegin,
        C_SignMessageNext,
        C_MessageSignFinal,
        C_MessageVerifyInit,
        C_VerifyMessage,
        C_VerifyMessageBegin,
        C_VerifyMessageNext,
        C_MessageVerifyFinal,
    ]
);

/// The 3.2 table: the 3.0 one plus the 3.2 functions. Of those, only
/// C_EncapsulateKey / C_DecapsulateKey are implemented; the others answer
/// CKR_FUNCTION_NOT_SUPPORTED (`unsupported.rs`).
pub static FUNCTION_LIST_3_2: CK_FUNCTION_LIST_3_2 = function_list!(
    CK_FUNCTION_LIST_3_2,
    3,
    2,
    [
        C_GetInterfaceList,
        C_GetInterface,
        C_LoginUser,
        C_SessionCancel,
        C_MessageEncryptInit,
        C_EncryptMessage,
        C_EncryptMessageBegin,
        C_EncryptMessageNext,
        C_MessageEncryptFinal,
        C_MessageDecryptInit,
        C_DecryptMessage,
        C_DecryptMessageBegin,
        C_DecryptMessageNext,
        C_MessageDecryptFinal,
        C_MessageSignInit,
        C_SignMessage,
        C_SignMessageBegin,
        C_SignMessageNext,
        C_MessageSignFinal,
        C_MessageVerifyInit,
        C_VerifyMessage,
        C_VerifyMessageBegin,
        C_VerifyMessageNext,
        C_MessageVerifyFinal,
        C_EncapsulateKey,
        C_DecapsulateKey,
        C_VerifySignatureInit,
        C_VerifySignature,
        C_VerifySignatureUpdate,
        C_VerifySignatureFinal,
        C_GetSessionValidationFlags,
        C_AsyncComplete,
        C_AsyncGetID,
        C_AsyncJoin,
        C_WrapKeyAuthenticated,
        C_UnwrapKeyAuthenticated,
    ]
);

/// A CK_INTERFACE that may live in a static: it only points at our own
/// immutable statics.
#[derive(Clone, Copy)]
pub struct Interface(pub CK_INTERFACE);
// SAFETY: the pointers reference immutable statics that are never written.
unsafe impl Sync for Interface {}

const NAME: &[u8] = b"PKCS 11\0";

/// Offered interfaces, preferred first: "PKCS 11" 3.2, 3.0, then 2.40, then
/// our vendor interface "FerroHSM KMS" 1.0 (never chosen by a NULL name:
/// the first entry is).
pub static INTERFACES: [Interface; 4] = [
    Interface(CK_INTERFACE {
        pInterfaceName: NAME.as_ptr() as *mut u8,
        pFunctionList: &FUNCTION_LIST_3_2 as *const CK_FUNCTION_LIST_3_2 as *mut c_void,
        flags: 0,
    }),
    Interface(CK_INTERFACE {
        pInterfaceName: NAME.as_ptr() as *mut u8,
        pFunctionList: &FUNCTION_LIST_3_0 as *const CK_FUNCTION_LIST_3_0 as *mut c_void,
        flags: 0,
    }),
    Interface(CK_INTERFACE {
        pInterfaceName: NAME.as_ptr() as *mut u8,
        pFunctionList: &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut c_void,
        flags: 0,
    }),
    Interface(CK_INTERFACE {
        pInterfaceName: crate::vendor::KMS_INTERFACE_NAME.as_ptr() as *mut u8,
        pFunctionList: &super::kms::KMS_FUNCTION_LIST as *const super::kms::CK_FHSM_KMS_FUNCTION_LIST as *mut c_void,
        flags: 0,
    }),
];

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
    C_GetFunctionList(pp: *mut *mut CK_FUNCTION_LIST) => get_function_list;
    C_GetInterfaceList(list: *mut CK_INTERFACE, count: *mut CK_ULONG) => get_interface_list;
    C_GetInterface(name: *mut CK_UTF8CHAR, version: *mut CK_VERSION, pp: *mut *mut CK_INTERFACE, flags: CK_FLAGS) => get_interface;
}
