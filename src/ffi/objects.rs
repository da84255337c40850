//! Objects, attributes, find, key generation and random numbers.

use cryptoki_sys as ck;
use cryptoki_sys::{CK_ATTRIBUTE, CK_BYTE, CK_MECHANISM, CK_OBJECT_HANDLE, CK_RV, CK_SESSION_HANDLE, CK_ULONG};

use super::decode::{attributes, bounded, mechanism, out, slice_mut, template, Scope};
use super::{exports, module, ok};
use crate::error::{Error, Result};
use crate::model::mechanism::bound;
use crate::model::Value;
use crate::token::objects::AttrOut;

unsafe fn create_object(
    h: CK_SESSION_HANDLE,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
    ph: *mut CK_OBJECT_HANDLE,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let tmpl = unsafe { template(tmpl, n) }?;
    // SAFETY: `ph` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    let ph = unsafe { out(&scope, ph) }?;
    *ph = m.objects().create_object(h, &tmpl)?;
    ok()
}

unsafe fn copy_object(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
    ph: *mut CK_OBJECT_HANDLE,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let tmpl = unsafe { template(tmpl, n) }?;
    // SAFETY: `ph` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    let ph = unsafe { out(&scope, ph) }?;
    *ph = m.objects().copy_object(h, obj, &tmpl)?;
    ok()
}

unsafe fn destroy_object(h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<CK_RV> {
    module()?.objects().destroy_object(h, obj)?;
    ok()
}

unsafe fn get_object_size(h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, size: *mut CK_ULONG) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: `size` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let size = unsafe { out(&scope, size) }?;
    *size = m.objects().object_size(h, obj)?;
    ok()
}

/// Outcome of writing one attribute, for choosing the overall code.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Outcome {
    Ok,
    TooSmall,
    TypeInvalid,
    Sensitive,
}

/// Writes one value with the length protocol; nested templates recurse.
///
/// # Safety
///
/// `dst.pValue` is NULL or valid for writes of `dst.ulValueLen` bytes (for
/// a template value: an array of that many bytes' worth of `CK_ATTRIBUTE`s
/// whose own buffers are likewise valid), for the call.
unsafe fn write_value(dst: &mut CK_ATTRIBUTE, v: &Value) -> Outcome {
    let needed = v.c_len() as CK_ULONG;
    if dst.pValue.is_null() {
        dst.ulValueLen = needed;
        return Outcome::Ok;
    }
    if dst.ulValueLen < needed {
        dst.ulValueLen = ck::CK_UNAVAILABLE_INFORMATION;
        return Outcome::TooSmall;
    }
    let mut worst = Outcome::Ok;
    match v {
        Value::Template(t) => {
            let scope = Scope::enter();
            // SAFETY: the caller gave room for `needed` bytes, i.e. t.len()
            // CK_ATTRIBUTEs (non-NULL, checked above), whose pValue they set.
            let Ok(inner) = (unsafe { slice_mut(&scope, dst.pValue as *mut CK_ATTRIBUTE, t.len()) }) else {
                dst.ulValueLen = ck::CK_UNAVAILABLE_INFORMATION;
                return Outcome::TooSmall;
            };
            for (d, a) in inner.iter_mut().zip(t.iter()) {
                d.type_ = a.atype;
                // SAFETY: `dst` is an entry of the caller's template, whose pValue/ulValueLen describe a
                // buffer writable for the call (PKCS#11); `write_value` checks NULL and the length before
                // writing.
                worst = worst.max(unsafe { write_value(d, &a.value) });
            }
        }
        _ => {
            let bytes = v.to_c();
            // SAFETY: pValue has room for ulValueLen >= needed bytes.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.pValue as *mut u8, bytes.len()) };
        }
    }
    dst.ulValueLen = needed;
    worst
}

unsafe fn get_attribute_value(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    if tmpl.is_null() && n > 0 {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `attributes` bounds the count and
    // the types are copied out at once.
    let types: Vec<_> = unsafe { attributes(&scope, tmpl, n) }?.iter().map(|a| a.type_).collect();
    let answers = m.objects().get_attributes(h, obj, &types)?;
    // SAFETY: `tmpl` has `n` >= answers.len() elements (checked by `attributes` above, whose borrow has
    // ended), writable for the call (PKCS#11).
    let dsts = unsafe { slice_mut(&scope, tmpl, answers.len()) }?;
    let mut worst = Outcome::Ok;
    for (dst, ans) in dsts.iter_mut().zip(answers.iter()) {
        let o = match ans {
            // SAFETY: `dst` is an entry of the caller's template, whose pValue/ulValueLen describe a buffer
            // writable for the call (PKCS#11); `write_value` checks NULL and the length before writing.
            AttrOut::Value(v) => unsafe { write_value(dst, v) },
            AttrOut::Sensitive => {
                dst.ulValueLen = ck::CK_UNAVAILABLE_INFORMATION;
                Outcome::Sensitive
            }
            AttrOut::Invalid => {
                dst.ulValueLen = ck::CK_UNAVAILABLE_INFORMATION;
                Outcome::TypeInvalid
            }
        };
        worst = worst.max(o);
    }
    Ok(match worst {
        Outcome::Ok => ck::CKR_OK,
        Outcome::TooSmall => ck::CKR_BUFFER_TOO_SMALL,
        Outcome::TypeInvalid => ck::CKR_ATTRIBUTE_TYPE_INVALID,
        Outcome::Sensitive => ck::CKR_ATTRIBUTE_SENSITIVE,
    })
}

unsafe fn set_attribute_value(
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
) -> Result<CK_RV> {
    let m = module()?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let tmpl = unsafe { template(tmpl, n) }?;
    m.objects().set_attributes(h, obj, &tmpl)?;
    ok()
}

unsafe fn find_objects_init(h: CK_SESSION_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG) -> Result<CK_RV> {
    let m = module()?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let tmpl = unsafe { template(tmpl, n) }?;
    m.objects().find_init(h, &tmpl)?;
    ok()
}

unsafe fn find_objects(
    h: CK_SESSION_HANDLE,
    ph: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    count: *mut CK_ULONG,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    if ph.is_null() && max > 0 {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: `count` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let count = unsafe { out(&scope, count) }?;
    let found = m.objects().find_next(h, usize::try_from(max).unwrap_or(usize::MAX))?;
    if !found.is_empty() {
        // SAFETY: non-NULL (checked above, as max > 0) with room for
        // `max` >= found.len() handles.
        unsafe { std::ptr::copy_nonoverlapping(found.as_ptr(), ph, found.len()) };
    }
    *count = found.len() as CK_ULONG;
    ok()
}

unsafe fn find_objects_final(h: CK_SESSION_HANDLE) -> Result<CK_RV> {
    module()?.objects().find_final(h)?;
    ok()
}

#[allow(clippy::too_many_arguments)]
unsafe fn generate_key_pair(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    pub_t: *mut CK_ATTRIBUTE,
    pub_n: CK_ULONG,
    priv_t: *mut CK_ATTRIBUTE,
    priv_n: CK_ULONG,
    ph_pub: *mut CK_OBJECT_HANDLE,
    ph_priv: *mut CK_OBJECT_HANDLE,
) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: the caller's CK_MECHANISM, NULL or readable for the call (PKCS#11); `mechanism` checks NULL and
    // copies it and its parameter.
    let mech = unsafe { mechanism(mech) }?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let pub_t = unsafe { template(pub_t, pub_n) }?;
    // SAFETY: the caller's template array, readable for the call (PKCS#11); `template` bounds the count and
    // every length and copies all of it.
    let priv_t = unsafe { template(priv_t, priv_n) }?;
    // SAFETY: `ph_pub` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let ph_pub = unsafe { out(&scope, ph_pub) }?;
    // SAFETY: `ph_priv` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11
    // makes it writable for the call, and the reference is dropped before the call returns.
    let ph_priv = unsafe { out(&scope, ph_priv) }?;
    (*ph_pub, *ph_priv) = m.sessions().generate_key_pair(h, &mech, &pub_t, &priv_t)?;
    ok()
}

unsafe fn generate_key(
    h: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    tmpl: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
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
    // SAFETY: `ph` is an out-pointer argument of this call: NULL is refused by `out`, otherwise PKCS#11 makes
    // it writable for the call, and the reference is dropped before the call returns.
    let ph = unsafe { out(&scope, ph) }?;
    *ph = m.sessions().generate_key(h, &mech, &tmpl)?;
    ok()
}

unsafe fn generate_random(h: CK_SESSION_HANDLE, p: *mut CK_BYTE, len: CK_ULONG) -> Result<CK_RV> {
    let m = module()?;
    if len == 0 {
        m.session(h)?;
        return ok();
    }
    // No error code names a length range here; beyond one call's data
    // bound the request is refused rather than spent minutes on.
    if p.is_null() || len > bound::DATA as CK_ULONG {
        return Err(Error::ArgumentsBad);
    }
    let len = usize::try_from(len).map_err(|_| Error::ArgumentsBad)?;
    let scope = Scope::enter();
    // SAFETY: the caller's output buffer of `len` bytes, writable for the call (PKCS#11); `slice_mut` checks
    // NULL, and the slice ends with `scope`.
    let buf = unsafe { slice_mut(&scope, p, len) }?;
    m.sessions().generate_random(h, buf)?;
    ok()
}

unsafe fn seed_random(h: CK_SESSION_HANDLE, p: *mut CK_BYTE, len: CK_ULONG) -> Result<CK_RV> {
    let scope = Scope::enter();
    let m = module()?;
    // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the call
    // (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past the
    // call.
    let seed = unsafe { bounded(&scope, p, len, bound::DATA, Error::ArgumentsBad) }?;
    m.sessions().seed_random(h, seed)?;
    ok()
}

exports! {
    C_CreateObject(h: CK_SESSION_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG, ph: *mut CK_OBJECT_HANDLE) => create_object;
    C_CopyObject(h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG, ph: *mut CK_OBJECT_HANDLE) => copy_object;
    C_DestroyObject(h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) => destroy_object;
    C_GetObjectSize(h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, size: *mut CK_ULONG) => get_object_size;
    C_GetAttributeValue(h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG) => get_attribute_value;
    C_SetAttributeValue(h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG) => set_attribute_value;
    C_FindObjectsInit(h: CK_SESSION_HANDLE, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG) => find_objects_init;
    C_FindObjects(h: CK_SESSION_HANDLE, ph: *mut CK_OBJECT_HANDLE, max: CK_ULONG, count: *mut CK_ULONG) => find_objects;
    C_FindObjectsFinal(h: CK_SESSION_HANDLE) => find_objects_final;
    C_GenerateKey(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, tmpl: *mut CK_ATTRIBUTE, n: CK_ULONG, ph: *mut CK_OBJECT_HANDLE) => generate_key;
    C_GenerateKeyPair(h: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, pub_t: *mut CK_ATTRIBUTE, pub_n: CK_ULONG, priv_t: *mut CK_ATTRIBUTE, priv_n: CK_ULONG, ph_pub: *mut CK_OBJECT_HANDLE, ph_priv: *mut CK_OBJECT_HANDLE) => generate_key_pair;
    C_GenerateRandom(h: CK_SESSION_HANDLE, p: *mut CK_BYTE, len: CK_ULONG) => generate_random;
    C_SeedRandom(h: CK_SESSION_HANDLE, p: *mut CK_BYTE, len: CK_ULONG) => seed_random;
}
