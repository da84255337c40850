//! ML-KEM and ML-DSA through the raw C ABI, for what the `cryptoki` crate
//! does not do: C_EncapsulateKey's output protocol (NULL buffer, short
//! buffer: the length and no key), NULL pointers, CKA_ENCAPSULATE_TEMPLATE /
//! CKA_DECAPSULATE_TEMPLATE (which cryptoki cannot express), and malformed
//! CK_SIGN_ADDITIONAL_CONTEXT parameters.

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::raw::*;
use common::*;
use cryptoki_sys::*;

type Encapsulate = unsafe extern "C" fn(
    CK_SESSION_HANDLE,
    *mut CK_MECHANISM,
    CK_OBJECT_HANDLE,
    *mut CK_ATTRIBUTE,
    CK_ULONG,
    *mut CK_BYTE,
    *mut CK_ULONG,
    *mut CK_OBJECT_HANDLE,
) -> CK_RV;
type Decapsulate = unsafe extern "C" fn(
    CK_SESSION_HANDLE,
    *mut CK_MECHANISM,
    CK_OBJECT_HANDLE,
    *mut CK_ATTRIBUTE,
    CK_ULONG,
    *mut CK_BYTE,
    CK_ULONG,
    *mut CK_OBJECT_HANDLE,
) -> CK_RV;

fn object_count(r: &Raw, h: CK_SESSION_HANDLE) -> usize {
    assert_eq!(call!(r, C_FindObjectsInit(h, null_mut(), 0)), CKR_OK);
    let mut found = [0 as CK_OBJECT_HANDLE; 64];
    let mut n: CK_ULONG = 0;
    assert_eq!(call!(r, C_FindObjects(h, found.as_mut_ptr(), 64, &mut n)), CKR_OK);
    assert_eq!(call!(r, C_FindObjectsFinal(h)), CKR_OK);
    n as usize
}

fn bool_of(r: &Raw, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> bool {
    let mut v: CK_BBOOL = 9;
    let mut q = [attr(t, &mut v)];
    assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)), CKR_OK);
    v == CK_TRUE as CK_BBOOL
}

#[test]
fn encapsulation_output_protocol_and_governing_templates() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let encaps: libloading::Symbol<Encapsulate> = unsafe { r.lib.get(b"C_EncapsulateKey") }.unwrap();
    let decaps: libloading::Symbol<Decapsulate> = unsafe { r.lib.get(b"C_DecapsulateKey") }.unwrap();

    // An ML-KEM-768 pair whose public key makes only non-extractable keys
    // and whose private key only sensitive ones.
    let mut m = mech(CKM_ML_KEM_KEY_PAIR_GEN);
    let mut set = CKP_ML_KEM_768;
    let (mut no, mut yes) = (CK_FALSE as CK_BBOOL, CK_TRUE as CK_BBOOL);
    let mut enc_inner = [attr(CKA_EXTRACTABLE, &mut no)];
    let mut dec_inner = [attr(CKA_SENSITIVE, &mut yes)];
    let asz = std::mem::size_of::<CK_ATTRIBUTE>();
    let mut public = [
        attr(CKA_PARAMETER_SET, &mut set),
        CK_ATTRIBUTE {
            type_: CKA_ENCAPSULATE_TEMPLATE,
            pValue: enc_inner.as_mut_ptr() as *mut _,
            ulValueLen: asz as CK_ULONG,
        },
    ];
    let mut private = [CK_ATTRIBUTE {
        type_: CKA_DECAPSULATE_TEMPLATE,
        pValue: dec_inner.as_mut_ptr() as *mut _,
        ulValueLen: asz as CK_ULONG,
    }];
    let (mut hp, mut hs) = (0, 0);
    assert_eq!(
        call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 2, private.as_mut_ptr(), 1, &mut hp, &mut hs)),
        CKR_OK
    );

    let mut km = mech(CKM_ML_KEM);
    let mut class = CKO_SECRET_KEY;
    let mut t = [attr(CKA_CLASS, &mut class)];
    let before = object_count(&r, h);
    // NULL buffer: the length, and no key.
    let (mut len, mut hk) = (0 as CK_ULONG, 0 as CK_OBJECT_HANDLE);
    assert_eq!(unsafe { encaps(h, &mut km, hp, t.as_mut_ptr(), 1, null_mut(), &mut len, &mut hk) }, CKR_OK);
    assert_eq!((len, hk), (1088, 0));
    // Short buffer: CKR_BUFFER_TOO_SMALL with the length, and no key.
    let mut ct = vec![0u8; 1088];
    len = 100;
    assert_eq!(
        unsafe { encaps(h, &mut km, hp, t.as_mut_ptr(), 1, ct.as_mut_ptr(), &mut len, &mut hk) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!((len, hk), (1088, 0));
    assert_eq!(object_count(&r, h), before, "no key for a length query");
    // NULL length or key-handle pointer.
    assert_eq!(
        unsafe { encaps(h, &mut km, hp, t.as_mut_ptr(), 1, ct.as_mut_ptr(), null_mut(), &mut hk) },
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(
        unsafe { encaps(h, &mut km, hp, t.as_mut_ptr(), 1, ct.as_mut_ptr(), &mut len, null_mut()) },
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(
        unsafe { encaps(h, null_mut(), hp, t.as_mut_ptr(), 1, ct.as_mut_ptr(), &mut len, &mut hk) },
        CKR_ARGUMENTS_BAD
    );
    // A parameter CKM_ML_KEM does not take.
    let mut junk = 7u64;
    let mut bad = mech_with(CKM_ML_KEM, &mut junk);
    assert_eq!(
        unsafe { encaps(h, &mut bad, hp, t.as_mut_ptr(), 1, ct.as_mut_ptr(), &mut len, &mut hk) },
        CKR_MECHANISM_PARAM_INVALID
    );

    // The governing template applies: the key is not extractable, and a
    // template that contradicts it is refused.
    len = ct.len() as CK_ULONG;
    assert_eq!(unsafe { encaps(h, &mut km, hp, t.as_mut_ptr(), 1, ct.as_mut_ptr(), &mut len, &mut hk) }, CKR_OK);
    assert_eq!(len, 1088);
    assert!(hk != 0 && !bool_of(&r, h, hk, CKA_EXTRACTABLE));
    let mut y2 = CK_TRUE as CK_BBOOL;
    let mut contra = [attr(CKA_CLASS, &mut class), attr(CKA_EXTRACTABLE, &mut y2)];
    assert_eq!(
        unsafe { encaps(h, &mut km, hp, contra.as_mut_ptr(), 2, ct.as_mut_ptr(), &mut len, &mut hk) },
        CKR_TEMPLATE_INCONSISTENT
    );

    let mut hd = 0;
    assert_eq!(unsafe { decaps(h, &mut km, hs, t.as_mut_ptr(), 1, ct.as_mut_ptr(), 1088, &mut hd) }, CKR_OK);
    assert!(bool_of(&r, h, hd, CKA_SENSITIVE));
    let mut n2 = CK_FALSE as CK_BBOOL;
    let mut contra = [attr(CKA_SENSITIVE, &mut n2)];
    assert_eq!(
        unsafe { decaps(h, &mut km, hs, contra.as_mut_ptr(), 1, ct.as_mut_ptr(), 1088, &mut hd) },
        CKR_TEMPLATE_INCONSISTENT
    );
    // NULL ciphertext or handle pointer; an oversized ciphertext.
    assert_eq!(unsafe { decaps(h, &mut km, hs, t.as_mut_ptr(), 1, null_mut(), 1088, &mut hd) }, CKR_ARGUMENTS_BAD);
    assert_eq!(
        unsafe { decaps(h, &mut km, hs, t.as_mut_ptr(), 1, ct.as_mut_ptr(), 1088, null_mut()) },
        CKR_ARGUMENTS_BAD
    );
    let mut big = vec![0u8; 8192];
    assert_eq!(
        unsafe { decaps(h, &mut km, hs, t.as_mut_ptr(), 1, big.as_mut_ptr(), 8192, &mut hd) },
        CKR_ENCRYPTED_DATA_LEN_RANGE
    );
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn ml_dsa_parameters_are_checked_at_the_boundary() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let mut m = mech(CKM_ML_DSA_KEY_PAIR_GEN);
    let mut set = CKP_ML_DSA_44;
    let mut public = [attr(CKA_PARAMETER_SET, &mut set)];
    let (mut hp, mut hs) = (0, 0);
    assert_eq!(call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 1, null_mut(), 0, &mut hp, &mut hs)), CKR_OK);

    let mut ctx = [1u8; 300];
    let sign_init = |p: &mut CK_SIGN_ADDITIONAL_CONTEXT| {
        let mut sm = mech_with(CKM_ML_DSA, p);
        call!(r, C_SignInit(h, &mut sm, hs))
    };
    // A context over 255 bytes, an unknown hedge variant, a NULL context
    // with a length, a parameter of the wrong size.
    let mut p =
        CK_SIGN_ADDITIONAL_CONTEXT { hedgeVariant: CKH_HEDGE_PREFERRED, pContext: ctx.as_mut_ptr(), ulContextLen: 256 };
    assert_eq!(sign_init(&mut p), CKR_MECHANISM_PARAM_INVALID);
    p.ulContextLen = 16;
    p.hedgeVariant = 3;
    assert_eq!(sign_init(&mut p), CKR_MECHANISM_PARAM_INVALID);
    p.hedgeVariant = CKH_DETERMINISTIC_REQUIRED;
    p.pContext = null_mut();
    assert_eq!(sign_init(&mut p), CKR_MECHANISM_PARAM_INVALID);
    let mut short = [0u8; 8];
    let mut sm = mech_with(CKM_ML_DSA, &mut short);
    assert_eq!(call!(r, C_SignInit(h, &mut sm, hs)), CKR_MECHANISM_PARAM_INVALID);
    // A NULL context of length 0 is the empty context; 255 bytes is the most.
    p.ulContextLen = 0;
    assert_eq!(sign_init(&mut p), CKR_OK);
    let data = *b"message";
    let mut sig = vec![0u8; 2420];
    let mut len: CK_ULONG = 0;
    assert_eq!(call!(r, C_Sign(h, data.as_ptr() as *mut _, 7, null_mut(), &mut len)), CKR_OK);
    assert_eq!(len, 2420);
    len = 100;
    assert_eq!(call!(r, C_Sign(h, data.as_ptr() as *mut _, 7, sig.as_mut_ptr(), &mut len)), CKR_BUFFER_TOO_SMALL);
    len = sig.len() as CK_ULONG;
    assert_eq!(call!(r, C_Sign(h, data.as_ptr() as *mut _, 7, sig.as_mut_ptr(), &mut len)), CKR_OK);
    let mut p =
        CK_SIGN_ADDITIONAL_CONTEXT { hedgeVariant: CKH_HEDGE_REQUIRED, pContext: ctx.as_mut_ptr(), ulContextLen: 255 };
    assert_eq!(sign_init(&mut p), CKR_OK);
    assert_eq!(call!(r, C_SignFinal(h, sig.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// A length query (NULL buffer) or a short buffer checks the key but is not
/// a use of it: the template is not looked at (a template the real call
/// refuses still gets the length), the key's class and usage are checked
/// as for the real call, and only calls that make a key are audited (read
/// back from the store's audit table after C_Finalize writes the buffer).
#[test]
fn a_length_query_checks_the_key_but_is_not_a_use() {
    let w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let encaps: libloading::Symbol<Encapsulate> = unsafe { r.lib.get(b"C_EncapsulateKey") }.unwrap();
    let mut m = mech(CKM_ML_KEM_KEY_PAIR_GEN);
    let mut set = CKP_ML_KEM_512;
    let mut public = [attr(CKA_PARAMETER_SET, &mut set)];
    let (mut hp, mut hs) = (0, 0);
    assert_eq!(call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 1, null_mut(), 0, &mut hp, &mut hs)), CKR_OK);
    let mut km = mech(CKM_ML_KEM);
    let mut class = CKO_SECRET_KEY;
    let mut t = [attr(CKA_CLASS, &mut class)];
    let mut wrong_class = CKO_DATA;
    let mut bad = [attr(CKA_CLASS, &mut wrong_class)];
    let (mut len, mut hk) = (0 as CK_ULONG, 0 as CK_OBJECT_HANDLE);
    // The template is not looked at: even a refused one (and a NULL one
    // with a count) gets the length.
    for _ in 0..3 {
        assert_eq!(unsafe { encaps(h, &mut km, hp, bad.as_mut_ptr(), 1, null_mut(), &mut len, &mut hk) }, CKR_OK);
        assert_eq!((len, hk), (768, 0));
    }
    assert_eq!(unsafe { encaps(h, &mut km, hp, null_mut(), 5, null_mut(), &mut len, &mut hk) }, CKR_OK);
    let mut ct = vec![0u8; 768];
    len = 10;
    assert_eq!(
        unsafe { encaps(h, &mut km, hp, t.as_mut_ptr(), 1, ct.as_mut_ptr(), &mut len, &mut hk) },
        CKR_BUFFER_TOO_SMALL
    );
    // The key is checked: the private key is the wrong class.
    assert_eq!(
        unsafe { encaps(h, &mut km, hs, t.as_mut_ptr(), 1, null_mut(), &mut len, &mut hk) },
        CKR_KEY_TYPE_INCONSISTENT
    );
    // The real call refuses the template the length query did not read.
    len = ct.len() as CK_ULONG;
    assert_eq!(
        unsafe { encaps(h, &mut km, hp, bad.as_mut_ptr(), 1, ct.as_mut_ptr(), &mut len, &mut hk) },
        CKR_TEMPLATE_INCONSISTENT
    );
    // Two keys made.
    for _ in 0..2 {
        len = ct.len() as CK_ULONG;
        assert_eq!(unsafe { encaps(h, &mut km, hp, t.as_mut_ptr(), 1, ct.as_mut_ptr(), &mut len, &mut hk) }, CKR_OK);
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
    // Audited: the two keys made and the refused template (uses of the
    // key), nothing for the five length queries and the short buffer.
    let c = rusqlite::Connection::open(&w.db).unwrap();
    let mut st = c.prepare("SELECT body FROM audit").unwrap();
    let bodies: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let uses: u64 = bodies
        .iter()
        .flat_map(|b| b.lines())
        .filter(|l| l.contains("\"event\":\"encapsulate\""))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(uses, 3, "encapsulate records: {bodies:?}");
}
