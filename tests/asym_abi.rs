//! Asymmetric calls through the raw C ABI, for what the `cryptoki` crate
//! does not name (CKM_AES_KEY_WRAP_KWP, CKM_RSA_AES_KEY_WRAP) and for bad
//! pointers and parameters in C_GenerateKeyPair and the new mechanisms.

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::raw::*;
use common::*;
use cryptoki_sys::*;

fn rsa_pair(r: &Raw, h: CK_SESSION_HANDLE) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let mut m = mech(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let mut bits: CK_ULONG = 2048;
    let (mut yes, mut y2, mut y3) = (1u8, 1u8, 1u8);
    let mut public = [attr(CKA_MODULUS_BITS, &mut bits), attr(CKA_WRAP, &mut yes)];
    let mut private = [attr(CKA_UNWRAP, &mut y2), attr(CKA_SIGN, &mut y3)];
    let (mut hp, mut hs) = (0, 0);
    let rv = call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 2, private.as_mut_ptr(), 2, &mut hp, &mut hs));
    assert_eq!(rv, CKR_OK);
    (hp, hs)
}

fn ec_pair(r: &Raw, h: CK_SESSION_HANDLE) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let mut m = mech(CKM_EC_KEY_PAIR_GEN);
    let mut params = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (mut yes, mut ext) = (1u8, 1u8);
    let mut public = [bytes_attr(CKA_EC_PARAMS, &mut params)];
    let mut private = [attr(CKA_SIGN, &mut yes), attr(CKA_EXTRACTABLE, &mut ext)];
    let (mut hp, mut hs) = (0, 0);
    let rv = call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 1, private.as_mut_ptr(), 2, &mut hp, &mut hs));
    assert_eq!(rv, CKR_OK);
    (hp, hs)
}

fn wrap(r: &Raw, h: CK_SESSION_HANDLE, m: &mut CK_MECHANISM, kek: CK_OBJECT_HANDLE, key: CK_OBJECT_HANDLE) -> Vec<u8> {
    let mut len: CK_ULONG = 0;
    assert_eq!(call!(r, C_WrapKey(h, m, kek, key, null_mut(), &mut len)), CKR_OK);
    let mut out = vec![0u8; len as usize];
    let mut short = len - 1;
    assert_eq!(call!(r, C_WrapKey(h, m, kek, key, out.as_mut_ptr(), &mut short)), CKR_BUFFER_TOO_SMALL);
    assert_eq!(call!(r, C_WrapKey(h, m, kek, key, out.as_mut_ptr(), &mut len)), CKR_OK);
    out.truncate(len as usize);
    out
}

fn unwrap_private(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: &mut CK_MECHANISM,
    kek: CK_OBJECT_HANDLE,
    wrapped: &mut [u8],
) -> (CK_RV, CK_OBJECT_HANDLE) {
    let mut class = CKO_PRIVATE_KEY;
    let mut kt = CKK_EC;
    let mut yes = 1u8;
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt), attr(CKA_SIGN, &mut yes)];
    let mut o = 0;
    let rv =
        call!(r, C_UnwrapKey(h, m, kek, wrapped.as_mut_ptr(), wrapped.len() as CK_ULONG, t.as_mut_ptr(), 3, &mut o));
    (rv, o)
}

fn sign_verify(r: &Raw, h: CK_SESSION_HANDLE, private: CK_OBJECT_HANDLE, public: CK_OBJECT_HANDLE) {
    let mut m = mech(CKM_ECDSA_SHA256);
    let mut data = *b"raw abi";
    let mut sig = [0u8; 64];
    let mut len: CK_ULONG = 64;
    assert_eq!(call!(r, C_SignInit(h, &mut m, private)), CKR_OK);
    assert_eq!(call!(r, C_Sign(h, data.as_mut_ptr(), 7, sig.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(call!(r, C_VerifyInit(h, &mut m, public)), CKR_OK);
    assert_eq!(call!(r, C_Verify(h, data.as_mut_ptr(), 7, sig.as_mut_ptr(), len)), CKR_OK);
}

#[test]
fn kwp_and_rsa_aes_key_wrap_carry_private_keys() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let (ec_pub, ec_priv) = ec_pair(&r, h);

    // CKM_AES_KEY_WRAP_KWP (0x210B) under an AES key.
    let kek = secret_key(&r, h, CKK_AES, &[0x11; 32]);
    let mut kwp = mech(CKM_AES_KEY_WRAP_KWP);
    let mut wrapped = wrap(&r, h, &mut kwp, kek, ec_priv);
    let (rv, back) = unwrap_private(&r, h, &mut kwp, kek, &mut wrapped);
    assert_eq!(rv, CKR_OK);
    sign_verify(&r, h, back, ec_pub);
    wrapped[20] ^= 1;
    assert_eq!(unwrap_private(&r, h, &mut kwp, kek, &mut wrapped).0, CKR_WRAPPED_KEY_INVALID);

    // CKM_RSA_AES_KEY_WRAP: a fresh AES key under RSA-OAEP, the key under KWP.
    let (rsa_pub, rsa_priv) = rsa_pair(&r, h);
    let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: null_mut(),
        ulSourceDataLen: 0,
    };
    let mut params = CK_RSA_AES_KEY_WRAP_PARAMS { ulAESKeyBits: 256, pOAEPParams: &mut oaep };
    let mut m = mech_with(CKM_RSA_AES_KEY_WRAP, &mut params);
    let mut wrapped = wrap(&r, h, &mut m, rsa_pub, ec_priv);
    assert!(wrapped.len() > 256, "RSA block then the KWP blob");
    let (rv, back) = unwrap_private(&r, h, &mut m, rsa_priv, &mut wrapped);
    assert_eq!(rv, CKR_OK);
    sign_verify(&r, h, back, ec_pub);
    // The RSA half damaged: the same code as any other bad wrapping.
    wrapped[5] ^= 1;
    assert_eq!(unwrap_private(&r, h, &mut m, rsa_priv, &mut wrapped).0, CKR_WRAPPED_KEY_INVALID);
    assert_eq!(unwrap_private(&r, h, &mut m, rsa_priv, &mut wrapped[..200]).0, CKR_WRAPPED_KEY_LEN_RANGE);
    // Bad AES size and a NULL OAEP pointer: parameter errors.
    params.ulAESKeyBits = 100;
    let mut len: CK_ULONG = 0;
    let mut m = mech_with(CKM_RSA_AES_KEY_WRAP, &mut params);
    assert_eq!(call!(r, C_WrapKey(h, &mut m, rsa_pub, ec_priv, null_mut(), &mut len)), CKR_MECHANISM_PARAM_INVALID);
    params.ulAESKeyBits = 128;
    params.pOAEPParams = null_mut();
    let mut m = mech_with(CKM_RSA_AES_KEY_WRAP, &mut params);
    assert_eq!(call!(r, C_WrapKey(h, &mut m, rsa_pub, ec_priv, null_mut(), &mut len)), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn generate_key_pair_and_parameters_checked_at_the_boundary() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let mut m = mech(CKM_EC_KEY_PAIR_GEN);
    let mut params = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let mut public = [bytes_attr(CKA_EC_PARAMS, &mut params)];
    let (mut hp, mut hs) = (0, 0);
    let pp = public.as_mut_ptr();
    assert_eq!(call!(r, C_GenerateKeyPair(h, &mut m, pp, 1, null_mut(), 0, null_mut(), &mut hs)), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_GenerateKeyPair(h, &mut m, pp, 1, null_mut(), 0, &mut hp, null_mut())), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_GenerateKeyPair(h, null_mut(), pp, 1, null_mut(), 0, &mut hp, &mut hs)), CKR_ARGUMENTS_BAD);
    assert_eq!(
        call!(r, C_GenerateKeyPair(h, &mut m, null_mut(), 1, null_mut(), 0, &mut hp, &mut hs)),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(call!(r, C_GenerateKeyPair(h, &mut m, pp, 1, null_mut(), 0, &mut hp, &mut hs)), CKR_OK);
    let mut aes = mech(CKM_AES_KEY_GEN);
    assert_eq!(call!(r, C_GenerateKeyPair(h, &mut aes, pp, 1, null_mut(), 0, &mut hp, &mut hs)), CKR_MECHANISM_INVALID);
    assert_eq!(
        call!(r, C_GenerateKeyPair(999, &mut m, pp, 1, null_mut(), 0, &mut hp, &mut hs)),
        CKR_SESSION_HANDLE_INVALID
    );

    // A PSS mechanism with a parameter of the wrong size, or none.
    let (_, private) = ec_pair(&r, h);
    let rsa = rsa_pair(&r, h).1;
    let mut short = [0u8; 8];
    let mut pss = mech_with(CKM_SHA256_RSA_PKCS_PSS, &mut short);
    assert_eq!(call!(r, C_SignInit(h, &mut pss, rsa)), CKR_MECHANISM_PARAM_INVALID);
    let mut pss = mech(CKM_SHA256_RSA_PKCS_PSS);
    assert_eq!(call!(r, C_SignInit(h, &mut pss, rsa)), CKR_MECHANISM_PARAM_INVALID);
    // An OAEP label pointer that is NULL with a nonzero length.
    let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA_1,
        mgf: CKG_MGF1_SHA1,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: null_mut(),
        ulSourceDataLen: 4,
    };
    let mut m = mech_with(CKM_RSA_PKCS_OAEP, &mut oaep);
    assert_eq!(call!(r, C_DecryptInit(h, &mut m, rsa)), CKR_MECHANISM_PARAM_INVALID);
    // ECDH with a NULL public-data pointer.
    let mut ecdh = CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: null_mut(),
        ulPublicDataLen: 65,
        pPublicData: null_mut(),
    };
    let mut m = mech_with(CKM_ECDH1_DERIVE, &mut ecdh);
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_GENERIC_SECRET;
    let mut len: CK_ULONG = 16;
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt), attr(CKA_VALUE_LEN, &mut len)];
    let mut o = 0;
    assert_eq!(call!(r, C_DeriveKey(h, &mut m, private, t.as_mut_ptr(), 3, &mut o)), CKR_MECHANISM_PARAM_INVALID);
    // Sign with an EC key using an RSA mechanism.
    let mut m = mech(CKM_SHA256_RSA_PKCS);
    assert_eq!(call!(r, C_SignInit(h, &mut m, private)), CKR_KEY_TYPE_INCONSISTENT);
    // And no operation was left behind by any of the failures.
    let mut m = mech(CKM_ECDSA);
    assert_eq!(call!(r, C_SignInit(h, &mut m, private)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn cofactor_ecdh_sha224_pss_and_rsa_4096() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    // Two P-256 pairs; CKM_ECDH1_COFACTOR_DERIVE (cofactor 1) agrees with
    // CKM_ECDH1_DERIVE, with the SHA-384 X9.63 KDF and shared data.
    let point_of = |o: CK_OBJECT_HANDLE| {
        let mut q = [CK_ATTRIBUTE { type_: CKA_EC_POINT, pValue: null_mut(), ulValueLen: 0 }];
        assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)), CKR_OK);
        let mut buf = vec![0u8; q[0].ulValueLen as usize];
        q[0].pValue = buf.as_mut_ptr() as *mut std::ffi::c_void;
        assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)), CKR_OK);
        buf
    };
    let derive_pair = |r: &Raw| {
        let mut m = mech(CKM_EC_KEY_PAIR_GEN);
        let mut params = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let mut yes = 1u8;
        let mut public = [bytes_attr(CKA_EC_PARAMS, &mut params)];
        let mut private = [attr(CKA_DERIVE, &mut yes)];
        let (mut hp, mut hs) = (0, 0);
        let rv =
            call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 1, private.as_mut_ptr(), 1, &mut hp, &mut hs));
        assert_eq!(rv, CKR_OK);
        (hp, hs)
    };
    let (a_pub, a) = derive_pair(&r);
    let (b_pub, b) = derive_pair(&r);
    let derive = |mtype: CK_MECHANISM_TYPE, base: CK_OBJECT_HANDLE, peer: &mut Vec<u8>| {
        let mut shared = *b"shared info";
        let mut p = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_SHA384_KDF,
            ulSharedDataLen: shared.len() as CK_ULONG,
            pSharedData: shared.as_mut_ptr(),
            ulPublicDataLen: peer.len() as CK_ULONG,
            pPublicData: peer.as_mut_ptr(),
        };
        let mut m = mech_with(mtype, &mut p);
        let (mut class, mut kt, mut len, mut no, mut yes) =
            (CKO_SECRET_KEY, CKK_GENERIC_SECRET, 64 as CK_ULONG, 0u8, 1u8);
        let mut t = [
            attr(CKA_CLASS, &mut class),
            attr(CKA_KEY_TYPE, &mut kt),
            attr(CKA_VALUE_LEN, &mut len),
            attr(CKA_SENSITIVE, &mut no),
            attr(CKA_EXTRACTABLE, &mut yes),
        ];
        let mut o = 0;
        assert_eq!(call!(r, C_DeriveKey(h, &mut m, base, t.as_mut_ptr(), 5, &mut o)), CKR_OK);
        value_of(&r, h, o)
    };
    let k1 = derive(CKM_ECDH1_COFACTOR_DERIVE, a, &mut point_of(b_pub));
    let k2 = derive(CKM_ECDH1_DERIVE, b, &mut point_of(a_pub));
    assert_eq!(k1.len(), 64);
    assert_eq!(k1, k2);

    // RSA-4096 with the default exponent; SHA224-RSA-PKCS-PSS both ways.
    let mut m = mech(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let mut bits: CK_ULONG = 4096;
    let (mut sign, mut verify) = (1u8, 1u8);
    let mut public = [attr(CKA_MODULUS_BITS, &mut bits), attr(CKA_VERIFY, &mut verify)];
    let mut private = [attr(CKA_SIGN, &mut sign)];
    let (mut hp, mut hs) = (0, 0);
    let rv = call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 2, private.as_mut_ptr(), 1, &mut hp, &mut hs));
    assert_eq!(rv, CKR_OK);
    let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA224, mgf: CKG_MGF1_SHA224, sLen: 28 };
    let mut m = mech_with(CKM_SHA224_RSA_PKCS_PSS, &mut pss);
    let mut data = *b"four thousand and ninety-six";
    let mut sig = vec![0u8; 512];
    let mut len: CK_ULONG = 0;
    assert_eq!(call!(r, C_SignInit(h, &mut m, hs)), CKR_OK);
    assert_eq!(call!(r, C_Sign(h, data.as_mut_ptr(), data.len() as CK_ULONG, null_mut(), &mut len)), CKR_OK);
    assert_eq!(len, 512);
    assert_eq!(call!(r, C_Sign(h, data.as_mut_ptr(), data.len() as CK_ULONG, sig.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(call!(r, C_VerifyInit(h, &mut m, hp)), CKR_OK);
    assert_eq!(call!(r, C_Verify(h, data.as_mut_ptr(), data.len() as CK_ULONG, sig.as_mut_ptr(), len)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// Issue 17: CKA_DERIVE_TEMPLATE on an EC key was stored and read back but
/// not applied to what CKM_ECDH1_DERIVE made. Now its attributes are the
/// derived key's; a template contradicting them is
/// CKR_TEMPLATE_INCONSISTENT.
#[test]
fn an_ec_keys_derive_template_governs_what_ecdh_derives() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    // A P-256 pair whose private half may derive only sensitive keys
    // labelled "governed".
    let mut m = mech(CKM_EC_KEY_PAIR_GEN);
    let mut params = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (mut yes, mut sens) = (1u8, 1u8);
    let mut label = *b"governed";
    let mut governing = [attr(CKA_SENSITIVE, &mut sens), bytes_attr(CKA_LABEL, &mut label)];
    let mut public = [bytes_attr(CKA_EC_PARAMS, &mut params)];
    let mut private = [
        attr(CKA_DERIVE, &mut yes),
        CK_ATTRIBUTE {
            type_: CKA_DERIVE_TEMPLATE,
            pValue: governing.as_mut_ptr() as *mut std::ffi::c_void,
            ulValueLen: std::mem::size_of_val(&governing) as CK_ULONG,
        },
    ];
    let (mut hp, mut hs) = (0, 0);
    let rv = call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 1, private.as_mut_ptr(), 2, &mut hp, &mut hs));
    assert_eq!(rv, CKR_OK);
    let mut q = [CK_ATTRIBUTE { type_: CKA_EC_POINT, pValue: null_mut(), ulValueLen: 0 }];
    assert_eq!(call!(r, C_GetAttributeValue(h, hp, q.as_mut_ptr(), 1)), CKR_OK);
    let mut point = vec![0u8; q[0].ulValueLen as usize];
    q[0].pValue = point.as_mut_ptr() as *mut std::ffi::c_void;
    assert_eq!(call!(r, C_GetAttributeValue(h, hp, q.as_mut_ptr(), 1)), CKR_OK);
    let derive = |extra: Option<&mut [u8]>| -> (CK_RV, CK_OBJECT_HANDLE) {
        let mut p = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_NULL,
            ulSharedDataLen: 0,
            pSharedData: null_mut(),
            ulPublicDataLen: point.len() as CK_ULONG,
            pPublicData: point.as_ptr() as *mut u8,
        };
        let mut m = mech_with(CKM_ECDH1_DERIVE, &mut p);
        let (mut class, mut kt, mut len) = (CKO_SECRET_KEY, CKK_GENERIC_SECRET, 32 as CK_ULONG);
        let mut t = vec![attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt), attr(CKA_VALUE_LEN, &mut len)];
        if let Some(l) = extra {
            t.push(bytes_attr(CKA_LABEL, l));
        }
        let mut o = 0;
        let rv = call!(r, C_DeriveKey(h, &mut m, hs, t.as_mut_ptr(), t.len() as CK_ULONG, &mut o));
        (rv, o)
    };
    // A label other than the template's: refused.
    let (mut other, mut same) = (*b"other", *b"governed");
    assert_eq!(derive(Some(&mut other)).0, CKR_TEMPLATE_INCONSISTENT);
    // Repeating it is fine; leaving it out takes it from the template.
    assert_eq!(derive(Some(&mut same)).0, CKR_OK);
    let (rv, o) = derive(None);
    assert_eq!(rv, CKR_OK);
    let mut got = [0u8; 8];
    let mut s: CK_BBOOL = 0;
    let mut q = [bytes_attr(CKA_LABEL, &mut got), attr(CKA_SENSITIVE, &mut s)];
    assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 2)), CKR_OK);
    assert_eq!(&got, b"governed");
    assert_eq!(s, 1);
}

/// C_SignRecover / C_VerifyRecover with CKM_RSA_PKCS and CKM_RSA_X_509: the
/// signature is C_Sign's with the same mechanism, the data comes back out;
/// the keys' CKA_SIGN_RECOVER / CKA_VERIFY_RECOVER gate it; the length
/// protocol and the spec's codes for bad input.
#[test]
fn sign_and_verify_with_recovery() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let mut m = mech(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let mut bits: CK_ULONG = 2048;
    let (mut y1, mut y2, mut y3, mut y4) = (1u8, 1u8, 1u8, 1u8);
    let mut public = [attr(CKA_MODULUS_BITS, &mut bits), attr(CKA_VERIFY_RECOVER, &mut y1), attr(CKA_VERIFY, &mut y2)];
    let mut private = [attr(CKA_SIGN_RECOVER, &mut y3), attr(CKA_SIGN, &mut y4)];
    let (mut pk, mut sk) = (0, 0);
    assert_eq!(
        call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 3, private.as_mut_ptr(), 2, &mut pk, &mut sk)),
        CKR_OK
    );
    let (plain_pk, plain_sk) = rsa_pair(&r, h);
    let mut data = b"recover me".to_vec();
    let mut out = [0u8; 512];
    for mt in [CKM_RSA_PKCS, CKM_RSA_X_509] {
        let mut m = mech(mt);
        assert_eq!(call!(r, C_SignRecoverInit(h, &mut m, sk)), CKR_OK);
        assert_eq!(call!(r, C_SignRecoverInit(h, &mut m, sk)), CKR_OPERATION_ACTIVE);
        let mut len: CK_ULONG = 0;
        assert_eq!(call!(r, C_SignRecover(h, data.as_mut_ptr(), 10, null_mut(), &mut len)), CKR_OK);
        assert_eq!(len, 256);
        len = 100;
        assert_eq!(call!(r, C_SignRecover(h, data.as_mut_ptr(), 10, out.as_mut_ptr(), &mut len)), CKR_BUFFER_TOO_SMALL);
        len = 512;
        assert_eq!(call!(r, C_SignRecover(h, data.as_mut_ptr(), 10, out.as_mut_ptr(), &mut len)), CKR_OK);
        let mut sig = out[..len as usize].to_vec();
        // The same signature C_Sign makes with the mechanism (both deterministic).
        assert_eq!(call!(r, C_SignInit(h, &mut m, sk)), CKR_OK);
        let mut l2: CK_ULONG = 512;
        let mut sig2 = [0u8; 512];
        assert_eq!(call!(r, C_Sign(h, data.as_mut_ptr(), 10, sig2.as_mut_ptr(), &mut l2)), CKR_OK);
        assert_eq!(&sig2[..l2 as usize], &sig[..]);

        assert_eq!(call!(r, C_VerifyRecoverInit(h, &mut m, pk)), CKR_OK);
        let mut len: CK_ULONG = 0;
        assert_eq!(call!(r, C_VerifyRecover(h, sig.as_mut_ptr(), 256, null_mut(), &mut len)), CKR_OK);
        assert_eq!(len, 256, "the modulus length bounds the data");
        len = 512;
        assert_eq!(call!(r, C_VerifyRecover(h, sig.as_mut_ptr(), 256, out.as_mut_ptr(), &mut len)), CKR_OK);
        let got = &out[..len as usize];
        if mt == CKM_RSA_PKCS {
            assert_eq!(got, &data[..]);
        } else {
            assert_eq!(got.len(), 256);
            assert_eq!(&got[246..], &data[..], "raw: the block, zero-padded on the left");
            assert!(got[..246].iter().all(|b| *b == 0));
        }
        // A changed signature, a wrong length.
        sig[10] ^= 1;
        assert_eq!(call!(r, C_VerifyRecoverInit(h, &mut m, pk)), CKR_OK);
        len = 512;
        let bad = call!(r, C_VerifyRecover(h, sig.as_mut_ptr(), 256, out.as_mut_ptr(), &mut len));
        if mt == CKM_RSA_PKCS {
            assert_eq!(bad, CKR_SIGNATURE_INVALID);
        } else {
            assert_eq!(bad, CKR_OK, "raw RSA recovers whatever block the signature carries");
        }
        assert_eq!(call!(r, C_VerifyRecoverInit(h, &mut m, pk)), CKR_OK);
        assert_eq!(
            call!(r, C_VerifyRecover(h, sig.as_mut_ptr(), 255, out.as_mut_ptr(), &mut len)),
            CKR_SIGNATURE_LEN_RANGE
        );
        assert_eq!(
            call!(r, C_VerifyRecover(h, sig.as_mut_ptr(), 256, out.as_mut_ptr(), &mut len)),
            CKR_OPERATION_NOT_INITIALIZED
        );
        // Keys without the recover flags.
        assert_eq!(call!(r, C_SignRecoverInit(h, &mut m, plain_sk)), CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_eq!(call!(r, C_VerifyRecoverInit(h, &mut m, plain_pk)), CKR_KEY_FUNCTION_NOT_PERMITTED);
        // A public key cannot sign, a private key does not verify.
        assert_eq!(call!(r, C_SignRecoverInit(h, &mut m, pk)), CKR_KEY_TYPE_INCONSISTENT);
    }
    // Too much data for PKCS #1 v1.5 (k - 11 bytes at most).
    let mut m = mech(CKM_RSA_PKCS);
    let mut big = vec![7u8; 246];
    assert_eq!(call!(r, C_SignRecoverInit(h, &mut m, sk)), CKR_OK);
    let mut len: CK_ULONG = 512;
    assert_eq!(call!(r, C_SignRecover(h, big.as_mut_ptr(), 246, out.as_mut_ptr(), &mut len)), CKR_DATA_LEN_RANGE);
    // Hashing mechanisms do not recover.
    let mut m = mech(CKM_SHA256_RSA_PKCS);
    assert_eq!(call!(r, C_SignRecoverInit(h, &mut m, sk)), CKR_MECHANISM_INVALID);
    // C_SessionCancel ends a recover operation.
    let mut m = mech(CKM_RSA_PKCS);
    assert_eq!(call!(r, C_SignRecoverInit(h, &mut m, sk)), CKR_OK);
    let cancel: libloading::Symbol<unsafe extern "C" fn(CK_SESSION_HANDLE, CK_FLAGS) -> CK_RV> =
        unsafe { r.lib.get(b"C_SessionCancel") }.unwrap();
    assert_eq!(unsafe { cancel(h, CKF_SIGN_RECOVER) }, CKR_OK);
    assert_eq!(call!(r, C_SignRecoverInit(h, &mut m, sk)), CKR_OK);
    let mut info: CK_MECHANISM_INFO = unsafe { std::mem::zeroed() };
    assert_eq!(call!(r, C_GetMechanismInfo(0, CKM_RSA_X_509, &mut info)), CKR_OK);
    assert_ne!(info.flags & CKF_SIGN_RECOVER, 0);
    assert_ne!(info.flags & CKF_VERIFY_RECOVER, 0);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// CKM_EDDSA's CK_EDDSA_PARAMS at the boundary (Ed448ph with a context, a
/// context over 255 bytes, a NULL context with a length, a parameter of the
/// wrong size) and the key sizes C_GetMechanismInfo gives for the new curves.
#[test]
fn eddsa_params_and_new_curve_sizes_at_the_boundary() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let mut m = mech(CKM_EC_EDWARDS_KEY_PAIR_GEN);
    let mut params = [0x06, 0x03, 0x2b, 0x65, 0x71];
    let (mut yes, mut y2) = (1u8, 1u8);
    let mut public = [bytes_attr(CKA_EC_PARAMS, &mut params), attr(CKA_VERIFY, &mut y2)];
    let mut private = [attr(CKA_SIGN, &mut yes)];
    let (mut hp, mut hs) = (0, 0);
    let rv = call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 2, private.as_mut_ptr(), 1, &mut hp, &mut hs));
    assert_eq!(rv, CKR_OK);

    let mut ctx = *b"abc";
    let mut p = CK_EDDSA_PARAMS { phFlag: 1, ulContextDataLen: 3, pContextData: ctx.as_mut_ptr() };
    let mut ph = mech_with(CKM_EDDSA, &mut p);
    let mut data = *b"prehashed on the token";
    let n = data.len() as CK_ULONG;
    assert_eq!(call!(r, C_SignInit(h, &mut ph, hs)), CKR_OK);
    let mut len: CK_ULONG = 0;
    assert_eq!(call!(r, C_Sign(h, data.as_mut_ptr(), n, null_mut(), &mut len)), CKR_OK);
    assert_eq!(len, 114);
    let mut sig = [0u8; 114];
    assert_eq!(call!(r, C_Sign(h, data.as_mut_ptr(), n, sig.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(call!(r, C_VerifyInit(h, &mut ph, hp)), CKR_OK);
    assert_eq!(call!(r, C_Verify(h, data.as_mut_ptr(), n, sig.as_mut_ptr(), 114)), CKR_OK);
    // The same signature is not Ed448 with that context (phFlag FALSE).
    let mut p = CK_EDDSA_PARAMS { phFlag: 0, ulContextDataLen: 3, pContextData: ctx.as_mut_ptr() };
    let mut pure = mech_with(CKM_EDDSA, &mut p);
    assert_eq!(call!(r, C_VerifyInit(h, &mut pure, hp)), CKR_OK);
    assert_eq!(call!(r, C_Verify(h, data.as_mut_ptr(), n, sig.as_mut_ptr(), 114)), CKR_SIGNATURE_INVALID);

    // Contexts: 255 bytes is the most RFC 8032 allows.
    let mut long = [7u8; 256];
    let mut p = CK_EDDSA_PARAMS { phFlag: 0, ulContextDataLen: 256, pContextData: long.as_mut_ptr() };
    let mut m = mech_with(CKM_EDDSA, &mut p);
    assert_eq!(call!(r, C_SignInit(h, &mut m, hs)), CKR_MECHANISM_PARAM_INVALID);
    let mut p = CK_EDDSA_PARAMS { phFlag: 0, ulContextDataLen: 255, pContextData: long.as_mut_ptr() };
    let mut m = mech_with(CKM_EDDSA, &mut p);
    assert_eq!(call!(r, C_SignInit(h, &mut m, hs)), CKR_OK);
    assert_eq!(call!(r, C_Sign(h, data.as_mut_ptr(), n, sig.as_mut_ptr(), &mut len)), CKR_OK);
    let mut p = CK_EDDSA_PARAMS { phFlag: 0, ulContextDataLen: 4, pContextData: null_mut() };
    let mut m = mech_with(CKM_EDDSA, &mut p);
    assert_eq!(call!(r, C_SignInit(h, &mut m, hs)), CKR_MECHANISM_PARAM_INVALID);
    let mut short = [0u8; 8];
    let mut m = mech_with(CKM_EDDSA, &mut short);
    assert_eq!(call!(r, C_SignInit(h, &mut m, hs)), CKR_MECHANISM_PARAM_INVALID);
    // EdDSA with an ECDSA key.
    let (_, ec) = ec_pair(&r, h);
    assert_eq!(call!(r, C_SignInit(h, &mut ph, ec)), CKR_KEY_TYPE_INCONSISTENT);

    let info = |t| {
        let mut mi = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
        assert_eq!(call!(r, C_GetMechanismInfo(0, t, &mut mi)), CKR_OK);
        (mi.ulMinKeySize, mi.ulMaxKeySize)
    };
    assert_eq!(info(CKM_EDDSA), (255, 448));
    assert_eq!(info(CKM_EC_EDWARDS_KEY_PAIR_GEN), (255, 448));
    assert_eq!(info(CKM_EC_MONTGOMERY_KEY_PAIR_GEN), (255, 448));
    assert_eq!(info(CKM_EC_KEY_PAIR_GEN), (192, 521));
    assert_eq!(info(CKM_ECDH1_DERIVE), (192, 521));
    assert_eq!(info(CKM_RSA_PKCS_KEY_PAIR_GEN), (1024, 16384));
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}
