//! Digest, sign and verify entry points.

use cryptoki_sys::{CK_ATTRIBUTE, CK_BYTE, CK_MECHANISM, CK_OBJECT_HANDLE, CK_RV, CK_SESSION_HANDLE, CK_ULONG};

use super::decode::{bounded, data, derived_key_outputs, mechanism, out, slice_mut, template, Scope};
use super::{exports, module, ok};
use crate::error::{Error, Result};
use crate::token::crypto::Produced;
use crate::token::{Dual, Module, OpKind};

/// The output protocol: NULL buffer → length only; short → the length and
/// CKR_BUFFER_TOO_SMALL; else the data. `call` gets the capacity (None for
/// a length query).
///
/// # Safety
///
/// `len` is NULL or valid for reads and writes, and `p` is NULL or valid for
/// writes of `*len` bytes (the PKCS#11 output protocol), for the call.
pub(super) unsafe fn emit(
    p: *mut CK_BYTE,
    len: *mut CK_ULONG,
    call: impl FnOnce(Option<usize>) -> Result<Produced>,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: `len` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let len = unsafe { out(&scope, len) }?;
    let cap = if p.is_null() { None } else { Some(usize::try_from(*len).unwrap_or(usize::MAX)) };
    match &call(cap)? {
        Produced::Length(n) => {
            *len = *n as CK_ULONG;
            ok()
        }
        Produced::TooSmall(n) => {
            *len = *n as CK_ULONG;
            Err(Error::BufferTooSmall)
        }
        // SAFETY: `p` is non-NULL (else there is no capacity) and `call` produced at most the capacity `*len`
        // that the caller gave for `p`.
        Produced::Data(d) => unsafe { deliver(p, len, d) },
        // SAFETY: `p` is non-NULL (else there is no capacity) and `call` produced at most the capacity `*len`
        // that the caller gave for `p`.
        Produced::Public(d) => unsafe { deliver(p, len, d) },
        Produced::Written(n) => {
            *len = *n as CK_ULONG;
            ok()
        }
    }
}

/// Copies produced output to the caller's buffer.
///
/// # Safety
///
/// `p` is valid for writes of `*len` bytes, `*len >= d.len()` when `d` is
/// non-empty, and `d` does not overlap `p`'s buffer.
unsafe fn deliver(p: *mut CK_BYTE, len: &mut CK_ULONG, d: &[u8]) -> Result<CK_RV> {
    if !d.is_empty() {
        // SAFETY: `p` is non-NULL (else there would be no capacity) with
        // room for `*len` >= d.len() bytes, as `emit` checked.
        unsafe { std::ptr::copy_nonoverlapping(d.as_ptr(), p, d.len()) };
    }
    *len = d.len() as CK_ULONG;
    ok()
}

/// Runs a call on an active operation; an argument error found here (a
/// NULL pointer, a length beyond the bounds) ends the operation like any
/// other error would.
fn within(m: &Module, h: CK_SESSION_HANDLE, kind: OpKind, f: impl FnOnce() -> Result<CK_RV>) -> Result<CK_RV> {
    let r = f();
    if let Err(Error::ArgumentsBad | Error::DataLenRange | Error::EncryptedDataLenRange | Error::SignatureLenRange) = r
    {
        m.sessions().end_operation(h, kind)?;
    }
    r
}

/// The code for input longer than one call may carry: data to decrypt is
/// encrypted data, anything else plain data.
fn too_long(kind: OpKind) -> Error {
    match kind {
        OpKind::Decrypt => Error::EncryptedDataLenRange,
        _ => Error::DataLenRange,
    }
}

/// The longest signature any mechanism here makes (an RSA signature is the
/// modulus' size, at most `policy::MAX_BIGNUM`).
const MAX_SIGNATURE: usize = crate::model::policy::MAX_BIGNUM;

/// The longest wrapped key accepted: the largest attribute value wrapped,
/// with room for any wrapping's overhead (RSA-AES: an RSA block in front).
const MAX_WRAPPED: usize = crate::model::policy::MAX_BYTES + 2 * crate::model::policy::MAX_BIGNUM;

/// A call that reads input and produces output (C_Digest, C_Sign,
/// C_Encrypt, the cipher updates).
///
/// # Safety
///
/// The pointer arguments are those of the calling entry point, with the
/// PKCS#11 contract of that function: each NULL or valid for the call.
#[allow(clippy::too_many_arguments)]
unsafe fn input_output(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
    f: impl FnOnce(&Module, &[u8], Option<usize>) -> Result<Produced>,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    within(&m, h, kind, || {
        // SAFETY: the caller's input buffer and length, readable for the call (PKCS#11); `data` checks NULL
        // and the length bound first, and the slice is not kept past the call.
        let data = unsafe { data(&scope, d, n, too_long(kind)) }?;
        // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks
        // NULL and writes at most *len bytes.
        unsafe { emit(o, ol, |cap| f(&m, data, cap)) }
    })
}

/// A call that only reads input (the digest/sign/verify updates).
///
/// # Safety
///
/// The pointer arguments are those of the calling entry point, with the
/// PKCS#11 contract of that function: each NULL or valid for the call.
unsafe fn input_only(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    f: impl FnOnce(&Module, &[u8]) -> Result<()>,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    within(&m, h, kind, || {
        // SAFETY: the caller's input buffer and length, readable for the call (PKCS#11); `data` checks NULL
        // and the length bound first, and the slice is not kept past the call.
        f(&m, unsafe { data(&scope, d, n, too_long(kind)) }?)?;
        ok()
    })
}

/// A call that only produces output (the finals).
///
/// # Safety
///
/// The pointer arguments are those of the calling entry point, with the
/// PKCS#11 contract of that function: each NULL or valid for the call.
unsafe fn output_only(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
    f: impl FnOnce(&Module, Option<usize>) -> Result<Produced>,
) -> Result<CK_RV> {
    let m = module()?;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks NULL
    // and writes at most *len bytes.
    within(&m, h, kind, || unsafe { emit(o, ol, |cap| f(&m, cap)) })
}

unsafe fn digest_init(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM) -> Result<CK_RV> {
    let m = module()?;
    if mech.is_null() {
        // The spec's way to end the active operation.
        m.sessions().init_cancel(h, OpKind::Digest)?;
        return ok();
    }
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    m.sessions().digest_init(h, &mech)?;
    ok()
}

unsafe fn digest(
    h: CK_SESSION_HANDLE,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { input_output(h, OpKind::Digest, d, n, o, ol, |m, data, cap| m.sessions().digest(h, data, cap)) }
}

unsafe fn digest_update(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { input_only(h, OpKind::Digest, d, n, |m, data| m.sessions().digest_update(h, data)) }
}

unsafe fn digest_key(h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<CK_RV> {
    module()?.sessions().digest_key(h, key)?;
    ok()
}

unsafe fn digest_final(h: CK_SESSION_HANDLE, o: *mut CK_BYTE, ol: *mut CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { output_only(h, OpKind::Digest, o, ol, |m, cap| m.sessions().digest_final(h, cap)) }
}

unsafe fn sign_init(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> Result<CK_RV> {
    let m = module()?;
    if mech.is_null() {
        // The spec's way to end the active operation.
        m.sessions().init_cancel(h, OpKind::Sign)?;
        return ok();
    }
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    m.sessions().sign_init(h, &mech, key)?;
    ok()
}

unsafe fn sign(
    h: CK_SESSION_HANDLE,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { input_output(h, OpKind::Sign, d, n, o, ol, |m, data, cap| m.sessions().sign(h, data, cap)) }
}

unsafe fn sign_update(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { input_only(h, OpKind::Sign, d, n, |m, data| m.sessions().sign_update(h, data)) }
}

unsafe fn sign_final(h: CK_SESSION_HANDLE, o: *mut CK_BYTE, ol: *mut CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { output_only(h, OpKind::Sign, o, ol, |m, cap| m.sessions().sign_final(h, cap)) }
}

unsafe fn verify_init(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> Result<CK_RV> {
    let m = module()?;
    if mech.is_null() {
        // The spec's way to end the active operation.
        m.sessions().init_cancel(h, OpKind::Verify)?;
        return ok();
    }
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    m.sessions().verify_init(h, &mech, key)?;
    ok()
}

unsafe fn verify(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, sig: *mut CK_BYTE, sl: CK_ULONG) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    within(&m, h, OpKind::Verify, || {
        // SAFETY: the caller's input buffer and length, readable for the call (PKCS#11); `data` checks NULL
        // and the length bound first, and the slice is not kept past the call.
        let d = unsafe { data(&scope, d, n, Error::DataLenRange) }?;
        // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the
        // call (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past
        // the call.
        m.sessions().verify(h, d, unsafe { bounded(&scope, sig, sl, MAX_SIGNATURE, Error::SignatureLenRange) }?)?;
        ok()
    })
}

unsafe fn verify_update(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { input_only(h, OpKind::Verify, d, n, |m, data| m.sessions().verify_update(h, data)) }
}

unsafe fn verify_final(h: CK_SESSION_HANDLE, sig: *mut CK_BYTE, sl: CK_ULONG) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    within(&m, h, OpKind::Verify, || {
        // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the
        // call (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past
        // the call.
        m.sessions().verify_final(h, unsafe { bounded(&scope, sig, sl, MAX_SIGNATURE, Error::SignatureLenRange) }?)?;
        ok()
    })
}

unsafe fn sign_recover_init(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> Result<CK_RV> {
    let m = module()?;
    if mech.is_null() {
        // The spec's way to end the active operation.
        m.sessions().init_cancel(h, OpKind::SignRecover)?;
        return ok();
    }
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    m.sessions().recover_init(h, &mech, key, true)?;
    ok()
}

unsafe fn verify_recover_init(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> Result<CK_RV> {
    let m = module()?;
    if mech.is_null() {
        // The spec's way to end the active operation.
        m.sessions().init_cancel(h, OpKind::VerifyRecover)?;
        return ok();
    }
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    m.sessions().recover_init(h, &mech, key, false)?;
    ok()
}

unsafe fn sign_recover(
    h: CK_SESSION_HANDLE,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe {
        input_output(h, OpKind::SignRecover, d, n, o, ol, |m, data, cap| m.sessions().recover(h, data, cap, true))
    }
}

unsafe fn verify_recover(
    h: CK_SESSION_HANDLE,
    sig: *mut CK_BYTE,
    sl: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    within(&m, h, OpKind::VerifyRecover, || {
        // SAFETY: pointer and count are this call's arguments, readable for the call (PKCS#11); NULL and the
        // count bound are checked before reading, and the slice is not kept past the call.
        let sig = unsafe { bounded(&scope, sig, sl, MAX_SIGNATURE, Error::SignatureLenRange) }?;
        // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks
        // NULL and writes at most *len bytes.
        unsafe { emit(o, ol, |cap| m.sessions().recover(h, sig, cap, false)) }
    })
}

exports! {
    C_DigestInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM) => digest_init;
    C_Digest(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => digest;
    C_DigestUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG) => digest_update;
    C_DigestKey(h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) => digest_key;
    C_DigestFinal(h: CK_SESSION_HANDLE, o: *mut CK_BYTE, ol: *mut CK_ULONG) => digest_final;
    C_SignInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) => sign_init;
    C_Sign(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => sign;
    C_SignUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG) => sign_update;
    C_SignFinal(h: CK_SESSION_HANDLE, o: *mut CK_BYTE, ol: *mut CK_ULONG) => sign_final;
    C_VerifyInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) => verify_init;
    C_Verify(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, sig: *mut CK_BYTE, sl: CK_ULONG) => verify;
    C_VerifyUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG) => verify_update;
    C_VerifyFinal(h: CK_SESSION_HANDLE, sig: *mut CK_BYTE, sl: CK_ULONG) => verify_final;
    C_SignRecoverInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) => sign_recover_init;
    C_SignRecover(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => sign_recover;
    C_VerifyRecoverInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) => verify_recover_init;
    C_VerifyRecover(h: CK_SESSION_HANDLE, sig: *mut CK_BYTE, sl: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => verify_recover;
}

unsafe fn cipher_init(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    enc: bool,
) -> Result<CK_RV> {
    let m = module()?;
    if mech.is_null() {
        // The spec's way to end the active operation.
        m.sessions().init_cancel(h, OpKind::cipher(enc))?;
        return ok();
    }
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    m.sessions().cipher_init(h, &mech, key, enc)?;
    ok()
}

unsafe fn cipher_oneshot(
    h: CK_SESSION_HANDLE,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
    enc: bool,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    within(&m, h, OpKind::cipher(enc), || {
        // SAFETY: the caller's input buffer and length, readable for the call (PKCS#11); `data` checks NULL
        // and the length bound first, and the slice is not kept past the call.
        let data = unsafe { data(&scope, d, n, too_long(OpKind::cipher(enc))) }?;
        // SAFETY: `ol` is read only when non-NULL.
        // No buffer is larger than isize::MAX bytes, whatever `*ol` claims.
        let avail = if o.is_null() || ol.is_null() { 0 } else { usize::try_from(unsafe { *ol }).unwrap_or(0) };
        let avail = avail.min(isize::MAX as usize);
        // Written directly only when it cannot alias the input (callers
        // that encrypt in place take the copying path).
        let (o_start, d_start) = (o as usize, d as usize);
        let disjoint = o_start.saturating_add(avail) <= d_start || d_start.saturating_add(data.len()) <= o_start;
        // SAFETY: the caller's output buffer and length pointer, valid for the
        // call (PKCS#11); `emit` checks NULL and writes at most *ol bytes, and
        // the direct slice below is made only under the conditions it states.
        unsafe {
            emit(o, ol, |cap| {
                let buf = if cap.is_some() && avail > 0 && disjoint {
                    // SAFETY: non-NULL, `*ol` writable bytes as the caller
                    // promises, disjoint from `data`; bounded by `scope`.
                    slice_mut(&scope, o, avail).ok()
                } else {
                    None
                };
                m.sessions().cipher_oneshot(h, data, cap, buf, enc)
            })
        }
    })
}

unsafe fn cipher_update(
    h: CK_SESSION_HANDLE,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
    enc: bool,
) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe {
        input_output(h, OpKind::cipher(enc), d, n, o, ol, |m, data, cap| m.sessions().cipher_update(h, data, cap, enc))
    }
}

unsafe fn cipher_final(h: CK_SESSION_HANDLE, o: *mut CK_BYTE, ol: *mut CK_ULONG, enc: bool) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { output_only(h, OpKind::cipher(enc), o, ol, |m, cap| m.sessions().cipher_final(h, cap, enc)) }
}

exports! {
    C_EncryptInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) => cipher_init[true];
    C_Encrypt(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => cipher_oneshot[true];
    C_EncryptUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => cipher_update[true];
    C_EncryptFinal(h: CK_SESSION_HANDLE, o: *mut CK_BYTE, ol: *mut CK_ULONG) => cipher_final[true];
    C_DecryptInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) => cipher_init[false];
    C_Decrypt(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => cipher_oneshot[false];
    C_DecryptUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => cipher_update[false];
    C_DecryptFinal(h: CK_SESSION_HANDLE, o: *mut CK_BYTE, ol: *mut CK_ULONG) => cipher_final[false];
}

unsafe fn wrap_key(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    wrapping: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
) -> Result<CK_RV> {
    let m = module()?;
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks NULL
    // and writes at most *len bytes.
    unsafe { emit(o, ol, |cap| m.sessions().wrap_key(h, &mech, wrapping, key, cap)) }
}

#[allow(clippy::too_many_arguments)]
unsafe fn unwrap_key(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    unwrapping: CK_OBJECT_HANDLE,
    w: *mut CK_BYTE,
    wl: CK_ULONG,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
    ph: *mut CK_OBJECT_HANDLE,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the call
    // (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past the
    // call.
    let wrapped = unsafe { bounded(&scope, w, wl, MAX_WRAPPED, Error::WrappedKeyLenRange) }?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let tmpl = unsafe { template(tmpl, n) }?;
    // SAFETY: `ph` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    let ph = unsafe { out(&scope, ph) }?;
    *ph = m.sessions().unwrap_key(h, &mech, unwrapping, wrapped, &tmpl)?;
    ok()
}

exports! {
    C_WrapKey(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, wrapping: CK_OBJECT_HANDLE, key: CK_OBJECT_HANDLE, o: *mut CK_BYTE, ol: *mut CK_ULONG) => wrap_key;
    C_UnwrapKey(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, unwrapping: CK_OBJECT_HANDLE, w: *mut CK_BYTE, wl: CK_ULONG, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG, ph: *mut CK_OBJECT_HANDLE) => unwrap_key;
}

unsafe fn derive_key(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    base: CK_OBJECT_HANDLE,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
    ph: *mut CK_OBJECT_HANDLE,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    let mech_ptr = mech;
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech_ptr) }?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let tmpl = unsafe { template(tmpl, n) }?;
    // SAFETY: `ph` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    let ph = unsafe { out(&scope, ph) }?;
    // SAFETY: the same caller's mechanism, readable for the call; each additional derived key's `phKey` is
    // an out-pointer of this call (PKCS#11), NULL refused, and the references end with the call.
    let mut extra = unsafe { derived_key_outputs(&scope, mech_ptr) }?;
    if extra.len() != mech.extra_keys() {
        // The parameter changed between the two reads.
        return Err(Error::MechanismParamInvalid);
    }
    match m.sessions().derive_keys(h, &mech, base, &tmpl) {
        Ok(handles) => {
            *ph = handles[0];
            for (slot, handle) in extra.iter_mut().zip(&handles[1..]) {
                **slot = *handle;
            }
            ok()
        }
        Err(e) => {
            // None was made: every additional handle reads CK_INVALID_HANDLE,
            // the offending template's among them.
            for slot in extra.iter_mut() {
                **slot = cryptoki_sys::CK_INVALID_HANDLE;
            }
            Err(e)
        }
    }
}

exports! {
    C_DeriveKey(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, base: CK_OBJECT_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG, ph: *mut CK_OBJECT_HANDLE) => derive_key;
}

/// The dual-function updates: the cipher's output goes to the caller, the
/// other operation takes the plaintext (an error ends the cipher operation,
/// as any error does).
///
/// # Safety
///
/// The pointer arguments are those of the calling entry point, with the
/// PKCS#11 contract of that function: each NULL or valid for the call.
unsafe fn dual_update(
    h: CK_SESSION_HANDLE,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
    dual: Dual,
) -> Result<CK_RV> {
    let (cipher, _) = dual.kinds();
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; the helper needs what the
    // PKCS#11 caller promised for them.
    unsafe { input_output(h, cipher, d, n, o, ol, |m, data, cap| m.sessions().dual_update(h, dual, data, cap)) }
}

exports! {
    C_DigestEncryptUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => dual_update[Dual::DigestEncrypt];
    C_DecryptDigestUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => dual_update[Dual::DecryptDigest];
    C_SignEncryptUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => dual_update[Dual::SignEncrypt];
    C_DecryptVerifyUpdate(h: CK_SESSION_HANDLE, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => dual_update[Dual::DecryptVerify];
}
