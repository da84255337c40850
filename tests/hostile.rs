//! A hostile caller (issue 17): counts and lengths far beyond anything the
//! type or mechanism can need, passed through the real C function list with
//! small real buffers behind them. The module must refuse each before it
//! allocates, copies or loops, with the spec's code, and at once.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use common::raw::*;
use common::*;
use cryptoki_sys::*;
use ferrohsm::ffi::kms::{CK_FHSM_CONTEXT_PAIR, CK_FHSM_KEY_ID};

/// A count of 2^32 template entries: a 4-G-entry allocation if believed.
const HUGE_COUNT: CK_ULONG = 0x1_0000_0000;
/// 2^40: a 1 TiB allocation if believed.
const TIB: CK_ULONG = 1 << 40;

/// Runs one call and checks it came back promptly (a hang would otherwise
/// only show as the suite timing out).
fn quick(f: impl FnOnce() -> CK_RV) -> CK_RV {
    let t = Instant::now();
    let rv = f();
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    rv
}

fn session() -> (World, Raw, CK_SESSION_HANDLE) {
    let w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    (w, r, h)
}

fn aes_key(r: &Raw, h: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    secret_key(r, h, CKK_AES, &[7u8; 16])
}

/// One real attribute behind a count of 2^32.
fn one_attr(class: &mut CK_OBJECT_CLASS) -> [CK_ATTRIBUTE; 1] {
    [attr(CKA_CLASS, class)]
}

#[test]
fn template_counts_beyond_any_template_are_arguments_bad() {
    let (_w, r, h) = session();
    let key = aes_key(&r, h);
    let mut class = CKO_SECRET_KEY;
    let mut t = one_attr(&mut class);
    let p = t.as_mut_ptr();
    let mut o = 0;

    assert_eq!(quick(|| call!(r, C_CreateObject(h, p, HUGE_COUNT, &mut o))), CKR_ARGUMENTS_BAD);
    assert_eq!(quick(|| call!(r, C_CopyObject(h, key, p, HUGE_COUNT, &mut o))), CKR_ARGUMENTS_BAD);
    assert_eq!(quick(|| call!(r, C_FindObjectsInit(h, p, HUGE_COUNT))), CKR_ARGUMENTS_BAD);
    assert_eq!(quick(|| call!(r, C_GetAttributeValue(h, key, p, HUGE_COUNT))), CKR_ARGUMENTS_BAD);
    assert_eq!(quick(|| call!(r, C_SetAttributeValue(h, key, p, HUGE_COUNT))), CKR_ARGUMENTS_BAD);
    let mut gen = mech(CKM_AES_KEY_GEN);
    assert_eq!(quick(|| call!(r, C_GenerateKey(h, &mut gen, p, HUGE_COUNT, &mut o))), CKR_ARGUMENTS_BAD);
    let mut wrap = mech(CKM_AES_KEY_WRAP_PAD);
    let mut wrapped = [0u8; 40];
    let rv = quick(|| call!(r, C_UnwrapKey(h, &mut wrap, key, wrapped.as_mut_ptr(), 40, p, HUGE_COUNT, &mut o)));
    assert_eq!(rv, CKR_ARGUMENTS_BAD);
    let mut pair = mech(CKM_EC_KEY_PAIR_GEN);
    let (mut o2, p2) = (0, p);
    let rv = quick(|| call!(r, C_GenerateKeyPair(h, &mut pair, p, HUGE_COUNT, p2, 1, &mut o, &mut o2)));
    assert_eq!(rv, CKR_ARGUMENTS_BAD);

    // A nested template claims as much through its length.
    let mut inner = [CK_ATTRIBUTE { type_: CKA_ENCRYPT, pValue: null_mut(), ulValueLen: 0 }];
    let mut t = [CK_ATTRIBUTE {
        type_: CKA_WRAP_TEMPLATE,
        pValue: inner.as_mut_ptr() as *mut c_void,
        ulValueLen: HUGE_COUNT * std::mem::size_of::<CK_ATTRIBUTE>() as CK_ULONG,
    }];
    assert_eq!(quick(|| call!(r, C_SetAttributeValue(h, key, t.as_mut_ptr(), 1))), CKR_ATTRIBUTE_VALUE_INVALID);

    // The module still answers normally afterwards.
    assert_eq!(value_of(&r, h, key), vec![7u8; 16]);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn rsa_public_key_with_an_absurd_modulus_length_is_refused_unread() {
    let (_w, r, h) = session();
    let mut class = CKO_PUBLIC_KEY;
    let mut kt = CKK_RSA;
    let mut modulus = [0xC5u8; 256];
    let mut exp = [1u8, 0, 1];
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        bytes_attr(CKA_MODULUS, &mut modulus),
        bytes_attr(CKA_PUBLIC_EXPONENT, &mut exp),
    ];
    for absurd in [0x7fff_ffff_ffff_ffff, 1 << 32, 1 << 20] {
        t[2].ulValueLen = absurd;
        let mut o = 0;
        assert_eq!(
            quick(|| call!(r, C_CreateObject(h, t.as_mut_ptr(), 4, &mut o))),
            CKR_ATTRIBUTE_VALUE_INVALID,
            "ulValueLen {absurd:#x}"
        );
    }
    // A CK_BBOOL or CK_ULONG claiming more than its size.
    let mut yes: CK_BBOOL = 1;
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_TOKEN, &mut yes)];
    t[1].ulValueLen = 1 << 32;
    let mut o = 0;
    assert_eq!(quick(|| call!(r, C_CreateObject(h, t.as_mut_ptr(), 2, &mut o))), CKR_ATTRIBUTE_VALUE_INVALID);
    t[1].ulValueLen = 1;
    t[0].ulValueLen = 1 << 32;
    assert_eq!(quick(|| call!(r, C_FindObjectsInit(h, t.as_mut_ptr(), 2))), CKR_ATTRIBUTE_VALUE_INVALID);
    // An attribute type the module does not know, with a huge value.
    let mut t =
        [CK_ATTRIBUTE { type_: CKA_VENDOR_DEFINED | 0x77, pValue: exp.as_mut_ptr() as *mut c_void, ulValueLen: TIB }];
    assert_eq!(quick(|| call!(r, C_FindObjectsInit(h, t.as_mut_ptr(), 1))), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn value_of_four_gib_is_refused_unread() {
    let (_w, r, h) = session();
    let mut class = CKO_DATA;
    let mut v = [1u8; 16];
    let mut t = [attr(CKA_CLASS, &mut class), bytes_attr(CKA_VALUE, &mut v)];
    t[1].ulValueLen = 1 << 32;
    let mut o = 0;
    assert_eq!(quick(|| call!(r, C_CreateObject(h, t.as_mut_ptr(), 2, &mut o))), CKR_ATTRIBUTE_VALUE_INVALID);
    // The same value at its real length is fine.
    t[1].ulValueLen = 16;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 2, &mut o)), CKR_OK);
    assert_eq!(value_of(&r, h, o), vec![1u8; 16]);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

fn gcm(iv: &mut [u8; 12], aad: &mut [u8; 4]) -> CK_GCM_PARAMS {
    CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: aad.as_mut_ptr(),
        ulAADLen: 4,
        ulTagBits: 128,
    }
}

#[test]
fn gcm_decrypt_update_of_four_gib_is_refused_at_once() {
    let (_w, r, h) = session();
    let key = aes_key(&r, h);
    let (mut iv, mut aad) = ([1u8; 12], [2u8; 4]);
    let mut p = gcm(&mut iv, &mut aad);
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    assert_eq!(call!(r, C_DecryptInit(h, &mut m, key)), CKR_OK);
    let mut input = [0u8; 64];
    let mut out = [0u8; 64];
    let mut out_len: CK_ULONG = 0xffff_ffff;
    let rv = quick(|| call!(r, C_DecryptUpdate(h, input.as_mut_ptr(), 0xffff_ffff, out.as_mut_ptr(), &mut out_len)));
    assert_eq!(rv, CKR_ENCRYPTED_DATA_LEN_RANGE);
    // The error ended the operation, as any error but a short buffer does.
    let mut out_len: CK_ULONG = 64;
    let rv = call!(r, C_DecryptUpdate(h, input.as_mut_ptr(), 16, out.as_mut_ptr(), &mut out_len));
    assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);

    // Encrypt, digest and sign refuse the same with CKR_DATA_LEN_RANGE.
    let mut p = gcm(&mut iv, &mut aad);
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    assert_eq!(call!(r, C_EncryptInit(h, &mut m, key)), CKR_OK);
    let mut out_len: CK_ULONG = 64;
    let rv = quick(|| call!(r, C_EncryptUpdate(h, input.as_mut_ptr(), TIB, out.as_mut_ptr(), &mut out_len)));
    assert_eq!(rv, CKR_DATA_LEN_RANGE);
    let mut d = mech(CKM_SHA256);
    assert_eq!(call!(r, C_DigestInit(h, &mut d)), CKR_OK);
    assert_eq!(quick(|| call!(r, C_DigestUpdate(h, input.as_mut_ptr(), TIB))), CKR_DATA_LEN_RANGE);
    // C_GenerateRandom names no length code: CKR_ARGUMENTS_BAD.
    assert_eq!(quick(|| call!(r, C_GenerateRandom(h, out.as_mut_ptr(), TIB))), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn gcm_iv_or_aad_of_a_tebibyte_is_a_bad_parameter() {
    let (_w, r, h) = session();
    let key = aes_key(&r, h);
    let (mut iv, mut aad) = ([1u8; 12], [2u8; 4]);
    for (iv_len, aad_len) in [(TIB, 4), (12, TIB), (257, 4), (12, (1 << 20) + 1)] {
        let mut p = gcm(&mut iv, &mut aad);
        p.ulIvLen = iv_len;
        p.ulAADLen = aad_len;
        let mut m = mech_with(CKM_AES_GCM, &mut p);
        let rv = quick(|| call!(r, C_EncryptInit(h, &mut m, key)));
        assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID, "iv {iv_len} aad {aad_len}");
    }
    // A plain byte-string parameter (the CBC IV) claiming a tebibyte.
    let mut m =
        CK_MECHANISM { mechanism: CKM_AES_CBC, pParameter: iv.as_mut_ptr() as *mut c_void, ulParameterLen: TIB };
    assert_eq!(quick(|| call!(r, C_EncryptInit(h, &mut m, key))), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn pins_of_a_tebibyte_are_refused_uncopied() {
    let w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    assert_eq!(call!(r, C_Logout(h)), CKR_OK);
    let (u, _) = pin_args(USER_PIN);
    // C_Login lists no CKR_PIN_LEN_RANGE: a PIN no configuration allows
    // cannot be the PIN.
    assert_eq!(quick(|| call!(r, C_Login(h, CKU_USER, u, TIB))), CKR_PIN_INCORRECT);
    assert_eq!(quick(|| call!(r, C_Login(h, CKU_USER, u, 1025))), CKR_PIN_INCORRECT);
    // A bad session still says so first.
    assert_eq!(quick(|| call!(r, C_Login(h + 1000, CKU_USER, u, TIB))), CKR_SESSION_HANDLE_INVALID);
    // Refused unread, it was not counted as a wrong PIN.
    let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    assert_eq!(call!(r, C_GetTokenInfo(0, &mut info)), CKR_OK);
    assert_eq!(info.flags & CKF_USER_PIN_COUNT_LOW, 0);
    let (u, u_len) = pin_args(USER_PIN);
    assert_eq!(call!(r, C_Login(h, CKU_USER, u, u_len)), CKR_OK);
    // New PINs: CKR_PIN_LEN_RANGE; the old PIN of C_SetPIN: CKR_PIN_INCORRECT.
    assert_eq!(quick(|| call!(r, C_SetPIN(h, u, u_len, u, TIB))), CKR_PIN_LEN_RANGE);
    assert_eq!(quick(|| call!(r, C_SetPIN(h, u, TIB, u, u_len))), CKR_PIN_INCORRECT);
    let mut label = [b' '; 32];
    assert_eq!(call!(r, C_CloseAllSessions(0)), CKR_OK);
    assert_eq!(quick(|| call!(r, C_InitToken(0, u, TIB, label.as_mut_ptr()))), CKR_PIN_LEN_RANGE);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
    drop(w);
}

/// C_SessionCancel from the 3.0 function list that C_GetInterface gives.
fn session_cancel(r: &Raw) -> unsafe extern "C" fn(CK_SESSION_HANDLE, CK_FLAGS) -> CK_RV {
    type GetIface = unsafe extern "C" fn(*mut u8, *mut CK_VERSION, *mut *mut CK_INTERFACE, CK_FLAGS) -> CK_RV;
    let get: libloading::Symbol<GetIface> = unsafe { r.lib.get(b"C_GetInterface") }.unwrap();
    let mut iface: *mut CK_INTERFACE = null_mut();
    let mut v30 = CK_VERSION { major: 3, minor: 0 };
    assert_eq!(unsafe { get(c"PKCS 11".as_ptr() as *mut u8, &mut v30, &mut iface, 0) }, CKR_OK);
    let f3 = unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0) };
    f3.C_SessionCancel.unwrap()
}

#[test]
fn session_cancel_ends_a_digest() {
    let (_w, r, h) = session();
    let cancel = session_cancel(&r);
    let key = aes_key(&r, h);
    let mut d = mech(CKM_SHA256);
    let mut data = *b"abc";
    for step in ["init", "update", "key", "short final"] {
        assert_eq!(call!(r, C_DigestInit(h, &mut d)), CKR_OK);
        match step {
            "update" => assert_eq!(call!(r, C_DigestUpdate(h, data.as_mut_ptr(), 3)), CKR_OK),
            "key" => assert_eq!(call!(r, C_DigestKey(h, key)), CKR_OK),
            "short final" => {
                let (mut out, mut n) = ([0u8; 4], 4);
                assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut n)), CKR_BUFFER_TOO_SMALL);
            }
            _ => {}
        }
        assert_eq!(unsafe { cancel(h, CKF_DIGEST) }, CKR_OK);
        assert_eq!(call!(r, C_DigestInit(h, &mut d)), CKR_OK, "digest still active after C_SessionCancel ({step})");
        assert_eq!(unsafe { cancel(h, CKF_DIGEST) }, CKR_OK);
        let (mut out, mut n) = ([0u8; 32], 32);
        assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut n)), CKR_OPERATION_NOT_INITIALIZED);
    }
    // Only what the flags name is cancelled.
    let mut ecb = mech(CKM_AES_ECB);
    assert_eq!(call!(r, C_DigestInit(h, &mut d)), CKR_OK);
    assert_eq!(call!(r, C_EncryptInit(h, &mut ecb, key)), CKR_OK);
    assert_eq!(unsafe { cancel(h, CKF_ENCRYPT) }, CKR_OK);
    assert_eq!(call!(r, C_DigestInit(h, &mut d)), CKR_OPERATION_ACTIVE);
    assert_eq!(call!(r, C_EncryptInit(h, &mut ecb, key)), CKR_OK);
    assert_eq!(unsafe { cancel(h, CKF_DIGEST | CKF_ENCRYPT) }, CKR_OK);
    assert_eq!(call!(r, C_DigestInit(h, &mut d)), CKR_OK);
    assert_eq!(call!(r, C_EncryptInit(h, &mut ecb, key)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// An empty CKA_ALLOWED_MECHANISMS is this token's "no restriction": the
/// value every key has by default, read back as zero mechanisms, and no
/// mechanism refused for it. A non-empty list is enforced.
#[test]
fn empty_allowed_mechanisms_means_no_restriction() {
    let (_w, r, h) = session();
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut yes: CK_BBOOL = 1;
    let mut v = [5u8; 16];
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_ENCRYPT, &mut yes),
        bytes_attr(CKA_VALUE, &mut v),
        CK_ATTRIBUTE { type_: CKA_ALLOWED_MECHANISMS, pValue: null_mut(), ulValueLen: 0 },
    ];
    let mut key = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 5, &mut key)), CKR_OK);
    let mut q = [CK_ATTRIBUTE { type_: CKA_ALLOWED_MECHANISMS, pValue: null_mut(), ulValueLen: 99 }];
    assert_eq!(call!(r, C_GetAttributeValue(h, key, q.as_mut_ptr(), 1)), CKR_OK);
    assert_eq!(q[0].ulValueLen, 0);
    for m in [CKM_AES_ECB, CKM_AES_CBC_PAD] {
        let mut iv = [0u8; 16];
        let mut mm = if m == CKM_AES_ECB { mech(m) } else { mech_with(m, &mut iv) };
        assert_eq!(call!(r, C_EncryptInit(h, &mut mm, key)), CKR_OK);
        let (mut data, mut out, mut n) = ([0u8; 16], [0u8; 32], 32);
        assert_eq!(call!(r, C_Encrypt(h, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n)), CKR_OK);
    }

    // A list with one mechanism: that one only.
    let mut only: CK_MECHANISM_TYPE = CKM_AES_CBC_PAD;
    t[4] = attr(CKA_ALLOWED_MECHANISMS, &mut only);
    let mut restricted = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 5, &mut restricted)), CKR_OK);
    let mut ecb = mech(CKM_AES_ECB);
    assert_eq!(call!(r, C_EncryptInit(h, &mut ecb, restricted)), CKR_MECHANISM_INVALID);
    let mut iv = [0u8; 16];
    let mut cbc = mech_with(CKM_AES_CBC_PAD, &mut iv);
    assert_eq!(call!(r, C_EncryptInit(h, &mut cbc, restricted)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn kms_counts_and_lengths_are_bounded() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let k = common::kms::Kms::new(r, h);
    let key = k.key();
    let ctx = common::kms::pairs(&[("purpose", "test")]);
    let data = *b"hello";
    let (mut out, mut ol) = ([0u8; 512], 512 as CK_ULONG);
    let enc = |id_len: CK_ULONG, n_ctx: CK_ULONG, n_data: CK_ULONG, o: *mut u8, ol: *mut CK_ULONG| unsafe {
        (k.k.FHSM_Encrypt)(h, key.as_ptr(), id_len, ctx.as_ptr(), n_ctx, 0, data.as_ptr(), n_data, o, ol)
    };
    let (o, l) = (out.as_mut_ptr(), &mut ol as *mut CK_ULONG);
    assert_eq!(quick(|| enc(TIB, 1, 5, o, l)), CKR_ARGUMENTS_BAD, "key id");
    assert_eq!(quick(|| enc(key.len() as CK_ULONG, HUGE_COUNT, 5, o, l)), CKR_ARGUMENTS_BAD, "context pairs");
    assert_eq!(quick(|| enc(key.len() as CK_ULONG, 1, TIB, o, l)), CKR_DATA_LEN_RANGE, "data");
    let big = [CK_FHSM_CONTEXT_PAIR { pKey: data.as_ptr(), ulKeyLen: TIB, pValue: data.as_ptr(), ulValueLen: 1 }];
    let rv = quick(|| unsafe {
        (k.k.FHSM_Encrypt)(h, key.as_ptr(), key.len() as CK_ULONG, big.as_ptr(), 1, 0, data.as_ptr(), 5, o, l)
    });
    assert_eq!(rv, CKR_ARGUMENTS_BAD, "context key");
    assert_eq!(enc(key.len() as CK_ULONG, 1, 5, o, l), CKR_OK);

    // A data key: a 2^32-entry key list, an absurd key length.
    let ids = [CK_FHSM_KEY_ID { pId: key.as_ptr(), ulIdLen: key.len() as CK_ULONG }];
    let (mut bl, mut blob) = (512 as CK_ULONG, [0u8; 512]);
    let gdk = |n_ids: CK_ULONG, key_len: CK_ULONG, bl: &mut CK_ULONG, blob: *mut u8| unsafe {
        (k.k.FHSM_GenerateDataKey)(
            h,
            ids.as_ptr(),
            n_ids,
            key_len,
            ctx.as_ptr(),
            1,
            0,
            null_mut(),
            null_mut(),
            blob,
            bl,
        )
    };
    assert_eq!(quick(|| gdk(HUGE_COUNT, 32, &mut bl, blob.as_mut_ptr())), CKR_ARGUMENTS_BAD);
    assert_eq!(quick(|| gdk(1, CK_ULONG::MAX, &mut bl, blob.as_mut_ptr())), CKR_KEY_SIZE_RANGE);
    assert_eq!(gdk(1, 32, &mut bl, blob.as_mut_ptr()), CKR_OK);
    assert_eq!(call!(k.r, C_Finalize(null_mut())), CKR_OK);
}

/// Found by the pkcs11_keys fuzz target: a PSS salt length near 2^64
/// wrapped the "hash + salt + 2 <= modulus" check (a panic in a build with
/// overflow checks, caught at the boundary as CKR_GENERAL_ERROR; in a
/// release build C_SignInit accepted it and C_Sign failed). Refused at
/// C_SignInit and C_VerifyInit now.
#[test]
fn pss_salt_length_near_two_to_the_64_is_a_bad_parameter() {
    let (_w, r, h) = session();
    let (mut bits, mut t) = (1024 as CK_ULONG, CK_TRUE as CK_BBOOL);
    let mut pubt = [attr(CKA_MODULUS_BITS, &mut bits), attr(CKA_VERIFY, &mut t)];
    let mut t2 = CK_TRUE as CK_BBOOL;
    let mut privt = [attr(CKA_SIGN, &mut t2)];
    let mut gen = mech(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let (mut public, mut private) = (0, 0);
    let rv = call!(
        r,
        C_GenerateKeyPair(h, &mut gen, pubt.as_mut_ptr(), 2, privt.as_mut_ptr(), 1, &mut public, &mut private)
    );
    assert_eq!(rv, CKR_OK);
    for salt in [CK_ULONG::MAX, CK_ULONG::MAX - 33, CK_ULONG::MAX - 63, 1 << 63] {
        let mut p = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, sLen: salt };
        let mut m = mech_with(CKM_SHA256_RSA_PKCS_PSS, &mut p);
        assert_eq!(quick(|| call!(r, C_SignInit(h, &mut m, private))), CKR_MECHANISM_PARAM_INVALID, "{salt:#x}");
        assert_eq!(quick(|| call!(r, C_VerifyInit(h, &mut m, public))), CKR_MECHANISM_PARAM_INVALID, "{salt:#x}");
    }
    // The largest salt a 1024-bit key takes still works.
    let mut p = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, sLen: 128 - 32 - 2 };
    let mut m = mech_with(CKM_SHA256_RSA_PKCS_PSS, &mut p);
    assert_eq!(call!(r, C_SignInit(h, &mut m, private)), CKR_OK);
}
