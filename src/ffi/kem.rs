//! C_EncapsulateKey / C_DecapsulateKey (PKCS#11 3.2).

use cryptoki_sys::{CK_ATTRIBUTE, CK_BYTE, CK_MECHANISM, CK_OBJECT_HANDLE, CK_RV, CK_SESSION_HANDLE, CK_ULONG};

use super::crypto::emit;
use super::decode::{bounded, mechanism, out, template, Scope};
use super::{exports, module, ok};
use crate::error::{Error, Result};

/// The longest ciphertext taken (ML-KEM-1024's is 1568 bytes).
const MAX_CIPHERTEXT: usize = 4096;

#[allow(clippy::too_many_arguments)]
unsafe fn encapsulate_key(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
    ct: *mut CK_BYTE,
    ct_len: *mut CK_ULONG,
    ph: *mut CK_OBJECT_HANDLE,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    // A length query (NULL ciphertext) is answered before the template is
    // looked at (`Sessions::encapsulate_key`), so it is not decoded for one.
    let tmpl = if ct.is_null() {
        crate::model::Template::default()
    } else {
        // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count
        // and every length and copies all of it.
        unsafe { template(tmpl, n) }?
    };
    // The key's handle is written only when a key is made (never for a
    // length query), but the pointer is required either way.
    if ph.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let mut made = None;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks NULL
    // and writes at most *len bytes.
    let rv = unsafe {
        emit(ct, ct_len, |cap| {
            let (p, hk) = m.sessions().encapsulate_key(h, &mech, key, &tmpl, cap)?;
            made = hk;
            Ok(p)
        })
    }?;
    if let Some(hk) = made {
        // SAFETY: `ph` is an out-pointer argument of this call, non-NULL (checked above) and writable for the
        // call per PKCS#11; the reference is dropped before the call returns.
        *unsafe { out(&scope, ph) }? = hk;
    }
    Ok(rv)
}

#[allow(clippy::too_many_arguments)]
unsafe fn decapsulate_key(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
    ct: *mut CK_BYTE,
    ct_len: CK_ULONG,
    ph: *mut CK_OBJECT_HANDLE,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let tmpl = unsafe { template(tmpl, n) }?;
    // SAFETY: pointer and count are this call's arguments, readable for the call (PKCS#11); NULL and the
    // count bound are checked before reading, and the slice is not kept past the call.
    let ct = unsafe { bounded(&scope, ct, ct_len, MAX_CIPHERTEXT, Error::EncryptedDataLenRange) }?;
    // SAFETY: `ph` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    let ph = unsafe { out(&scope, ph) }?;
    *ph = m.sessions().decapsulate_key(h, &mech, key, &tmpl, ct)?;
    ok()
}

exports! {
    C_EncapsulateKey(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG, ct: *mut CK_BYTE, ct_len: *mut CK_ULONG, ph: *mut CK_OBJECT_HANDLE) => encapsulate_key;
    C_DecapsulateKey(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG, ct: *mut CK_BYTE, ct_len: CK_ULONG, ph: *mut CK_OBJECT_HANDLE) => decapsulate_key;
}
