//! DSA and DH through raw C calls (the cryptoki crate has no DSA or DH
//! mechanisms nor CKA_SUBPRIME), for any module's function list: ours, or
//! SoftHSM's for the migration tests.

use std::ptr::null_mut;

use cryptoki_sys::*;

use super::raw::{attr, bytes_attr, Raw};

/// The 2.40 function list of any PKCS#11 library (already initialized by
/// whoever loaded it, or initialized by the caller).
pub fn raw_of(path: &std::path::Path) -> Raw {
    // SAFETY (test): a PKCS#11 module, leaked for 'static use.
    let lib: &'static libloading::Library = Box::leak(Box::new(unsafe { libloading::Library::new(path) }.unwrap()));
    let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
        unsafe { lib.get(b"C_GetFunctionList") }.unwrap();
    let mut p: *mut CK_FUNCTION_LIST = null_mut();
    assert_eq!(unsafe { get(&mut p) }, CKR_OK);
    Raw { f: unsafe { &*p }, lib }
}

/// Optional attributes for a new object: token, label, id, extractable.
#[derive(Clone, Default)]
pub struct Opts {
    pub token: bool,
    pub label: Vec<u8>,
    pub id: Vec<u8>,
    pub extractable: bool,
    pub private: bool,
}

fn push_opts<'a>(t: &mut Vec<CK_ATTRIBUTE>, o: &'a mut Opts, flags: &'a mut [CK_BBOOL; 3]) {
    flags[0] = o.token as CK_BBOOL;
    flags[1] = o.extractable as CK_BBOOL;
    flags[2] = o.private as CK_BBOOL;
    let [tok, ext, pri] = flags;
    t.push(attr(CKA_TOKEN, tok));
    t.push(attr(CKA_PRIVATE, pri));
    if !o.label.is_empty() {
        t.push(bytes_attr(CKA_LABEL, &mut o.label));
    }
    if !o.id.is_empty() {
        t.push(bytes_attr(CKA_ID, &mut o.id));
    }
    let _ = ext;
}

/// C_GenerateKeyPair for DSA (`q` Some) or DH (`q` None, `value_bits`).
#[allow(clippy::too_many_arguments)]
pub fn key_pair(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    p: &[u8],
    q: Option<&[u8]>,
    g: &[u8],
    value_bits: Option<CK_ULONG>,
    opts: &Opts,
) -> (CK_RV, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let (mut p, mut q, mut g) = (p.to_vec(), q.map(<[u8]>::to_vec), g.to_vec());
    let (mut o1, mut o2) = (opts.clone(), opts.clone());
    let (mut f1, mut f2) = ([0u8; 3], [0u8; 3]);
    let (mut yes1, mut yes2, mut yes3) = (1u8, 1u8, 1u8);
    let mut ext = opts.extractable as CK_BBOOL;
    let mut sens = (!opts.extractable) as CK_BBOOL;
    let mut vb = value_bits.unwrap_or(0);
    let mut pubt = vec![bytes_attr(CKA_PRIME, &mut p), bytes_attr(CKA_BASE, &mut g)];
    if let Some(q) = q.as_mut() {
        pubt.push(bytes_attr(CKA_SUBPRIME, q));
        pubt.push(attr(CKA_VERIFY, &mut yes1));
    }
    o1.private = false;
    push_opts(&mut pubt, &mut o1, &mut f1);
    let mut privt = vec![attr(CKA_EXTRACTABLE, &mut ext), attr(CKA_SENSITIVE, &mut sens)];
    if q.is_some() {
        privt.push(attr(CKA_SIGN, &mut yes2));
    } else {
        privt.push(attr(CKA_DERIVE, &mut yes3));
        if value_bits.is_some() {
            privt.push(attr(CKA_VALUE_BITS, &mut vb));
        }
    }
    push_opts(&mut privt, &mut o2, &mut f2);
    let mut m = CK_MECHANISM {
        mechanism: if q.is_some() { CKM_DSA_KEY_PAIR_GEN } else { CKM_DH_PKCS_KEY_PAIR_GEN },
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    let (mut hp, mut hq) = (0, 0);
    let rv = call!(
        r,
        C_GenerateKeyPair(
            h,
            &mut m,
            pubt.as_mut_ptr(),
            pubt.len() as CK_ULONG,
            privt.as_mut_ptr(),
            privt.len() as CK_ULONG,
            &mut hp,
            &mut hq
        )
    );
    (rv, hp, hq)
}

/// C_CreateObject of a DSA/DH key of `class` (q None: DH) with `value`
/// (y for a public key, x for a private one).
pub fn create_key(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    class: CK_OBJECT_CLASS,
    p: &[u8],
    q: Option<&[u8]>,
    g: &[u8],
    value: &[u8],
) -> (CK_RV, CK_OBJECT_HANDLE) {
    let (mut class, mut kt) = (class, if q.is_some() { CKK_DSA } else { CKK_DH });
    let (mut p, mut q, mut g, mut v) = (p.to_vec(), q.map(<[u8]>::to_vec), g.to_vec(), value.to_vec());
    let (mut yes1, mut yes2, mut no) = (1u8, 1u8, 0u8);
    let mut t = vec![
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        bytes_attr(CKA_PRIME, &mut p),
        bytes_attr(CKA_BASE, &mut g),
        bytes_attr(CKA_VALUE, &mut v),
        attr(if class == CKO_PUBLIC_KEY { CKA_VERIFY } else { CKA_SIGN }, &mut yes1),
        attr(CKA_TOKEN, &mut no),
    ];
    if let Some(q) = q.as_mut() {
        t.push(bytes_attr(CKA_SUBPRIME, q));
    } else if class == CKO_PRIVATE_KEY {
        t[5] = attr(CKA_DERIVE, &mut yes2);
    } else {
        t.truncate(5);
    }
    let mut o = 0;
    let rv = call!(r, C_CreateObject(h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut o));
    (rv, o)
}

/// A byte-string attribute (None if it cannot be read).
pub fn get(r: &Raw, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Option<Vec<u8>> {
    let mut q = [CK_ATTRIBUTE { type_: t, pValue: null_mut(), ulValueLen: 0 }];
    if call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)) != CKR_OK {
        return None;
    }
    let mut buf = vec![0u8; q[0].ulValueLen as usize];
    q[0].pValue = buf.as_mut_ptr().cast();
    assert_eq!(call!(r, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)), CKR_OK);
    Some(buf)
}

pub fn sign(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
) -> (CK_RV, Vec<u8>) {
    let mut m = CK_MECHANISM { mechanism: m, pParameter: null_mut(), ulParameterLen: 0 };
    let rv = call!(r, C_SignInit(h, &mut m, key));
    if rv != CKR_OK {
        return (rv, Vec::new());
    }
    let mut out = vec![0u8; 128];
    let mut len = out.len() as CK_ULONG;
    let rv = call!(r, C_Sign(h, data.as_ptr() as *mut u8, data.len() as CK_ULONG, out.as_mut_ptr(), &mut len));
    out.truncate(len as usize);
    (rv, out)
}

pub fn verify(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    m: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    sig: &[u8],
) -> CK_RV {
    let mut m = CK_MECHANISM { mechanism: m, pParameter: null_mut(), ulParameterLen: 0 };
    let rv = call!(r, C_VerifyInit(h, &mut m, key));
    if rv != CKR_OK {
        return rv;
    }
    call!(
        r,
        C_Verify(h, data.as_ptr() as *mut u8, data.len() as CK_ULONG, sig.as_ptr() as *mut u8, sig.len() as CK_ULONG)
    )
}

/// CKM_DH_PKCS_DERIVE into an extractable generic secret of `len` bytes
/// (None: no CKA_VALUE_LEN); the return code and the secret's value.
pub fn dh_derive(
    r: &Raw,
    h: CK_SESSION_HANDLE,
    key: CK_OBJECT_HANDLE,
    peer: &[u8],
    len: Option<CK_ULONG>,
) -> (CK_RV, Vec<u8>) {
    let mut peer = peer.to_vec();
    let mut m = CK_MECHANISM {
        mechanism: CKM_DH_PKCS_DERIVE,
        pParameter: peer.as_mut_ptr().cast(),
        ulParameterLen: peer.len() as CK_ULONG,
    };
    let (mut class, mut kt, mut yes, mut no) = (CKO_SECRET_KEY, CKK_GENERIC_SECRET, 1u8, 0u8);
    let mut l = len.unwrap_or(0);
    let mut t = vec![
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_EXTRACTABLE, &mut yes),
        attr(CKA_SENSITIVE, &mut no),
    ];
    if len.is_some() {
        t.push(attr(CKA_VALUE_LEN, &mut l));
    }
    let mut o = 0;
    let rv = call!(r, C_DeriveKey(h, &mut m, key, t.as_mut_ptr(), t.len() as CK_ULONG, &mut o));
    if rv != CKR_OK {
        return (rv, Vec::new());
    }
    (rv, get(r, h, o, CKA_VALUE).unwrap())
}
