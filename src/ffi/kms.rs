//! The vendor interface "FerroHSM KMS" (C_GetInterface), declared in
//! `include/ferrohsm.h`: KMS calls on a logged-in session. Key ids and
//! aliases are UTF-8 byte strings with a length; outputs follow the PKCS#11
//! buffer protocol (NULL: length only; short: CKR_BUFFER_TOO_SMALL).

use cryptoki_sys::{CK_ATTRIBUTE, CK_BYTE, CK_RV, CK_SESSION_HANDLE, CK_ULONG, CK_VERSION};

use super::crypto::emit;
use super::decode::{bounded, data, maybe_out, out, template, write_array, Scope};
/// The vendor interface's C types and its context decoding (in `decode`,
/// which reads every caller pointer).
pub use super::decode::{context, CK_FHSM_CONTEXT_PAIR, CK_FHSM_KMS_WRAP_PARAMS};
use super::{exports, module, ok};
use crate::error::{Error, Result};
use crate::vendor::*;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct CK_FHSM_KEY_ID {
    pub pId: *const CK_BYTE,
    pub ulIdLen: CK_ULONG,
}

type Rv = CK_RV;
type H = CK_SESSION_HANDLE;
type P = *const CK_BYTE;
type O = *mut CK_BYTE;
type L = *mut CK_ULONG;

/// The function table; its layout is `CK_FHSM_KMS_FUNCTION_LIST`.
#[repr(C)]
pub struct CK_FHSM_KMS_FUNCTION_LIST {
    pub version: CK_VERSION,
    pub FHSM_CreateKey: unsafe extern "C" fn(H, *mut CK_ATTRIBUTE, CK_ULONG, O, L) -> Rv,
    pub FHSM_GenerateDataKey: unsafe extern "C" fn(
        H,
        *const CK_FHSM_KEY_ID,
        CK_ULONG,
        CK_ULONG,
        *const CK_FHSM_CONTEXT_PAIR,
        CK_ULONG,
        CK_ULONG,
        O,
        L,
        O,
        L,
    ) -> Rv,
    pub FHSM_Encrypt:
        unsafe extern "C" fn(H, P, CK_ULONG, *const CK_FHSM_CONTEXT_PAIR, CK_ULONG, CK_ULONG, P, CK_ULONG, O, L) -> Rv,
    pub FHSM_Decrypt: unsafe extern "C" fn(H, *const CK_FHSM_CONTEXT_PAIR, CK_ULONG, P, CK_ULONG, O, L) -> Rv,
    pub FHSM_ReEncrypt: unsafe extern "C" fn(
        H,
        P,
        CK_ULONG,
        *const CK_FHSM_CONTEXT_PAIR,
        CK_ULONG,
        P,
        CK_ULONG,
        *const CK_FHSM_CONTEXT_PAIR,
        CK_ULONG,
        CK_ULONG,
        O,
        L,
    ) -> Rv,
    pub FHSM_RotateKey: unsafe extern "C" fn(H, P, CK_ULONG, L) -> Rv,
    pub FHSM_SetKeyRotation: unsafe extern "C" fn(H, P, CK_ULONG, CK_ULONG) -> Rv,
    pub FHSM_EnableKey: unsafe extern "C" fn(H, P, CK_ULONG) -> Rv,
    pub FHSM_DisableKey: unsafe extern "C" fn(H, P, CK_ULONG) -> Rv,
    pub FHSM_ScheduleKeyDeletion: unsafe extern "C" fn(H, P, CK_ULONG, CK_ULONG, L) -> Rv,
    pub FHSM_CancelKeyDeletion: unsafe extern "C" fn(H, P, CK_ULONG) -> Rv,
    pub FHSM_PurgeKey: unsafe extern "C" fn(H, P, CK_ULONG) -> Rv,
    pub FHSM_CreateAlias: unsafe extern "C" fn(H, P, CK_ULONG, P, CK_ULONG) -> Rv,
    pub FHSM_UpdateAlias: unsafe extern "C" fn(H, P, CK_ULONG, P, CK_ULONG) -> Rv,
    pub FHSM_DeleteAlias: unsafe extern "C" fn(H, P, CK_ULONG) -> Rv,
    pub FHSM_ListAliases: unsafe extern "C" fn(H, O, L) -> Rv,
    pub FHSM_DescribeKey: unsafe extern "C" fn(H, P, CK_ULONG, O, L) -> Rv,
    pub FHSM_ListKeys: unsafe extern "C" fn(H, O, L) -> Rv,
    pub FHSM_AuditVerify: unsafe extern "C" fn(H, L) -> Rv,
    pub FHSM_AuditRead: unsafe extern "C" fn(H, CK_ULONG, P, CK_ULONG, O, L) -> Rv,
    pub FHSM_FlushAudit: unsafe extern "C" fn(H) -> Rv,
}

pub static KMS_FUNCTION_LIST: CK_FHSM_KMS_FUNCTION_LIST = CK_FHSM_KMS_FUNCTION_LIST {
    version: CK_VERSION { major: 1, minor: 0 },
    FHSM_CreateKey,
    FHSM_GenerateDataKey,
    FHSM_Encrypt,
    FHSM_Decrypt,
    FHSM_ReEncrypt,
    FHSM_RotateKey,
    FHSM_SetKeyRotation,
    FHSM_EnableKey,
    FHSM_DisableKey,
    FHSM_ScheduleKeyDeletion,
    FHSM_CancelKeyDeletion,
    FHSM_PurgeKey,
    FHSM_CreateAlias,
    FHSM_UpdateAlias,
    FHSM_DeleteAlias,
    FHSM_ListAliases,
    FHSM_DescribeKey,
    FHSM_ListKeys,
    FHSM_AuditVerify,
    FHSM_AuditRead,
    FHSM_FlushAudit,
};

/// The longest key id or alias accepted.
const MAX_TEXT: usize = 1024;

/// A key id or alias: non-empty UTF-8.
///
/// # Safety
///
/// As `decode::slice`: `p` is NULL or points to `n` bytes readable while
/// `scope` lives.
unsafe fn text(scope: &Scope, p: P, n: CK_ULONG) -> Result<&str> {
    // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the call
    // (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past the
    // call.
    let b = unsafe { bounded(scope, p, n, MAX_TEXT, Error::ArgumentsBad) }?;
    if b.is_empty() {
        return Err(Error::ArgumentsBad);
    }
    std::str::from_utf8(b).map_err(|_| Error::ArgumentsBad)
}

/// `v` as JSON text through the output protocol.
///
/// # Safety
///
/// As `decode::write_array` for `p` and `len`.
unsafe fn json_out(p: O, len: L, v: &serde_json::Value) -> Result<CK_RV> {
    // SAFETY: the caller's output array and count pointer, valid for the call (PKCS#11); `write_array` checks
    // NULL and writes at most *count items.
    unsafe { write_array(p, len, v.to_string().as_bytes()) }
}

unsafe fn create_key(h: H, t: *mut CK_ATTRIBUTE, n: CK_ULONG, id: O, idl: L) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let tmpl = unsafe { template(t, n) }?;
    // SAFETY: `idl` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let idl = unsafe { out(&scope, idl) }?;
    let want = 2 * std::mem::size_of::<crate::token::Uid>();
    if id.is_null() || (*idl as usize) < want {
        *idl = want as CK_ULONG;
        return if id.is_null() { ok() } else { Err(Error::BufferTooSmall) };
    }
    let key_id = m.kms().create_key(h, tmpl)?;
    // SAFETY: the caller's output array and count pointer, valid for the call (PKCS#11); `write_array` checks
    // NULL and writes at most *count items.
    unsafe { write_array(id, idl, key_id.as_bytes()) }
}

#[allow(clippy::too_many_arguments)]
unsafe fn generate_data_key(
    h: H,
    ids: *const CK_FHSM_KEY_ID,
    nids: CK_ULONG,
    key_len: CK_ULONG,
    cp: *const CK_FHSM_CONTEXT_PAIR,
    cn: CK_ULONG,
    flags: CK_ULONG,
    plain: O,
    plain_len: L,
    blob: O,
    blob_len: L,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the call
    // (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past the
    // call.
    let ids: Vec<&str> =
        unsafe { bounded(&scope, ids, nids, crate::token::kms::blob::MAX_ENTRIES, Error::ArgumentsBad) }?
            .iter()
            // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
            // length bound, and the str is not kept past the call.
            .map(|i| unsafe { text(&scope, i.pId, i.ulIdLen) })
            .collect::<Result<_>>()?;
    // SAFETY: the caller's context pairs, readable for the call (PKCS#11); `context` bounds the count and
    // each part and copies them.
    let ctx = unsafe { context(cp, cn) }?;
    let store_ctx = flags & FHSM_FLAG_STORE_CONTEXT != 0;
    let without = plain_len.is_null();
    if without && !plain.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // Checked before it sizes anything (the blob length computed next).
    let key_len = usize::try_from(key_len).map_err(|_| Error::KeySizeRange)?;
    if key_len == 0 || key_len > crate::token::kms::MAX_DATA_KEY {
        return Err(Error::KeySizeRange);
    }
    let need_blob = crate::token::Kms::data_key_len(ids.len().max(1), key_len, &ctx, store_ctx)?;
    // SAFETY: `blob_len` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let blob_len = unsafe { out(&scope, blob_len) }?;
    // SAFETY: NULL allowed (WithoutPlaintext), else writable for the call; bounded by `scope`.
    let mut plain_len = unsafe { maybe_out(&scope, plain_len) };
    let short_blob = !blob.is_null() && (*blob_len as usize) < need_blob;
    let short_plain = plain_len.as_deref().is_some_and(|l| !plain.is_null() && (*l as usize) < key_len);
    let query = blob.is_null() || (plain.is_null() && plain_len.is_some());
    if query || short_blob || short_plain {
        *blob_len = need_blob as CK_ULONG;
        if let Some(l) = plain_len.as_deref_mut() {
            *l = key_len as CK_ULONG;
        }
        return if short_blob || short_plain { Err(Error::BufferTooSmall) } else { ok() };
    }
    let dk = m.kms().generate_data_key(h, &ids, key_len, &ctx, store_ctx, without)?;
    // SAFETY: the caller's output array and count pointer, valid for the call (PKCS#11); `write_array` checks
    // NULL and writes at most *count items.
    unsafe { write_array(blob, blob_len, &dk.blob) }?;
    if let (Some(l), Some(p)) = (plain_len, dk.plaintext.as_ref()) {
        // SAFETY: the caller's output array and count pointer, valid for the call (PKCS#11); `write_array`
        // checks NULL and writes at most *count items.
        unsafe { write_array(plain, l, p) }?;
    }
    ok()
}

#[allow(clippy::too_many_arguments)]
unsafe fn encrypt(
    h: H,
    id: P,
    idn: CK_ULONG,
    cp: *const CK_FHSM_CONTEXT_PAIR,
    cn: CK_ULONG,
    flags: CK_ULONG,
    d: P,
    dn: CK_ULONG,
    o: O,
    ol: L,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    let id = unsafe { text(&scope, id, idn) }?;
    // SAFETY: the caller's context pairs, readable for the call (PKCS#11); `context` bounds the count and
    // each part and copies them.
    let ctx = unsafe { context(cp, cn) }?;
    // SAFETY: the caller's input buffer and length, readable for the call (PKCS#11); `data` checks NULL and
    // the length bound first, and the slice is not kept past the call.
    let data = unsafe { data(&scope, d, dn, Error::DataLenRange) }?;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks NULL
    // and writes at most *len bytes.
    unsafe { emit(o, ol, |cap| m.kms().encrypt(h, id, &ctx, flags & FHSM_FLAG_STORE_CONTEXT != 0, data, cap)) }
}

unsafe fn decrypt(
    h: H,
    cp: *const CK_FHSM_CONTEXT_PAIR,
    cn: CK_ULONG,
    d: P,
    dn: CK_ULONG,
    o: O,
    ol: L,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's context pairs, readable for the call (PKCS#11); `context` bounds the count and
    // each part and copies them.
    let ctx = unsafe { context(cp, cn) }?;
    // SAFETY: the caller's input buffer and length, readable for the call (PKCS#11); `data` checks NULL and
    // the length bound first, and the slice is not kept past the call.
    let data = unsafe { data(&scope, d, dn, Error::EncryptedDataLenRange) }?;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks NULL
    // and writes at most *len bytes.
    unsafe { emit(o, ol, |cap| m.kms().decrypt(h, &ctx, data, cap)) }
}

#[allow(clippy::too_many_arguments)]
unsafe fn re_encrypt(
    h: H,
    d: P,
    dn: CK_ULONG,
    sp: *const CK_FHSM_CONTEXT_PAIR,
    sn: CK_ULONG,
    id: P,
    idn: CK_ULONG,
    dp: *const CK_FHSM_CONTEXT_PAIR,
    dcn: CK_ULONG,
    flags: CK_ULONG,
    o: O,
    ol: L,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's input buffer and length, readable for the call (PKCS#11); `data` checks NULL and
    // the length bound first, and the slice is not kept past the call.
    let data = unsafe { data(&scope, d, dn, Error::EncryptedDataLenRange) }?;
    // SAFETY: the caller's context pairs, readable for the call (PKCS#11); `context` bounds the count and
    // each part and copies them.
    let src = unsafe { context(sp, sn) }?;
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    let id = unsafe { text(&scope, id, idn) }?;
    // SAFETY: the caller's context pairs, readable for the call (PKCS#11); `context` bounds the count and
    // each part and copies them.
    let dst = unsafe { context(dp, dcn) }?;
    let store = flags & FHSM_FLAG_STORE_CONTEXT != 0;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); `emit` checks NULL
    // and writes at most *len bytes.
    unsafe { emit(o, ol, |cap| m.kms().re_encrypt(h, data, &src, id, &dst, store, cap)) }
}

unsafe fn rotate_key(h: H, id: P, n: CK_ULONG, version: L) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    let id = unsafe { text(&scope, id, n) }?;
    // SAFETY: NULL allowed (the caller does not want the version), else writable for the call; bounded by
    // `scope`.
    let version = unsafe { maybe_out(&scope, version) };
    let v = m.kms().rotate(h, id)?;
    if let Some(out) = version {
        *out = CK_ULONG::from(v);
    }
    ok()
}

unsafe fn set_key_rotation(h: H, id: P, n: CK_ULONG, days: CK_ULONG) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    module()?.kms().set_rotation(h, unsafe { text(&scope, id, n) }?, days)?;
    ok()
}

/// FHSM_EnableKey / FHSM_DisableKey.
///
/// # Safety
///
/// The pointer arguments are those of the calling entry point, with the
/// PKCS#11 contract of that function: each NULL or valid for the call.
unsafe fn set_enabled(h: H, id: P, n: CK_ULONG, enabled: bool) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    module()?.kms().set_enabled(h, unsafe { text(&scope, id, n) }?, enabled)?;
    ok()
}

unsafe fn schedule_deletion(h: H, id: P, n: CK_ULONG, days: CK_ULONG, when: L) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    let id = unsafe { text(&scope, id, n) }?;
    // SAFETY: NULL allowed, else writable for the call (PKCS#11); bounded by `scope`.
    let when = unsafe { maybe_out(&scope, when) };
    let t =
        m.kms().schedule_deletion(h, id, if days == 0 { crate::token::kms::DEFAULT_DELETION_DAYS } else { days })?;
    if let Some(w) = when {
        *w = t;
    }
    ok()
}

unsafe fn cancel_deletion(h: H, id: P, n: CK_ULONG) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    module()?.kms().cancel_deletion(h, unsafe { text(&scope, id, n) }?)?;
    ok()
}

unsafe fn purge_key(h: H, id: P, n: CK_ULONG) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    module()?.kms().purge(h, unsafe { text(&scope, id, n) }?)?;
    ok()
}

/// FHSM_CreateAlias / FHSM_UpdateAlias.
///
/// # Safety
///
/// The pointer arguments are those of the calling entry point, with the
/// PKCS#11 contract of that function: each NULL or valid for the call.
unsafe fn alias(h: H, a: P, an: CK_ULONG, id: P, n: CK_ULONG, update: bool) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    let (a, id) = (unsafe { text(&scope, a, an) }?, unsafe { text(&scope, id, n) }?);
    if update {
        m.kms().update_alias(h, a, id)?;
    } else {
        m.kms().create_alias(h, a, id)?;
    }
    ok()
}

unsafe fn delete_alias(h: H, a: P, an: CK_ULONG) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    module()?.kms().delete_alias(h, unsafe { text(&scope, a, an) }?)?;
    ok()
}

unsafe fn list_aliases(h: H, o: O, ol: L) -> Result<CK_RV> {
    let list = module()?.kms().aliases(h)?;
    let v: Vec<serde_json::Value> =
        list.into_iter().map(|(n, t)| serde_json::json!({ "AliasName": n, "TargetKeyId": t })).collect();
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); checked as in
    // `write_array`.
    unsafe { json_out(o, ol, &serde_json::Value::Array(v)) }
}

unsafe fn describe_key(h: H, id: P, n: CK_ULONG, o: O, ol: L) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    let v = m.kms().describe(h, unsafe { text(&scope, id, n) }?)?;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); checked as in
    // `write_array`.
    unsafe { json_out(o, ol, &v) }
}

unsafe fn list_keys(h: H, o: O, ol: L) -> Result<CK_RV> {
    let v = module()?.kms().list(h)?;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); checked as in
    // `write_array`.
    unsafe { json_out(o, ol, &serde_json::Value::Array(v)) }
}

unsafe fn audit_verify(h: H, records: L) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    m.session(h)?;
    // SAFETY: NULL allowed, else writable for the call (PKCS#11); bounded by `scope`.
    let records = unsafe { maybe_out(&scope, records) };
    let s = m.audit().verify()?;
    if let Some(r) = records {
        *r = s.records as CK_ULONG;
    }
    ok()
}

unsafe fn audit_read(h: H, since: CK_ULONG, id: P, n: CK_ULONG, o: O, ol: L) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    m.session(h)?;
    // SAFETY: the caller's string and length, readable for the call (PKCS#11); `text` checks NULL and the
    // length bound, and the str is not kept past the call.
    let key = if id.is_null() && n == 0 { None } else { Some(unsafe { text(&scope, id, n) }?) };
    let v = m.audit().records(since, key)?;
    // SAFETY: the caller's output buffer and length pointer, valid for the call (PKCS#11); checked as in
    // `write_array`.
    unsafe { json_out(o, ol, &serde_json::Value::Array(v)) }
}

unsafe fn flush_audit(h: H) -> Result<CK_RV> {
    let m = module()?;
    m.session(h)?;
    m.audit().flush()?;
    ok()
}

unsafe fn enable_key(h: H, id: P, n: CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; `set_enabled` has the same
    // contract.
    unsafe { set_enabled(h, id, n, true) }
}

unsafe fn disable_key(h: H, id: P, n: CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; `set_enabled` has the same
    // contract.
    unsafe { set_enabled(h, id, n, false) }
}

unsafe fn create_alias(h: H, a: P, an: CK_ULONG, id: P, n: CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; `alias` has the same contract.
    unsafe { alias(h, a, an, id, n, false) }
}

unsafe fn update_alias(h: H, a: P, an: CK_ULONG, id: P, n: CK_ULONG) -> Result<CK_RV> {
    // SAFETY: this entry point's own pointer arguments, passed on unchanged; `alias` has the same contract.
    unsafe { alias(h, a, an, id, n, true) }
}

exports! {
    FHSM_CreateKey(h: H, t: *mut CK_ATTRIBUTE, n: CK_ULONG, id: O, idl: L) => create_key;
    FHSM_GenerateDataKey(h: H, ids: *const CK_FHSM_KEY_ID, nids: CK_ULONG, key_len: CK_ULONG, cp: *const CK_FHSM_CONTEXT_PAIR, cn: CK_ULONG, flags: CK_ULONG, plain: O, plain_len: L, blob: O, blob_len: L) => generate_data_key;
    FHSM_Encrypt(h: H, id: P, idn: CK_ULONG, cp: *const CK_FHSM_CONTEXT_PAIR, cn: CK_ULONG, flags: CK_ULONG, d: P, dn: CK_ULONG, o: O, ol: L) => encrypt;
    FHSM_Decrypt(h: H, cp: *const CK_FHSM_CONTEXT_PAIR, cn: CK_ULONG, d: P, dn: CK_ULONG, o: O, ol: L) => decrypt;
    FHSM_ReEncrypt(h: H, d: P, dn: CK_ULONG, sp: *const CK_FHSM_CONTEXT_PAIR, sn: CK_ULONG, id: P, idn: CK_ULONG, dp: *const CK_FHSM_CONTEXT_PAIR, dcn: CK_ULONG, flags: CK_ULONG, o: O, ol: L) => re_encrypt;
    FHSM_RotateKey(h: H, id: P, n: CK_ULONG, v: L) => rotate_key;
    FHSM_SetKeyRotation(h: H, id: P, n: CK_ULONG, days: CK_ULONG) => set_key_rotation;
    FHSM_EnableKey(h: H, id: P, n: CK_ULONG) => enable_key;
    FHSM_DisableKey(h: H, id: P, n: CK_ULONG) => disable_key;
    FHSM_ScheduleKeyDeletion(h: H, id: P, n: CK_ULONG, days: CK_ULONG, when: L) => schedule_deletion;
    FHSM_CancelKeyDeletion(h: H, id: P, n: CK_ULONG) => cancel_deletion;
    FHSM_PurgeKey(h: H, id: P, n: CK_ULONG) => purge_key;
    FHSM_CreateAlias(h: H, a: P, an: CK_ULONG, id: P, n: CK_ULONG) => create_alias;
    FHSM_UpdateAlias(h: H, a: P, an: CK_ULONG, id: P, n: CK_ULONG) => update_alias;
    FHSM_DeleteAlias(h: H, a: P, an: CK_ULONG) => delete_alias;
    FHSM_ListAliases(h: H, o: O, ol: L) => list_aliases;
    FHSM_DescribeKey(h: H, id: P, n: CK_ULONG, o: O, ol: L) => describe_key;
    FHSM_ListKeys(h: H, o: O, ol: L) => list_keys;
    FHSM_AuditVerify(h: H, records: L) => audit_verify;
    FHSM_AuditRead(h: H, since: CK_ULONG, id: P, n: CK_ULONG, o: O, ol: L) => audit_read;
    FHSM_FlushAudit(h: H) => flush_audit;
}
