//! The PKCS#11 3.0 message-based AEAD functions (C_MessageEncryptInit,
//! C_EncryptMessage, C_EncryptMessageBegin/Next, C_MessageEncryptFinal and
//! the decrypt side) for AES-GCM, AES-CCM and ChaCha20-Poly1305, through
//! the 3.0 function list C_GetInterface gives, and single-part CKM_AES_CCM
//! and CKM_CHACHA20_POLY1305 through C_Encrypt/C_Decrypt: known answers
//! (NIST CAVP GCM and CCM, RFC 7539/8439 and OpenSSL's ChaCha20-Poly1305
//! records), every IV generator, the state rules and their return codes.
//! The `cryptoki` crate's message API (GCM) is exercised at the end.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr::null_mut;

use common::raw::*;
use common::vectors::{unhex, vectors};
use common::*;
use cryptoki_sys::*;

fn f3(r: &Raw) -> &'static CK_FUNCTION_LIST_3_0 {
    type GetIface = unsafe extern "C" fn(*mut u8, *mut CK_VERSION, *mut *mut CK_INTERFACE, CK_FLAGS) -> CK_RV;
    let get: libloading::Symbol<GetIface> = unsafe { r.lib.get(b"C_GetInterface") }.unwrap();
    let mut iface: *mut CK_INTERFACE = null_mut();
    let mut v30 = CK_VERSION { major: 3, minor: 0 };
    assert_eq!(unsafe { get(c"PKCS 11".as_ptr() as *mut u8, &mut v30, &mut iface, 0) }, CKR_OK);
    unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0) }
}

macro_rules! m3 {
    ($f:expr, $name:ident ( $($a:expr),* )) => {
        unsafe { ($f.$name.unwrap())($($a),*) }
    };
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Alg {
    Gcm,
    Ccm,
    Cha,
}

impl Alg {
    fn mech(self) -> CK_MECHANISM_TYPE {
        match self {
            Alg::Gcm => CKM_AES_GCM,
            Alg::Ccm => CKM_AES_CCM,
            Alg::Cha => CKM_CHACHA20_POLY1305,
        }
    }
    fn key_type(self) -> CK_KEY_TYPE {
        match self {
            Alg::Cha => CKK_CHACHA20,
            _ => CKK_AES,
        }
    }
}

/// One message parameter over owned IV and tag buffers.
struct P {
    iv: Vec<u8>,
    tag: Vec<u8>,
    gcm: CK_GCM_MESSAGE_PARAMS,
    ccm: CK_CCM_MESSAGE_PARAMS,
    cha: CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS,
    alg: Alg,
}

impl P {
    fn new(alg: Alg, iv: &[u8], tag: &[u8], gen: CK_GENERATOR_FUNCTION, fixed: CK_ULONG, data_len: usize) -> Box<P> {
        let mut p = Box::new(P {
            iv: iv.to_vec(),
            tag: tag.to_vec(),
            gcm: CK_GCM_MESSAGE_PARAMS {
                pIv: null_mut(),
                ulIvLen: 0,
                ulIvFixedBits: fixed,
                ivGenerator: gen,
                pTag: null_mut(),
                ulTagBits: (tag.len() * 8) as CK_ULONG,
            },
            ccm: CK_CCM_MESSAGE_PARAMS {
                ulDataLen: data_len as CK_ULONG,
                pNonce: null_mut(),
                ulNonceLen: 0,
                ulNonceFixedBits: fixed,
                nonceGenerator: gen,
                pMAC: null_mut(),
                ulMACLen: tag.len() as CK_ULONG,
            },
            cha: CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS { pNonce: null_mut(), ulNonceLen: 96, pTag: null_mut() },
            alg,
        });
        let (ivp, ivl, tp) = (p.iv.as_mut_ptr(), p.iv.len() as CK_ULONG, p.tag.as_mut_ptr());
        (p.gcm.pIv, p.gcm.ulIvLen, p.gcm.pTag) = (ivp, ivl, tp);
        (p.ccm.pNonce, p.ccm.ulNonceLen, p.ccm.pMAC) = (ivp, ivl, tp);
        (p.cha.pNonce, p.cha.pTag) = (ivp, tp);
        p
    }
    fn plain(alg: Alg, iv: &[u8], tag: &[u8], data_len: usize) -> Box<P> {
        P::new(alg, iv, tag, CKG_NO_GENERATE, 0, data_len)
    }
    fn ptr(&mut self) -> (*mut c_void, CK_ULONG) {
        match self.alg {
            Alg::Gcm => (&mut self.gcm as *mut _ as *mut c_void, std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() as _),
            Alg::Ccm => (&mut self.ccm as *mut _ as *mut c_void, std::mem::size_of::<CK_CCM_MESSAGE_PARAMS>() as _),
            Alg::Cha => (
                &mut self.cha as *mut _ as *mut c_void,
                std::mem::size_of::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>() as _,
            ),
        }
    }
}

fn init_msg(f: &CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE, alg: Alg, key: CK_OBJECT_HANDLE, enc: bool) -> CK_RV {
    let mut m = mech(alg.mech());
    if enc {
        m3!(f, C_MessageEncryptInit(h, &mut m, key))
    } else {
        m3!(f, C_MessageDecryptInit(h, &mut m, key))
    }
}

/// C_EncryptMessage / C_DecryptMessage with the length query first.
fn one_message(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    p: &mut P,
    aad: &[u8],
    data: &[u8],
    enc: bool,
) -> (CK_RV, Vec<u8>) {
    let (pp, pl) = p.ptr();
    let (a, al) = (aad.as_ptr() as *mut u8, aad.len() as CK_ULONG);
    let (d, n) = (data.as_ptr() as *mut u8, data.len() as CK_ULONG);
    let mut len: CK_ULONG = 0;
    let call = |o: *mut u8, len: &mut CK_ULONG| {
        if enc {
            m3!(f, C_EncryptMessage(h, pp, pl, a, al, d, n, o, len))
        } else {
            m3!(f, C_DecryptMessage(h, pp, pl, a, al, d, n, o, len))
        }
    };
    let rv = call(null_mut(), &mut len);
    if rv != CKR_OK {
        return (rv, vec![]);
    }
    assert_eq!(len as usize, data.len(), "length query");
    let mut out = vec![0u8; len as usize + 1];
    let rv = call(out.as_mut_ptr(), &mut len);
    out.truncate(len as usize);
    (rv, out)
}

/// Begin, then Next over `pieces` bytes at a time, the last with
/// CKF_END_OF_MESSAGE (each Next preceded by a length query).
fn pieces(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    p: &mut P,
    aad: &[u8],
    data: &[u8],
    piece: usize,
    enc: bool,
) -> (CK_RV, Vec<u8>) {
    let (pp, pl) = p.ptr();
    let (a, al) = (aad.as_ptr() as *mut u8, aad.len() as CK_ULONG);
    let rv = if enc {
        m3!(f, C_EncryptMessageBegin(h, pp, pl, a, al))
    } else {
        m3!(f, C_DecryptMessageBegin(h, pp, pl, a, al))
    };
    if rv != CKR_OK {
        return (rv, vec![]);
    }
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(piece.max(1)).collect() };
    let mut all = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let flags = if i + 1 == chunks.len() { CKF_END_OF_MESSAGE } else { 0 };
        let (d, n) = (c.as_ptr() as *mut u8, c.len() as CK_ULONG);
        let call = |o: *mut u8, len: &mut CK_ULONG| {
            if enc {
                m3!(f, C_EncryptMessageNext(h, pp, pl, d, n, o, len, flags))
            } else {
                m3!(f, C_DecryptMessageNext(h, pp, pl, d, n, o, len, flags))
            }
        };
        let mut len: CK_ULONG = 0;
        let rv = call(null_mut(), &mut len);
        if rv != CKR_OK {
            return (rv, all);
        }
        let mut out = vec![0u8; len as usize];
        let rv = call(out.as_mut_ptr(), &mut len);
        if rv != CKR_OK {
            return (rv, all);
        }
        out.truncate(len as usize);
        all.extend_from_slice(&out);
    }
    (CKR_OK, all)
}

fn single_part(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    enc: bool,
) -> (CK_RV, Vec<u8>) {
    let rv = if enc { call!(r, C_EncryptInit(h, m, key)) } else { call!(r, C_DecryptInit(h, m, key)) };
    assert_eq!(rv, CKR_OK);
    let (d, n) = (data.as_ptr() as *mut u8, data.len() as CK_ULONG);
    let mut len: CK_ULONG = 0;
    let rv = if enc {
        call!(r, C_Encrypt(h, d, n, null_mut(), &mut len))
    } else {
        call!(r, C_Decrypt(h, d, n, null_mut(), &mut len))
    };
    if rv != CKR_OK {
        return (rv, vec![]);
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

/// Multi-part C_EncryptUpdate/Final (or decrypt) in 7-byte pieces.
fn multi_part(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    enc: bool,
) -> (CK_RV, Vec<u8>) {
    let rv = if enc { call!(r, C_EncryptInit(h, m, key)) } else { call!(r, C_DecryptInit(h, m, key)) };
    assert_eq!(rv, CKR_OK);
    let mut all = Vec::new();
    for c in data.chunks(7) {
        let mut out = vec![0u8; c.len() + 32];
        let mut len = out.len() as CK_ULONG;
        let (d, n) = (c.as_ptr() as *mut u8, c.len() as CK_ULONG);
        let rv = if enc {
            call!(r, C_EncryptUpdate(h, d, n, out.as_mut_ptr(), &mut len))
        } else {
            call!(r, C_DecryptUpdate(h, d, n, out.as_mut_ptr(), &mut len))
        };
        if rv != CKR_OK {
            return (rv, all);
        }
        all.extend_from_slice(&out[..len as usize]);
    }
    let mut out = vec![0u8; data.len() + 32];
    let mut len = out.len() as CK_ULONG;
    let rv = if enc {
        call!(r, C_EncryptFinal(h, out.as_mut_ptr(), &mut len))
    } else {
        call!(r, C_DecryptFinal(h, out.as_mut_ptr(), &mut len))
    };
    all.extend_from_slice(&out[..if rv == CKR_OK { len as usize } else { 0 }]);
    (rv, all)
}

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

/// The single-part parameter (CK_CCM_PARAMS or
/// CK_SALSA20_CHACHA20_POLY1305_PARAMS) as bytes, with its mechanism; the
/// pointers inside point into leaked copies (test only).
fn single_mech(alg: Alg, iv: &[u8], aad: &[u8], tag_len: usize, data_len: usize) -> (Vec<u8>, CK_MECHANISM) {
    let iv: &'static mut [u8] = Box::leak(iv.to_vec().into_boxed_slice());
    let aad: &'static mut [u8] = Box::leak(aad.to_vec().into_boxed_slice());
    let aadp = if aad.is_empty() { null_mut() } else { aad.as_mut_ptr() };
    let bytes = match alg {
        Alg::Ccm => {
            let p = CK_CCM_PARAMS {
                ulDataLen: data_len as CK_ULONG,
                pNonce: iv.as_mut_ptr(),
                ulNonceLen: iv.len() as CK_ULONG,
                pAAD: aadp,
                ulAADLen: aad.len() as CK_ULONG,
                ulMACLen: tag_len as CK_ULONG,
            };
            as_bytes(&p)
        }
        _ => {
            let p = CK_SALSA20_CHACHA20_POLY1305_PARAMS {
                pNonce: iv.as_mut_ptr(),
                ulNonceLen: 96,
                pAAD: aadp,
                ulAADLen: aad.len() as CK_ULONG,
            };
            as_bytes(&p)
        }
    };
    let m = CK_MECHANISM { mechanism: alg.mech(), pParameter: null_mut(), ulParameterLen: bytes.len() as CK_ULONG };
    (bytes, m)
}

fn as_bytes<T>(t: &T) -> Vec<u8> {
    unsafe { std::slice::from_raw_parts(t as *const T as *const u8, std::mem::size_of::<T>()) }.to_vec()
}

fn setup() -> (World, Raw, &'static CK_FUNCTION_LIST_3_0, CK_SESSION_HANDLE) {
    let w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let f = f3(&r);
    (w, r, f, h)
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

/// A secret key with CKA_ENCRYPT and CKA_DECRYPT as given.
fn usage_key(r: &Raw, h: CK_SESSION_HANDLE, kt: CK_KEY_TYPE, value: &[u8], enc: bool, dec: bool) -> CK_OBJECT_HANDLE {
    let mut class = CKO_SECRET_KEY;
    let mut kt = kt;
    let (mut e, mut d): (CK_BBOOL, CK_BBOOL) = (enc as u8, dec as u8);
    let mut v = value.to_vec();
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_ENCRYPT, &mut e),
        attr(CKA_DECRYPT, &mut d),
        bytes_attr(CKA_VALUE, &mut v),
    ];
    let mut o = 0;
    assert_eq!(call!(r, C_CreateObject(h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut o)), CKR_OK);
    o
}

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
