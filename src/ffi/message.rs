//! The PKCS#11 3.0 message-based encryption and decryption entry points.
//! Each per-message parameter (CK_GCM_MESSAGE_PARAMS,
//! CK_CCM_MESSAGE_PARAMS, CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS, told
//! apart by ulParameterLen) is copied here; after the call the IV the
//! message used and the tag it made are written back through its pointers.

use std::ffi::c_void;

use cryptoki_sys as ck;
use cryptoki_sys::{CK_BYTE, CK_FLAGS, CK_MECHANISM, CK_OBJECT_HANDLE, CK_RV, CK_SESSION_HANDLE, CK_ULONG};

use super::crypto::emit;
use super::decode::{bounded, chacha_nonce_len, data, maybe_ref, slice_mut, Scope};
use super::{exports, module, ok};
use crate::error::{Error, Result};
use crate::mech::aead::Kind;
use crate::model::mechanism::bound;
use crate::token::message::{MsgOut, MsgParam};

/// Where the IV and the tag go back to.
struct WriteBack {
    iv: *mut u8,
    iv_len: usize,
    tag: *mut u8,
    tag_len: usize,
}

impl WriteBack {
    /// Writes what the call produced into the caller's parameter.
    ///
    /// # Safety
    ///
    /// The pointers are those of the caller's parameter, valid for writes of
    /// their lengths for the call (PKCS#11).
    unsafe fn write(&self, scope: &Scope, iv: Option<&[u8]>, tag: Option<&[u8]>) -> Result<()> {
        if let Some(v) = iv {
            // SAFETY: the caller's IV buffer of `iv_len` bytes, writable for the call; NULL is refused.
            let dst = unsafe { slice_mut(scope, self.iv, self.iv_len) }?;
            if dst.len() != v.len() {
                return Err(Error::general("IV length changed"));
            }
            dst.copy_from_slice(v);
        }
        if let Some(t) = tag {
            // SAFETY: the caller's tag buffer of `tag_len` bytes, writable for the call; NULL is refused.
            let dst = unsafe { slice_mut(scope, self.tag, self.tag_len) }?;
            if dst.len() != t.len() {
                return Err(Error::general("tag length changed"));
            }
            dst.copy_from_slice(t);
        }
        Ok(())
    }
}

/// A message parameter, copied; `read_tag` reads the tag buffer (a
/// decryption's last call). Any fault in it is CKR_ARGUMENTS_BAD.
///
/// # Safety
///
/// `p` is NULL or points to `n` readable bytes holding one of the three
/// message parameter structs, whose pointers are NULL or valid for their
/// lengths, for the call.
unsafe fn msg_param(p: *mut c_void, n: CK_ULONG, read_tag: bool) -> Result<(MsgParam, WriteBack)> {
    let scope = Scope::enter();
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let bytes = |q: *const u8, len: CK_ULONG, max: usize| {
        // SAFETY: a pointer and length from the caller's parameter, readable for the call; NULL and the bound
        // are checked before reading, and the bytes are copied at once.
        unsafe { bounded(&scope, q, len, max, Error::ArgumentsBad) }.map(<[u8]>::to_vec)
    };
    let size = |t: usize| n as usize == t;
    let (kind, iv_p, iv_len, fixed, gen, tag_p, tag_len, data_len) =
        if size(std::mem::size_of::<ck::CK_GCM_MESSAGE_PARAMS>()) {
            // SAFETY: non-NULL and exactly the struct's size, the caller's for the call.
            let g = unsafe { maybe_ref(&scope, p as *const ck::CK_GCM_MESSAGE_PARAMS) }.ok_or(Error::ArgumentsBad)?;
            if g.ulTagBits % 8 != 0 {
                return Err(Error::ArgumentsBad);
            }
            (Kind::Gcm, g.pIv, g.ulIvLen, g.ulIvFixedBits, g.ivGenerator, g.pTag, g.ulTagBits / 8, None)
        } else if size(std::mem::size_of::<ck::CK_CCM_MESSAGE_PARAMS>()) {
            // SAFETY: non-NULL and exactly the struct's size, the caller's for the call.
            let c = unsafe { maybe_ref(&scope, p as *const ck::CK_CCM_MESSAGE_PARAMS) }.ok_or(Error::ArgumentsBad)?;
            let d = Some(c.ulDataLen);
            (Kind::Ccm, c.pNonce, c.ulNonceLen, c.ulNonceFixedBits, c.nonceGenerator, c.pMAC, c.ulMACLen, d)
        } else if size(std::mem::size_of::<ck::CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>()) {
            // SAFETY: non-NULL and exactly the struct's size, the caller's for the call.
            let c = unsafe { maybe_ref(&scope, p as *const ck::CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS) }
                .ok_or(Error::ArgumentsBad)?;
            let nl = chacha_nonce_len(c.ulNonceLen).map_err(|_| Error::ArgumentsBad)?;
            (Kind::ChaChaPoly, c.pNonce, nl, 0, ck::CKG_NO_GENERATE, c.pTag, 16, None)
        } else {
            return Err(Error::ArgumentsBad);
        };
    if tag_len > 16 {
        return Err(Error::ArgumentsBad);
    }
    let iv = bytes(iv_p, iv_len, bound::GCM_IV)?;
    let tag = if read_tag { bytes(tag_p, tag_len, 16)? } else { Vec::new() };
    if tag_p.is_null() && tag_len > 0 {
        return Err(Error::ArgumentsBad);
    }
    let wb = WriteBack { iv: iv_p, iv_len: iv.len(), tag: tag_p, tag_len: tag_len as usize };
    let param = MsgParam { kind, iv, fixed_bits: fixed, generator: gen, tag_len: tag_len as usize, tag, data_len };
    Ok((param, wb))
}

unsafe fn message_init(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    enc: bool,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    if mech.is_null() {
        // The spec's way to end the active operation (as for C_EncryptInit);
        // with none active the NULL is a bad argument.
        return match m.sessions().message_final(h, enc) {
            Err(Error::OperationNotInitialized) => Err(Error::ArgumentsBad),
            r => r.and_then(|()| ok()),
        };
    }
    // SAFETY: the caller's CK_MECHANISM, non-NULL (checked) and readable for the call (PKCS#11).
    let mech = unsafe { maybe_ref(&scope, mech) }.ok_or(Error::ArgumentsBad)?;
    // The parameters travel with each message; an init parameter is NULL
    // or (as some clients send) a message parameter, ignored.
    let per_message = match mech.mechanism {
        ck::CKM_AES_GCM => Some(std::mem::size_of::<ck::CK_GCM_MESSAGE_PARAMS>()),
        ck::CKM_AES_CCM => Some(std::mem::size_of::<ck::CK_CCM_MESSAGE_PARAMS>()),
        ck::CKM_CHACHA20_POLY1305 => Some(std::mem::size_of::<ck::CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>()),
        _ => None,
    };
    if let Some(size) = per_message {
        let len = mech.ulParameterLen as usize;
        if !(len == 0 || (len == size && !mech.pParameter.is_null())) {
            return Err(Error::MechanismParamInvalid);
        }
    }
    m.sessions().message_init(h, mech.mechanism, key, enc)?;
    ok()
}

/// The longest additional data one message may carry.
const MAX_AAD: usize = bound::GCM_AAD;

#[allow(clippy::too_many_arguments)]
unsafe fn message_oneshot(
    h: CK_SESSION_HANDLE,
    param: *mut c_void,
    pl: CK_ULONG,
    aad: *mut CK_BYTE,
    al: CK_ULONG,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
    enc: bool,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's parameter and its length, readable for the call (PKCS#11); checked and copied.
    let (p, wb) = unsafe { msg_param(param, pl, !enc) }?;
    // SAFETY: the caller's additional data, readable for the call; NULL and the bound are checked first.
    let aad = unsafe { bounded(&scope, aad, al, MAX_AAD, Error::DataLenRange) }?;
    let too_long = if enc { Error::DataLenRange } else { Error::EncryptedDataLenRange };
    // SAFETY: the caller's input buffer and length, readable for the call; `data` checks NULL and the bound.
    let data = unsafe { data(&scope, d, n, too_long) }?;
    let run = |cap| {
        let MsgOut { out, iv, tag } = m.sessions().message_oneshot(h, &p, aad, data, cap, enc)?;
        // SAFETY: the write-back pointers of the caller's parameter, writable for the call.
        unsafe { wb.write(&scope, iv.as_deref(), tag.as_deref()) }?;
        Ok(out)
    };
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks NULL
    // and writes at most *len bytes.
    unsafe { emit(o, ol, run) }
}

unsafe fn message_begin(
    h: CK_SESSION_HANDLE,
    param: *mut c_void,
    pl: CK_ULONG,
    aad: *mut CK_BYTE,
    al: CK_ULONG,
    enc: bool,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's parameter and its length, readable for the call (PKCS#11); checked and copied.
    let (p, wb) = unsafe { msg_param(param, pl, false) }?;
    // SAFETY: the caller's additional data, readable for the call; NULL and the bound are checked first.
    let aad = unsafe { bounded(&scope, aad, al, MAX_AAD, Error::DataLenRange) }?;
    let iv = m.sessions().message_begin(h, &p, aad, enc)?;
    // SAFETY: the write-back pointers of the caller's parameter, writable for the call.
    unsafe { wb.write(&scope, iv.as_deref(), None) }?;
    ok()
}

#[allow(clippy::too_many_arguments)]
unsafe fn message_next(
    h: CK_SESSION_HANDLE,
    param: *mut c_void,
    pl: CK_ULONG,
    d: *mut CK_BYTE,
    n: CK_ULONG,
    o: *mut CK_BYTE,
    ol: *mut CK_ULONG,
    flags: CK_FLAGS,
    enc: bool,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    let end = flags & ck::CKF_END_OF_MESSAGE != 0;
    let decoded = (|| {
        if flags & !ck::CKF_END_OF_MESSAGE != 0 {
            return Err(Error::ArgumentsBad);
        }
        // SAFETY: the caller's parameter and its length, readable for the call (PKCS#11); checked and copied.
        let (p, wb) = unsafe { msg_param(param, pl, !enc && end) }?;
        let too_long = if enc { Error::DataLenRange } else { Error::EncryptedDataLenRange };
        // SAFETY: the caller's input buffer and length, readable for the call; `data` checks NULL and the
        // bound.
        let data = unsafe { data(&scope, d, n, too_long) }?;
        Ok((p, wb, data))
    })();
    // A fault in the arguments ends the message in progress, as any other
    // error of this call does (the operation goes on).
    let (p, wb, data) = match decoded {
        Ok(v) => v,
        Err(e) => {
            m.sessions().message_abort(h, enc)?;
            return Err(e);
        }
    };
    let run = |cap| {
        let MsgOut { out, tag, .. } = m.sessions().message_next(h, &p, data, cap, end, enc)?;
        // SAFETY: the write-back pointers of the caller's parameter, writable for the call.
        unsafe { wb.write(&scope, None, tag.as_deref()) }?;
        Ok(out)
    };
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks NULL
    // and writes at most *len bytes.
    let r = unsafe { emit(o, ol, run) };
    if let Err(Error::ArgumentsBad) = r {
        m.sessions().message_abort(h, enc)?;
    }
    r
}

unsafe fn message_final(h: CK_SESSION_HANDLE, enc: bool) -> Result<CK_RV> {
    module()?.sessions().message_final(h, enc)?;
    ok()
}

exports! {
    C_MessageEncryptInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) => message_init[true];
    C_EncryptMessage(h: CK_SESSION_HANDLE, param: *mut c_void, pl: CK_ULONG, aad: *mut CK_BYTE, al: CK_ULONG, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => message_oneshot[true];
    C_EncryptMessageBegin(h: CK_SESSION_HANDLE, param: *mut c_void, pl: CK_ULONG, aad: *mut CK_BYTE, al: CK_ULONG) => message_begin[true];
    C_EncryptMessageNext(h: CK_SESSION_HANDLE, param: *mut c_void, pl: CK_ULONG, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG, flags: CK_FLAGS) => message_next[true];
    C_MessageEncryptFinal(h: CK_SESSION_HANDLE) => message_final[true];
    C_MessageDecryptInit(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) => message_init[false];
    C_DecryptMessage(h: CK_SESSION_HANDLE, param: *mut c_void, pl: CK_ULONG, aad: *mut CK_BYTE, al: CK_ULONG, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG) => message_oneshot[false];
    C_DecryptMessageBegin(h: CK_SESSION_HANDLE, param: *mut c_void, pl: CK_ULONG, aad: *mut CK_BYTE, al: CK_ULONG) => message_begin[false];
    C_DecryptMessageNext(h: CK_SESSION_HANDLE, param: *mut c_void, pl: CK_ULONG, d: *mut CK_BYTE, n: CK_ULONG, o: *mut CK_BYTE, ol: *mut CK_ULONG, flags: CK_FLAGS) => message_next[false];
    C_MessageDecryptFinal(h: CK_SESSION_HANDLE) => message_final[false];
}
