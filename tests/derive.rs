//! C_DeriveKey through the C ABI: HKDF (RFC 5869), SP 800-108 counter KDF,
//! AES ECB/CBC encrypt-data, and the derived-key attribute rules.

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::raw::*;
use common::vectors::{unhex, vectors};
use common::*;
use cryptoki_sys::*;

/// Derives a generic secret of `len` bytes (extractable, readable).
fn derive_generic(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: &mut CK_MECHANISM,
    base: CK_OBJECT_HANDLE,
    len: usize,
) -> (CK_RV, Vec<u8>) {
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_GENERIC_SECRET;
    let mut vl = len as CK_ULONG;
    let mut yes: CK_BBOOL = 1;
    let mut no: CK_BBOOL = 0;
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_VALUE_LEN, &mut vl),
        attr(CKA_EXTRACTABLE, &mut yes),
        attr(CKA_SENSITIVE, &mut no),
    ];
    let mut out = 0;
    let rv = call!(r, C_DeriveKey(h, m, base, t.as_mut_ptr(), t.len() as CK_ULONG, &mut out));
    if rv != CKR_OK {
        return (rv, Vec::new());
    }
    (rv, value_of(r, h, out))
}

fn hash_mech(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "SHA1" => CKM_SHA_1,
        "SHA256" => CKM_SHA256,
        "SHA384" => CKM_SHA384,
        "SHA512" => CKM_SHA512,
        _ => panic!("{name}"),
    }
}

#[test]
fn hkdf_rfc5869_vectors() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("hkdf_rfc5869.txt");
    assert!(vs.len() >= 3);
    for v in &vs {
        let (md, mut ikm, mut salt, mut info) = (hash_mech(&v[0]), unhex(&v[1]), unhex(&v[2]), unhex(&v[3]));
        let len: usize = v[4].parse().unwrap();
        let (okm, prk) = (unhex(&v[5]), unhex(&v[6]));
        let base = secret_key(&r, h, CKK_GENERIC_SECRET, &ikm);
        let salt_type = if v[2] == "-" { CKF_HKDF_SALT_NULL } else { CKF_HKDF_SALT_DATA };
        let mut p = CK_HKDF_PARAMS {
            bExtract: 1,
            bExpand: 1,
            prfHashMechanism: md,
            ulSaltType: salt_type,
            pSalt: if salt.is_empty() { null_mut() } else { salt.as_mut_ptr() },
            ulSaltLen: salt.len() as CK_ULONG,
            hSaltKey: 0,
            pInfo: if info.is_empty() { null_mut() } else { info.as_mut_ptr() },
            ulInfoLen: info.len() as CK_ULONG,
        };
        let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
        assert_eq!(derive_generic(&r, h, &mut m, base, len), (CKR_OK, okm.clone()), "OKM {v:?}");
        // Extract only gives the PRK; expand only from the PRK gives the OKM.
        p.bExpand = 0;
        let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
        assert_eq!(derive_generic(&r, h, &mut m, base, prk.len()), (CKR_OK, prk.clone()), "PRK {v:?}");
        let prk_key = secret_key(&r, h, CKK_GENERIC_SECRET, &prk);
        p.bExpand = 1;
        p.bExtract = 0;
        let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
        assert_eq!(derive_generic(&r, h, &mut m, prk_key, len), (CKR_OK, okm), "expand {v:?}");
        ikm.clear();
    }
    // Salt from a key object, and HKDF_DATA producing a data object.
    let v = &vs[0];
    let ikm = unhex(&v[1]);
    let salt = unhex(&v[2]);
    let base = secret_key(&r, h, CKK_GENERIC_SECRET, &ikm);
    let salt_key = secret_key(&r, h, CKK_GENERIC_SECRET, &salt);
    let mut info = unhex(&v[3]);
    let mut p = CK_HKDF_PARAMS {
        bExtract: 1,
        bExpand: 1,
        prfHashMechanism: hash_mech(&v[0]),
        ulSaltType: CKF_HKDF_SALT_KEY,
        pSalt: null_mut(),
        ulSaltLen: 0,
        hSaltKey: salt_key,
        pInfo: info.as_mut_ptr(),
        ulInfoLen: info.len() as CK_ULONG,
    };
    let len: usize = v[4].parse().unwrap();
    let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
    assert_eq!(derive_generic(&r, h, &mut m, base, len), (CKR_OK, unhex(&v[5])));
    let mut class = CKO_DATA;
    let mut vl = len as CK_ULONG;
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_VALUE_LEN, &mut vl)];
    let mut m = mech_with(CKM_HKDF_DATA, &mut p);
    let mut obj = 0;
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, base, t.as_mut_ptr(), 2, &mut obj)), CKR_OK);
    assert_eq!(value_of(&r, h, obj), unhex(&v[5]));
    // Expand only: the salt fields are ignored, whatever they hold (OpenSSL's
    // pkcs11-provider sends ulSaltType 0 for TLS 1.3's expand steps).
    let prk_key = secret_key(&r, h, CKK_GENERIC_SECRET, &unhex(&v[6]));
    for salt_type in [0, CKF_HKDF_SALT_NULL, CKF_HKDF_SALT_DATA, CKF_HKDF_SALT_KEY, 0x1234] {
        let mut q =
            CK_HKDF_PARAMS { bExtract: 0, ulSaltType: salt_type, pSalt: null_mut(), ulSaltLen: 77, hSaltKey: 0, ..p };
        let mut m = mech_with(CKM_HKDF_DERIVE, &mut q);
        assert_eq!(derive_generic(&r, h, &mut m, prk_key, len), (CKR_OK, unhex(&v[5])), "salt type {salt_type:#x}");
    }
    // With extract, an unknown salt type is still a bad parameter.
    let mut q = CK_HKDF_PARAMS { ulSaltType: 0, ..p };
    let mut m = mech_with(CKM_HKDF_DERIVE, &mut q);
    assert_eq!(derive_generic(&r, h, &mut m, base, 32).0, CKR_MECHANISM_PARAM_INVALID);
    // A generic secret (or HKDF key) without CKA_VALUE_LEN gets the hash's
    // length; an AES key still needs one.
    for (kt, want) in [(CKK_GENERIC_SECRET, CKR_OK), (CKK_HKDF, CKR_OK), (CKK_AES, CKR_TEMPLATE_INCOMPLETE)] {
        let (mut class, mut kt, mut yes, mut no) = (CKO_SECRET_KEY, kt, 1 as CK_BBOOL, 0 as CK_BBOOL);
        let mut t = [
            attr(CKA_CLASS, &mut class),
            attr(CKA_KEY_TYPE, &mut kt),
            attr(CKA_EXTRACTABLE, &mut yes),
            attr(CKA_SENSITIVE, &mut no),
        ];
        let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
        let mut out = 0;
        assert_eq!(call!(r, C_DeriveKey(h, &mut m, base, t.as_mut_ptr(), 4, &mut out)), want, "key type {kt:#x}");
        if want == CKR_OK {
            let okm = value_of(&r, h, out);
            let hash_len = match p.prfHashMechanism {
                CKM_SHA_1 => 20,
                CKM_SHA256 => 32,
                CKM_SHA384 => 48,
                _ => 64,
            };
            assert_eq!(okm.len(), hash_len);
            let n = hash_len.min(len);
            assert_eq!(okm[..n], unhex(&v[5])[..n], "T(1) of HKDF-Expand, the same for any length");
        }
    }
    // Bad parameters.
    p.bExtract = 0;
    p.bExpand = 0;
    let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
    assert_eq!(derive_generic(&r, h, &mut m, base, 32).0, CKR_MECHANISM_PARAM_INVALID);
    let mut m = CK_MECHANISM { mechanism: CKM_HKDF_DERIVE, pParameter: null_mut(), ulParameterLen: 0 };
    assert_eq!(derive_generic(&r, h, &mut m, base, 32).0, CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

fn prf_mech(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "HMAC_SHA1" => CKM_SHA_1_HMAC,
        "HMAC_SHA224" => CKM_SHA224_HMAC,
        "HMAC_SHA256" => CKM_SHA256_HMAC,
        "HMAC_SHA384" => CKM_SHA384_HMAC,
        "HMAC_SHA512" => CKM_SHA512_HMAC,
        "CMAC_AES128" | "CMAC_AES192" | "CMAC_AES256" => CKM_AES_CMAC,
        _ => panic!("{name}"),
    }
}

#[test]
fn sp800_108_counter_vectors() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("kbkdf_sp800_108_ctr.txt");
    assert!(vs.len() >= 5);
    let mut n = 0;
    for v in &vs {
        // prf rlen_bits location keyin fixedinput L_bits keyout
        let prf = prf_mech(&v[0]);
        let rlen: CK_ULONG = v[1].parse().unwrap();
        let mut fixed = unhex(&v[4]);
        let l_bits: usize = v[5].parse().unwrap();
        if l_bits % 8 != 0 {
            continue;
        }
        let kt = if prf == CKM_AES_CMAC { CKK_AES } else { CKK_GENERIC_SECRET };
        let base = secret_key(&r, h, kt, &unhex(&v[3]));
        let mut counter = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 0, ulWidthInBits: rlen };
        let counter_param = CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_ITERATION_VARIABLE,
            pValue: &mut counter as *mut _ as *mut std::ffi::c_void,
            ulValueLen: std::mem::size_of::<CK_SP800_108_COUNTER_FORMAT>() as CK_ULONG,
        };
        let fixed_param = CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_BYTE_ARRAY,
            pValue: fixed.as_mut_ptr() as *mut std::ffi::c_void,
            ulValueLen: fixed.len() as CK_ULONG,
        };
        let mut layout = match v[2].as_str() {
            "BEFORE_FIXED" => vec![counter_param, fixed_param],
            "AFTER_FIXED" => vec![fixed_param, counter_param],
            other => panic!("layout {other}"),
        };
        let mut p = CK_SP800_108_KDF_PARAMS {
            prfType: prf,
            ulNumberOfDataParams: layout.len() as CK_ULONG,
            pDataParams: layout.as_mut_ptr(),
            ulAdditionalDerivedKeys: 0,
            pAdditionalDerivedKeys: null_mut(),
        };
        let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
        assert_eq!(derive_generic(&r, h, &mut m, base, l_bits / 8), (CKR_OK, unhex(&v[6])), "{v:?}");
        n += 1;
    }
    assert!(n >= 5, "only {n} usable vectors");
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn aes_encrypt_data_and_derived_attribute_rules() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    // SP 800-38A F.1.1 / F.2.1 first blocks as the derivation data.
    let key = unhex("2b7e151628aed2a6abf7158809cf4f3c");
    let base = secret_key(&r, h, CKK_AES, &key);
    let mut data = unhex("6bc1bee22e409f96e93d7e117393172a");
    let mut sd = CK_KEY_DERIVATION_STRING_DATA { pData: data.as_mut_ptr(), ulLen: 16 };
    let mut m = mech_with(CKM_AES_ECB_ENCRYPT_DATA, &mut sd);
    assert_eq!(derive_generic(&r, h, &mut m, base, 16), (CKR_OK, unhex("3ad77bb40d7a3660a89ecaf32466ef97")));
    let iv: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
    let mut cp = CK_AES_CBC_ENCRYPT_DATA_PARAMS { iv, pData: data.as_mut_ptr(), length: 16 };
    let mut m = mech_with(CKM_AES_CBC_ENCRYPT_DATA, &mut cp);
    assert_eq!(derive_generic(&r, h, &mut m, base, 16), (CKR_OK, unhex("7649abac8119b246cee98e9b12e9197d")));
    let mut short = CK_KEY_DERIVATION_STRING_DATA { pData: data.as_mut_ptr(), ulLen: 15 };
    let mut m = mech_with(CKM_AES_ECB_ENCRYPT_DATA, &mut short);
    assert_eq!(derive_generic(&r, h, &mut m, base, 16).0, CKR_MECHANISM_PARAM_INVALID);

    // A base key without CKA_DERIVE cannot derive.
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut no: CK_BBOOL = 0;
    let mut v = key.clone();
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_DERIVE, &mut no),
        bytes_attr(CKA_VALUE, &mut v),
    ];
    let mut no_derive = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 4, &mut no_derive)), CKR_OK);
    let mut m = mech_with(CKM_AES_ECB_ENCRYPT_DATA, &mut sd);
    assert_eq!(derive_generic(&r, h, &mut m, no_derive, 16).0, CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_eq!(derive_generic(&r, h, &mut m, 0xdead, 16).0, CKR_KEY_HANDLE_INVALID);

    // Derived from a generated (always sensitive, never extractable) key:
    // the derived key keeps both properties only if it is itself sensitive
    // and non-extractable, and it is never local.
    let mut gm = mech(CKM_AES_KEY_GEN);
    let mut vl: CK_ULONG = 32;
    let mut yes: CK_BBOOL = 1;
    let mut gt = [attr(CKA_VALUE_LEN, &mut vl), attr(CKA_DERIVE, &mut yes)];
    let mut strong = 0;
    assert_eq!(call!(r, C_GenerateKey(h, &mut gm, gt.as_mut_ptr(), 2, &mut strong)), CKR_OK);
    let mut m = mech_with(CKM_AES_ECB_ENCRYPT_DATA, &mut sd);
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut dt = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt)];
    let mut derived = 0;
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, strong, dt.as_mut_ptr(), 2, &mut derived)), CKR_OK);
    let (mut local, mut always, mut never, mut len): (CK_BBOOL, CK_BBOOL, CK_BBOOL, CK_ULONG) = (9, 9, 9, 0);
    let mut q = [
        attr(CKA_LOCAL, &mut local),
        attr(CKA_ALWAYS_SENSITIVE, &mut always),
        attr(CKA_NEVER_EXTRACTABLE, &mut never),
        attr(CKA_VALUE_LEN, &mut len),
    ];
    assert_eq!(call!(r, C_GetAttributeValue(h, derived, q.as_mut_ptr(), 4)), CKR_OK);
    assert_eq!((local, always, never, len), (0, 1, 1, 16));
    let mut m = mech_with(CKM_AES_ECB_ENCRYPT_DATA, &mut sd);
    let (rv, _) = derive_generic(&r, h, &mut m, strong, 16);
    assert_eq!(rv, CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// The generic derivations (PKCS#11 §2.43): concatenations, XOR and bit
/// extraction; a generic secret of the whole result unless the template
/// asks for less; the base keys' sensitivity and non-extractability carry
/// over whatever the template says.
#[test]
fn generic_derivations() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let b = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let base = secret_key(&r, h, CKK_GENERIC_SECRET, &b);
    let other_v = [0xa0u8, 0xb0, 0xc0];
    let other = secret_key(&r, h, CKK_GENERIC_SECRET, &other_v);
    let mut d = vec![0xf0u8, 0x0f, 0xff];
    let mut data = CK_KEY_DERIVATION_STRING_DATA { pData: d.as_mut_ptr(), ulLen: 3 };
    // Derives with only class/extractable/sensitive in the template (no
    // key type, no length) unless `len` is given.
    let derive = |m: &mut CK_MECHANISM, base: CK_OBJECT_HANDLE, len: Option<CK_ULONG>| -> (CK_RV, Vec<u8>) {
        let (mut yes, mut no) = (1 as CK_BBOOL, 0 as CK_BBOOL);
        let mut l = len.unwrap_or(0);
        let mut t = vec![attr(CKA_EXTRACTABLE, &mut yes), attr(CKA_SENSITIVE, &mut no)];
        if len.is_some() {
            t.push(attr(CKA_VALUE_LEN, &mut l));
        }
        let mut out = 0;
        let rv = call!(r, C_DeriveKey(h, m, base, t.as_mut_ptr(), t.len() as CK_ULONG, &mut out));
        if rv != CKR_OK {
            return (rv, Vec::new());
        }
        (rv, value_of(&r, h, out))
    };
    let cat = |x: &[u8], y: &[u8]| [x, y].concat();
    let mut m = mech_with(CKM_CONCATENATE_BASE_AND_DATA, &mut data);
    assert_eq!(derive(&mut m, base, None), (CKR_OK, cat(&b, &d)));
    assert_eq!(derive(&mut m, base, Some(5)), (CKR_OK, b[..5].to_vec()));
    assert_eq!(derive(&mut m, base, Some(12)).0, CKR_TEMPLATE_INCONSISTENT);
    let mut m = mech_with(CKM_CONCATENATE_DATA_AND_BASE, &mut data);
    assert_eq!(derive(&mut m, base, None), (CKR_OK, cat(&d, &b)));
    let mut m = mech_with(CKM_XOR_BASE_AND_DATA, &mut data);
    assert_eq!(derive(&mut m, base, None), (CKR_OK, vec![0x11 ^ 0xf0, 0x22 ^ 0x0f, 0x33 ^ 0xff]));
    let mut oh: CK_OBJECT_HANDLE = other;
    let mut m = mech_with(CKM_CONCATENATE_BASE_AND_KEY, &mut oh);
    assert_eq!(derive(&mut m, base, None), (CKR_OK, cat(&b, &other_v)));
    let mut bad: CK_OBJECT_HANDLE = 0xdead;
    let mut m = mech_with(CKM_CONCATENATE_BASE_AND_KEY, &mut bad);
    assert_eq!(derive(&mut m, base, None).0, CKR_KEY_HANDLE_INVALID);
    // The spec's example: 0x329F84A9, from bit 21, 16 bits: 0x9526.
    let e = secret_key(&r, h, CKK_GENERIC_SECRET, &[0x32, 0x9f, 0x84, 0xa9]);
    let mut bit: CK_ULONG = 21;
    let mut m = mech_with(CKM_EXTRACT_KEY_FROM_KEY, &mut bit);
    assert_eq!(derive(&mut m, e, Some(2)), (CKR_OK, vec![0x95, 0x26]));
    assert_eq!(derive(&mut m, e, Some(5)).0, CKR_TEMPLATE_INCONSISTENT);
    assert_eq!(derive(&mut m, e, None).0, CKR_TEMPLATE_INCOMPLETE);

    // A sensitive, non-extractable base: the derived key is too, although
    // the template asks otherwise.
    let (mut class, mut kt, mut yes, mut no) = (CKO_SECRET_KEY, CKK_GENERIC_SECRET, 1 as CK_BBOOL, 0 as CK_BBOOL);
    let mut v = b.to_vec();
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_DERIVE, &mut yes),
        attr(CKA_EXTRACTABLE, &mut no),
        bytes_attr(CKA_VALUE, &mut v),
    ];
    let mut locked = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut locked)), CKR_OK);
    let mut m = mech_with(CKM_CONCATENATE_BASE_AND_DATA, &mut data);
    let (mut y2, mut n2) = (1 as CK_BBOOL, 0 as CK_BBOOL);
    let mut t = [attr(CKA_EXTRACTABLE, &mut y2), attr(CKA_SENSITIVE, &mut n2)];
    let mut out = 0;
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, locked, t.as_mut_ptr(), 2, &mut out)), CKR_OK);
    let (mut ext, mut sens): (CK_BBOOL, CK_BBOOL) = (9, 9);
    let mut q = [attr(CKA_EXTRACTABLE, &mut ext), attr(CKA_SENSITIVE, &mut sens)];
    assert_eq!(call!(r, C_GetAttributeValue(h, out, q.as_mut_ptr(), 2)), CKR_OK);
    assert_eq!((ext, sens), (0, 1), "sensitive (the default for this key) and not extractable");
    // Through CONCATENATE_BASE_AND_KEY, the second key's flags count too.
    let mut lh: CK_OBJECT_HANDLE = locked;
    let mut m = mech_with(CKM_CONCATENATE_BASE_AND_KEY, &mut lh);
    let mut t = [attr(CKA_EXTRACTABLE, &mut y2), attr(CKA_SENSITIVE, &mut n2)];
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, base, t.as_mut_ptr(), 2, &mut out)), CKR_OK);
    let mut q = [attr(CKA_EXTRACTABLE, &mut ext)];
    assert_eq!(call!(r, C_GetAttributeValue(h, out, q.as_mut_ptr(), 1)), CKR_OK);
    assert_eq!(ext, 0);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}
