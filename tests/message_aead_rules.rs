//! The state rules and return codes of the PKCS#11 3.0 message-based AEAD
//! functions (one operation per direction, messages begun and not ended,
//! parameter faults, key usage and type, tampered tags, C_SessionCancel),
//! ChaCha20 keys (generate, create, wrap, unwrap), and the bound on what a
//! message holds. Known answers: tests/message_aead.rs.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr::null_mut;

use common::msg::*;
use common::raw::*;
use common::*;
use cryptoki_sys::*;

#[test]
fn state_rules_and_return_codes() {
    let (_w, r, f, h) = setup();
    let aes = secret_key(&r, h, CKK_AES, &[5; 16]);
    let cha = secret_key(&r, h, CKK_CHACHA20, &[6; 32]);
    let msg = b"state rules";
    let iv = [9u8; 12];
    let (a, al) = (null_mut(), 0);

    for alg in [Alg::Gcm, Alg::Ccm, Alg::Cha] {
        let key = if alg == Alg::Cha { cha } else { aes };
        let other = if alg == Alg::Cha { aes } else { cha };
        for enc in [true, false] {
            let fin = |h| if enc { m3!(f, C_MessageEncryptFinal(h)) } else { m3!(f, C_MessageDecryptFinal(h)) };
            // Nothing initialized.
            let mut p = P::plain(alg, &iv, &[0; 16], msg.len());
            let (pp, pl) = p.ptr();
            assert_eq!(one_message(f, h, &mut p, b"", msg, enc).0, CKR_OPERATION_NOT_INITIALIZED);
            let rv = if enc {
                m3!(f, C_EncryptMessageBegin(h, pp, pl, a, al))
            } else {
                m3!(f, C_DecryptMessageBegin(h, pp, pl, a, al))
            };
            assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);
            assert_eq!(fin(h), CKR_OPERATION_NOT_INITIALIZED);
            // Init; a second init is refused.
            assert_eq!(init_msg(f, h, alg, key, enc), CKR_OK);
            assert_eq!(init_msg(f, h, alg, key, enc), CKR_OPERATION_ACTIVE);
            // Next without Begin.
            let mut len: CK_ULONG = 0;
            let (d, n) = (msg.as_ptr() as *mut u8, msg.len() as CK_ULONG);
            let rv = if enc {
                m3!(f, C_EncryptMessageNext(h, pp, pl, d, n, null_mut(), &mut len, 0))
            } else {
                m3!(f, C_DecryptMessageNext(h, pp, pl, d, n, null_mut(), &mut len, 0))
            };
            assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);
            // A message begun blocks a whole message and another Begin.
            let rv = if enc {
                m3!(f, C_EncryptMessageBegin(h, pp, pl, a, al))
            } else {
                m3!(f, C_DecryptMessageBegin(h, pp, pl, a, al))
            };
            assert_eq!(rv, CKR_OK);
            let mut q = P::plain(alg, &[8; 12], &[0; 16], msg.len());
            assert_eq!(one_message(f, h, &mut q, b"", msg, enc).0, CKR_OPERATION_ACTIVE);
            let (qp, ql) = q.ptr();
            let rv = if enc {
                m3!(f, C_EncryptMessageBegin(h, qp, ql, a, al))
            } else {
                m3!(f, C_DecryptMessageBegin(h, qp, ql, a, al))
            };
            assert_eq!(rv, CKR_OPERATION_ACTIVE);
            // Unknown Next flags are bad arguments.
            let rv = if enc {
                m3!(f, C_EncryptMessageNext(h, pp, pl, d, n, null_mut(), &mut len, 0x80))
            } else {
                m3!(f, C_DecryptMessageNext(h, pp, pl, d, n, null_mut(), &mut len, 0x80))
            };
            assert_eq!(rv, CKR_ARGUMENTS_BAD);
            // ... which ended the message (not the operation): a new one begins.
            let rv = if enc {
                m3!(f, C_EncryptMessageBegin(h, qp, ql, a, al))
            } else {
                m3!(f, C_DecryptMessageBegin(h, qp, ql, a, al))
            };
            assert_eq!(rv, CKR_OK);
            // Final ends the operation, message in progress and all.
            assert_eq!(fin(h), CKR_OK);
            assert_eq!(one_message(f, h, &mut q, b"", msg, enc).0, CKR_OPERATION_NOT_INITIALIZED);
            assert_eq!(fin(h), CKR_OPERATION_NOT_INITIALIZED);
            // Parameter faults: NULL, a wrong size, another AEAD's struct.
            assert_eq!(init_msg(f, h, alg, key, enc), CKR_OK);
            let mut out = [0u8; 64];
            let mut len: CK_ULONG = 64;
            for (param, plen) in [(null_mut(), pl), (pp, pl - 1), (pp, pl + 1)] {
                let rv = if enc {
                    m3!(f, C_EncryptMessage(h, param, plen, a, al, d, n, out.as_mut_ptr(), &mut len))
                } else {
                    m3!(f, C_DecryptMessage(h, param, plen, a, al, d, n, out.as_mut_ptr(), &mut len))
                };
                assert_eq!(rv, CKR_ARGUMENTS_BAD, "{alg:?} param {plen}");
            }
            let wrong = if alg == Alg::Gcm { Alg::Cha } else { Alg::Gcm };
            let mut w = P::plain(wrong, &iv, &[0; 16], msg.len());
            assert_eq!(one_message(f, h, &mut w, b"", msg, enc).0, CKR_ARGUMENTS_BAD);
            // NULL length pointer.
            let rv = if enc {
                m3!(f, C_EncryptMessage(h, pp, pl, a, al, d, n, out.as_mut_ptr(), null_mut()))
            } else {
                m3!(f, C_DecryptMessage(h, pp, pl, a, al, d, n, out.as_mut_ptr(), null_mut()))
            };
            assert_eq!(rv, CKR_ARGUMENTS_BAD);
            // A too-short buffer says how long and keeps the operation.
            if enc {
                let mut p = P::plain(alg, &[0x42; 12], &[0; 16], msg.len());
                let (pp, pl) = p.ptr();
                let mut small = [0u8; 4];
                let mut len: CK_ULONG = 4;
                assert_eq!(
                    m3!(f, C_EncryptMessage(h, pp, pl, a, al, d, n, small.as_mut_ptr(), &mut len)),
                    CKR_BUFFER_TOO_SMALL
                );
                assert_eq!(len as usize, msg.len());
                assert_eq!(one_message(f, h, &mut p, b"", msg, true).0, CKR_OK, "IV not consumed by the short call");
            }
            assert_eq!(fin(h), CKR_OK);
            // Init faults: a bad parameter size, a non-message mechanism,
            // the wrong key type, a key without the usage.
            let mut m = mech(alg.mech());
            let mut junk = [0u8; 7];
            m.pParameter = junk.as_mut_ptr() as *mut c_void;
            m.ulParameterLen = 7;
            let rv = if enc {
                m3!(f, C_MessageEncryptInit(h, &mut m, key))
            } else {
                m3!(f, C_MessageDecryptInit(h, &mut m, key))
            };
            assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID);
            // A message parameter at init (as the cryptoki crate sends) is taken and ignored.
            m.pParameter = pp;
            m.ulParameterLen = pl;
            let rv = if enc {
                m3!(f, C_MessageEncryptInit(h, &mut m, key))
            } else {
                m3!(f, C_MessageDecryptInit(h, &mut m, key))
            };
            assert_eq!(rv, CKR_OK);
            assert_eq!(fin(h), CKR_OK);
            let mut cbc = mech(CKM_AES_ECB);
            let rv = if enc {
                m3!(f, C_MessageEncryptInit(h, &mut cbc, aes))
            } else {
                m3!(f, C_MessageDecryptInit(h, &mut cbc, aes))
            };
            assert_eq!(rv, CKR_MECHANISM_INVALID);
            assert_eq!(init_msg(f, h, alg, other, enc), CKR_KEY_TYPE_INCONSISTENT);
            let value = if alg == Alg::Cha { vec![6; 32] } else { vec![5; 16] };
            let no_use = usage_key(&r, h, alg.key_type(), &value, !enc, enc);
            assert_eq!(init_msg(f, h, alg, no_use, enc), CKR_KEY_FUNCTION_NOT_PERMITTED);
        }
        // Tampered tag and ciphertext, both paths; the operation survives.
        assert_eq!(init_msg(f, h, alg, key, true), CKR_OK);
        let mut p = P::plain(alg, &iv, &[0; 16], msg.len());
        let (rv, ct) = one_message(f, h, &mut p, b"hdr", msg, true);
        assert_eq!(rv, CKR_OK);
        let tag = p.tag.clone();
        assert_eq!(m3!(f, C_MessageEncryptFinal(h)), CKR_OK);
        assert_eq!(init_msg(f, h, alg, key, false), CKR_OK);
        let mut bad = tag.clone();
        bad[0] ^= 1;
        let mut d = P::plain(alg, &iv, &bad, ct.len());
        assert_eq!(one_message(f, h, &mut d, b"hdr", &ct, false).0, CKR_ENCRYPTED_DATA_INVALID);
        let mut d = P::plain(alg, &iv, &bad, ct.len());
        assert_eq!(pieces(f, h, &mut d, b"hdr", &ct, 4, false).0, CKR_ENCRYPTED_DATA_INVALID);
        let mut d = P::plain(alg, &iv, &tag, ct.len());
        assert_eq!(one_message(f, h, &mut d, b"hdx", &ct, false).0, CKR_ENCRYPTED_DATA_INVALID, "AAD changed");
        let mut d = P::plain(alg, &iv, &tag, ct.len());
        assert_eq!(one_message(f, h, &mut d, b"hdr", &ct, false), (CKR_OK, msg.to_vec()));
        // C_SessionCancel(CKF_MESSAGE_DECRYPT) ends the operation.
        assert_eq!(m3!(f, C_SessionCancel(h, CKF_MESSAGE_DECRYPT)), CKR_OK);
        assert_eq!(m3!(f, C_MessageDecryptFinal(h)), CKR_OPERATION_NOT_INITIALIZED);
    }
    // CCM's announced data length must match.
    assert_eq!(init_msg(f, h, Alg::Ccm, aes, true), CKR_OK);
    let mut p = P::plain(Alg::Ccm, &iv, &[0; 16], msg.len() + 1);
    assert_eq!(pieces(f, h, &mut p, b"", msg, 4, true).0, CKR_DATA_LEN_RANGE);
    assert_eq!(m3!(f, C_MessageEncryptFinal(h)), CKR_OK);
    // The mechanism info carries the message flags.
    for m in [CKM_AES_GCM, CKM_AES_CCM, CKM_CHACHA20_POLY1305] {
        let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
        assert_eq!(call!(r, C_GetMechanismInfo(0, m, &mut info)), CKR_OK);
        let want = CKF_ENCRYPT | CKF_DECRYPT | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE;
        assert_eq!(info.flags & want, want, "{m:#x}");
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn chacha20_keys_generate_wrap_and_unwrap() {
    let (_w, r, f, h) = setup();
    // CKM_CHACHA20_KEY_GEN: 32-byte keys, CKA_VALUE_LEN optional.
    let mut class = CKO_SECRET_KEY;
    let (mut yes, mut y2, mut y3, mut no) = (1u8, 1u8, 1u8, 0u8);
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_ENCRYPT, &mut yes),
        attr(CKA_DECRYPT, &mut y2),
        attr(CKA_EXTRACTABLE, &mut y3),
        attr(CKA_SENSITIVE, &mut no),
    ];
    let mut gen = mech(CKM_CHACHA20_KEY_GEN);
    let mut k = 0;
    assert_eq!(call!(r, C_GenerateKey(h, &mut gen, t.as_mut_ptr(), t.len() as CK_ULONG, &mut k)), CKR_OK);
    let value = value_of(&r, h, k);
    assert_eq!(value.len(), 32);
    let mut bad_len: CK_ULONG = 16;
    let mut t2 = [attr(CKA_CLASS, &mut class), attr(CKA_VALUE_LEN, &mut bad_len)];
    let mut k2 = 0;
    assert_eq!(call!(r, C_GenerateKey(h, &mut gen, t2.as_mut_ptr(), 2, &mut k2)), CKR_KEY_SIZE_RANGE);
    // Creating one with a wrong length is refused.
    let mut kt = CKK_CHACHA20;
    let mut short = vec![1u8; 16];
    let mut t3 = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt), bytes_attr(CKA_VALUE, &mut short)];
    assert_eq!(call!(r, C_CreateObject(h, t3.as_mut_ptr(), 3, &mut k2)), CKR_ATTRIBUTE_VALUE_INVALID);
    // Wrapped under AES key wrap (pad) and unwrapped: the same key.
    let kek = secret_key(&r, h, CKK_AES, &[0x77; 32]);
    let mut kw = mech(CKM_AES_KEY_WRAP_PAD);
    let mut len: CK_ULONG = 0;
    assert_eq!(call!(r, C_WrapKey(h, &mut kw, kek, k, null_mut(), &mut len)), CKR_OK);
    let mut wrapped = vec![0u8; len as usize];
    assert_eq!(call!(r, C_WrapKey(h, &mut kw, kek, k, wrapped.as_mut_ptr(), &mut len)), CKR_OK);
    let (mut y4, mut y5, mut y6, mut no2) = (1u8, 1u8, 1u8, 0u8);
    let mut kt2 = CKK_CHACHA20;
    let mut ut = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt2),
        attr(CKA_ENCRYPT, &mut y4),
        attr(CKA_DECRYPT, &mut y5),
        attr(CKA_EXTRACTABLE, &mut y6),
        attr(CKA_SENSITIVE, &mut no2),
    ];
    let mut u = 0;
    assert_eq!(
        call!(
            r,
            C_UnwrapKey(h, &mut kw, kek, wrapped.as_mut_ptr(), len, ut.as_mut_ptr(), ut.len() as CK_ULONG, &mut u)
        ),
        CKR_OK
    );
    assert_eq!(value_of(&r, h, u), value);
    // What the generated key encrypts, the unwrapped one decrypts.
    assert_eq!(init_msg(f, h, Alg::Cha, k, true), CKR_OK);
    let mut p = P::plain(Alg::Cha, &[1; 12], &[0; 16], 0);
    let (rv, ct) = one_message(f, h, &mut p, b"a", b"round trip", true);
    assert_eq!(rv, CKR_OK);
    assert_eq!(init_msg(f, h, Alg::Cha, u, false), CKR_OK);
    let mut d = P::plain(Alg::Cha, &[1; 12], &p.tag, 0);
    assert_eq!(one_message(f, h, &mut d, b"a", &ct, false), (CKR_OK, b"round trip".to_vec()));
    // The mechanism list offers the key generation with its one size.
    let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
    assert_eq!(call!(r, C_GetMechanismInfo(0, CKM_CHACHA20_KEY_GEN, &mut info)), CKR_OK);
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize, info.flags), (32, 32, CKF_GENERATE));
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// What a message held until its end is bounded by `[limits]
/// operation_bytes`: decryption (all three AEADs), and CCM encryption; GCM
/// and ChaCha20-Poly1305 encryption streams and holds nothing.
#[test]
fn held_messages_are_bounded_by_operation_bytes() {
    let _w = world("[limits]\noperation_bytes = 4096\n");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let f = f3(&r);
    let aes = secret_key(&r, h, CKK_AES, &[1; 16]);
    let cha = secret_key(&r, h, CKK_CHACHA20, &[2; 32]);
    let big = vec![0x33u8; 3000];
    for alg in [Alg::Gcm, Alg::Ccm, Alg::Cha] {
        let key = if alg == Alg::Cha { cha } else { aes };
        for enc in [true, false] {
            assert_eq!(init_msg(f, h, alg, key, enc), CKR_OK);
            let mut p = P::plain(alg, &[4; 12], &[0; 16], 2 * big.len());
            let (pp, pl) = p.ptr();
            let rv = if enc {
                m3!(f, C_EncryptMessageBegin(h, pp, pl, null_mut(), 0))
            } else {
                m3!(f, C_DecryptMessageBegin(h, pp, pl, null_mut(), 0))
            };
            assert_eq!(rv, CKR_OK);
            let (d, n) = (big.as_ptr() as *mut u8, big.len() as CK_ULONG);
            let mut out = vec![0u8; big.len()];
            let mut results = Vec::new();
            for _ in 0..2 {
                let mut len = out.len() as CK_ULONG;
                results.push(if enc {
                    m3!(f, C_EncryptMessageNext(h, pp, pl, d, n, out.as_mut_ptr(), &mut len, 0))
                } else {
                    m3!(f, C_DecryptMessageNext(h, pp, pl, d, n, out.as_mut_ptr(), &mut len, 0))
                });
            }
            let streams = enc && alg != Alg::Ccm;
            let over = if enc { CKR_DATA_LEN_RANGE } else { CKR_ENCRYPTED_DATA_LEN_RANGE };
            let want = if streams { vec![CKR_OK, CKR_OK] } else { vec![CKR_OK, over] };
            assert_eq!(results, want, "{alg:?} enc {enc}");
            let fin = if enc { m3!(f, C_MessageEncryptFinal(h)) } else { m3!(f, C_MessageDecryptFinal(h)) };
            assert_eq!(fin, CKR_OK);
        }
    }
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}
