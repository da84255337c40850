//! The SP 800-108 KDFs in feedback and double-pipeline mode (NIST CAVP
//! vectors), additional derived keys (CK_DERIVED_KEY), other keys as PRF
//! input (CK_SP800_108_KEY_HANDLE), the derived keys' attribute rules and
//! the parameter's error codes, through the C ABI. Counter mode's CAVP
//! vectors are in tests/derive.rs.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr::null_mut;

use common::raw::*;
use common::vectors::{unhex, vectors};
use common::*;
use cryptoki_sys::*;
use hmac::{KeyInit, Mac};

fn prf_mech(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "HMAC_SHA1" => CKM_SHA_1_HMAC,
        "HMAC_SHA256" => CKM_SHA256_HMAC,
        "CMAC_AES128" | "CMAC_AES256" => CKM_AES_CMAC,
        _ => panic!("{name}"),
    }
}

fn data_param<T>(t: CK_PRF_DATA_TYPE, v: &mut T) -> CK_PRF_DATA_PARAM {
    CK_PRF_DATA_PARAM { type_: t, pValue: v as *mut T as *mut c_void, ulValueLen: std::mem::size_of::<T>() as CK_ULONG }
}

fn bytes_param(v: &mut [u8]) -> CK_PRF_DATA_PARAM {
    CK_PRF_DATA_PARAM {
        type_: CK_SP800_108_BYTE_ARRAY,
        pValue: v.as_mut_ptr() as *mut c_void,
        ulValueLen: v.len() as CK_ULONG,
    }
}

fn iteration() -> CK_PRF_DATA_PARAM {
    CK_PRF_DATA_PARAM { type_: CK_SP800_108_ITERATION_VARIABLE, pValue: null_mut(), ulValueLen: 0 }
}

/// An extractable, non-sensitive generic secret template of `len` bytes.
struct KeyTemplate {
    class: CK_OBJECT_CLASS,
    kt: CK_KEY_TYPE,
    len: CK_ULONG,
    yes: CK_BBOOL,
    no: CK_BBOOL,
}

impl KeyTemplate {
    fn new(len: usize) -> Box<KeyTemplate> {
        Box::new(KeyTemplate { class: CKO_SECRET_KEY, kt: CKK_GENERIC_SECRET, len: len as CK_ULONG, yes: 1, no: 0 })
    }

    fn attrs(&mut self) -> Vec<CK_ATTRIBUTE> {
        vec![
            attr(CKA_CLASS, &mut self.class),
            attr(CKA_KEY_TYPE, &mut self.kt),
            attr(CKA_VALUE_LEN, &mut self.len),
            attr(CKA_EXTRACTABLE, &mut self.yes),
            attr(CKA_SENSITIVE, &mut self.no),
        ]
    }
}

fn derive(r: &Raw, h: CK_SESSION_HANDLE, m: &mut CK_MECHANISM, base: CK_OBJECT_HANDLE, len: usize) -> (CK_RV, Vec<u8>) {
    let mut t = KeyTemplate::new(len);
    let mut a = t.attrs();
    let mut out = 0;
    let rv = call!(r, C_DeriveKey(h, m, base, a.as_mut_ptr(), a.len() as CK_ULONG, &mut out));
    if rv != CKR_OK {
        return (rv, Vec::new());
    }
    (rv, value_of(r, h, out))
}

fn base_key(r: &Raw, h: CK_SESSION_HANDLE, prf: CK_MECHANISM_TYPE, value: &[u8]) -> CK_OBJECT_HANDLE {
    secret_key(r, h, if prf == CKM_AES_CMAC { CKK_AES } else { CKK_GENERIC_SECRET }, value)
}

#[test]
fn feedback_and_double_pipeline_cavp_vectors() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("kbkdf_sp800_108_fb_dp.txt");
    let (mut feedback, mut pipeline) = (0, 0);
    for v in &vs {
        let prf = prf_mech(&v[1]);
        let mut counter = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 0, ulWidthInBits: v[3].parse().unwrap() };
        let mut iv = unhex(&v[5]);
        let mut fixed = unhex(&v[6]);
        let l_bits: usize = v[7].parse().unwrap();
        let base = base_key(&r, h, prf, &unhex(&v[4]));
        let mut layout = match v[2].as_str() {
            "BEFORE_ITER" => vec![data_param(CK_SP800_108_OPTIONAL_COUNTER, &mut counter), iteration()],
            "AFTER_ITER" => vec![iteration(), data_param(CK_SP800_108_OPTIONAL_COUNTER, &mut counter)],
            "NONE" => vec![iteration()],
            other => panic!("{other}"),
        };
        layout.push(bytes_param(&mut fixed));
        let got = match v[0].as_str() {
            "feedback" => {
                feedback += 1;
                let mut p = CK_SP800_108_FEEDBACK_KDF_PARAMS {
                    prfType: prf,
                    ulNumberOfDataParams: layout.len() as CK_ULONG,
                    pDataParams: layout.as_mut_ptr(),
                    ulIVLen: iv.len() as CK_ULONG,
                    pIV: if iv.is_empty() { null_mut() } else { iv.as_mut_ptr() },
                    ulAdditionalDerivedKeys: 0,
                    pAdditionalDerivedKeys: null_mut(),
                };
                let mut m = mech_with(CKM_SP800_108_FEEDBACK_KDF, &mut p);
                derive(&r, h, &mut m, base, l_bits / 8)
            }
            "pipeline" => {
                pipeline += 1;
                let mut p = CK_SP800_108_KDF_PARAMS {
                    prfType: prf,
                    ulNumberOfDataParams: layout.len() as CK_ULONG,
                    pDataParams: layout.as_mut_ptr(),
                    ulAdditionalDerivedKeys: 0,
                    pAdditionalDerivedKeys: null_mut(),
                };
                let mut m = mech_with(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut p);
                derive(&r, h, &mut m, base, l_bits / 8)
            }
            other => panic!("{other}"),
        };
        assert_eq!(got, (CKR_OK, unhex(&v[8])), "{v:?}");
    }
    assert!(feedback >= 3 && pipeline >= 4, "{feedback} feedback, {pipeline} pipeline vectors");
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// HMAC-SHA256 of the parts, computed with RustCrypto's `hmac` (not the
/// module's aws-lc) as the reference.
fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// The spec's own example (PKCS#11 3.0 §2.42.7): a 48-byte key and a
/// 16-byte additional key from HMAC-SHA256 take three segments, the second
/// key starting on the third; the DKM length is 512 bits summing the keys
/// and 768 summing the segments.
#[test]
fn additional_derived_keys_take_disjoint_segments() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let key = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let base = secret_key(&r, h, CKK_GENERIC_SECRET, &key);
    let mut label = b"label".to_vec();
    for (method, dkm) in [(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, 512u16), (CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS, 768)]
    {
        let mut counter = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 0, ulWidthInBits: 16 };
        let mut dkm_fmt =
            CK_SP800_108_DKM_LENGTH_FORMAT { dkmLengthMethod: method, bLittleEndian: 0, ulWidthInBits: 16 };
        let mut layout = [
            data_param(CK_SP800_108_ITERATION_VARIABLE, &mut counter),
            bytes_param(&mut label),
            data_param(CK_SP800_108_DKM_LENGTH, &mut dkm_fmt),
        ];
        let mut second = KeyTemplate::new(16);
        let mut second_attrs = second.attrs();
        let mut second_handle: CK_OBJECT_HANDLE = 0;
        let mut extra = [CK_DERIVED_KEY {
            pTemplate: second_attrs.as_mut_ptr(),
            ulAttributeCount: second_attrs.len() as CK_ULONG,
            phKey: &mut second_handle,
        }];
        let mut p = CK_SP800_108_KDF_PARAMS {
            prfType: CKM_SHA256_HMAC,
            ulNumberOfDataParams: layout.len() as CK_ULONG,
            pDataParams: layout.as_mut_ptr(),
            ulAdditionalDerivedKeys: 1,
            pAdditionalDerivedKeys: extra.as_mut_ptr(),
        };
        let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
        let (rv, first) = derive(&r, h, &mut m, base, 48);
        assert_eq!(rv, CKR_OK);
        assert_ne!(second_handle, CK_INVALID_HANDLE);
        let segment = |i: u16| hmac256(&key, &[&i.to_be_bytes(), b"label", &dkm.to_be_bytes()]);
        let want_first = [segment(1), segment(2)[..16].to_vec()].concat();
        assert_eq!(first, want_first, "method {method}");
        assert_eq!(value_of(&r, h, second_handle), segment(3)[..16].to_vec(), "method {method}");
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// Counts the session's secret keys (to see that a failed call made none).
fn secret_keys(r: &Raw, h: CK_SESSION_HANDLE) -> usize {
    let mut class = CKO_SECRET_KEY;
    let mut t = [attr(CKA_CLASS, &mut class)];
    assert_eq!(call!(r, C_FindObjectsInit(h, t.as_mut_ptr(), 1)), CKR_OK);
    let mut found = vec![0; 1000];
    let mut n = 0;
    assert_eq!(call!(r, C_FindObjects(h, found.as_mut_ptr(), 1000, &mut n)), CKR_OK);
    assert_eq!(call!(r, C_FindObjectsFinal(h)), CKR_OK);
    n as usize
}

#[test]
fn all_keys_or_none_and_the_offending_template_is_marked() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let base = secret_key(&r, h, CKK_GENERIC_SECRET, &[7u8; 32]);
    let mut label = b"x".to_vec();
    let mut counter = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 0, ulWidthInBits: 32 };
    let mut layout = [data_param(CK_SP800_108_ITERATION_VARIABLE, &mut counter), bytes_param(&mut label)];
    let mut good = KeyTemplate::new(32);
    let mut good_attrs = good.attrs();
    // No CKA_VALUE_LEN for a generic secret: incomplete.
    let mut bad = KeyTemplate::new(32);
    let mut bad_attrs = bad.attrs();
    bad_attrs.retain(|a| a.type_ != CKA_VALUE_LEN);
    let (mut h1, mut h2) = (99 as CK_OBJECT_HANDLE, 99 as CK_OBJECT_HANDLE);
    let mut extra = [
        CK_DERIVED_KEY {
            pTemplate: good_attrs.as_mut_ptr(),
            ulAttributeCount: good_attrs.len() as CK_ULONG,
            phKey: &mut h1,
        },
        CK_DERIVED_KEY {
            pTemplate: bad_attrs.as_mut_ptr(),
            ulAttributeCount: bad_attrs.len() as CK_ULONG,
            phKey: &mut h2,
        },
    ];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: layout.len() as CK_ULONG,
        pDataParams: layout.as_mut_ptr(),
        ulAdditionalDerivedKeys: 2,
        pAdditionalDerivedKeys: extra.as_mut_ptr(),
    };
    let before = secret_keys(&r, h);
    let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
    assert_eq!(derive(&r, h, &mut m, base, 16).0, CKR_TEMPLATE_INCOMPLETE);
    assert_eq!((h1, h2), (CK_INVALID_HANDLE, CK_INVALID_HANDLE));
    assert_eq!(secret_keys(&r, h), before, "a failed call left keys behind");

    // With the bad template fixed all three are made, each its own value.
    let mut fixed = KeyTemplate::new(8);
    let mut fixed_attrs = fixed.attrs();
    extra[1].pTemplate = fixed_attrs.as_mut_ptr();
    extra[1].ulAttributeCount = fixed_attrs.len() as CK_ULONG;
    let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
    let (rv, first) = derive(&r, h, &mut m, base, 16);
    assert_eq!(rv, CKR_OK);
    assert_eq!(secret_keys(&r, h), before + 3);
    let (v1, v2) = (value_of(&r, h, h1), value_of(&r, h, h2));
    assert_eq!((first.len(), v1.len(), v2.len()), (16, 32, 8));
    assert!(first[..8] != v1[..8] && v1[..8] != v2[..]);

    // A NULL phKey in an additional key's entry.
    extra[1].phKey = null_mut();
    std::hint::black_box(&extra); // read through `p`
    let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
    assert_eq!(derive(&r, h, &mut m, base, 16).0, CKR_MECHANISM_PARAM_INVALID);
    // A count with a NULL array.
    p.pAdditionalDerivedKeys = null_mut();
    let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
    assert_eq!(derive(&r, h, &mut m, base, 16).0, CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn key_handle_input_is_the_keys_value() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let base = secret_key(&r, h, CKK_GENERIC_SECRET, &[1u8; 32]);
    let other_value = [9u8; 24];
    let mut other = secret_key(&r, h, CKK_GENERIC_SECRET, &other_value);
    let mut counter = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 1, ulWidthInBits: 8 };
    let mut as_bytes = other_value.to_vec();
    let mut by_value = [data_param(CK_SP800_108_ITERATION_VARIABLE, &mut counter), bytes_param(&mut as_bytes)];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 2,
        pDataParams: by_value.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
    let (rv, want) = derive(&r, h, &mut m, base, 40);
    assert_eq!(rv, CKR_OK);
    let mut counter2 = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 1, ulWidthInBits: 8 };
    let mut by_handle =
        [data_param(CK_SP800_108_ITERATION_VARIABLE, &mut counter2), data_param(CK_SP800_108_KEY_HANDLE, &mut other)];
    p.pDataParams = by_handle.as_mut_ptr();
    let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
    assert_eq!(derive(&r, h, &mut m, base, 40), (CKR_OK, want));
    // A handle that names nothing.
    let mut nothing: CK_OBJECT_HANDLE = 0xdead;
    by_handle[1] = data_param(CK_SP800_108_KEY_HANDLE, &mut nothing);
    std::hint::black_box(&by_handle); // read through `p`
    let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, &mut p);
    assert_eq!(derive(&r, h, &mut m, base, 40).0, CKR_KEY_HANDLE_INVALID);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

fn bool_attr(r: &Raw, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> bool {
    let mut v: CK_BBOOL = 0;
    let mut q = [attr(t, &mut v)];
    assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)), CKR_OK);
    v != 0
}

/// §2.42.8: CKA_SENSITIVE and CKA_EXTRACTABLE left out of the template are
/// the base key's; CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE follow the
/// base key and the new key's own flags.
#[test]
fn derived_keys_take_the_base_keys_sensitivity_by_default() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    // A generated base key: sensitive, not extractable, always sensitive.
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_GENERIC_SECRET;
    let mut len: CK_ULONG = 32;
    let (mut yes, mut yes2, mut no) = (1 as CK_BBOOL, 1 as CK_BBOOL, 0 as CK_BBOOL);
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_VALUE_LEN, &mut len),
        attr(CKA_DERIVE, &mut yes),
        attr(CKA_SENSITIVE, &mut yes2),
        attr(CKA_EXTRACTABLE, &mut no),
    ];
    let mut gm = mech(CKM_GENERIC_SECRET_KEY_GEN);
    let mut strict = 0;
    assert_eq!(call!(r, C_GenerateKey(h, &mut gm, t.as_mut_ptr(), t.len() as CK_ULONG, &mut strict)), CKR_OK);
    // An imported, readable one.
    let loose = secret_key(&r, h, CKK_GENERIC_SECRET, &[3u8; 32]);

    let mut counter = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 0, ulWidthInBits: 8 };
    let mut layout = [data_param(CK_SP800_108_ITERATION_VARIABLE, &mut counter)];
    let mut p = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 1,
        pDataParams: layout.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    let minimal = |base: CK_OBJECT_HANDLE, p: &mut CK_SP800_108_KDF_PARAMS| -> CK_OBJECT_HANDLE {
        let mut class = CKO_SECRET_KEY;
        let mut kt = CKK_GENERIC_SECRET;
        let mut len: CK_ULONG = 16;
        let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt), attr(CKA_VALUE_LEN, &mut len)];
        let mut m = mech_with(CKM_SP800_108_COUNTER_KDF, p);
        let mut out = 0;
        assert_eq!(call!(r, C_DeriveKey(h, &mut m, base, t.as_mut_ptr(), 3, &mut out)), CKR_OK);
        out
    };
    let from_strict = minimal(strict, &mut p);
    assert!(bool_attr(&r, h, from_strict, CKA_SENSITIVE));
    assert!(!bool_attr(&r, h, from_strict, CKA_EXTRACTABLE));
    assert!(bool_attr(&r, h, from_strict, CKA_ALWAYS_SENSITIVE));
    assert!(bool_attr(&r, h, from_strict, CKA_NEVER_EXTRACTABLE));
    let from_loose = minimal(loose, &mut p);
    assert!(!bool_attr(&r, h, from_loose, CKA_SENSITIVE));
    assert!(bool_attr(&r, h, from_loose, CKA_EXTRACTABLE));
    assert!(!bool_attr(&r, h, from_loose, CKA_ALWAYS_SENSITIVE));
    assert!(!bool_attr(&r, h, from_loose, CKA_NEVER_EXTRACTABLE));
    assert_eq!(value_of(&r, h, from_loose).len(), 16);
    // An input key that was once readable: the derived key was never
    // "always sensitive", even from the strict base.
    let mut once_readable = loose;
    let mut counter2 = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 0, ulWidthInBits: 8 };
    let mut with_input = [
        data_param(CK_SP800_108_ITERATION_VARIABLE, &mut counter2),
        data_param(CK_SP800_108_KEY_HANDLE, &mut once_readable),
    ];
    p.ulNumberOfDataParams = 2;
    p.pDataParams = with_input.as_mut_ptr();
    let mixed = minimal(strict, &mut p);
    assert!(bool_attr(&r, h, mixed, CKA_SENSITIVE));
    assert!(!bool_attr(&r, h, mixed, CKA_ALWAYS_SENSITIVE));
    assert!(!bool_attr(&r, h, mixed, CKA_NEVER_EXTRACTABLE));
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn layout_rules_per_mode() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let base = secret_key(&r, h, CKK_GENERIC_SECRET, &[5u8; 32]);
    let mut fmt = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 0, ulWidthInBits: 16 };
    let mut fmt2 = CK_SP800_108_COUNTER_FORMAT { bLittleEndian: 0, ulWidthInBits: 16 };
    let mut label = b"L".to_vec();
    let run = |mtype: CK_MECHANISM_TYPE, layout: &mut [CK_PRF_DATA_PARAM]| -> CK_RV {
        let mut p = CK_SP800_108_KDF_PARAMS {
            prfType: CKM_SHA256_HMAC,
            ulNumberOfDataParams: layout.len() as CK_ULONG,
            pDataParams: layout.as_mut_ptr(),
            ulAdditionalDerivedKeys: 0,
            pAdditionalDerivedKeys: null_mut(),
        };
        let mut m = mech_with(mtype, &mut p);
        derive(&r, h, &mut m, base, 32).0
    };
    let with_iv = |layout: &mut [CK_PRF_DATA_PARAM], iv: &mut [u8], len: CK_ULONG| -> CK_RV {
        let mut p = CK_SP800_108_FEEDBACK_KDF_PARAMS {
            prfType: CKM_SHA256_HMAC,
            ulNumberOfDataParams: layout.len() as CK_ULONG,
            pDataParams: layout.as_mut_ptr(),
            ulIVLen: len,
            pIV: if iv.is_empty() { null_mut() } else { iv.as_mut_ptr() },
            ulAdditionalDerivedKeys: 0,
            pAdditionalDerivedKeys: null_mut(),
        };
        let mut m = mech_with(CKM_SP800_108_FEEDBACK_KDF, &mut p);
        derive(&r, h, &mut m, base, 32).0
    };
    // Counter mode: the iteration variable carries the counter's format; a
    // separate optional counter is not allowed, nor is a missing counter.
    assert_eq!(
        run(CKM_SP800_108_COUNTER_KDF, &mut [iteration(), bytes_param(&mut label)]),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(
        run(
            CKM_SP800_108_COUNTER_KDF,
            &mut [
                data_param(CK_SP800_108_ITERATION_VARIABLE, &mut fmt),
                data_param(CK_SP800_108_OPTIONAL_COUNTER, &mut fmt2)
            ]
        ),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(run(CKM_SP800_108_COUNTER_KDF, &mut [bytes_param(&mut label)]), CKR_MECHANISM_PARAM_INVALID);
    // Pipeline and feedback: the iteration variable has no value; exactly
    // one of it, at most one counter.
    assert_eq!(
        run(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut [data_param(CK_SP800_108_ITERATION_VARIABLE, &mut fmt)]),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(run(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut [iteration(), iteration()]), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(
        run(
            CKM_SP800_108_DOUBLE_PIPELINE_KDF,
            &mut [
                iteration(),
                data_param(CK_SP800_108_OPTIONAL_COUNTER, &mut fmt),
                data_param(CK_SP800_108_OPTIONAL_COUNTER, &mut fmt2)
            ]
        ),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(run(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut [iteration(), bytes_param(&mut label)]), CKR_OK);
    // Feedback's IV: NULL goes with 0 and back.
    assert_eq!(with_iv(&mut [iteration(), bytes_param(&mut label)], &mut [], 4), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(with_iv(&mut [iteration(), bytes_param(&mut label)], &mut [1, 2, 3, 4], 0), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(with_iv(&mut [iteration(), bytes_param(&mut label)], &mut [1, 2, 3, 4], 4), CKR_OK);
    // The parameter struct of the other kind (size mismatch).
    let mut wrong = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 1,
        pDataParams: [iteration()].as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: null_mut(),
    };
    let mut m = mech_with(CKM_SP800_108_FEEDBACK_KDF, &mut wrong);
    assert_eq!(derive(&r, h, &mut m, base, 32).0, CKR_MECHANISM_PARAM_INVALID);
    // An empty byte array, an unknown item type, an unknown DKM method.
    let mut empty: Vec<u8> = Vec::new();
    let empty_item =
        CK_PRF_DATA_PARAM { type_: CK_SP800_108_BYTE_ARRAY, pValue: empty.as_mut_ptr() as *mut c_void, ulValueLen: 0 };
    assert_eq!(run(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut [iteration(), empty_item]), CKR_MECHANISM_PARAM_INVALID);
    let unknown = CK_PRF_DATA_PARAM { type_: 0x77, pValue: null_mut(), ulValueLen: 0 };
    assert_eq!(run(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut [iteration(), unknown]), CKR_MECHANISM_PARAM_INVALID);
    let mut dkm = CK_SP800_108_DKM_LENGTH_FORMAT { dkmLengthMethod: 9, bLittleEndian: 0, ulWidthInBits: 16 };
    assert_eq!(
        run(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut [iteration(), data_param(CK_SP800_108_DKM_LENGTH, &mut dkm)]),
        CKR_MECHANISM_PARAM_INVALID
    );
    // Mechanism info lists all three for derive.
    let slot = {
        let mut n = 64;
        let mut s = [0; 64];
        assert_eq!(call!(r, C_GetSlotList(1, s.as_mut_ptr(), &mut n)), CKR_OK);
        s[0]
    };
    for m in [CKM_SP800_108_COUNTER_KDF, CKM_SP800_108_FEEDBACK_KDF, CKM_SP800_108_DOUBLE_PIPELINE_KDF] {
        let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
        assert_eq!(call!(r, C_GetMechanismInfo(slot, m, &mut info)), CKR_OK);
        assert_eq!(info.flags & CKF_DERIVE, CKF_DERIVE);
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// HKDF (PKCS#11 3.0 §2.62.3): the mechanism supplies the class and value,
/// the rest takes defaults: no key type makes a generic secret of the
/// hash's length; extract only makes the PRK, of the hash's length, for any
/// key type; CKA_SENSITIVE/CKA_EXTRACTABLE left out take the token's
/// defaults (sensitive, not extractable), not the base key's.
#[test]
fn hkdf_derived_keys_take_the_defaults() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let base = secret_key(&r, h, CKK_GENERIC_SECRET, &[0x0b; 22]);
    let mut info = b"info".to_vec();
    let mut p = CK_HKDF_PARAMS {
        bExtract: 1,
        bExpand: 1,
        prfHashMechanism: CKM_SHA384,
        ulSaltType: CKF_HKDF_SALT_NULL,
        pSalt: null_mut(),
        ulSaltLen: 0,
        hSaltKey: 0,
        pInfo: info.as_mut_ptr(),
        ulInfoLen: info.len() as CK_ULONG,
    };
    let ulong = |o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE| -> CK_ULONG {
        let mut v: CK_ULONG = 0;
        let mut q = [attr(t, &mut v)];
        assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)), CKR_OK);
        v
    };
    // An empty template.
    let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
    let mut out = 0;
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, base, null_mut(), 0, &mut out)), CKR_OK);
    assert_eq!(ulong(out, CKA_CLASS), CKO_SECRET_KEY);
    assert_eq!(ulong(out, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    assert_eq!(ulong(out, CKA_VALUE_LEN), 48);
    assert!(bool_attr(&r, h, out, CKA_SENSITIVE));
    assert!(!bool_attr(&r, h, out, CKA_EXTRACTABLE));
    // Extract only into an AES key without a length: the 48-byte PRK is no
    // AES key length, so the template is inconsistent; with SHA-256 it is
    // a 32-byte PRK, an AES-256 key.
    p.bExpand = 0;
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt)];
    let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, base, t.as_mut_ptr(), 2, &mut out)), CKR_TEMPLATE_INCONSISTENT);
    p.prfHashMechanism = CKM_SHA256;
    let mut m = mech_with(CKM_HKDF_DERIVE, &mut p);
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, base, t.as_mut_ptr(), 2, &mut out)), CKR_OK);
    assert_eq!(ulong(out, CKA_VALUE_LEN), 32);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}
