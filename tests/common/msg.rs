//! The 3.0 message API through the raw C ABI, for tests/message_aead*.rs:
//! the 3.0 function list, the three message parameter structs over owned
//! IV and tag buffers, and one-call / Begin-Next / single-part drivers.

use std::ffi::c_void;
use std::ptr::null_mut;

use super::raw::*;
use super::*;
use cryptoki_sys::*;

pub fn f3(r: &Raw) -> &'static CK_FUNCTION_LIST_3_0 {
    type GetIface = unsafe extern "C" fn(*mut u8, *mut CK_VERSION, *mut *mut CK_INTERFACE, CK_FLAGS) -> CK_RV;
    let get: libloading::Symbol<GetIface> = unsafe { r.lib.get(b"C_GetInterface") }.unwrap();
    let mut iface: *mut CK_INTERFACE = null_mut();
    let mut v30 = CK_VERSION { major: 3, minor: 0 };
    assert_eq!(unsafe { get(c"PKCS 11".as_ptr() as *mut u8, &mut v30, &mut iface, 0) }, CKR_OK);
    unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0) }
}

#[allow(unused_macros)]
macro_rules! m3 {
    ($f:expr, $name:ident ( $($a:expr),* )) => {
        unsafe { ($f.$name.unwrap())($($a),*) }
    };
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Alg {
    Gcm,
    Ccm,
    Cha,
}

impl Alg {
    pub fn mech(self) -> CK_MECHANISM_TYPE {
        match self {
            Alg::Gcm => CKM_AES_GCM,
            Alg::Ccm => CKM_AES_CCM,
            Alg::Cha => CKM_CHACHA20_POLY1305,
        }
    }
    pub fn key_type(self) -> CK_KEY_TYPE {
        match self {
            Alg::Cha => CKK_CHACHA20,
            _ => CKK_AES,
        }
    }
}

/// One message parameter over owned IV and tag buffers.
pub struct P {
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
    gcm: CK_GCM_MESSAGE_PARAMS,
    ccm: CK_CCM_MESSAGE_PARAMS,
    cha: CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS,
    alg: Alg,
}

impl P {
    pub fn new(
        alg: Alg,
        iv: &[u8],
        tag: &[u8],
        gen: CK_GENERATOR_FUNCTION,
        fixed: CK_ULONG,
        data_len: usize,
    ) -> Box<P> {
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
    pub fn plain(alg: Alg, iv: &[u8], tag: &[u8], data_len: usize) -> Box<P> {
        P::new(alg, iv, tag, CKG_NO_GENERATE, 0, data_len)
    }
    pub fn ptr(&mut self) -> (*mut c_void, CK_ULONG) {
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

pub fn init_msg(f: &CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE, alg: Alg, key: CK_OBJECT_HANDLE, enc: bool) -> CK_RV {
    let mut m = mech(alg.mech());
    if enc {
        m3!(f, C_MessageEncryptInit(h, &mut m, key))
    } else {
        m3!(f, C_MessageDecryptInit(h, &mut m, key))
    }
}

/// C_EncryptMessage / C_DecryptMessage with the length query first.
pub fn one_message(
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
pub fn pieces(
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

pub fn single_part(
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
pub fn multi_part(
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

/// The single-part parameter (CK_CCM_PARAMS or
/// CK_SALSA20_CHACHA20_POLY1305_PARAMS) as bytes, with its mechanism; the
/// pointers inside point into leaked copies (test only).
pub fn single_mech(alg: Alg, iv: &[u8], aad: &[u8], tag_len: usize, data_len: usize) -> (Vec<u8>, CK_MECHANISM) {
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

pub fn as_bytes<T>(t: &T) -> Vec<u8> {
    unsafe { std::slice::from_raw_parts(t as *const T as *const u8, std::mem::size_of::<T>()) }.to_vec()
}

pub fn setup() -> (World, Raw, &'static CK_FUNCTION_LIST_3_0, CK_SESSION_HANDLE) {
    let w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    let f = f3(&r);
    (w, r, f, h)
}

/// A secret key with CKA_ENCRYPT and CKA_DECRYPT as given.
pub fn usage_key(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    kt: CK_KEY_TYPE,
    value: &[u8],
    enc: bool,
    dec: bool,
) -> CK_OBJECT_HANDLE {
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
