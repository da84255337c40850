//! Known-answer vectors for the AES mechanisms through the C ABI: NIST CAVP
//! ECB/CBC, SP 800-38A CTR, CAVP GCM (including failing tags), SP 800-38F
//! key wrap (KW and KWP, including failing unwraps), SP 800-38B CMAC.

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::raw::*;
use common::vectors::{unhex, vectors};
use common::*;
use cryptoki_sys::*;

fn crypt(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    enc: bool,
) -> (CK_RV, Vec<u8>) {
    let rv = if enc { call!(r, C_EncryptInit(h, m, key)) } else { call!(r, C_DecryptInit(h, m, key)) };
    assert_eq!(rv, CKR_OK);
    let d = data.as_ptr() as *mut u8;
    let n = data.len() as CK_ULONG;
    let mut len: CK_ULONG = 0;
    let rv = if enc {
        call!(r, C_Encrypt(h, d, n, null_mut(), &mut len))
    } else {
        call!(r, C_Decrypt(h, d, n, null_mut(), &mut len))
    };
    if rv != CKR_OK {
        return (rv, Vec::new());
    }
    let mut out = vec![0u8; len as usize];
    let rv = if enc {
        call!(r, C_Encrypt(h, d, n, out.as_mut_ptr(), &mut len))
    } else {
        call!(r, C_Decrypt(h, d, n, out.as_mut_ptr(), &mut len))
    };
    out.truncate(len as usize);
    (rv, out)
}

#[test]
fn aes_ecb_cbc_cavp() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("aes_ecb_cbc_cavp.txt");
    assert!(vs.len() >= 10);
    for v in vs {
        let (key, iv, pt, ct) = (unhex(&v[1]), unhex(&v[2]), unhex(&v[3]), unhex(&v[4]));
        let k = secret_key(&r, h, CKK_AES, &key);
        let mut iv_buf: [u8; 16] = if v[0] == "CBC" { iv.clone().try_into().unwrap() } else { [0; 16] };
        let mut m = match v[0].as_str() {
            "ECB" => mech(CKM_AES_ECB),
            "CBC" => mech_with(CKM_AES_CBC, &mut iv_buf),
            other => panic!("{other}"),
        };
        assert_eq!(crypt(&r, h, &mut m, k, &pt, true), (CKR_OK, ct.clone()), "{v:?}");
        assert_eq!(crypt(&r, h, &mut m, k, &ct, false), (CKR_OK, pt), "{v:?}");
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn aes_ctr_sp800_38a() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("aes_ctr.txt");
    assert!(vs.len() >= 3);
    for v in vs {
        let (key, cb, pt, ct) = (unhex(&v[0]), unhex(&v[1]), unhex(&v[2]), unhex(&v[3]));
        let k = secret_key(&r, h, CKK_AES, &key);
        let mut p = CK_AES_CTR_PARAMS { ulCounterBits: 128, cb: cb.try_into().unwrap() };
        let mut m = mech_with(CKM_AES_CTR, &mut p);
        assert_eq!(crypt(&r, h, &mut m, k, &pt, true), (CKR_OK, ct.clone()), "{v:?}");
        assert_eq!(crypt(&r, h, &mut m, k, &ct, false), (CKR_OK, pt), "{v:?}");
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn aes_gcm_cavp_including_failing_tags() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("aes_gcm_cavp.txt");
    let (mut pass, mut fail) = (0, 0);
    for v in vs {
        let (key, mut iv, mut aad, pt, ct, tag) =
            (unhex(&v[0]), unhex(&v[1]), unhex(&v[2]), unhex(&v[3]), unhex(&v[4]), unhex(&v[5]));
        let k = secret_key(&r, h, CKK_AES, &key);
        let mut p = CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: iv.len() as CK_ULONG,
            ulIvBits: (iv.len() * 8) as CK_ULONG,
            pAAD: if aad.is_empty() { null_mut() } else { aad.as_mut_ptr() },
            ulAADLen: aad.len() as CK_ULONG,
            ulTagBits: (tag.len() * 8) as CK_ULONG,
        };
        let mut m = mech_with(CKM_AES_GCM, &mut p);
        let mut ct_tag = ct.clone();
        ct_tag.extend_from_slice(&tag);
        if v[6] == "pass" {
            assert_eq!(crypt(&r, h, &mut m, k, &pt, true), (CKR_OK, ct_tag.clone()), "{v:?}");
            assert_eq!(crypt(&r, h, &mut m, k, &ct_tag, false), (CKR_OK, pt), "{v:?}");
            pass += 1;
        } else {
            assert_eq!(crypt(&r, h, &mut m, k, &ct_tag, false).0, CKR_ENCRYPTED_DATA_INVALID, "{v:?}");
            fail += 1;
        }
    }
    assert!(pass >= 10 && fail >= 3, "{pass} pass, {fail} fail vectors");
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn aes_key_wrap_sp800_38f() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("aes_kw_rfc3394_kwp_rfc5649.txt");
    let mut checked = 0;
    for v in vs {
        let (kek, pt, wrapped) = (unhex(&v[1]), unhex(&v[2]), unhex(&v[3]));
        let mt = if v[0] == "KW" { CKM_AES_KEY_WRAP } else { CKM_AES_KEY_WRAP_KWP };
        let k = secret_key(&r, h, CKK_AES, &kek);
        let mut m = mech(mt);
        // Unwrap into a generic secret (any length) and compare its value.
        let mut class = CKO_SECRET_KEY;
        let mut kt = CKK_GENERIC_SECRET;
        let mut yes: CK_BBOOL = 1;
        let mut no: CK_BBOOL = 0;
        let mut t = [
            attr(CKA_CLASS, &mut class),
            attr(CKA_KEY_TYPE, &mut kt),
            attr(CKA_EXTRACTABLE, &mut yes),
            attr(CKA_SENSITIVE, &mut no),
        ];
        let mut out = 0;
        let w = wrapped.as_ptr() as *mut u8;
        let rv = call!(r, C_UnwrapKey(h, &mut m, k, w, wrapped.len() as CK_ULONG, t.as_mut_ptr(), 4, &mut out));
        if v[4] == "fail" {
            assert!(rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE, "{v:?}: {rv:#x}");
        } else if pt.len() > 512 {
            // Longer than a generic secret may be: wrap/unwrap of such data
            // is not a key operation here.
            continue;
        } else {
            assert_eq!(rv, CKR_OK, "{v:?}");
            assert_eq!(value_of(&r, h, out), pt, "{v:?}");
            // Wrapping the same value gives the vector's blob.
            let data_key = secret_key(&r, h, CKK_GENERIC_SECRET, &pt);
            let mut len: CK_ULONG = 0;
            assert_eq!(call!(r, C_WrapKey(h, &mut m, k, data_key, null_mut(), &mut len)), CKR_OK);
            let mut blob = vec![0u8; len as usize];
            assert_eq!(call!(r, C_WrapKey(h, &mut m, k, data_key, blob.as_mut_ptr(), &mut len)), CKR_OK);
            assert_eq!(blob, wrapped, "{v:?}");
            if mt == CKM_AES_KEY_WRAP_KWP {
                // 0x210A is answered as RFC 5649 too (SoftHSM's filing).
                let mut m210a = mech(CKM_AES_KEY_WRAP_PAD);
                let mut again = 0;
                let rv = call!(
                    r,
                    C_UnwrapKey(h, &mut m210a, k, w, wrapped.len() as CK_ULONG, t.as_mut_ptr(), 4, &mut again)
                );
                assert_eq!(rv, CKR_OK);
                assert_eq!(value_of(&r, h, again), pt);
            }
        }
        checked += 1;
    }
    assert!(checked >= 10);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn aes_cmac_sp800_38b() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("aes_cmac_sp800_38b.txt");
    assert!(vs.len() >= 4);
    for v in vs {
        let (key, msg, mac) = (unhex(&v[0]), unhex(&v[1]), unhex(&v[2]));
        let k = secret_key(&r, h, CKK_AES, &key);
        let mut tlen = mac.len() as CK_ULONG;
        let mut m = if mac.len() == 16 { mech(CKM_AES_CMAC) } else { mech_with(CKM_AES_CMAC_GENERAL, &mut tlen) };
        assert_eq!(call!(r, C_SignInit(h, &mut m, k)), CKR_OK);
        let mut out = [0u8; 16];
        let mut len: CK_ULONG = 16;
        let d = msg.as_ptr() as *mut u8;
        assert_eq!(call!(r, C_Sign(h, d, msg.len() as CK_ULONG, out.as_mut_ptr(), &mut len)), CKR_OK);
        assert_eq!(&out[..len as usize], &mac[..], "{v:?}");
        assert_eq!(call!(r, C_VerifyInit(h, &mut m, k)), CKR_OK);
        let rv = call!(r, C_Verify(h, d, msg.len() as CK_ULONG, mac.as_ptr() as *mut u8, mac.len() as CK_ULONG));
        assert_eq!(rv, CKR_OK);
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn wrap_and_unwrap_templates_are_enforced() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let size = std::mem::size_of::<CK_ATTRIBUTE>();
    // A KEK whose CKA_WRAP_TEMPLATE demands CKA_LABEL = "ok".
    let mut label_ok = *b"ok";
    let mut inner = [bytes_attr(CKA_LABEL, &mut label_ok)];
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut vl: CK_ULONG = 32;
    let mut yes: CK_BBOOL = 1;
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_VALUE_LEN, &mut vl),
        attr(CKA_WRAP, &mut yes),
        CK_ATTRIBUTE { type_: CKA_WRAP_TEMPLATE, pValue: inner.as_mut_ptr() as *mut _, ulValueLen: size as CK_ULONG },
    ];
    let mut gm = mech(CKM_AES_KEY_GEN);
    let mut kek = 0;
    assert_eq!(call!(r, C_GenerateKey(h, &mut gm, t.as_mut_ptr(), 5, &mut kek)), CKR_OK);
    let plain = secret_key(&r, h, CKK_AES, &[1; 16]);
    let mut m = mech(CKM_AES_KEY_WRAP);
    let mut len: CK_ULONG = 64;
    let mut buf = [0u8; 64];
    assert_eq!(call!(r, C_WrapKey(h, &mut m, kek, plain, buf.as_mut_ptr(), &mut len)), CKR_KEY_NOT_WRAPPABLE);
    let mut lab = *b"ok";
    let mut set = [bytes_attr(CKA_LABEL, &mut lab)];
    assert_eq!(call!(r, C_SetAttributeValue(h, plain, set.as_mut_ptr(), 1)), CKR_OK);
    len = 64;
    assert_eq!(call!(r, C_WrapKey(h, &mut m, kek, plain, buf.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(len, 24);
    // NULL length pointer.
    assert_eq!(call!(r, C_WrapKey(h, &mut m, kek, plain, buf.as_mut_ptr(), null_mut())), CKR_ARGUMENTS_BAD);
    // A short buffer reports the length.
    len = 8;
    assert_eq!(call!(r, C_WrapKey(h, &mut m, kek, plain, buf.as_mut_ptr(), &mut len)), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 24);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn bad_mechanism_parameters_and_lengths() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let key = secret_key(&r, h, CKK_AES, &[3; 32]);
    // Wrong IV length for CBC.
    let mut short_iv = [0u8; 8];
    let mut m = mech_with(CKM_AES_CBC_PAD, &mut short_iv);
    assert_eq!(call!(r, C_EncryptInit(h, &mut m, key)), CKR_MECHANISM_PARAM_INVALID);
    // GCM: tag too long, too short, empty IV, NULL IV with a length.
    let mut iv = [1u8; 12];
    for (tag_bits, iv_ptr, iv_len) in
        [(136, iv.as_mut_ptr(), 12), (64, iv.as_mut_ptr(), 12), (128, iv.as_mut_ptr(), 0), (128, null_mut(), 12)]
    {
        let mut p = CK_GCM_PARAMS {
            pIv: iv_ptr,
            ulIvLen: iv_len,
            ulIvBits: 0,
            pAAD: null_mut(),
            ulAADLen: 0,
            ulTagBits: tag_bits,
        };
        let mut m = mech_with(CKM_AES_GCM, &mut p);
        assert_eq!(call!(r, C_EncryptInit(h, &mut m, key)), CKR_MECHANISM_PARAM_INVALID, "tag {tag_bits} iv {iv_len}");
    }
    // NULL AAD with a length is refused, not dereferenced.
    let mut p = CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: null_mut(),
        ulAADLen: 16,
        ulTagBits: 128,
    };
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    assert_eq!(call!(r, C_EncryptInit(h, &mut m, key)), CKR_MECHANISM_PARAM_INVALID);
    // CTR with zero counter bits.
    let mut ctr = CK_AES_CTR_PARAMS { ulCounterBits: 0, cb: [0; 16] };
    let mut m = mech_with(CKM_AES_CTR, &mut ctr);
    assert_eq!(call!(r, C_EncryptInit(h, &mut m, key)), CKR_MECHANISM_PARAM_INVALID);
    // A key too short (or not a multiple of 8 bytes) for RFC 3394 wrapping.
    let mut kw = mech(CKM_AES_KEY_WRAP);
    let mut len: CK_ULONG = 64;
    let mut buf = [0u8; 64];
    for n in [8usize, 20] {
        let short = secret_key(&r, h, CKK_GENERIC_SECRET, &vec![9u8; n]);
        assert_eq!(call!(r, C_WrapKey(h, &mut kw, key, short, buf.as_mut_ptr(), &mut len)), CKR_KEY_SIZE_RANGE, "{n}");
    }
    // The same 20-byte key wraps fine with RFC 5649.
    let twenty = secret_key(&r, h, CKK_GENERIC_SECRET, &[9u8; 20]);
    let mut kwp = mech(CKM_AES_KEY_WRAP_KWP);
    len = 64;
    assert_eq!(call!(r, C_WrapKey(h, &mut kwp, key, twenty, buf.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(len, 32);

    // GCM decryption releases nothing before the tag is checked.
    let mut p = CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: null_mut(),
        ulAADLen: 0,
        ulTagBits: 128,
    };
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    assert_eq!(call!(r, C_EncryptInit(h, &mut m, key)), CKR_OK);
    let data = [0x42u8; 40];
    let mut ct = [0u8; 56];
    let mut ct_len: CK_ULONG = 56;
    assert_eq!(call!(r, C_Encrypt(h, data.as_ptr() as *mut u8, 40, ct.as_mut_ptr(), &mut ct_len)), CKR_OK);
    ct[5] ^= 1;
    assert_eq!(call!(r, C_DecryptInit(h, &mut m, key)), CKR_OK);
    let mut out = [0u8; 64];
    let mut out_len: CK_ULONG = 64;
    assert_eq!(call!(r, C_DecryptUpdate(h, ct.as_mut_ptr(), 32, out.as_mut_ptr(), &mut out_len)), CKR_OK);
    assert_eq!(out_len, 0, "plaintext released before the tag was checked");
    out_len = 64;
    assert_eq!(call!(r, C_DecryptUpdate(h, ct.as_mut_ptr().add(32), 24, out.as_mut_ptr(), &mut out_len)), CKR_OK);
    assert_eq!(out_len, 0);
    out_len = 64;
    assert_eq!(call!(r, C_DecryptFinal(h, out.as_mut_ptr(), &mut out_len)), CKR_ENCRYPTED_DATA_INVALID);
    assert_eq!(call!(r, C_DecryptFinal(h, out.as_mut_ptr(), &mut out_len)), CKR_OPERATION_NOT_INITIALIZED);

    // CKA_ENCRYPT gates encryption.
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut no: CK_BBOOL = 0;
    let mut v = [5u8; 16];
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_ENCRYPT, &mut no),
        bytes_attr(CKA_VALUE, &mut v),
    ];
    let mut no_enc = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), 4, &mut no_enc)), CKR_OK);
    let mut ecb = mech(CKM_AES_ECB);
    assert_eq!(call!(r, C_EncryptInit(h, &mut ecb, no_enc)), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_eq!(call!(r, C_DecryptInit(h, &mut ecb, no_enc)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// The 2.40 header's CK_GCM_PARAMS (no ulIvBits), which older clients send.
#[repr(C)]
struct GcmParams240 {
    p_iv: *mut u8,
    ul_iv_len: CK_ULONG,
    p_aad: *mut u8,
    ul_aad_len: CK_ULONG,
    ul_tag_bits: CK_ULONG,
}

#[test]
fn gcm_240_layout_and_aes_mac() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    // The first CAVP GCM vector with a 96-bit IV and non-empty plaintext,
    // through the 2.40 parameter layout.
    let v = vectors("aes_gcm_cavp.txt")
        .into_iter()
        .find(|v| v[6] == "pass" && v[1].len() == 24 && v[3] != "-")
        .expect("a GCM vector with a 96-bit IV and plaintext");
    let (key, mut iv, mut aad, pt, ct, tag) =
        (unhex(&v[0]), unhex(&v[1]), unhex(&v[2]), unhex(&v[3]), unhex(&v[4]), unhex(&v[5]));
    let k = secret_key(&r, h, CKK_AES, &key);
    let mut p = GcmParams240 {
        p_iv: iv.as_mut_ptr(),
        ul_iv_len: iv.len() as CK_ULONG,
        p_aad: if aad.is_empty() { null_mut() } else { aad.as_mut_ptr() },
        ul_aad_len: aad.len() as CK_ULONG,
        ul_tag_bits: (tag.len() * 8) as CK_ULONG,
    };
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    let mut want = ct.clone();
    want.extend_from_slice(&tag);
    assert_eq!(crypt(&r, h, &mut m, k, &pt, true), (CKR_OK, want));

    // CKM_AES_MAC: CBC-MAC, zero IV, zero padding, first half block.
    let data: Vec<u8> = (0..40).collect();
    let mut padded = data.clone();
    padded.resize(48, 0);
    let mut zero_iv = [0u8; 16];
    let mut cbc = mech_with(CKM_AES_CBC, &mut zero_iv);
    let (rv, cbc_out) = crypt(&r, h, &mut cbc, k, &padded, true);
    assert_eq!(rv, CKR_OK);
    let mut mac_m = mech(CKM_AES_MAC);
    assert_eq!(call!(r, C_SignInit(h, &mut mac_m, k)), CKR_OK);
    let mut mac = [0u8; 16];
    let mut len: CK_ULONG = 16;
    assert_eq!(call!(r, C_Sign(h, data.as_ptr() as *mut u8, 40, mac.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(&mac[..len as usize], &cbc_out[32..40]);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// GCM single-part output goes straight into the caller's buffer when it
/// does not overlap the input; in-place callers get the same bytes through
/// the copying path; a failed tag leaves no plaintext in the buffer.
#[test]
fn gcm_direct_and_in_place_output() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let key = secret_key(&r, h, CKK_AES, &[0x42; 32]);
    let mut iv = [7u8; 12];
    let mut aad = *b"context";
    let mut p = CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: aad.as_mut_ptr(),
        ulAADLen: 7,
        ulTagBits: 128,
    };
    let plain: Vec<u8> = (0..100u8).collect();
    // Separate buffers, length asked first (no work), then the real call.
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    assert_eq!(call!(r, C_EncryptInit(h, &mut m, key)), CKR_OK);
    let mut len: CK_ULONG = 0;
    let mut input = plain.clone();
    assert_eq!(call!(r, C_Encrypt(h, input.as_mut_ptr(), 100, null_mut(), &mut len)), CKR_OK);
    assert_eq!(len, 116);
    let mut short: CK_ULONG = 115;
    let mut ct = vec![0u8; 116];
    assert_eq!(call!(r, C_Encrypt(h, input.as_mut_ptr(), 100, ct.as_mut_ptr(), &mut short)), CKR_BUFFER_TOO_SMALL);
    assert_eq!(short, 116);
    assert_eq!(call!(r, C_Encrypt(h, input.as_mut_ptr(), 100, ct.as_mut_ptr(), &mut len)), CKR_OK);
    // In place: input and output share the buffer.
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    assert_eq!(call!(r, C_EncryptInit(h, &mut m, key)), CKR_OK);
    let mut buf = plain.clone();
    buf.resize(116, 0);
    let mut len: CK_ULONG = 116;
    assert_eq!(call!(r, C_Encrypt(h, buf.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(buf, ct, "in-place and direct output agree");
    // Decrypt directly; then with a bad tag: error, buffer wiped, operation over.
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    assert_eq!(call!(r, C_DecryptInit(h, &mut m, key)), CKR_OK);
    let mut out = vec![0u8; 100];
    let mut len: CK_ULONG = 100;
    assert_eq!(call!(r, C_Decrypt(h, ct.as_mut_ptr(), 116, out.as_mut_ptr(), &mut len)), CKR_OK);
    assert_eq!(out, plain);
    ct[115] ^= 1;
    let mut m = mech_with(CKM_AES_GCM, &mut p);
    assert_eq!(call!(r, C_DecryptInit(h, &mut m, key)), CKR_OK);
    let mut out = vec![0xAAu8; 100];
    let mut len: CK_ULONG = 100;
    assert_eq!(call!(r, C_Decrypt(h, ct.as_mut_ptr(), 116, out.as_mut_ptr(), &mut len)), CKR_ENCRYPTED_DATA_INVALID);
    assert!(out.iter().all(|b| *b == 0), "unauthenticated plaintext left in the caller's buffer");
    assert_eq!(call!(r, C_Decrypt(h, ct.as_mut_ptr(), 116, out.as_mut_ptr(), &mut len)), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}
