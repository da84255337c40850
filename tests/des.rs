//! DES, DES2 and DES3 through the C ABI and the cryptoki crate: NIST CAVP
//! TCBCMMT3 and FIPS 81 known answers (ECB, CBC, CBC_PAD, single- and
//! multi-part), SP 800-38B TDES-CMAC examples, key generation (odd parity,
//! the check value), the ENCRYPT_DATA derivations, wrap/unwrap, and the
//! exact return code of each bad input.

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::raw::*;
use common::vectors::{unhex, vectors};
use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki_sys::*;

/// Single-part encrypt or decrypt; the return code and the output.
fn crypt(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    enc: bool,
) -> (CK_RV, Vec<u8>) {
    let rv = if enc { call!(r, C_EncryptInit(h, m, key)) } else { call!(r, C_DecryptInit(h, m, key)) };
    if rv != CKR_OK {
        return (rv, Vec::new());
    }
    let (d, n) = (data.as_ptr() as *mut u8, data.len() as CK_ULONG);
    let mut out = vec![0u8; data.len() + 8];
    let mut len = out.len() as CK_ULONG;
    let rv = if enc {
        call!(r, C_Encrypt(h, d, n, out.as_mut_ptr(), &mut len))
    } else {
        call!(r, C_Decrypt(h, d, n, out.as_mut_ptr(), &mut len))
    };
    out.truncate(len as usize);
    (rv, out)
}

/// Multi-part in `piece`-byte updates, each update's output length asked
/// first and checked.
fn crypt_parts(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    enc: bool,
    piece: usize,
) -> Vec<u8> {
    let rv = if enc { call!(r, C_EncryptInit(h, m, key)) } else { call!(r, C_DecryptInit(h, m, key)) };
    assert_eq!(rv, CKR_OK);
    let mut all = Vec::new();
    for p in data.chunks(piece) {
        let (d, n) = (p.as_ptr() as *mut u8, p.len() as CK_ULONG);
        let mut want: CK_ULONG = 0;
        let rv = if enc {
            call!(r, C_EncryptUpdate(h, d, n, null_mut(), &mut want))
        } else {
            call!(r, C_DecryptUpdate(h, d, n, null_mut(), &mut want))
        };
        assert_eq!(rv, CKR_OK);
        let mut out = vec![0u8; want as usize];
        let mut len = want;
        let rv = if enc {
            call!(r, C_EncryptUpdate(h, d, n, out.as_mut_ptr(), &mut len))
        } else {
            call!(r, C_DecryptUpdate(h, d, n, out.as_mut_ptr(), &mut len))
        };
        assert_eq!((rv, len), (CKR_OK, want));
        all.extend_from_slice(&out);
    }
    let mut out = [0u8; 16];
    let mut len = out.len() as CK_ULONG;
    let rv = if enc {
        call!(r, C_EncryptFinal(h, out.as_mut_ptr(), &mut len))
    } else {
        call!(r, C_DecryptFinal(h, out.as_mut_ptr(), &mut len))
    };
    assert_eq!(rv, CKR_OK);
    all.extend_from_slice(&out[..len as usize]);
    all
}

fn mac(r: &Raw, h: CK_SESSION_HANDLE, m: &mut CK_MECHANISM, key: CK_OBJECT_HANDLE, data: &[u8]) -> Vec<u8> {
    assert_eq!(call!(r, C_SignInit(h, m, key)), CKR_OK);
    let mut out = [0u8; 16];
    let mut len = out.len() as CK_ULONG;
    assert_eq!(
        call!(r, C_Sign(h, data.as_ptr() as *mut u8, data.len() as CK_ULONG, out.as_mut_ptr(), &mut len)),
        CKR_OK
    );
    out[..len as usize].to_vec()
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
    call!(
        r,
        C_Verify(h, data.as_ptr() as *mut u8, data.len() as CK_ULONG, sig.as_ptr() as *mut u8, sig.len() as CK_ULONG)
    )
}

fn des_mech(t: CK_MECHANISM_TYPE, iv: &mut [u8; 8]) -> CK_MECHANISM {
    CK_MECHANISM { mechanism: t, pParameter: iv.as_mut_ptr().cast(), ulParameterLen: 8 }
}

#[test]
fn tdes_and_des_known_answers() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let vs = vectors("des_tdes.txt");
    let (mut cbc, mut des1, mut cmacs) = (0, 0, 0);
    for v in &vs {
        match v[0].as_str() {
            "CBC3" => {
                let (key, iv, pt, ct) = (unhex(&v[1]), unhex(&v[2]), unhex(&v[3]), unhex(&v[4]));
                let k = secret_key(&r, h, CKK_DES3, &key);
                let mut ivb: [u8; 8] = iv.clone().try_into().unwrap();
                let (rv, out) = crypt(&r, h, &mut des_mech(CKM_DES3_CBC, &mut ivb), k, &pt, true);
                assert_eq!((rv, &out), (CKR_OK, &ct));
                let (rv, out) = crypt(&r, h, &mut des_mech(CKM_DES3_CBC, &mut ivb), k, &ct, false);
                assert_eq!((rv, &out), (CKR_OK, &pt));
                for piece in [1, 5, 8, 13] {
                    assert_eq!(crypt_parts(&r, h, &mut des_mech(CKM_DES3_CBC, &mut ivb), k, &pt, true, piece), ct);
                    assert_eq!(crypt_parts(&r, h, &mut des_mech(CKM_DES3_CBC, &mut ivb), k, &ct, false, piece), pt);
                }
                // ECB of the first block XOR the IV is CBC's first block.
                let first: Vec<u8> = pt[..8].iter().zip(&iv).map(|(a, b)| a ^ b).collect();
                let (rv, out) = crypt(&r, h, &mut mech(CKM_DES3_ECB), k, &first, true);
                assert_eq!((rv, &out[..]), (CKR_OK, &ct[..8]));
                // CBC_PAD: the CBC blocks, then one block of padding.
                let (rv, padded) = crypt(&r, h, &mut des_mech(CKM_DES3_CBC_PAD, &mut ivb), k, &pt, true);
                assert_eq!((rv, &padded[..pt.len()], padded.len()), (CKR_OK, &ct[..], pt.len() + 8));
                assert_eq!(crypt_parts(&r, h, &mut des_mech(CKM_DES3_CBC_PAD, &mut ivb), k, &padded, false, 7), pt);
                cbc += 1;
            }
            "DES1" => {
                let (key, pt, ct) = (unhex(&v[2]), unhex(&v[4]), unhex(&v[5]));
                let k = secret_key(&r, h, CKK_DES, &key);
                let mut ivb = [0u8; 8];
                let mut m = if v[1] == "CBC" {
                    ivb.copy_from_slice(&unhex(&v[3]));
                    des_mech(CKM_DES_CBC, &mut ivb)
                } else {
                    mech(CKM_DES_ECB)
                };
                assert_eq!(crypt(&r, h, &mut m, k, &pt, true), (CKR_OK, ct.clone()));
                assert_eq!(crypt(&r, h, &mut m, k, &ct, false), (CKR_OK, pt.clone()));
                des1 += 1;
            }
            "CMAC" => {
                let (key, msg, tag) = (unhex(&v[1]), unhex(&v[2]), unhex(&v[3]));
                // A two-key example's key is K1|K2|K1: a DES2 key of K1|K2.
                let k = if key[..8] == key[16..] {
                    secret_key(&r, h, CKK_DES2, &key[..16])
                } else {
                    secret_key(&r, h, CKK_DES3, &key)
                };
                assert_eq!(mac(&r, h, &mut mech(CKM_DES3_CMAC), k, &msg), tag);
                assert_eq!(verify(&r, h, &mut mech(CKM_DES3_CMAC), k, &msg, &tag), CKR_OK);
                let mut bad = tag.clone();
                bad[0] ^= 1;
                assert_eq!(verify(&r, h, &mut mech(CKM_DES3_CMAC), k, &msg, &bad), CKR_SIGNATURE_INVALID);
                assert_eq!(verify(&r, h, &mut mech(CKM_DES3_CMAC), k, &msg, &tag[..7]), CKR_SIGNATURE_LEN_RANGE);
                let mut five: CK_ULONG = 5;
                assert_eq!(mac(&r, h, &mut mech_with(CKM_DES3_CMAC_GENERAL, &mut five), k, &msg), tag[..5]);
                cmacs += 1;
            }
            other => panic!("unknown vector kind {other}"),
        }
    }
    assert_eq!((cbc, des1, cmacs), (6, 2, 8));
}

/// CKM_DES3_MAC(_GENERAL) is the last CBC block under a zero IV (the data
/// zero-padded), the first half of it or the requested length.
#[test]
fn tdes_cbc_mac_is_the_last_cbc_block() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let key = unhex("b5cb1504802326c73df186e3e352a20de643b0d63ee30e37");
    let k = secret_key(&r, h, CKK_DES3, &key);
    for len in [1usize, 8, 13, 24] {
        let msg: Vec<u8> = (0..len as u8).collect();
        let mut padded = msg.clone();
        padded.resize(len.div_ceil(8) * 8, 0);
        let mut zero = [0u8; 8];
        let (rv, ct) = crypt(&r, h, &mut des_mech(CKM_DES3_CBC, &mut zero), k, &padded, true);
        assert_eq!(rv, CKR_OK);
        let last = &ct[ct.len() - 8..];
        assert_eq!(mac(&r, h, &mut mech(CKM_DES3_MAC), k, &msg), last[..4]);
        let mut eight: CK_ULONG = 8;
        assert_eq!(mac(&r, h, &mut mech_with(CKM_DES3_MAC_GENERAL, &mut eight), k, &msg), last);
        let mut nine: CK_ULONG = 9;
        assert_eq!(
            call!(r, C_SignInit(h, &mut mech_with(CKM_DES3_MAC_GENERAL, &mut nine), k)),
            CKR_MECHANISM_PARAM_INVALID
        );
    }
}

fn create(r: &Raw, h: CK_SESSION_HANDLE, kt: CK_KEY_TYPE, value: &[u8]) -> CK_RV {
    let (mut class, mut kt, mut v) = (CKO_SECRET_KEY, kt, value.to_vec());
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt), bytes_attr(CKA_VALUE, &mut v)];
    let mut o = 0;
    call!(r, C_CreateObject(h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut o))
}

#[test]
fn bad_input_gets_the_spec_code() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let key = unhex("b5cb1504802326c73df186e3e352a20de643b0d63ee30e37");
    // Key lengths and parity (PKCS#11 3.0 §2.31: a DES key's parity bits
    // must be set; a key created with wrong parity is refused).
    assert_eq!(create(&r, h, CKK_DES3, &key[..16]), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(create(&r, h, CKK_DES2, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(create(&r, h, CKK_DES, &key[..7]), CKR_ATTRIBUTE_VALUE_INVALID);
    let mut even = key.clone();
    even[3] ^= 1;
    assert_eq!(create(&r, h, CKK_DES3, &even), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(create(&r, h, CKK_DES3, &key), CKR_OK);

    let k = secret_key(&r, h, CKK_DES3, &key);
    let d = secret_key(&r, h, CKK_DES, &key[..8]);
    let mut iv = [1u8; 8];
    assert_eq!(crypt(&r, h, &mut mech(CKM_DES3_ECB), k, &[0; 7], true).0, CKR_DATA_LEN_RANGE);
    assert_eq!(crypt(&r, h, &mut des_mech(CKM_DES3_CBC, &mut iv), k, &[0; 9], true).0, CKR_DATA_LEN_RANGE);
    assert_eq!(crypt(&r, h, &mut mech(CKM_DES3_ECB), k, &[0; 12], false).0, CKR_ENCRYPTED_DATA_LEN_RANGE);
    assert_eq!(
        crypt(&r, h, &mut des_mech(CKM_DES3_CBC_PAD, &mut iv), k, &[0; 12], false).0,
        CKR_ENCRYPTED_DATA_LEN_RANGE
    );
    // A block whose last byte decrypts to no valid padding.
    let (_, block) = crypt(&r, h, &mut des_mech(CKM_DES3_CBC, &mut iv), k, &[9; 8], true);
    assert_eq!(crypt(&r, h, &mut des_mech(CKM_DES3_CBC_PAD, &mut iv), k, &block, false).0, CKR_ENCRYPTED_DATA_INVALID);
    let mut iv16 = [0u8; 16];
    let mut wrong_iv =
        CK_MECHANISM { mechanism: CKM_DES3_CBC, pParameter: iv16.as_mut_ptr().cast(), ulParameterLen: 16 };
    assert_eq!(call!(r, C_EncryptInit(h, &mut wrong_iv, k)), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(call!(r, C_EncryptInit(h, &mut mech(CKM_DES3_CBC), k)), CKR_MECHANISM_PARAM_INVALID);
    // Single DES takes CKK_DES only; triple DES takes CKK_DES2/CKK_DES3.
    assert_eq!(call!(r, C_EncryptInit(h, &mut mech(CKM_DES3_ECB), d)), CKR_KEY_TYPE_INCONSISTENT);
    assert_eq!(call!(r, C_EncryptInit(h, &mut mech(CKM_DES_ECB), k)), CKR_KEY_TYPE_INCONSISTENT);
    assert_eq!(call!(r, C_SignInit(h, &mut mech(CKM_DES3_CMAC), d)), CKR_KEY_TYPE_INCONSISTENT);
    let mut zero: CK_ULONG = 0;
    assert_eq!(
        call!(r, C_SignInit(h, &mut mech_with(CKM_DES3_CMAC_GENERAL, &mut zero), k)),
        CKR_MECHANISM_PARAM_INVALID
    );
    // A DES key generation whose template names another length.
    let mut len: CK_ULONG = 16;
    let mut t = [attr(CKA_VALUE_LEN, &mut len)];
    let mut o = 0;
    assert_eq!(
        call!(r, C_GenerateKey(h, &mut mech(CKM_DES3_KEY_GEN), t.as_mut_ptr(), 1, &mut o)),
        CKR_TEMPLATE_INCONSISTENT
    );
    let mut kt = CKK_DES2;
    let mut t = [attr(CKA_KEY_TYPE, &mut kt)];
    assert_eq!(
        call!(r, C_GenerateKey(h, &mut mech(CKM_DES3_KEY_GEN), t.as_mut_ptr(), 1, &mut o)),
        CKR_TEMPLATE_INCONSISTENT
    );
    // The derivations want whole blocks of data.
    let mut data = [7u8; 12];
    let mut p = CK_KEY_DERIVATION_STRING_DATA { pData: data.as_mut_ptr(), ulLen: 12 };
    let (mut class, mut kt) = (CKO_SECRET_KEY, CKK_DES3);
    let mut t = [attr(CKA_CLASS, &mut class), attr(CKA_KEY_TYPE, &mut kt)];
    assert_eq!(
        call!(r, C_DeriveKey(h, &mut mech_with(CKM_DES3_ECB_ENCRYPT_DATA, &mut p), k, t.as_mut_ptr(), 2, &mut o)),
        CKR_MECHANISM_PARAM_INVALID
    );
    // Mechanism info: as SoftHSM, key sizes are not in use.
    let mut info = CK_MECHANISM_INFO { ulMinKeySize: 9, ulMaxKeySize: 9, flags: 0 };
    assert_eq!(call!(r, C_GetMechanismInfo(0, CKM_DES3_CBC_PAD, &mut info)), CKR_OK);
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (0, 0));
    assert_eq!(info.flags, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP);
}

#[test]
fn derivations_encrypt_the_data_and_set_parity() {
    let _w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let key = unhex("b5cb1504802326c73df186e3e352a20de643b0d63ee30e37");
    let k = secret_key(&r, h, CKK_DES3, &key);
    let data: Vec<u8> = (0u8..24).map(|i| i.wrapping_mul(37)).collect();
    let odd =
        |v: &[u8]| -> Vec<u8> { v.iter().map(|b| (b & 0xfe) | u8::from((b >> 1).count_ones() % 2 == 0)).collect() };
    let derive = |m: &mut CK_MECHANISM, kt: CK_KEY_TYPE| {
        let (mut class, mut kt, mut yes, mut no) = (CKO_SECRET_KEY, kt, 1u8, 0u8);
        let mut t = [
            attr(CKA_CLASS, &mut class),
            attr(CKA_KEY_TYPE, &mut kt),
            attr(CKA_EXTRACTABLE, &mut yes),
            attr(CKA_SENSITIVE, &mut no),
        ];
        let mut o = 0;
        assert_eq!(call!(r, C_DeriveKey(h, m, k, t.as_mut_ptr(), 4, &mut o)), CKR_OK);
        value_of(&r, h, o)
    };
    let mut d = data.clone();
    let mut p = CK_KEY_DERIVATION_STRING_DATA { pData: d.as_mut_ptr(), ulLen: 24 };
    let derived = derive(&mut mech_with(CKM_DES3_ECB_ENCRYPT_DATA, &mut p), CKK_DES3);
    let (_, ecb) = crypt(&r, h, &mut mech(CKM_DES3_ECB), k, &data, true);
    assert_eq!(derived, odd(&ecb));
    let mut p = CK_DES_CBC_ENCRYPT_DATA_PARAMS { iv: [3; 8], pData: d.as_mut_ptr(), length: 24 };
    let derived = derive(&mut mech_with(CKM_DES3_CBC_ENCRYPT_DATA, &mut p), CKK_DES2);
    let mut iv = [3u8; 8];
    let (_, cbc) = crypt(&r, h, &mut des_mech(CKM_DES3_CBC, &mut iv), k, &data, true);
    assert_eq!(derived, odd(&cbc[..16]));
    // Single DES derivation from a DES key.
    let kd = secret_key(&r, h, CKK_DES, &key[..8]);
    let mut p = CK_KEY_DERIVATION_STRING_DATA { pData: d.as_mut_ptr(), ulLen: 8 };
    let (mut class, mut kt, mut yes, mut no) = (CKO_SECRET_KEY, CKK_DES, 1u8, 0u8);
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_EXTRACTABLE, &mut yes),
        attr(CKA_SENSITIVE, &mut no),
    ];
    let mut o = 0;
    assert_eq!(
        call!(r, C_DeriveKey(h, &mut mech_with(CKM_DES_ECB_ENCRYPT_DATA, &mut p), kd, t.as_mut_ptr(), 4, &mut o)),
        CKR_OK
    );
    let (_, one) = crypt(&r, h, &mut mech(CKM_DES_ECB), kd, &data[..8], true);
    assert_eq!(value_of(&r, h, o), odd(&one));
}

/// Through the cryptoki crate: generation, the check value, round trips,
/// wrap/unwrap of a secret key under DES3 in every mode.
#[test]
fn cryptoki_generate_use_wrap() {
    let w = world("");
    let _ = &w;
    let p = load();
    let slot = init_token(&p, "des");
    let s = user_session(&p, slot);
    let gen = |m: Mechanism, kt: KeyType| {
        s.generate_key(
            &m,
            &[
                Attribute::Extractable(true),
                Attribute::Sensitive(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
                Attribute::KeyType(kt),
            ],
        )
        .unwrap()
    };
    for (m, kt, len) in [
        (Mechanism::DesKeyGen, KeyType::DES, 8),
        (Mechanism::Des2KeyGen, KeyType::DES2, 16),
        (Mechanism::Des3KeyGen, KeyType::DES3, 24),
    ] {
        let k = gen(m, kt);
        let a = s.get_attributes(k, &[AttributeType::Value, AttributeType::CheckValue, AttributeType::Local]).unwrap();
        let Attribute::Value(v) = &a[0] else { panic!("{a:?}") };
        assert_eq!(v.len(), len);
        assert!(v.iter().all(|b| b.count_ones() % 2 == 1), "odd parity");
        let ecb = if len == 8 { Mechanism::DesEcb } else { Mechanism::Des3Ecb };
        let zero = s.encrypt(&ecb, k, &[0; 8]).unwrap();
        assert_eq!(a[1], Attribute::CheckValue(zero[..3].to_vec()));
        assert_eq!(a[2], Attribute::Local(true));
        let cbc = if len == 8 { Mechanism::DesCbcPad([4; 8]) } else { Mechanism::Des3CbcPad([4; 8]) };
        let ct = s.encrypt(&cbc, k, b"twenty-one bytes long").unwrap();
        assert_eq!(ct.len(), 24);
        assert_eq!(s.decrypt(&cbc, k, &ct).unwrap(), b"twenty-one bytes long");
    }
    // A secret key wrapped under DES3 (ECB, CBC: zero padded to whole
    // blocks; CBC_PAD) comes back whole.
    let kek = gen(Mechanism::Des3KeyGen, KeyType::DES3);
    let aes = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(20.into()), Attribute::Extractable(true), Attribute::Sensitive(false)],
        )
        .err();
    assert!(aes.is_some(), "AES-160 does not exist");
    let target = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[Attribute::ValueLen(20.into()), Attribute::Extractable(true), Attribute::Sensitive(false)],
        )
        .unwrap();
    let Attribute::Value(value) = s.get_attributes(target, &[AttributeType::Value]).unwrap().remove(0) else {
        panic!()
    };
    for (m, wrapped_len) in
        [(Mechanism::Des3Ecb, 24), (Mechanism::Des3Cbc([2; 8]), 24), (Mechanism::Des3CbcPad([2; 8]), 24)]
    {
        let wrapped = s.wrap_key(&m, kek, target).unwrap();
        assert_eq!(wrapped.len(), wrapped_len);
        let tmpl = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(20.into()),
            Attribute::Extractable(true),
            Attribute::Sensitive(false),
        ];
        let back = s.unwrap_key(&m, kek, &wrapped, &tmpl).unwrap();
        assert_eq!(s.get_attributes(back, &[AttributeType::Value]).unwrap(), vec![Attribute::Value(value.clone())]);
    }
    // A DES2 key wrapped and unwrapped as itself (no CKA_VALUE_LEN).
    let des2 = gen(Mechanism::Des2KeyGen, KeyType::DES2);
    let wrapped = s.wrap_key(&Mechanism::Des3Cbc([9; 8]), kek, des2).unwrap();
    let tmpl = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::DES2), Attribute::Encrypt(true)];
    let back = s.unwrap_key(&Mechanism::Des3Cbc([9; 8]), kek, &wrapped, &tmpl).unwrap();
    let ct = s.encrypt(&Mechanism::Des3Ecb, des2, &[5; 16]).unwrap();
    assert_eq!(s.encrypt(&Mechanism::Des3Ecb, back, &[5; 16]).unwrap(), ct);
    // Bad padding in a CBC_PAD wrapped key.
    let mut bad = s.wrap_key(&Mechanism::Des3CbcPad([2; 8]), kek, target).unwrap();
    let n = bad.len();
    bad[n - 1] ^= 0x55;
    let tmpl = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::GENERIC_SECRET)];
    let e = rv(s.unwrap_key(&Mechanism::Des3CbcPad([2; 8]), kek, &bad, &tmpl));
    assert_eq!(e, cryptoki::error::RvError::WrappedKeyInvalid);
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::Des3CbcPad([2; 8]), kek, &bad[..n - 3], &tmpl)),
        cryptoki::error::RvError::WrappedKeyLenRange
    );
}
