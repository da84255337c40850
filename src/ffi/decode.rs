//! Pointer + length → owned Rust values, and the output-buffer protocols.
//! Every raw pointer is read here, once.

use std::marker::PhantomData;

use cryptoki_sys as ck;
use cryptoki_sys::{CK_ATTRIBUTE, CK_MECHANISM, CK_OBJECT_HANDLE, CK_RV, CK_ULONG};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::mechanism::bound;
use crate::model::{policy, Attribute, HkdfSalt, Kdf108Mode, Kind, Mechanism, Oaep, Param, PrfData, Template, Value};

/// The frame of one C call's implementation, as a value. Every borrow of
/// caller memory the decoders hand out is tied to a `&'a Scope`, so it
/// lives no longer than the `Scope` it came from; a `Scope` is made as a
/// local (`Scope::enter`) by the function that reads the caller's pointers,
/// and is not `Clone`, `Send` or `Sync` (it cannot be copied out, moved to
/// another thread or put in a static). A decoded slice therefore ends when
/// that function returns: within the C call, as PKCS#11 requires.
pub struct Scope(PhantomData<*const ()>);

impl Scope {
    /// A scope for the borrows of the function that makes it.
    pub fn enter() -> Scope {
        Scope(PhantomData)
    }
}

/// A borrowed slice from a C pointer and count, living as long as `scope`.
/// NULL with a nonzero count is CKR_ARGUMENTS_BAD; NULL with zero is the
/// empty slice. Nothing is read here; callers that copy or loop use
/// `bounded` instead.
///
/// # Safety
///
/// `p` is NULL or points to `n` initialised, readable `T`s that nothing
/// writes while `scope` lives (what PKCS#11 promises for an input array
/// during the call, since a `Scope` ends before its function returns).
pub unsafe fn slice<T>(scope: &Scope, p: *const T, n: CK_ULONG) -> Result<&[T]> {
    let _ = scope;
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let n = usize::try_from(n).map_err(|_| Error::ArgumentsBad)?;
    // No object is larger than isize::MAX bytes: such a count is a lie.
    if n.checked_mul(std::mem::size_of::<T>()).is_none_or(|b| b > isize::MAX as usize) {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL, and the caller promises `n` readable elements for
    // as long as `scope` lives, which bounds the returned lifetime.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// A caller's output array of `n` elements, writable as long as `scope`
/// lives. NULL with a nonzero count, or a count beyond what memory can
/// hold, is CKR_ARGUMENTS_BAD; zero is the empty slice.
///
/// # Safety
///
/// `p` is NULL or valid for reads and writes of `n` `T`s that nothing else
/// accesses while `scope` lives (an output argument of the PKCS#11 call).
#[allow(clippy::mut_from_ref)] // the `&mut` is the caller's memory; `scope` only bounds its life
pub unsafe fn slice_mut<T>(scope: &Scope, p: *mut T, n: usize) -> Result<&mut [T]> {
    let _ = scope;
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() || n.checked_mul(std::mem::size_of::<T>()).is_none_or(|b| b > isize::MAX as usize) {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL, and the caller promises `n` writable elements no one
    // else touches for as long as `scope` lives, which bounds the lifetime.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// `slice`, refusing with `err` a count above `max` before anything else.
///
/// # Safety
///
/// As `slice` (for `n` elements, even if `max` is larger).
pub unsafe fn bounded<T>(scope: &Scope, p: *const T, n: CK_ULONG, max: usize, err: Error) -> Result<&[T]> {
    if n > max as CK_ULONG {
        return Err(err);
    }
    // SAFETY: this function's contract is `slice`'s.
    unsafe { slice(scope, p, n) }
}

/// A PIN (or other secret byte string) copied into zeroizing memory; one
/// longer than `max` is refused with `err` before it is copied.
///
/// # Safety
///
/// `p` is NULL or points to `n` readable bytes for the call (as `slice`).
pub unsafe fn secret(p: *const u8, n: CK_ULONG, max: usize, err: Error) -> Result<Zeroizing<Vec<u8>>> {
    let scope = Scope::enter();
    // SAFETY: this function's contract is `slice`'s; the bytes are copied at
    // once, so no borrow leaves this function (nor could: `scope` is local).
    Ok(Zeroizing::new(unsafe { bounded(&scope, p, n, max, err) }?.to_vec()))
}

/// Input data of one call (C_Encrypt, C_SignUpdate, ...): beyond
/// `bound::DATA` (`bound::ENCRYPTED` for encrypted input) it is refused
/// with `err` before it is read.
///
/// # Safety
///
/// As `slice`: `p` is NULL or points to `n` bytes readable while `scope`
/// lives.
pub unsafe fn data(scope: &Scope, p: *const u8, n: CK_ULONG, err: Error) -> Result<&[u8]> {
    let max = if err == Error::EncryptedDataLenRange { bound::ENCRYPTED } else { bound::DATA };
    // SAFETY: this function's contract is `slice`'s.
    unsafe { bounded(scope, p, n, max, err) }
}

/// A caller's template array, its count checked against the most entries
/// a template can meaningfully hold (CKR_ARGUMENTS_BAD: every function
/// taking a template lists it, and nothing in the template has been read,
/// so no attribute can be blamed).
///
/// # Safety
///
/// As `slice`: `p` is NULL or points to `n` `CK_ATTRIBUTE`s readable while
/// `scope` lives.
pub unsafe fn attributes(scope: &Scope, p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<&[CK_ATTRIBUTE]> {
    // SAFETY: this function's contract is `slice`'s.
    unsafe { bounded(scope, p, n, policy::max_template_len(), Error::ArgumentsBad) }
}

/// A required out-pointer: NULL is CKR_ARGUMENTS_BAD.
///
/// # Safety
///
/// `p` is NULL or points to a `T` valid for writes (and reads) that nothing
/// else accesses while `scope` lives: an out-argument of the PKCS#11 call.
#[allow(clippy::mut_from_ref)] // the `&mut` is the caller's memory; `scope` only bounds its life
pub unsafe fn out<T>(scope: &Scope, p: *mut T) -> Result<&mut T> {
    // SAFETY: this function's contract is `maybe_out`'s.
    unsafe { maybe_out(scope, p) }.ok_or(Error::ArgumentsBad)
}

/// An optional out-pointer (NULL: the caller does not want the value).
///
/// # Safety
///
/// As `out`.
#[allow(clippy::mut_from_ref)] // the `&mut` is the caller's memory; `scope` only bounds its life
pub unsafe fn maybe_out<T>(scope: &Scope, p: *mut T) -> Option<&mut T> {
    let _ = scope;
    // SAFETY: NULL is checked by `as_mut`; the caller promises a writable
    // `T` no one else touches while `scope` lives, which bounds the lifetime.
    unsafe { p.as_mut() }
}

/// An optional input struct (NULL: none).
///
/// # Safety
///
/// `p` is NULL or points to a readable, aligned `T` that nothing writes
/// while `scope` lives.
pub unsafe fn maybe_ref<T>(scope: &Scope, p: *const T) -> Option<&T> {
    let _ = scope;
    // SAFETY: NULL is checked by `as_ref`; the caller promises a readable
    // `T` for as long as `scope` lives, which bounds the lifetime.
    unsafe { p.as_ref() }
}

const MAX_NESTING: usize = 2;

/// A caller's template, typed by the policy table, copied into owned values.
///
/// # Safety
///
/// `p` is NULL or points to `n` readable `CK_ATTRIBUTE`s, each of whose
/// `pValue` is NULL or points to `ulValueLen` readable bytes (for a
/// template-valued attribute: a nested array of that many bytes' worth of
/// `CK_ATTRIBUTE`s, recursively), all valid for the call.
pub unsafe fn template(p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<Template> {
    // SAFETY: this function's contract, passed on.
    unsafe { template_at(p, n, 0) }
}

/// `template` at nesting `depth`.
///
/// # Safety
///
/// As `template`.
unsafe fn template_at(p: *const CK_ATTRIBUTE, n: CK_ULONG, depth: usize) -> Result<Template> {
    let scope = Scope::enter();
    // SAFETY: this function's contract: `n` readable attributes at `p`.
    let attrs = unsafe { attributes(&scope, p, n) }?;
    let mut out = Vec::with_capacity(attrs.len());
    for a in attrs {
        let kind = policy::kind_of(a.type_);
        // The length is checked against what the type can hold before the
        // value is touched; an unknown type is reported as such.
        if a.ulValueLen > policy::max_len(a.type_) as CK_ULONG {
            return Err(match policy::rule(a.type_) {
                Some(_) => Error::AttributeValueInvalid,
                None => Error::AttributeTypeInvalid,
            });
        }
        let value = if kind == Kind::Template {
            let size = std::mem::size_of::<CK_ATTRIBUTE>() as CK_ULONG;
            if depth >= MAX_NESTING || a.ulValueLen % size != 0 {
                return Err(Error::AttributeValueInvalid);
            }
            // SAFETY: a nested template: pValue/ulValueLen of an entry of the caller's template, readable for
            // the call; depth and count are bounded.
            let inner = unsafe { template_at(a.pValue as *const CK_ATTRIBUTE, a.ulValueLen / size, depth + 1) }?;
            Value::Template(inner.0)
        } else {
            // SAFETY: pointer and count are this call's arguments, readable for the call (PKCS#11); NULL is
            // checked, and the slice is not kept past the call.
            let raw = unsafe { slice(&scope, a.pValue as *const u8, a.ulValueLen) }?;
            Value::from_c(kind, raw)?
        };
        out.push(Attribute::new(a.type_, value));
    }
    Ok(Template::new(out))
}

/// A mechanism and its parameter, copied. Parameters holding pointers are
/// decoded per mechanism; a bad pointer inside one is
/// CKR_MECHANISM_PARAM_INVALID.
///
/// # Safety
///
/// `p` is NULL or points to a readable `CK_MECHANISM` whose `pParameter` is
/// NULL or points to `ulParameterLen` readable bytes holding the parameter
/// the mechanism type defines (with any pointers inside it likewise valid),
/// all for the duration of the call. Everything is copied before returning.
pub unsafe fn mechanism(p: *const CK_MECHANISM) -> Result<Mechanism> {
    let scope = Scope::enter();
    // SAFETY: this function's contract: NULL or a readable mechanism.
    let m = unsafe { maybe_ref(&scope, p) }.ok_or(Error::ArgumentsBad)?;
    let param = match m.mechanism {
        // SAFETY: `m` is the caller's mechanism, readable for the call; the decoder checks NULL and the
        // parameter size.
        ck::CKM_AES_GCM => unsafe { gcm_params(m) }?,
        // SAFETY: `m` is the caller's mechanism, readable for the call; the decoder checks NULL and the
        // parameter size.
        ck::CKM_AES_CCM | ck::CKM_CHACHA20_POLY1305 => unsafe { aead_params(m) }?,
        // SAFETY: `m` is the caller's mechanism, readable for the call; the decoder checks NULL and the
        // parameter size.
        ck::CKM_HKDF_DERIVE | ck::CKM_HKDF_DATA => unsafe { hkdf_params(m) }?,
        ck::CKM_SP800_108_COUNTER_KDF | ck::CKM_SP800_108_FEEDBACK_KDF | ck::CKM_SP800_108_DOUBLE_PIPELINE_KDF => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; the decoder checks NULL and the
            // parameter size.
            unsafe { kdf108_params(m) }?
        }
        ck::CKM_RSA_PKCS_PSS
        | ck::CKM_SHA1_RSA_PKCS_PSS
        | ck::CKM_SHA224_RSA_PKCS_PSS
        | ck::CKM_SHA256_RSA_PKCS_PSS
        | ck::CKM_SHA384_RSA_PKCS_PSS
        | ck::CKM_SHA512_RSA_PKCS_PSS => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let p: &ck::CK_RSA_PKCS_PSS_PARAMS = unsafe { param_struct(m) }?;
            Param::Pss { hash: p.hashAlg, mgf: p.mgf, salt_len: p.sLen }
        }
        ck::CKM_RSA_PKCS_OAEP => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let p: &ck::CK_RSA_PKCS_OAEP_PARAMS = unsafe { param_struct(m) }?;
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            Param::Oaep(unsafe { oaep(p) }?)
        }
        ck::CKM_RSA_AES_KEY_WRAP => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let p: &ck::CK_RSA_AES_KEY_WRAP_PARAMS = unsafe { param_struct(m) }?;
            // SAFETY: NULL is checked by `maybe_ref`; the caller promises a valid struct for the call.
            let o = unsafe { maybe_ref(&scope, p.pOAEPParams as *const ck::CK_RSA_PKCS_OAEP_PARAMS) }
                .ok_or(Error::MechanismParamInvalid)?;
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            Param::RsaAesWrap { aes_bits: p.ulAESKeyBits, oaep: unsafe { oaep(o) }? }
        }
        ck::CKM_ECDH1_DERIVE | ck::CKM_ECDH1_COFACTOR_DERIVE => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let p: &ck::CK_ECDH1_DERIVE_PARAMS = unsafe { param_struct(m) }?;
            Param::Ecdh {
                kdf: p.kdf,
                // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
                // checked against NULL and the bound, then copied.
                shared: unsafe { param_bytes(p.pSharedData, p.ulSharedDataLen) }?,
                // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
                // checked against NULL and the bound, then copied.
                public: unsafe { param_bytes(p.pPublicData, p.ulPublicDataLen) }?,
            }
        }
        ck::CKM_EDDSA if !m.pParameter.is_null() => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let p: &ck::CK_EDDSA_PARAMS = unsafe { param_struct(m) }?;
            Param::Eddsa {
                prehash: p.phFlag != 0,
                // SAFETY: pointer and length from the caller's parameter struct, readable for the call;
                // checked against NULL and RFC 8032's 255-byte bound, then copied.
                context: unsafe { param_bytes_max(p.pContextData, p.ulContextDataLen, 255) }?,
            }
        }
        ck::CKM_ML_DSA if !m.pParameter.is_null() => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let p: &ck::CK_SIGN_ADDITIONAL_CONTEXT = unsafe { param_struct(m) }?;
            // FIPS 204 caps the context at 255 bytes: longer is refused
            // before anything is copied.
            if p.ulContextLen > 255 {
                return Err(Error::MechanismParamInvalid);
            }
            Param::SignContext {
                hedge: p.hedgeVariant,
                // SAFETY: pointer and length from the caller's parameter struct, readable for the call;
                // checked against NULL and the bound, then copied.
                context: unsafe { param_bytes(p.pContext, p.ulContextLen) }?,
            }
        }
        ck::CKM_AES_ECB_ENCRYPT_DATA
        | ck::CKM_DES_ECB_ENCRYPT_DATA
        | ck::CKM_DES3_ECB_ENCRYPT_DATA
        | ck::CKM_CONCATENATE_BASE_AND_DATA
        | ck::CKM_CONCATENATE_DATA_AND_BASE
        | ck::CKM_XOR_BASE_AND_DATA => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let d: &ck::CK_KEY_DERIVATION_STRING_DATA = unsafe { param_struct(m) }?;
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            Param::DataString(Zeroizing::new(unsafe { param_bytes(d.pData, d.ulLen) }?))
        }
        crate::vendor::CKM_FHSM_KMS_WRAP if m.pParameter.is_null() && m.ulParameterLen == 0 => Param::None,
        crate::vendor::CKM_FHSM_KMS_WRAP => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let p: &CK_FHSM_KMS_WRAP_PARAMS = unsafe { param_struct(m) }?;
            Param::KmsContext(
                // SAFETY: pointer and count from the caller's parameter struct,
                // readable for the call; `context` bounds and copies them.
                unsafe { context(p.pContext, p.ulContextCount) }.map_err(|_| Error::MechanismParamInvalid)?,
            )
        }
        ck::CKM_AES_CBC_ENCRYPT_DATA => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let d: &ck::CK_AES_CBC_ENCRYPT_DATA_PARAMS = unsafe { param_struct(m) }?;
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            Param::CbcData { iv: d.iv, data: Zeroizing::new(unsafe { param_bytes(d.pData, d.length) }?) }
        }
        ck::CKM_DES_CBC_ENCRYPT_DATA | ck::CKM_DES3_CBC_ENCRYPT_DATA => {
            // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and
            // that the parameter has T's exact size.
            let d: &ck::CK_DES_CBC_ENCRYPT_DATA_PARAMS = unsafe { param_struct(m) }?;
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            Param::DesCbcData { iv: d.iv, data: Zeroizing::new(unsafe { param_bytes(d.pData, d.length) }?) }
        }
        _ => {
            // SAFETY: the parameter pointer and length of the caller's
            // mechanism, readable for the call; NULL and the bound are checked
            // and the bytes are copied below.
            let raw = unsafe {
                bounded(&scope, m.pParameter as *const u8, m.ulParameterLen, bound::PARAM_BYTES, Error::ArgumentsBad)
            }
            .map_err(|_| Error::MechanismParamInvalid)?;
            if raw.is_empty() {
                Param::None
            } else {
                Param::Bytes(Zeroizing::new(raw.to_vec()))
            }
        }
    };
    Ok(Mechanism { mtype: m.mechanism, param })
}

/// OAEP parameters, label copied.
///
/// # Safety
///
/// `p.pSourceData` is NULL or points to `p.ulSourceDataLen` readable bytes
/// for the duration of the call (it comes from the caller's mechanism).
unsafe fn oaep(p: &ck::CK_RSA_PKCS_OAEP_PARAMS) -> Result<Oaep> {
    // SAFETY: the label pointer and length of the caller's parameter, as this
    // function's contract requires; checked and copied by `param_bytes`.
    let label = unsafe { param_bytes(p.pSourceData as *const u8, p.ulSourceDataLen) }?;
    // The only source the spec defines; 0 is tolerated with no label.
    if !(p.source == ck::CKZ_DATA_SPECIFIED || (p.source == 0 && label.is_empty())) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Oaep { hash: p.hashAlg, mgf: p.mgf, label })
}

/// The 2.40 header's CK_GCM_PARAMS, without ulIvBits.
#[repr(C)]
struct GcmParams240 {
    p_iv: *const u8,
    ul_iv_len: CK_ULONG,
    p_aad: *const u8,
    ul_aad_len: CK_ULONG,
    ul_tag_bits: CK_ULONG,
}

/// A byte string inside a parameter, at most `bound::PARAM_BYTES`, copied.
///
/// # Safety
///
/// As `param_bytes_max`.
unsafe fn param_bytes(p: *const u8, n: CK_ULONG) -> Result<Vec<u8>> {
    // SAFETY: this function's own contract, passed on.
    unsafe { param_bytes_max(p, n, bound::PARAM_BYTES) }
}

/// A byte string inside a parameter, refused (CKR_MECHANISM_PARAM_INVALID)
/// beyond `max` before it is copied.
///
/// # Safety
///
/// `p` is NULL or points to `n` readable bytes for the duration of the call
/// (a pointer and length from the caller's mechanism parameter). Only `max`
/// or fewer bytes are read, and nothing borrowed outlives this function.
unsafe fn param_bytes_max(p: *const u8, n: CK_ULONG, max: usize) -> Result<Vec<u8>> {
    let scope = Scope::enter();
    // SAFETY: this function's contract; `bounded` checks NULL and the bound,
    // and the bytes are copied before it returns.
    unsafe { bounded(&scope, p, n, max, Error::MechanismParamInvalid) }
        .map(<[u8]>::to_vec)
        .map_err(|_| Error::MechanismParamInvalid)
}

/// The mechanism parameter as a `T`, if it is exactly that size.
///
/// # Safety
///
/// `m.pParameter`, if non-NULL and of `T`'s size, points to a readable,
/// suitably aligned `T` (the parameter the mechanism type defines) that
/// lives as long as `m` is borrowed.
unsafe fn param_struct<T>(m: &CK_MECHANISM) -> Result<&T> {
    if m.pParameter.is_null() || m.ulParameterLen as usize != std::mem::size_of::<T>() {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL and of T's size; the caller promises a valid T.
    Ok(unsafe { &*(m.pParameter as *const T) })
}

/// CK_HKDF_PARAMS, copied.
///
/// # Safety
///
/// As `mechanism`, for `m`.
unsafe fn hkdf_params(m: &CK_MECHANISM) -> Result<Param> {
    // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and that the
    // parameter has T's exact size.
    let p: &ck::CK_HKDF_PARAMS = unsafe { param_struct(m) }?;
    // Without the extract step there is no salt, and the salt fields are
    // ignored as the spec says (OpenSSL's pkcs11-provider sends
    // ulSaltType 0 with bExtract FALSE for TLS 1.3's expand steps).
    let salt = match p.ulSaltType {
        _ if p.bExtract == 0 => HkdfSalt::Null,
        ck::CKF_HKDF_SALT_NULL => HkdfSalt::Null,
        // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
        // checked against NULL and the bound, then copied.
        ck::CKF_HKDF_SALT_DATA => HkdfSalt::Data(unsafe { param_bytes(p.pSalt, p.ulSaltLen) }?),
        ck::CKF_HKDF_SALT_KEY => HkdfSalt::Key(p.hSaltKey),
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok(Param::Hkdf {
        extract: p.bExtract != 0,
        expand: p.bExpand != 0,
        prf: p.prfHashMechanism,
        salt,
        // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
        // checked against NULL and the bound, then copied.
        info: unsafe { param_bytes(p.pInfo, p.ulInfoLen) }?,
    })
}

/// The fields CK_SP800_108_KDF_PARAMS and CK_SP800_108_FEEDBACK_KDF_PARAMS
/// share, and the mode the mechanism (and, for feedback, the IV) gives.
struct Kdf108Fields {
    mode: Kdf108Mode,
    prf: CK_ULONG,
    n_data: CK_ULONG,
    data: *const ck::CK_PRF_DATA_PARAM,
    n_extra: CK_ULONG,
    extra: *const ck::CK_DERIVED_KEY,
}

/// The SP 800-108 parameter's shared fields (the IV copied).
///
/// # Safety
///
/// As `mechanism`, for `m`.
unsafe fn kdf108_fields(m: &CK_MECHANISM) -> Result<Kdf108Fields> {
    if m.mechanism == ck::CKM_SP800_108_FEEDBACK_KDF {
        // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and that
        // the parameter has T's exact size.
        let p: &ck::CK_SP800_108_FEEDBACK_KDF_PARAMS = unsafe { param_struct(m) }?;
        // A NULL IV goes with a zero length and back (the spec's rule).
        if p.pIV.is_null() != (p.ulIVLen == 0) {
            return Err(Error::MechanismParamInvalid);
        }
        // SAFETY: pointer and length from the caller's parameter struct, readable for the call; checked
        // against NULL and the bound, then copied.
        let iv = if p.ulIVLen == 0 { Vec::new() } else { unsafe { param_bytes(p.pIV, p.ulIVLen) }? };
        return Ok(Kdf108Fields {
            mode: Kdf108Mode::Feedback { iv },
            prf: p.prfType,
            n_data: p.ulNumberOfDataParams,
            data: p.pDataParams,
            n_extra: p.ulAdditionalDerivedKeys,
            extra: p.pAdditionalDerivedKeys,
        });
    }
    // SAFETY: as above.
    let p: &ck::CK_SP800_108_KDF_PARAMS = unsafe { param_struct(m) }?;
    let mode =
        if m.mechanism == ck::CKM_SP800_108_COUNTER_KDF { Kdf108Mode::Counter } else { Kdf108Mode::DoublePipeline };
    Ok(Kdf108Fields {
        mode,
        prf: p.prfType,
        n_data: p.ulNumberOfDataParams,
        data: p.pDataParams,
        n_extra: p.ulAdditionalDerivedKeys,
        extra: p.pAdditionalDerivedKeys,
    })
}

/// The additional derived keys' entries (CK_DERIVED_KEY), at most
/// `bound::KDF_EXTRA_KEYS`.
///
/// # Safety
///
/// `f` was read from a caller's mechanism that stays readable while
/// `scope` lives.
unsafe fn kdf108_extra<'s>(scope: &'s Scope, f: &Kdf108Fields) -> Result<&'s [ck::CK_DERIVED_KEY]> {
    if f.n_extra == 0 {
        return Ok(&[]);
    }
    // SAFETY: pointer and count from the caller's parameter struct, readable for the call; NULL and the
    // bound are checked before reading.
    unsafe { bounded(scope, f.extra, f.n_extra, bound::KDF_EXTRA_KEYS, Error::MechanismParamInvalid) }
        .map_err(|_| Error::MechanismParamInvalid)
}

/// CK_SP800_108_KDF_PARAMS / CK_SP800_108_FEEDBACK_KDF_PARAMS, copied,
/// with each additional derived key's template (their `phKey` pointers are
/// read by `derived_key_outputs`).
///
/// # Safety
///
/// As `mechanism`, for `m`.
unsafe fn kdf108_params(m: &CK_MECHANISM) -> Result<Param> {
    // SAFETY: this function's contract, passed on.
    let f = unsafe { kdf108_fields(m) }?;
    let scope = Scope::enter();
    // SAFETY: pointer and count from the caller's parameter struct, readable
    // for the call; NULL and the count bound are checked, and the items are
    // decoded into owned values before returning.
    let items = unsafe { bounded(&scope, f.data, f.n_data, bound::KDF_ITEMS, Error::MechanismParamInvalid) }
        .map_err(|_| Error::MechanismParamInvalid)?;
    let counter_mode = f.mode == Kdf108Mode::Counter;
    let mut data = Vec::with_capacity(items.len());
    for d in items {
        let bits = |w: CK_ULONG| u32::try_from(w).map_err(|_| Error::MechanismParamInvalid);
        // A counter format: counter mode's iteration variable, or the
        // optional counter of the other two.
        let counter = || -> Result<PrfData> {
            if d.ulValueLen as usize != std::mem::size_of::<ck::CK_SP800_108_COUNTER_FORMAT>() || d.pValue.is_null() {
                return Err(Error::MechanismParamInvalid);
            }
            // SAFETY: non-NULL and of the struct's size; the caller's, readable for the call.
            let f = unsafe { maybe_ref(&scope, d.pValue as *const ck::CK_SP800_108_COUNTER_FORMAT) }
                .ok_or(Error::MechanismParamInvalid)?;
            Ok(PrfData::Counter { little_endian: f.bLittleEndian != 0, bits: bits(f.ulWidthInBits)? })
        };
        data.push(match d.type_ {
            ck::CK_SP800_108_ITERATION_VARIABLE if counter_mode => counter()?,
            // K(i-1) or A(i): no value of the caller's (NULL, 0).
            ck::CK_SP800_108_ITERATION_VARIABLE if d.pValue.is_null() && d.ulValueLen == 0 => PrfData::Iteration,
            ck::CK_SP800_108_OPTIONAL_COUNTER if !counter_mode => counter()?,
            ck::CK_SP800_108_DKM_LENGTH => {
                if d.ulValueLen as usize != std::mem::size_of::<ck::CK_SP800_108_DKM_LENGTH_FORMAT>()
                    || d.pValue.is_null()
                {
                    return Err(Error::MechanismParamInvalid);
                }
                // SAFETY: non-NULL and of the struct's size; the caller's, readable for the call.
                let f = unsafe { maybe_ref(&scope, d.pValue as *const ck::CK_SP800_108_DKM_LENGTH_FORMAT) }
                    .ok_or(Error::MechanismParamInvalid)?;
                let sum_of_segments = match f.dkmLengthMethod {
                    ck::CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => true,
                    ck::CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => false,
                    _ => return Err(Error::MechanismParamInvalid),
                };
                PrfData::DkmLength {
                    sum_of_segments,
                    little_endian: f.bLittleEndian != 0,
                    bits: bits(f.ulWidthInBits)?,
                }
            }
            // A byte array is never empty (the spec: "a non-zero length").
            ck::CK_SP800_108_BYTE_ARRAY if d.ulValueLen == 0 => return Err(Error::MechanismParamInvalid),
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            ck::CK_SP800_108_BYTE_ARRAY => PrfData::Bytes(unsafe { param_bytes(d.pValue as *const u8, d.ulValueLen) }?),
            ck::CK_SP800_108_KEY_HANDLE => {
                if d.ulValueLen as usize != std::mem::size_of::<CK_OBJECT_HANDLE>() || d.pValue.is_null() {
                    return Err(Error::MechanismParamInvalid);
                }
                // SAFETY: non-NULL and of a handle's size; the caller's, readable for the call.
                let h = unsafe { maybe_ref(&scope, d.pValue as *const CK_OBJECT_HANDLE) }
                    .ok_or(Error::MechanismParamInvalid)?;
                PrfData::Key(*h)
            }
            _ => return Err(Error::MechanismParamInvalid),
        });
    }
    // SAFETY: `f` comes from the caller's mechanism, readable for the call.
    let entries = unsafe { kdf108_extra(&scope, &f) }?;
    let mut extra = Vec::with_capacity(entries.len());
    for e in entries {
        if e.phKey.is_null() {
            return Err(Error::MechanismParamInvalid);
        }
        // SAFETY: the entry's template pointer and count, the caller's and readable for the call;
        // `template` bounds the count and every length and copies all of it.
        extra.push(unsafe { template(e.pTemplate, e.ulAttributeCount) }?);
    }
    Ok(Param::Kdf108 { mode: f.mode, prf: f.prf, data, extra })
}

/// Where C_DeriveKey writes the handles of an SP 800-108 call's additional
/// derived keys (each CK_DERIVED_KEY's `phKey`, in order); empty for any
/// other mechanism. `mechanism` has already decoded (and so checked) the
/// same parameter.
///
/// # Safety
///
/// As `mechanism`, and each `phKey` is writable for the call (PKCS#11)
/// and nothing else touches it while `scope` lives.
#[allow(clippy::mut_from_ref)] // the `&mut`s are the caller's memory; `scope` only bounds their life
pub unsafe fn derived_key_outputs(scope: &Scope, p: *const CK_MECHANISM) -> Result<Vec<&mut CK_OBJECT_HANDLE>> {
    // SAFETY: this function's contract: NULL or a readable mechanism.
    let m = unsafe { maybe_ref(scope, p) }.ok_or(Error::ArgumentsBad)?;
    if !matches!(
        m.mechanism,
        ck::CKM_SP800_108_COUNTER_KDF | ck::CKM_SP800_108_FEEDBACK_KDF | ck::CKM_SP800_108_DOUBLE_PIPELINE_KDF
    ) {
        return Ok(Vec::new());
    }
    // SAFETY: this function's contract, passed on.
    let f = unsafe { kdf108_fields(m) }?;
    // SAFETY: `f` comes from the caller's mechanism, readable for the call.
    let entries = unsafe { kdf108_extra(scope, &f) }?;
    entries
        .iter()
        // SAFETY: each `phKey` is an out-pointer of this call (the spec's CK_DERIVED_KEY), writable for the
        // call; NULL is refused.
        .map(|e| unsafe { maybe_out(scope, e.phKey) }.ok_or(Error::MechanismParamInvalid))
        .collect()
}

/// CK_GCM_PARAMS in either layout, told apart by ulParameterLen.
///
/// # Safety
///
/// As `mechanism`, for `m`.
unsafe fn gcm_params(m: &CK_MECHANISM) -> Result<Param> {
    if m.pParameter.is_null() {
        return Err(Error::MechanismParamInvalid);
    }
    let len = m.ulParameterLen as usize;
    let scope = Scope::enter();
    if len == std::mem::size_of::<ck::CK_GCM_PARAMS>() {
        // SAFETY: non-NULL and exactly the size of the 3.0 struct, readable for the call.
        let g = unsafe { maybe_ref(&scope, m.pParameter as *const ck::CK_GCM_PARAMS) }
            .ok_or(Error::MechanismParamInvalid)?;
        Ok(Param::Gcm {
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            iv: unsafe { param_bytes_max(g.pIv, g.ulIvLen, bound::GCM_IV) }?,
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            aad: unsafe { param_bytes_max(g.pAAD, g.ulAADLen, bound::GCM_AAD) }?,
            tag_bits: g.ulTagBits,
        })
    } else if len == std::mem::size_of::<GcmParams240>() {
        // SAFETY: non-NULL and exactly the size of the 2.40 struct, readable for the call.
        let g =
            unsafe { maybe_ref(&scope, m.pParameter as *const GcmParams240) }.ok_or(Error::MechanismParamInvalid)?;
        Ok(Param::Gcm {
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            iv: unsafe { param_bytes_max(g.p_iv, g.ul_iv_len, bound::GCM_IV) }?,
            // SAFETY: pointer(s) and length(s) from the caller's parameter struct, readable for the call;
            // checked against NULL and the bound, then copied.
            aad: unsafe { param_bytes_max(g.p_aad, g.ul_aad_len, bound::GCM_AAD) }?,
            tag_bits: g.ul_tag_bits,
        })
    } else {
        Err(Error::MechanismParamInvalid)
    }
}

/// A ChaCha20-Poly1305 nonce length: the spec gives ulNonceLen in bits
/// (96 for the IETF variant, the one offered); callers that give 12 mean
/// bytes. Either way the nonce is 12 bytes; other variants are refused.
pub fn chacha_nonce_len(n: CK_ULONG) -> Result<CK_ULONG> {
    match n {
        12 | 96 => Ok(12),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// CK_CCM_PARAMS or CK_SALSA20_CHACHA20_POLY1305_PARAMS, copied.
///
/// # Safety
///
/// As `mechanism`, for `m`.
unsafe fn aead_params(m: &CK_MECHANISM) -> Result<Param> {
    if m.mechanism == ck::CKM_AES_CCM {
        // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and that
        // the parameter has T's exact size.
        let p: &ck::CK_CCM_PARAMS = unsafe { param_struct(m) }?;
        return Ok(Param::Aead {
            // SAFETY: pointer and length from the caller's parameter struct, readable for the call; checked
            // against NULL and the bound, then copied.
            nonce: unsafe { param_bytes_max(p.pNonce, p.ulNonceLen, 13) }?,
            // SAFETY: as above.
            aad: unsafe { param_bytes_max(p.pAAD, p.ulAADLen, bound::GCM_AAD) }?,
            tag_len: p.ulMACLen,
            data_len: Some(p.ulDataLen),
        });
    }
    // SAFETY: `m` is the caller's mechanism, readable for the call; `param_struct` checks NULL and that the
    // parameter has T's exact size.
    let p: &ck::CK_SALSA20_CHACHA20_POLY1305_PARAMS = unsafe { param_struct(m) }?;
    Ok(Param::Aead {
        // SAFETY: pointer and length from the caller's parameter struct, readable for the call; checked
        // against NULL and the bound, then copied.
        nonce: unsafe { param_bytes_max(p.pNonce, chacha_nonce_len(p.ulNonceLen)?, 12) }?,
        // SAFETY: as above.
        aad: unsafe { param_bytes_max(p.pAAD, p.ulAADLen, bound::GCM_AAD) }?,
        tag_len: 16,
        data_len: None,
    })
}

/// The PKCS#11 output protocol for an array (`p` NULL: report the length;
/// too small: report it and CKR_BUFFER_TOO_SMALL; else copy).
///
/// # Safety
///
/// `count` is NULL or valid for reads and writes; `p` is NULL or valid for
/// writes of `*count` `T`s, not overlapping `items` (the PKCS#11 output
/// protocol), for the duration of the call.
pub unsafe fn write_array<T: Copy>(p: *mut T, count: *mut CK_ULONG, items: &[T]) -> Result<CK_RV> {
    let scope = Scope::enter();
    // SAFETY: this function's contract for `count`.
    let count = unsafe { out(&scope, count) }?;
    if p.is_null() {
        *count = items.len() as CK_ULONG;
        return Ok(ck::CKR_OK);
    }
    if (*count as u128) < items.len() as u128 {
        *count = items.len() as CK_ULONG;
        return Err(Error::BufferTooSmall);
    }
    // SAFETY: the caller gave room for `*count` >= items.len() elements.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), p, items.len()) };
    *count = items.len() as CK_ULONG;
    Ok(ck::CKR_OK)
}

// The "FerroHSM KMS" vendor parameter types (include/ferrohsm.h) and the
// encryption-context decoding they share with the vendor functions.

#[repr(C)]
#[derive(Clone, Copy)]
pub struct CK_FHSM_CONTEXT_PAIR {
    pub pKey: *const ck::CK_BYTE,
    pub ulKeyLen: CK_ULONG,
    pub pValue: *const ck::CK_BYTE,
    pub ulValueLen: CK_ULONG,
}

#[repr(C)]
pub struct CK_FHSM_KMS_WRAP_PARAMS {
    pub pContext: *const CK_FHSM_CONTEXT_PAIR,
    pub ulContextCount: CK_ULONG,
}

/// Most pairs in one encryption context, and the longest key or value in
/// one (beyond either: CKR_ARGUMENTS_BAD, before anything is copied).
const MAX_CONTEXT_PAIRS: usize = 64;
const MAX_CONTEXT_PART: usize = 4096;
/// An encryption context from C pairs (NULL with count 0: none), copied.
///
/// # Safety
///
/// `p` is NULL or points to `n` readable pairs, each of whose key and value
/// pointers is NULL or points to that many readable bytes, for the call.
pub unsafe fn context(p: *const CK_FHSM_CONTEXT_PAIR, n: CK_ULONG) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let scope = Scope::enter();
    // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the call
    // (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past the
    // call.
    let pairs = unsafe { bounded(&scope, p, n, MAX_CONTEXT_PAIRS, Error::ArgumentsBad) }?;
    // SAFETY: pointer and count are this call's arguments (or fields of its parameter), readable for the call
    // (PKCS#11); NULL and the count bound are checked before reading, and the slice is not kept past the
    // call.
    let part = |p, n| unsafe { bounded(&scope, p, n, MAX_CONTEXT_PART, Error::ArgumentsBad) }.map(<[u8]>::to_vec);
    pairs.iter().map(|c| Ok((part(c.pKey, c.ulKeyLen)?, part(c.pValue, c.ulValueLen)?))).collect()
}
