//! Digests and HMAC through the C ABI: known-answer vectors from
//! tests/vectors/, and the operation-state rules.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr::null_mut;

use common::raw::*;
use common::vectors::{unhex, vectors};
use common::*;
use cryptoki_sys::*;

fn digest_mech(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "SHA_1" => CKM_SHA_1,
        "SHA224" => CKM_SHA224,
        "SHA256" => CKM_SHA256,
        "SHA384" => CKM_SHA384,
        "SHA512" => CKM_SHA512,
        "SHA3_224" => CKM_SHA3_224,
        "SHA3_256" => CKM_SHA3_256,
        "SHA3_384" => CKM_SHA3_384,
        "SHA3_512" => CKM_SHA3_512,
        _ => panic!("{name}"),
    }
}

fn hmac_mech(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "SHA_1" => CKM_SHA_1_HMAC,
        "SHA224" => CKM_SHA224_HMAC,
        "SHA256" => CKM_SHA256_HMAC,
        "SHA384" => CKM_SHA384_HMAC,
        "SHA512" => CKM_SHA512_HMAC,
        "SHA3_224" => CKM_SHA3_224_HMAC,
        "SHA3_256" => CKM_SHA3_256_HMAC,
        "SHA3_384" => CKM_SHA3_384_HMAC,
        "SHA3_512" => CKM_SHA3_512_HMAC,
        _ => panic!("{name}"),
    }
}

fn mech(t: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM { mechanism: t, pParameter: null_mut(), ulParameterLen: 0 }
}

fn attr<T>(t: CK_ATTRIBUTE_TYPE, v: &mut T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE { type_: t, pValue: v as *mut T as *mut c_void, ulValueLen: std::mem::size_of::<T>() as CK_ULONG }
}

/// A session secret key with the given type and value; `sign` sets both
/// CKA_SIGN and CKA_VERIFY.
fn secret(r: &Raw, h: CK_SESSION_HANDLE, kt: CK_KEY_TYPE, value: &[u8], sign: bool) -> CK_OBJECT_HANDLE {
    let mut class = CKO_SECRET_KEY;
    let mut kt = kt;
    let mut flag: CK_BBOOL = sign as CK_BBOOL;
    let mut flag2 = flag;
    let mut v = value.to_vec();
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_SIGN, &mut flag),
        attr(CKA_VERIFY, &mut flag2),
        CK_ATTRIBUTE { type_: CKA_VALUE, pValue: v.as_mut_ptr() as *mut c_void, ulValueLen: v.len() as CK_ULONG },
    ];
    let mut o = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut o)), CKR_OK);
    o
}

fn digest(r: &Raw, h: CK_SESSION_HANDLE, mt: CK_MECHANISM_TYPE, data: &[u8]) -> Vec<u8> {
    let mut m = mech(mt);
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    let mut len: CK_ULONG = 0;
    let d = data.as_ptr() as *mut u8;
    let n = data.len() as CK_ULONG;
    assert_eq!(call!(r, C_Digest(h, d, n, null_mut(), &mut len)), CKR_OK);
    let mut out = vec![0u8; len as usize];
    assert_eq!(call!(r, C_Digest(h, d, n, out.as_mut_ptr(), &mut len)), CKR_OK);
    out.truncate(len as usize);
    out
}

fn sign(r: &Raw, h: CK_SESSION_HANDLE, m: &mut CK_MECHANISM, key: CK_OBJECT_HANDLE, data: &[u8]) -> Vec<u8> {
    assert_eq!(call!(r, C_SignInit(h, m, key)), CKR_OK);
    let mut out = vec![0u8; 64];
    let mut len = out.len() as CK_ULONG;
    let rv = call!(r, C_Sign(h, data.as_ptr() as *mut u8, data.len() as CK_ULONG, out.as_mut_ptr(), &mut len));
    assert_eq!(rv, CKR_OK);
    out.truncate(len as usize);
    out
}

fn verify(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    sig: &[u8],
) -> CK_RV {
    assert_eq!(call!(r, C_VerifyInit(h, m, key)), CKR_OK);
    let d = data.as_ptr() as *mut u8;
    call!(r, C_Verify(h, d, data.len() as CK_ULONG, sig.as_ptr() as *mut u8, sig.len() as CK_ULONG))
}

#[test]
fn sha_known_answers_single_and_multi_part() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("sha_fips180_202.txt");
    assert_eq!(vs.len(), 36);
    for v in vs {
        let (mt, msg, want) = (digest_mech(&v[0]), unhex(&v[1]), unhex(&v[2]));
        assert_eq!(digest(&r, h, mt, &msg), want, "{} of {}", v[0], v[1]);
        let mut m = mech(mt);
        assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
        for part in msg.chunks(7) {
            assert_eq!(call!(r, C_DigestUpdate(h, part.as_ptr() as *mut u8, part.len() as CK_ULONG)), CKR_OK);
        }
        let mut out = [0u8; 64];
        let mut len = 64;
        assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut len)), CKR_OK);
        assert_eq!(&out[..len as usize], &want[..], "multi-part {}", v[0]);
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn hmac_known_answers() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let mut n = 0;
    for file in ["hmac_rfc4231.txt", "hmac_sha3_crosscheck.txt"] {
        for v in vectors(file) {
            let (key, data, want) = (unhex(&v[1]), unhex(&v[2]), unhex(&v[3]));
            let k = secret(&r, h, CKK_GENERIC_SECRET, &key, true);
            let mut m = mech(hmac_mech(&v[0]));
            assert_eq!(sign(&r, h, &mut m, k, &data), want, "{file}: {}", v[0]);
            assert_eq!(verify(&r, h, &mut m, k, &data, &want), CKR_OK);
            // Multi-part gives the same MAC.
            assert_eq!(call!(r, C_SignInit(h, &mut m, k)), CKR_OK);
            for part in data.chunks(5) {
                assert_eq!(call!(r, C_SignUpdate(h, part.as_ptr() as *mut u8, part.len() as CK_ULONG)), CKR_OK);
            }
            let mut out = [0u8; 64];
            let mut len = 64;
            assert_eq!(call!(r, C_SignFinal(h, out.as_mut_ptr(), &mut len)), CKR_OK);
            assert_eq!(&out[..len as usize], &want[..]);
            n += 1;
        }
    }
    assert_eq!(n, 24 + 15);

    // RFC 4231 test case 5: HMAC-SHA-256 truncated to 128 bits, via _GENERAL.
    let k = secret(&r, h, CKK_SHA256_HMAC, &[0x0c; 20], true);
    let mut len16: CK_ULONG = 16;
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256_HMAC_GENERAL,
        pParameter: &mut len16 as *mut CK_ULONG as *mut c_void,
        ulParameterLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
    };
    let mac = sign(&r, h, &mut m, k, b"Test With Truncation");
    assert_eq!(mac, unhex("a3b6167473100ee06e0c796c2955552b"));
    assert_eq!(verify(&r, h, &mut m, k, b"Test With Truncation", &mac), CKR_OK);

    // A CKK_SHA3_224_HMAC key serves HMAC-SHA3-224 and not HMAC-SHA224
    // (both 28-byte MACs).
    let k = secret(&r, h, CKK_SHA3_224_HMAC, &[0x0c; 28], true);
    assert_eq!(sign(&r, h, &mut mech(CKM_SHA3_224_HMAC), k, b"x").len(), 28);
    assert_eq!(call!(r, C_SignInit(h, &mut mech(CKM_SHA224_HMAC), k)), CKR_KEY_TYPE_INCONSISTENT);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn operation_state_rules() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let data = b"abc";
    let d = data.as_ptr() as *mut u8;
    let mut m = mech(CKM_SHA256);
    let mut out = [0u8; 64];
    let mut len: CK_ULONG = 0;

    assert_eq!(call!(r, C_Digest(h, d, 3, out.as_mut_ptr(), &mut len)), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OPERATION_ACTIVE);
    // Length query and short buffer keep the operation.
    assert_eq!(call!(r, C_Digest(h, d, 3, null_mut(), &mut len)), CKR_OK);
    assert_eq!(len, 32);
    len = 8;
    assert_eq!(call!(r, C_Digest(h, d, 3, out.as_mut_ptr(), &mut len)), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 32);
    len = 64;
    assert_eq!(call!(r, C_Digest(h, d, 3, out.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(call!(r, C_Digest(h, d, 3, out.as_mut_ptr(), &mut len)), CKR_OPERATION_NOT_INITIALIZED);
    // A single-part call after an update ends the operation.
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    assert_eq!(call!(r, C_DigestUpdate(h, d, 3)), CKR_OK);
    assert_eq!(call!(r, C_Digest(h, d, 3, out.as_mut_ptr(), &mut len)), CKR_OPERATION_ACTIVE);
    assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut len)), CKR_OPERATION_NOT_INITIALIZED);
    // A NULL length pointer is an error and ends it too.
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    assert_eq!(call!(r, C_Digest(h, d, 3, out.as_mut_ptr(), null_mut())), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut len)), CKR_OPERATION_NOT_INITIALIZED);
    let mut bad = mech(CKM_AES_KEY_GEN);
    assert_eq!(call!(r, C_DigestInit(h, &mut bad)), CKR_MECHANISM_INVALID);
    assert_eq!(call!(r, C_DigestInit(h, null_mut())), CKR_ARGUMENTS_BAD);

    // C_DigestKey digests the value of a sensitive key without revealing it.
    let key_bytes = [0x42u8; 32];
    let aes = secret(&r, h, CKK_AES, &key_bytes, true);
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    assert_eq!(call!(r, C_DigestKey(h, aes)), CKR_OK);
    len = 64;
    assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(&out[..32], &digest(&r, h, CKM_SHA256, &key_bytes)[..]);
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    assert_eq!(call!(r, C_DigestKey(h, 0xdead)), CKR_KEY_HANDLE_INVALID);
    assert_eq!(call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut len)), CKR_OPERATION_NOT_INITIALIZED);

    // Key checks for MACs.
    let mut hm = mech(CKM_SHA256_HMAC);
    assert_eq!(call!(r, C_SignInit(h, &mut hm, 0xdead)), CKR_KEY_HANDLE_INVALID);
    let no_sign = secret(&r, h, CKK_GENERIC_SECRET, &[1; 32], false);
    assert_eq!(call!(r, C_SignInit(h, &mut hm, no_sign)), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_eq!(call!(r, C_VerifyInit(h, &mut hm, no_sign)), CKR_KEY_FUNCTION_NOT_PERMITTED);
    let sha1_key = secret(&r, h, CKK_SHA_1_HMAC, &[1; 20], true);
    assert_eq!(call!(r, C_SignInit(h, &mut hm, sha1_key)), CKR_KEY_TYPE_INCONSISTENT);
    let mut general = mech(CKM_SHA256_HMAC_GENERAL);
    let key = secret(&r, h, CKK_GENERIC_SECRET, &[7; 32], true);
    assert_eq!(call!(r, C_SignInit(h, &mut general, key)), CKR_MECHANISM_PARAM_INVALID);
    let mut too_long: CK_ULONG = 33;
    general.pParameter = &mut too_long as *mut CK_ULONG as *mut c_void;
    general.ulParameterLen = std::mem::size_of::<CK_ULONG>() as CK_ULONG;
    assert_eq!(call!(r, C_SignInit(h, &mut general, key)), CKR_MECHANISM_PARAM_INVALID);
    // AES keys are accepted for HMAC, as tools expect.
    let mac = sign(&r, h, &mut hm, aes, data);
    assert_eq!(mac.len(), 32);

    // Verify: a wrong MAC or length ends the operation with the right code.
    let good = sign(&r, h, &mut hm, key, data);
    let mut bad_mac = good.clone();
    bad_mac[0] ^= 1;
    assert_eq!(verify(&r, h, &mut hm, key, data, &bad_mac), CKR_SIGNATURE_INVALID);
    assert_eq!(call!(r, C_VerifyFinal(h, good.as_ptr() as *mut u8, 32)), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(verify(&r, h, &mut hm, key, data, &good[..31]), CKR_SIGNATURE_LEN_RANGE);
    assert_eq!(verify(&r, h, &mut hm, key, data, &good), CKR_OK);
    assert_eq!(call!(r, C_SignInit(h, &mut hm, key)), CKR_OK);
    assert_eq!(call!(r, C_SignInit(h, &mut hm, key)), CKR_OPERATION_ACTIVE);
    let cancel: libloading::Symbol<unsafe extern "C" fn(CK_SESSION_HANDLE, CK_FLAGS) -> CK_RV> =
        unsafe { r.lib.get(b"C_SessionCancel") }.unwrap();
    assert_eq!(unsafe { cancel(h, CKF_SIGN) }, CKR_OK);
    assert_eq!(sign(&r, h, &mut hm, key, data), good);

    // CKA_ALLOWED_MECHANISMS gates the mechanism.
    let mut only_sha512: CK_MECHANISM_TYPE = CKM_SHA512_HMAC;
    let mut tmpl = [attr(CKA_ALLOWED_MECHANISMS, &mut only_sha512)];
    let mut restricted = 0;
    assert_eq!(call!(r, C_CopyObject(h, key, tmpl.as_mut_ptr(), 1, &mut restricted)), CKR_ATTRIBUTE_READ_ONLY);
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_GENERIC_SECRET;
    let mut yes: CK_BBOOL = 1;
    let mut v = [9u8; 32];
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_SIGN, &mut yes),
        attr(CKA_ALLOWED_MECHANISMS, &mut only_sha512),
        attr(CKA_VALUE, &mut v),
    ];
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 5, &mut restricted)), CKR_OK);
    let mut other = mech(CKM_SHA384_HMAC);
    assert_eq!(call!(r, C_SignInit(h, &mut other, restricted)), CKR_MECHANISM_INVALID);
    let mut allowed = mech(CKM_SHA512_HMAC);
    assert_eq!(sign(&r, h, &mut allowed, restricted, data).len(), 64);

    // A MAC mechanism does not sign with recovery.
    assert_eq!(call!(r, C_SignRecoverInit(h, &mut hm, key)), CKR_MECHANISM_INVALID);
    assert_eq!(call!(r, C_VerifyRecoverInit(h, &mut hm, key)), CKR_MECHANISM_INVALID);
    assert_eq!(call!(r, C_SignRecover(h, d, 3, out.as_mut_ptr(), &mut len)), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// A single-part call that answered a length (or a too-short buffer)
/// keeps the operation single-part: an Update or Final then is
/// CKR_OPERATION_ACTIVE and ends it; the single-part call itself may be
/// repeated. Digest, sign and encrypt (GCM, whose length is known before
/// any work, and CBC).
#[test]
fn a_single_part_length_query_keeps_the_operation_single_part() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let data = [0x61u8; 32];
    let d = data.as_ptr() as *mut u8;
    let mut out = [0u8; 128];
    let mut len: CK_ULONG = 0;

    let mut m = mech(CKM_SHA256);
    for after in ["final", "update", "key"] {
        assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
        assert_eq!(call!(r, C_Digest(h, d, 32, null_mut(), &mut len)), CKR_OK);
        let aes = secret(&r, h, CKK_AES, &[1; 16], false);
        len = 64;
        let rv = match after {
            "final" => call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut len)),
            "update" => call!(r, C_DigestUpdate(h, d, 32)),
            _ => call!(r, C_DigestKey(h, aes)),
        };
        assert_eq!(rv, CKR_OPERATION_ACTIVE, "C_Digest(NULL) then {after}");
        assert_eq!(call!(r, C_Digest(h, d, 32, out.as_mut_ptr(), &mut len)), CKR_OPERATION_NOT_INITIALIZED);
    }
    // Short buffer, then the single-part call again: allowed.
    assert_eq!(call!(r, C_DigestInit(h, &mut m)), CKR_OK);
    len = 4;
    assert_eq!(call!(r, C_Digest(h, d, 32, out.as_mut_ptr(), &mut len)), CKR_BUFFER_TOO_SMALL);
    assert_eq!(call!(r, C_Digest(h, d, 32, out.as_mut_ptr(), &mut len)), CKR_OK);

    let key = secret(&r, h, CKK_GENERIC_SECRET, &[7; 32], true);
    let mut hm = mech(CKM_SHA256_HMAC);
    assert_eq!(call!(r, C_SignInit(h, &mut hm, key)), CKR_OK);
    assert_eq!(call!(r, C_Sign(h, d, 32, null_mut(), &mut len)), CKR_OK);
    assert_eq!(call!(r, C_SignUpdate(h, d, 32)), CKR_OPERATION_ACTIVE);
    assert_eq!(call!(r, C_SignInit(h, &mut hm, key)), CKR_OK);
    len = 2;
    assert_eq!(call!(r, C_Sign(h, d, 32, out.as_mut_ptr(), &mut len)), CKR_BUFFER_TOO_SMALL);
    assert_eq!(call!(r, C_SignFinal(h, out.as_mut_ptr(), &mut len)), CKR_OPERATION_ACTIVE);
    assert_eq!(call!(r, C_SignInit(h, &mut hm, key)), CKR_OK, "the refusal ended it");

    let aes = secret_key(&r, h, CKK_AES, &[9; 32]);
    let mut iv = [0u8; 16];
    let mut gcm_p = CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: null_mut(),
        ulAADLen: 0,
        ulTagBits: 128,
    };
    let mut gcm = CK_MECHANISM {
        mechanism: CKM_AES_GCM,
        pParameter: &mut gcm_p as *mut _ as *mut c_void,
        ulParameterLen: std::mem::size_of::<CK_GCM_PARAMS>() as CK_ULONG,
    };
    let mut cbc =
        CK_MECHANISM { mechanism: CKM_AES_CBC_PAD, pParameter: iv.as_mut_ptr() as *mut c_void, ulParameterLen: 16 };
    for (name, m) in [("GCM", &mut gcm as *mut CK_MECHANISM), ("CBC", &mut cbc as *mut CK_MECHANISM)] {
        assert_eq!(call!(r, C_EncryptInit(h, m, aes)), CKR_OK);
        assert_eq!(call!(r, C_Encrypt(h, d, 32, null_mut(), &mut len)), CKR_OK, "{name}");
        len = 128;
        assert_eq!(call!(r, C_EncryptFinal(h, out.as_mut_ptr(), &mut len)), CKR_OPERATION_ACTIVE, "{name}");
        assert_eq!(call!(r, C_EncryptInit(h, m, aes)), CKR_OK);
        assert_eq!(call!(r, C_Encrypt(h, d, 32, null_mut(), &mut len)), CKR_OK);
        len = 128;
        assert_eq!(call!(r, C_EncryptUpdate(h, d, 32, out.as_mut_ptr(), &mut len)), CKR_OPERATION_ACTIVE, "{name}");
        // The query, then the call itself: as before.
        assert_eq!(call!(r, C_EncryptInit(h, m, aes)), CKR_OK);
        assert_eq!(call!(r, C_Encrypt(h, d, 32, null_mut(), &mut len)), CKR_OK);
        let want = len;
        assert_eq!(call!(r, C_Encrypt(h, d, 32, out.as_mut_ptr(), &mut len)), CKR_OK);
        assert_eq!(len, want, "{name}");
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// The PKCS#11 3.0 HMAC key generations: each makes its own key type,
/// usable with its HMAC and not with another's.
#[test]
fn hmac_key_generation_mechanisms() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let gens = [
        (CKM_SHA_1_KEY_GEN, CKK_SHA_1_HMAC, CKM_SHA_1_HMAC, 20),
        (CKM_SHA224_KEY_GEN, CKK_SHA224_HMAC, CKM_SHA224_HMAC, 28),
        (CKM_SHA256_KEY_GEN, CKK_SHA256_HMAC, CKM_SHA256_HMAC, 32),
        (CKM_SHA384_KEY_GEN, CKK_SHA384_HMAC, CKM_SHA384_HMAC, 48),
        (CKM_SHA512_KEY_GEN, CKK_SHA512_HMAC, CKM_SHA512_HMAC, 64),
        (CKM_SHA3_224_KEY_GEN, CKK_SHA3_224_HMAC, CKM_SHA3_224_HMAC, 28),
        (CKM_SHA3_256_KEY_GEN, CKK_SHA3_256_HMAC, CKM_SHA3_256_HMAC, 32),
        (CKM_SHA3_384_KEY_GEN, CKK_SHA3_384_HMAC, CKM_SHA3_384_HMAC, 48),
        (CKM_SHA3_512_KEY_GEN, CKK_SHA3_512_HMAC, CKM_SHA3_512_HMAC, 64),
    ];
    for (gen, kt, hm, mac_len) in gens {
        let mut m = mech(gen);
        let mut len: CK_ULONG = 32;
        let mut yes: CK_BBOOL = 1;
        let mut t = [attr(CKA_VALUE_LEN, &mut len), attr(CKA_SIGN, &mut yes)];
        let mut k = 0;
        assert_eq!(call!(r, C_GenerateKey(h, &mut m, t.as_mut_ptr(), 2, &mut k)), CKR_OK, "{gen:#x}");
        let mut got_kt: CK_KEY_TYPE = 0;
        let mut got_gen: CK_MECHANISM_TYPE = 0;
        let mut q = [attr(CKA_KEY_TYPE, &mut got_kt), attr(CKA_KEY_GEN_MECHANISM, &mut got_gen)];
        assert_eq!(call!(r, C_GetAttributeValue(h, k, q.as_mut_ptr(), 2)), CKR_OK);
        assert_eq!((got_kt, got_gen), (kt, gen));
        assert_eq!(sign(&r, h, &mut mech(hm), k, b"data").len(), mac_len);
        let other = if hm == CKM_SHA256_HMAC { CKM_SHA512_HMAC } else { CKM_SHA256_HMAC };
        assert_eq!(call!(r, C_SignInit(h, &mut mech(other), k)), CKR_KEY_TYPE_INCONSISTENT);
        // Another key type in the template, or no length.
        let mut wrong = CKK_AES;
        let mut t = [attr(CKA_VALUE_LEN, &mut len), attr(CKA_KEY_TYPE, &mut wrong)];
        assert_eq!(call!(r, C_GenerateKey(h, &mut m, t.as_mut_ptr(), 2, &mut k)), CKR_TEMPLATE_INCONSISTENT);
        assert_eq!(call!(r, C_GenerateKey(h, &mut m, null_mut(), 0, &mut k)), CKR_TEMPLATE_INCOMPLETE);
        let mut info: CK_MECHANISM_INFO = unsafe { std::mem::zeroed() };
        assert_eq!(call!(r, C_GetMechanismInfo(0, gen, &mut info)), CKR_OK);
        assert_ne!(info.flags & CKF_GENERATE, 0);
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}
