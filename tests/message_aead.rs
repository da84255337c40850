//! The PKCS#11 3.0 message-based AEAD functions (C_MessageEncryptInit,
//! C_EncryptMessage, C_EncryptMessageBegin/Next, C_MessageEncryptFinal and
//! the decrypt side) for AES-GCM, AES-CCM and ChaCha20-Poly1305, through
//! the 3.0 function list C_GetInterface gives, and single-part CKM_AES_CCM
//! and CKM_CHACHA20_POLY1305 through C_Encrypt/C_Decrypt: known answers
//! (NIST CAVP GCM and CCM, RFC 7539/8439 and OpenSSL's ChaCha20-Poly1305
//! records) and every IV generator; the `cryptoki` crate's message API
//! (GCM). State rules and return codes: tests/message_aead_rules.rs.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr::null_mut;

use common::msg::*;
use common::raw::*;
use common::vectors::{unhex, vectors};
use common::*;
use cryptoki_sys::*;

/// One vector through every path: the message API (one call and
/// Begin/Next) both ways, and the single-part mechanism (CCM, ChaCha).
#[allow(clippy::too_many_arguments)]
fn check_vector(
    r: &Raw,
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    alg: Alg,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    pt: &[u8],
    ct: &[u8],
    tag: &[u8],
    pass: bool,
) {
    let k = secret_key(r, h, alg.key_type(), key);
    let ctx = format!("{alg:?} key {} iv {} tag {}", key.len(), iv.len(), tag.len());
    assert_eq!(init_msg(f, h, alg, k, false), CKR_OK);
    if !pass {
        let mut p = P::plain(alg, iv, tag, ct.len());
        assert_eq!(one_message(f, h, &mut p, aad, ct, false).0, CKR_ENCRYPTED_DATA_INVALID, "{ctx}");
        let mut p = P::plain(alg, iv, tag, ct.len());
        assert_eq!(pieces(f, h, &mut p, aad, ct, 5, false).0, CKR_ENCRYPTED_DATA_INVALID, "{ctx}");
        assert_eq!(m3!(f, C_MessageDecryptFinal(h)), CKR_OK);
        if alg != Alg::Gcm {
            let mut both = ct.to_vec();
            both.extend_from_slice(tag);
            let (mut sp, mut m) = single_mech(alg, iv, aad, tag.len(), ct.len());
            m.pParameter = sp.as_mut_ptr() as *mut c_void;
            assert_eq!(single_part(r, h, &mut m, k, &both, false).0, CKR_ENCRYPTED_DATA_INVALID, "{ctx}");
        }
        assert_eq!(call!(r, C_DestroyObject(h, k)), CKR_OK);
        return;
    }
    // Decrypt: one call, then pieces.
    let mut p = P::plain(alg, iv, tag, ct.len());
    assert_eq!(one_message(f, h, &mut p, aad, ct, false), (CKR_OK, pt.to_vec()), "{ctx}");
    let mut p = P::plain(alg, iv, tag, ct.len());
    assert_eq!(pieces(f, h, &mut p, aad, ct, 5, false), (CKR_OK, pt.to_vec()), "{ctx}");
    assert_eq!(m3!(f, C_MessageDecryptFinal(h)), CKR_OK);
    // Encrypt: one call, then (a new operation: the IV is not reused in
    // one) pieces; the tag comes back in the parameter.
    for piece in [0, 16] {
        assert_eq!(init_msg(f, h, alg, k, true), CKR_OK);
        let mut p = P::plain(alg, iv, &vec![0; tag.len()], pt.len());
        let (rv, out) = if piece == 0 {
            one_message(f, h, &mut p, aad, pt, true)
        } else {
            pieces(f, h, &mut p, aad, pt, piece, true)
        };
        assert_eq!((rv, out), (CKR_OK, ct.to_vec()), "{ctx} piece {piece}");
        assert_eq!(p.tag, tag, "{ctx} piece {piece}");
        assert_eq!(m3!(f, C_MessageEncryptFinal(h)), CKR_OK);
    }
    if alg != Alg::Gcm {
        let mut both = ct.to_vec();
        both.extend_from_slice(tag);
        for multi in [false, true] {
            let (mut sp, mut m) = single_mech(alg, iv, aad, tag.len(), pt.len());
            m.pParameter = sp.as_mut_ptr() as *mut c_void;
            let run = if multi { multi_part } else { single_part };
            assert_eq!(run(r, h, &mut m, k, pt, true), (CKR_OK, both.clone()), "{ctx} single-part");
            assert_eq!(run(r, h, &mut m, k, &both, false), (CKR_OK, pt.to_vec()), "{ctx} single-part");
        }
    }
    assert_eq!(call!(r, C_DestroyObject(h, k)), CKR_OK);
}

#[test]
fn aes_gcm_cavp_through_the_message_api() {
    let (_w, r, f, h) = setup();
    let (mut pass, mut fail) = (0, 0);
    for v in vectors("aes_gcm_cavp.txt") {
        let tag = unhex(&v[5]);
        if tag.len() < 12 {
            continue; // the tag lengths this module takes (96..128 bits)
        }
        let ok = v[6] == "pass";
        check_vector(
            &r,
            f,
            h,
            Alg::Gcm,
            &unhex(&v[0]),
            &unhex(&v[1]),
            &unhex(&v[2]),
            &unhex(&v[3]),
            &unhex(&v[4]),
            &tag,
            ok,
        );
        if ok {
            pass += 1
        } else {
            fail += 1
        }
    }
    assert!(pass >= 10 && fail >= 3, "{pass} pass, {fail} fail");
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn aes_ccm_cavp_message_api_and_single_part() {
    let (_w, r, f, h) = setup();
    let (mut pass, mut fail) = (0, 0);
    let mut seen = std::collections::BTreeSet::new();
    for v in vectors("aes_ccm_cavp.txt") {
        let (key, nonce, aad, pt, ct_tag) = (unhex(&v[0]), unhex(&v[1]), unhex(&v[2]), unhex(&v[3]), unhex(&v[4]));
        let tlen: usize = v[5].parse().unwrap();
        let (ct, tag) = ct_tag.split_at(ct_tag.len() - tlen);
        let ok = v[6] == "pass";
        seen.insert((key.len(), nonce.len(), tlen));
        check_vector(&r, f, h, Alg::Ccm, &key, &nonce, &aad, &pt, ct, tag, ok);
        if ok {
            pass += 1
        } else {
            fail += 1
        }
    }
    // Every nonce length 7..13 and tag length 4..16 (even), each key size.
    for n in 7..=13 {
        assert!(seen.iter().any(|s| s.1 == n), "nonce {n}");
    }
    for t in (4..=16).step_by(2) {
        assert!(seen.iter().any(|s| s.2 == t), "tag {t}");
    }
    assert!(pass >= 90 && fail >= 40, "{pass} pass, {fail} fail");
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn chacha20_poly1305_rfc8439_and_openssl_records() {
    let (_w, r, f, h) = setup();
    let (mut pass, mut fail) = (0, 0);
    for v in vectors("chacha20_poly1305.txt") {
        let ok = v[6] == "pass";
        check_vector(
            &r,
            f,
            h,
            Alg::Cha,
            &unhex(&v[0]),
            &unhex(&v[1]),
            &unhex(&v[2]),
            &unhex(&v[3]),
            &unhex(&v[4]),
            &unhex(&v[5]),
            ok,
        );
        if ok {
            pass += 1
        } else {
            fail += 1
        }
    }
    assert!(pass >= 60 && fail >= 1, "{pass} pass, {fail} fail");
    // RFC 8439 §2.8.2, typed in from the RFC: the tag of the sunscreen text.
    let key: Vec<u8> = (0x80u8..=0x9f).collect();
    let k = secret_key(&r, h, CKK_CHACHA20, &key);
    let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    assert_eq!(init_msg(f, h, Alg::Cha, k, true), CKR_OK);
    let mut p = P::plain(Alg::Cha, &unhex("070000004041424344454647"), &[0; 16], 0);
    let (rv, ct) = one_message(f, h, &mut p, &unhex("50515253c0c1c2c3c4c5c6c7"), pt, true);
    assert_eq!(rv, CKR_OK);
    assert_eq!(&ct[..16], &unhex("d31a8d34648e60db7b86afbc53ef7ec2")[..]);
    assert_eq!(p.tag, unhex("1ae10b594f09e26a7e902ecbd0600691"));
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

/// Encrypts `msg` with `p` (already set up with a generator) and returns
/// the IV written back and the ciphertext and tag.
fn enc_gen(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    p: &mut P,
    msg: &[u8],
    begin: bool,
) -> (CK_RV, Vec<u8>, Vec<u8>, Vec<u8>) {
    let (rv, ct) = if begin { pieces(f, h, p, b"aad", msg, 3, true) } else { one_message(f, h, p, b"aad", msg, true) };
    (rv, p.iv.clone(), ct, p.tag.clone())
}

#[test]
fn iv_generators_fill_the_free_bits_and_never_repeat() {
    let (_w, r, f, h) = setup();
    let aes = secret_key(&r, h, CKK_AES, &[3; 32]);
    for alg in [Alg::Gcm, Alg::Ccm] {
        let msg = b"generated IVs";
        let base = vec![0xa5u8; 12];
        for begin in [false, true] {
            assert_eq!(init_msg(f, h, alg, aes, true), CKR_OK);
            assert_eq!(init_msg(f, h, alg, aes, false), CKR_OK);
            // Counter: the first 32 bits stay, the rest counts from 0. A
            // length query generates nothing (the counter starts at 0).
            let mut ivs = Vec::new();
            for (i, gen) in
                [CKG_GENERATE_COUNTER, CKG_GENERATE_COUNTER, CKG_GENERATE, CKG_GENERATE_RANDOM, CKG_GENERATE_RANDOM]
                    .into_iter()
                    .enumerate()
            {
                let mut p = P::new(alg, &base, &[0; 16], gen, 32, msg.len());
                let (rv, iv, ct, tag) = enc_gen(f, h, &mut p, msg, begin);
                assert_eq!(rv, CKR_OK, "{alg:?} {gen}");
                assert_eq!(&iv[..4], &base[..4], "fixed bits kept");
                if gen != CKG_GENERATE_RANDOM {
                    let mut want = base[..4].to_vec();
                    want.extend_from_slice(&(i as u64).to_be_bytes());
                    assert_eq!(iv, want, "{alg:?} counter {i}");
                }
                assert!(!ivs.contains(&iv), "IV repeated");
                ivs.push(iv.clone());
                // The IV written back decrypts the message.
                let mut d = P::plain(alg, &iv, &tag, ct.len());
                assert_eq!(one_message(f, h, &mut d, b"aad", &ct, false), (CKR_OK, msg.to_vec()));
            }
            // A caller-supplied IV the operation already used is refused.
            let mut p = P::plain(alg, &ivs[0], &[0; 16], msg.len());
            assert_eq!(enc_gen(f, h, &mut p, msg, begin).0, CKR_ARGUMENTS_BAD);
            // A fresh one is taken, and then refused the second time.
            let mut p = P::plain(alg, &[0x11; 12], &[0; 16], msg.len());
            assert_eq!(enc_gen(f, h, &mut p, msg, begin).0, CKR_OK);
            let mut p = P::plain(alg, &[0x11; 12], &[0; 16], msg.len());
            assert_eq!(enc_gen(f, h, &mut p, msg, begin).0, CKR_ARGUMENTS_BAD);
            // CKG_NO_GENERATE with fixed bits is a bad parameter.
            let mut p = P::new(alg, &[0x22; 12], &[0; 16], CKG_NO_GENERATE, 8, msg.len());
            assert_eq!(enc_gen(f, h, &mut p, msg, begin).0, CKR_ARGUMENTS_BAD);
            // More fixed bits than the IV has.
            let mut p = P::new(alg, &[0x22; 12], &[0; 16], CKG_GENERATE_COUNTER, 97, msg.len());
            assert_eq!(enc_gen(f, h, &mut p, msg, begin).0, CKR_ARGUMENTS_BAD);
            assert_eq!(m3!(f, C_MessageEncryptFinal(h)), CKR_OK);
            assert_eq!(m3!(f, C_MessageDecryptFinal(h)), CKR_OK);
        }
    }
    // A counter that would wrap: GCM with a 1-byte IV, 6 fixed bits: four
    // IVs, then CKR_KEY_EXHAUSTED (and the operation goes on refusing).
    assert_eq!(init_msg(f, h, Alg::Gcm, aes, true), CKR_OK);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let mut p = P::new(Alg::Gcm, &[0xfc], &[0; 16], CKG_GENERATE_COUNTER, 6, 0);
        let (rv, iv, _, _) = enc_gen(f, h, &mut p, b"x", false);
        assert_eq!(rv, CKR_OK);
        seen.push(iv[0]);
    }
    assert_eq!(seen, vec![0xfc, 0xfd, 0xfe, 0xff]);
    let mut p = P::new(Alg::Gcm, &[0xfc], &[0; 16], CKG_GENERATE_COUNTER, 6, 0);
    assert_eq!(enc_gen(f, h, &mut p, b"x", false).0, CKR_KEY_EXHAUSTED);
    // Random with no free bit left: the one IV, then exhausted.
    let mut p = P::new(Alg::Gcm, &[0x01, 0x02], &[0; 16], CKG_GENERATE_RANDOM, 16, 0);
    assert_eq!(enc_gen(f, h, &mut p, b"x", false).0, CKR_OK);
    let mut p = P::new(Alg::Gcm, &[0x01, 0x02], &[0; 16], CKG_GENERATE_RANDOM, 16, 0);
    assert_eq!(enc_gen(f, h, &mut p, b"x", false).0, CKR_KEY_EXHAUSTED);
    assert_eq!(m3!(f, C_MessageEncryptFinal(h)), CKR_OK);
    assert_eq!(call!(r, C_Finalize(null_mut())), CKR_OK);
}

#[test]
fn cryptoki_gcm_message_api() {
    use cryptoki::mechanism::aead::{GcmMessageParams, GeneratorFunction};
    use cryptoki::mechanism::{Mechanism, MechanismType, MessageParam};
    use cryptoki::object::{Attribute, KeyType, ObjectClass};

    let _w = world("");
    let p = load();
    let slot = init_token(&p, "msg");
    let s = user_session(&p, slot);
    let info = p.get_mechanism_info(slot, MechanismType::AES_GCM).unwrap();
    assert!(info.message_encrypt() && info.message_decrypt() && info.multi_message());
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![0x24; 32]),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ])
        .unwrap();
    let data = b"messages through the cryptoki crate, more than one block long";
    // The state rules as the crate reports them.
    {
        use cryptoki::error::RvError;
        let (mut iv, mut tag) = ([1u8; 12], [0u8; 16]);
        let param = GcmMessageParams::new(&mut iv, CK_ULONG::from(0u8).into(), GeneratorFunction::NoGenerate, &mut tag)
            .unwrap();
        assert_eq!(
            rv(s.encrypt_message(&MessageParam::AesGcmMessage(param), b"", data)),
            RvError::OperationNotInitialized
        );
        assert_eq!(rv(s.message_encrypt_final()), RvError::OperationNotInitialized);
        s.message_encrypt_init(&Mechanism::AesGcmMessage(param), key).unwrap();
        assert_eq!(rv(s.message_encrypt_init(&Mechanism::AesGcmMessage(param), key)), RvError::OperationActive);
        s.encrypt_message_begin(MessageParam::AesGcmMessage(param), b"").unwrap();
        assert_eq!(rv(s.encrypt_message(&MessageParam::AesGcmMessage(param), b"", data)), RvError::OperationActive);
        s.message_encrypt_final().unwrap();
        let dec_only = s
            .create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Value(vec![0x25; 16]),
                Attribute::Encrypt(false),
                Attribute::Decrypt(true),
            ])
            .unwrap();
        assert_eq!(
            rv(s.message_encrypt_init(&Mechanism::AesGcmMessage(param), dec_only)),
            RvError::KeyFunctionNotPermitted
        );
        s.message_decrypt_init(&Mechanism::AesGcmMessage(param), dec_only).unwrap();
        s.message_decrypt_final().unwrap();
    }
    for (gen, generated) in [
        (GeneratorFunction::NoGenerate, false),
        (GeneratorFunction::Generate, true),
        (GeneratorFunction::GenerateCounter, true),
        (GeneratorFunction::GenerateRandom, true),
    ] {
        let mut iv = [0x5au8; 12];
        let mut tag = [0u8; 16];
        let fixed: CK_ULONG = if generated { 32 } else { 0 };
        let init = GcmMessageParams::new(&mut iv, fixed.into(), gen, &mut tag).unwrap();
        s.message_encrypt_init(&Mechanism::AesGcmMessage(init), key).unwrap();
        // One message, then one in parts.
        let (mut iv1, mut tag1) = ([0x5au8; 12], [0u8; 16]);
        let param = GcmMessageParams::new(&mut iv1, fixed.into(), gen, &mut tag1).unwrap();
        let ct1 = s.encrypt_message(&MessageParam::AesGcmMessage(param), b"aad", data).unwrap();
        let (mut iv2, mut tag2) = ([0x5bu8; 12], [0u8; 16]);
        let param = GcmMessageParams::new(&mut iv2, fixed.into(), gen, &mut tag2).unwrap();
        s.encrypt_message_begin(MessageParam::AesGcmMessage(param), b"aad2").unwrap();
        let mut ct2 = s.encrypt_message_next(MessageParam::AesGcmMessage(param), &data[..20], false).unwrap();
        ct2.extend(s.encrypt_message_next(MessageParam::AesGcmMessage(param), &data[20..], true).unwrap());
        // A third message with the same caller IV would repeat it.
        if !generated {
            let (mut iv3, mut tag3) = ([0x5au8; 12], [0u8; 16]);
            let param = GcmMessageParams::new(&mut iv3, CK_ULONG::from(0u8).into(), gen, &mut tag3).unwrap();
            assert_eq!(
                rv(s.encrypt_message(&MessageParam::AesGcmMessage(param), b"aad", data)),
                cryptoki::error::RvError::ArgumentsBad
            );
        }
        s.message_encrypt_final().unwrap();
        assert_eq!(&iv1[..4], &[0x5a; 4]);
        assert_ne!(iv1, iv2, "{gen:?}");
        assert_eq!(ct1.len(), data.len());
        // Decrypt both with the IVs and tags written back.
        let mut iv = [0u8; 12];
        let mut tag = [0u8; 16];
        let init = GcmMessageParams::new(&mut iv, CK_ULONG::from(0u8).into(), GeneratorFunction::NoGenerate, &mut tag)
            .unwrap();
        s.message_decrypt_init(&Mechanism::AesGcmMessage(init), key).unwrap();
        let param =
            GcmMessageParams::new(&mut iv1, CK_ULONG::from(0u8).into(), GeneratorFunction::NoGenerate, &mut tag1)
                .unwrap();
        assert_eq!(s.decrypt_message(&MessageParam::AesGcmMessage(param), b"aad", &ct1).unwrap(), data.to_vec());
        let param =
            GcmMessageParams::new(&mut iv2, CK_ULONG::from(0u8).into(), GeneratorFunction::NoGenerate, &mut tag2)
                .unwrap();
        s.decrypt_message_begin(MessageParam::AesGcmMessage(param), b"aad2").unwrap();
        let mut pt = s.decrypt_message_next(MessageParam::AesGcmMessage(param), &ct2[..30], false).unwrap();
        pt.extend(s.decrypt_message_next(MessageParam::AesGcmMessage(param), &ct2[30..], true).unwrap());
        assert_eq!(pt, data.to_vec());
        // A tampered tag.
        tag1[15] ^= 0x80;
        let param =
            GcmMessageParams::new(&mut iv1, CK_ULONG::from(0u8).into(), GeneratorFunction::NoGenerate, &mut tag1)
                .unwrap();
        assert_eq!(
            rv(s.decrypt_message(&MessageParam::AesGcmMessage(param), b"aad", &ct1)),
            cryptoki::error::RvError::EncryptedDataInvalid
        );
        s.message_decrypt_final().unwrap();
        assert_eq!(rv(s.message_decrypt_final()), cryptoki::error::RvError::OperationNotInitialized);
    }
}
