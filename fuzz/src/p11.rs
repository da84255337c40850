//! The PKCS#11 targets: each input is a little program of C calls made
//! through the module's real `CK_FUNCTION_LIST` (from `C_GetFunctionList`,
//! the exported symbol of the rlib linked in: the same code the `.so`
//! runs), with arbitrary templates, mechanisms, parameters, lengths,
//! handles and call orders.
//!
//! Once per process: a token is initialised in a private store (cheapest
//! KDF), an anchor session is logged in as the user and keeps that login
//! for every input, and a set of fixed keys is made (AES, HMAC, RSA, EC,
//! Ed25519, X25519 and a KMS master key). Per input: fresh RW and RO
//! sessions, the program, then every object the program made is destroyed
//! and its sessions closed, so the store and the session table stay the
//! same size however long the campaign runs.
//!
//! Harness rules (besides the length convention in `buf`):
//! * fixed keys are never destroyed or modified (C_DestroyObject and
//!   C_SetAttributeValue aim at objects the input made, or at arbitrary
//!   handles other than the fixed ones), so every input sees the same keys;
//! * no C_Logout, C_Finalize, C_CloseAllSessions or wrong-PIN C_Login: they
//!   would change what later inputs see;
//! * CKA_DESTROYABLE is always true where the harness sets it: a token
//!   object nobody can destroy would stay for every later input, and the
//!   store would grow without end (each later C_FindObjects slower);
//! * CKA_MODULUS_BITS above 2048 is lowered to 1024 in key-pair templates:
//!   a 16384-bit RSA key pair legitimately takes minutes, which libFuzzer
//!   would report as a hang;
//! * a mechanism parameter for a mechanism whose parameter holds pointers
//!   is either built by the harness (real buffers, any lengths per the
//!   convention) or raw bytes of a length no such struct has (not a
//!   multiple of 8), so the module never reads an arbitrary pointer.

use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use arbitrary::Unstructured;
use cryptoki_sys::*;
use ferrohsm::model::policy;
use ferrohsm::model::Kind;

use crate::buf::{self, Buf, ABSURD};

pub const SO_PIN: &[u8] = b"fuzz-so-pin";
pub const USER_PIN: &[u8] = b"fuzz-user-pin";

extern "C" {
    // The module's own export, linked in from the ferrohsm rlib.
    fn C_GetFunctionList(pp: *mut *mut CK_FUNCTION_LIST) -> CK_RV;
    fn FHSM_CreateKey(
        h: CK_SESSION_HANDLE,
        t: *mut CK_ATTRIBUTE,
        n: CK_ULONG,
        id: *mut u8,
        idl: *mut CK_ULONG,
    ) -> CK_RV;
}

/// Calls a function of the table.
macro_rules! call {
    ($w:expr, $f:ident ( $($a:expr),* $(,)? )) => {
        // SAFETY: every pointer argument is NULL or valid per the buf
        // convention (the harness's duty); the module checks the rest.
        unsafe { ($w.f.$f.expect(stringify!($f)))($($a),*) }
    };
}

pub struct World {
    pub f: &'static CK_FUNCTION_LIST,
    pub slot: CK_SLOT_ID,
    pub anchor: CK_SESSION_HANDLE,
    /// Handles of the fixed keys (and key pairs' halves).
    pub fixed: Vec<CK_OBJECT_HANDLE>,
    /// The token's mechanisms, plus a few it does not have.
    pub mechs: Vec<CK_MECHANISM_TYPE>,
}

// The world is made once and only read after; handles and the table are
// plain data.
unsafe impl Sync for World {}
unsafe impl Send for World {}

fn ok(rv: CK_RV, what: &str) {
    assert_eq!(rv, CKR_OK, "set-up: {what} failed with {rv:#x}");
}

fn attr<T>(t: CK_ATTRIBUTE_TYPE, v: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE { type_: t, pValue: v as *const T as *mut _, ulValueLen: std::mem::size_of::<T>() as CK_ULONG }
}

fn attr_bytes(t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE { type_: t, pValue: v.as_ptr() as *mut _, ulValueLen: v.len() as CK_ULONG }
}

const TRUE: CK_BBOOL = CK_TRUE as CK_BBOOL;
const FALSE: CK_BBOOL = CK_FALSE as CK_BBOOL;
/// DER OIDs of the curves.
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

pub fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(setup)
}

fn setup() -> World {
    std::env::set_var("FERROHSM_CONF", crate::write_config());
    let mut p: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: an out-pointer to a local.
    ok(unsafe { C_GetFunctionList(&mut p) }, "C_GetFunctionList");
    // SAFETY: the module hands out a static table.
    let f: &'static CK_FUNCTION_LIST = unsafe { &*p };
    let mut w = World { f, slot: 0, anchor: 0, fixed: Vec::new(), mechs: Vec::new() };
    ok(call!(w, C_Initialize(null_mut())), "C_Initialize");
    let mut slots = [0 as CK_SLOT_ID; 8];
    let mut n = slots.len() as CK_ULONG;
    ok(call!(w, C_GetSlotList(CK_FALSE as CK_BBOOL, slots.as_mut_ptr(), &mut n)), "C_GetSlotList");
    w.slot = slots[0];
    let mut label = [b' '; 32];
    label[..4].copy_from_slice(b"fuzz");
    ok(call!(w, C_InitToken(w.slot, SO_PIN.as_ptr() as *mut _, SO_PIN.len() as _, label.as_mut_ptr())), "InitToken");
    let mut h = 0;
    ok(call!(w, C_OpenSession(w.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut h)), "OpenSession");
    ok(call!(w, C_Login(h, CKU_SO, SO_PIN.as_ptr() as *mut _, SO_PIN.len() as _)), "Login SO");
    ok(call!(w, C_InitPIN(h, USER_PIN.as_ptr() as *mut _, USER_PIN.len() as _)), "InitPIN");
    ok(call!(w, C_Logout(h)), "Logout");
    ok(call!(w, C_Login(h, CKU_USER, USER_PIN.as_ptr() as *mut _, USER_PIN.len() as _)), "Login user");
    w.anchor = h;

    let mut n: CK_ULONG = 0;
    ok(call!(w, C_GetMechanismList(w.slot, null_mut(), &mut n)), "GetMechanismList");
    let mut mechs = vec![0 as CK_MECHANISM_TYPE; n as usize];
    ok(call!(w, C_GetMechanismList(w.slot, mechs.as_mut_ptr(), &mut n)), "GetMechanismList");
    mechs.truncate(n as usize);
    mechs.extend([CKM_AES_KEY_WRAP_PAD, CKM_DES3_CBC, CKM_SHA224_HMAC_GENERAL, 0x8000_0000, CK_ULONG::MAX]);
    w.mechs = mechs;

    // The fixed keys: session objects of the anchor session, usable for
    // everything their type allows.
    let (t, e) = (TRUE, FALSE);
    let usage = |v: &mut Vec<CK_ATTRIBUTE>| {
        for a in [CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE] {
            v.push(attr(a, &t));
        }
    };
    let secret = |w: &mut World, mech: CK_MECHANISM_TYPE, len: CK_ULONG, extractable: bool, sensitive: bool| {
        let (x, s) = (if extractable { TRUE } else { FALSE }, if sensitive { TRUE } else { FALSE });
        let mut tmpl = vec![attr(CKA_VALUE_LEN, &len), attr(CKA_EXTRACTABLE, &x), attr(CKA_SENSITIVE, &s)];
        usage(&mut tmpl);
        let mut m = CK_MECHANISM { mechanism: mech, pParameter: null_mut(), ulParameterLen: 0 };
        let mut k = 0;
        ok(call!(w, C_GenerateKey(h, &mut m, tmpl.as_mut_ptr(), tmpl.len() as _, &mut k)), "GenerateKey");
        w.fixed.push(k);
    };
    secret(&mut w, CKM_AES_KEY_GEN, 32, true, false);
    secret(&mut w, CKM_AES_KEY_GEN, 16, true, true);
    secret(&mut w, CKM_GENERIC_SECRET_KEY_GEN, 32, true, false);
    secret(&mut w, CKM_AES_KEY_GEN, 32, false, true);
    let _ = e;
    let pair = |w: &mut World, mech: CK_MECHANISM_TYPE, params: Option<&[u8]>, pu: &[CK_ULONG], pr: &[CK_ULONG]| {
        let bits: CK_ULONG = 2048;
        let mut pubt = vec![attr(CKA_TOKEN, &FALSE)];
        match params {
            Some(p) => pubt.push(attr_bytes(CKA_EC_PARAMS, p)),
            None => pubt.push(attr(CKA_MODULUS_BITS, &bits)),
        }
        let mut privt = vec![attr(CKA_EXTRACTABLE, &TRUE), attr(CKA_SENSITIVE, &FALSE)];
        pubt.extend(pu.iter().map(|&a| attr(a, &TRUE)));
        privt.extend(pr.iter().map(|&a| attr(a, &TRUE)));
        let mut m = CK_MECHANISM { mechanism: mech, pParameter: null_mut(), ulParameterLen: 0 };
        let (mut a, mut b) = (0, 0);
        let rv = call!(
            w,
            C_GenerateKeyPair(
                h,
                &mut m,
                pubt.as_mut_ptr(),
                pubt.len() as _,
                privt.as_mut_ptr(),
                privt.len() as _,
                &mut a,
                &mut b
            )
        );
        ok(rv, "GenerateKeyPair");
        w.fixed.push(a);
        w.fixed.push(b);
    };
    pair(
        &mut w,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        None,
        &[CKA_ENCRYPT, CKA_VERIFY, CKA_WRAP],
        &[CKA_DECRYPT, CKA_SIGN, CKA_UNWRAP],
    );
    pair(&mut w, CKM_EC_KEY_PAIR_GEN, Some(P256), &[CKA_VERIFY], &[CKA_SIGN, CKA_DERIVE]);
    pair(&mut w, CKM_EC_EDWARDS_KEY_PAIR_GEN, Some(ED25519), &[CKA_VERIFY], &[CKA_SIGN]);
    pair(&mut w, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, Some(X25519), &[], &[CKA_DERIVE]);
    // A KMS master key (for CKM_FHSM_KMS_WRAP), found by its class.
    let mut id = [0u8; 128];
    let mut idl = id.len() as CK_ULONG;
    // SAFETY: no template; an id buffer of idl bytes.
    let rv = unsafe { FHSM_CreateKey(h, null_mut(), 0, id.as_mut_ptr(), &mut idl) };
    if rv == CKR_OK {
        let kms: CK_BBOOL = TRUE;
        let mut t = [attr(ferrohsm::vendor::CKA_FHSM_KMS, &kms)];
        ok(call!(w, C_FindObjectsInit(h, t.as_mut_ptr(), 1)), "FindObjectsInit");
        let mut found = [0; 4];
        let mut n = 0;
        ok(call!(w, C_FindObjects(h, found.as_mut_ptr(), 4, &mut n)), "FindObjects");
        ok(call!(w, C_FindObjectsFinal(h)), "FindObjectsFinal");
        w.fixed.extend_from_slice(&found[..n as usize]);
    }
    w
}

/// Owned storage behind one C template.
#[derive(Default)]
pub struct Tmpl {
    pub attrs: Vec<CK_ATTRIBUTE>,
    bufs: Vec<Buf>,
    nested: Vec<Tmpl>,
}

impl Tmpl {
    /// The buffer a value pointer points into, if it is one of ours.
    fn buf_at(&mut self, p: *mut std::ffi::c_void) -> Option<&mut Buf> {
        self.bufs.iter_mut().find(|b| !p.is_null() && b.addr() as *mut std::ffi::c_void == p)
    }
    fn ptr(&mut self) -> *mut CK_ATTRIBUTE {
        if self.attrs.is_empty() {
            null_mut()
        } else {
            self.attrs.as_mut_ptr()
        }
    }
}

/// Attribute types worth picking often (the rest come from the policy
/// table or are arbitrary).
const COMMON: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_KEY_TYPE,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_VALUE,
    CKA_VALUE_LEN,
    CKA_LABEL,
    CKA_ID,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_MODULUS_BITS,
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_DERIVE_TEMPLATE,
    CKA_ALLOWED_MECHANISMS,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_APPLICATION,
    CKA_OBJECT_ID,
    CKA_CERTIFICATE_TYPE,
    CKA_SUBJECT,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_TRUSTED,
    CKA_CHECK_VALUE,
    CKA_UNIQUE_ID,
];

const CLASSES: &[CK_ULONG] =
    &[CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY, CKO_PROFILE, 0x8000_0001];
const KEY_TYPES: &[CK_ULONG] = &[
    CKK_AES,
    CKK_GENERIC_SECRET,
    CKK_RSA,
    CKK_EC,
    CKK_EC_EDWARDS,
    CKK_EC_MONTGOMERY,
    CKK_SHA256_HMAC,
    CKK_HKDF,
    CKK_DES3,
    ferrohsm::vendor::CKK_FHSM_KMS_ASYMMETRIC,
];

/// A program's state: the input, its sessions, what it made.
pub struct Prog<'a> {
    pub w: &'static World,
    pub u: Unstructured<'a>,
    rw: CK_SESSION_HANDLE,
    ro: CK_SESSION_HANDLE,
    cur: CK_SESSION_HANDLE,
    made: Vec<CK_OBJECT_HANDLE>,
    /// The last output of any call (ciphertext, signature, wrapped key),
    /// offered as the next input.
    last: Vec<u8>,
}

impl<'a> Prog<'a> {
    pub fn new(data: &'a [u8]) -> Prog<'a> {
        let w = world();
        let (mut rw, mut ro) = (0, 0);
        ok(call!(w, C_OpenSession(w.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut rw)), "open");
        ok(call!(w, C_OpenSession(w.slot, CKF_SERIAL_SESSION, null_mut(), None, &mut ro)), "open");
        Prog { w, u: Unstructured::new(data), rw, ro, cur: rw, made: Vec::new(), last: Vec::new() }
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        *self.u.choose(v).unwrap_or(&v[0])
    }
    fn small(&mut self, max: usize) -> usize {
        self.u.int_in_range(0..=max).unwrap_or(0)
    }
    fn flip(&mut self) -> bool {
        self.u.arbitrary().unwrap_or(false)
    }
    fn ulong(&mut self) -> CK_ULONG {
        self.u.arbitrary().unwrap_or(0)
    }

    /// A session handle: mostly the RW one.
    fn session(&mut self) -> CK_SESSION_HANDLE {
        match self.small(15) {
            0 => self.ro,
            1 => self.ulong(),
            2 => 0,
            _ => self.cur,
        }
    }

    /// Any handle a call might be given.
    fn handle(&mut self) -> CK_OBJECT_HANDLE {
        match self.small(9) {
            0 => self.ulong(),
            1 => 0,
            2..=4 if !self.made.is_empty() => {
                let i = self.small(self.made.len() - 1);
                self.made[i]
            }
            _ => {
                let i = self.small(self.w.fixed.len() - 1);
                self.w.fixed[i]
            }
        }
    }

    /// A handle that may be changed or destroyed: never a fixed key.
    fn own_handle(&mut self) -> CK_OBJECT_HANDLE {
        let h = match self.made.len() {
            0 => self.ulong(),
            n => {
                let i = self.small(n - 1);
                self.made[i]
            }
        };
        if self.w.fixed.contains(&h) {
            0
        } else {
            h
        }
    }

    fn atype(&mut self) -> CK_ATTRIBUTE_TYPE {
        match self.small(7) {
            0 => self.u.choose(policy::RULES).map(|r| r.atype).unwrap_or(0),
            1 => self.ulong(),
            _ => self.pick(COMMON),
        }
    }

    /// A template of up to 8 attributes with values shaped by their
    /// types (or not), lengths per the convention.
    pub fn template(&mut self, depth: usize) -> Tmpl {
        let mut t = Tmpl::default();
        let n = self.small(8);
        for _ in 0..n {
            let atype = self.atype();
            self.attribute(&mut t, atype, depth);
        }
        keep_destroyable(&mut t);
        t
    }

    fn attribute(&mut self, t: &mut Tmpl, atype: CK_ATTRIBUTE_TYPE, depth: usize) {
        let kind = policy::kind_of(atype);
        let shaped = self.small(7) != 0;
        if kind == Kind::Template && shaped && depth < 3 {
            let mut inner = self.template(depth + 1);
            let size = std::mem::size_of::<CK_ATTRIBUTE>();
            let real = inner.attrs.len() * size;
            let len = match self.small(9) {
                0 => self.pick(&ABSURD),
                1 => (real.saturating_sub(1)) as CK_ULONG,
                2 => (self.small(inner.attrs.len()) * size) as CK_ULONG,
                _ => real as CK_ULONG,
            };
            t.attrs.push(CK_ATTRIBUTE { type_: atype, pValue: inner.ptr() as *mut _, ulValueLen: len });
            t.nested.push(inner);
            return;
        }
        let value: Vec<u8> = if !shaped {
            buf::bytes(&mut self.u, 40)
        } else {
            match kind {
                Kind::Bool => {
                    vec![if self.small(5) == 0 { self.u.arbitrary().unwrap_or(2) } else { self.flip() as u8 }]
                }
                Kind::Ulong => {
                    let v: CK_ULONG = match (atype, self.small(3)) {
                        (CKA_CLASS, 0..=2) => self.pick(CLASSES),
                        (CKA_KEY_TYPE, 0..=2) => self.pick(KEY_TYPES),
                        (CKA_MODULUS_BITS, 0..=2) => self.pick(&[512, 1024, 1025, 2048, 0, 16384, 1 << 40]),
                        (CKA_VALUE_LEN, 0..=2) => self.pick(&[0, 1, 16, 24, 32, 64, 65, 512, 4096, 1 << 31]),
                        (_, 0) => self.ulong(),
                        _ => self.small(300) as CK_ULONG,
                    };
                    v.to_ne_bytes().to_vec()
                }
                Kind::Date => match self.small(3) {
                    0 => Vec::new(),
                    1 => b"20260101".to_vec(),
                    _ => buf::bytes(&mut self.u, 8),
                },
                Kind::MechList => {
                    let n = self.small(6);
                    let mut v = Vec::new();
                    for _ in 0..n {
                        let m = self.pick(&self.w.mechs);
                        v.extend_from_slice(&m.to_ne_bytes());
                    }
                    if self.small(5) == 0 {
                        v.push(1); // not a whole number of mechanisms
                    }
                    v
                }
                _ => match (atype, self.small(3)) {
                    (CKA_EC_PARAMS, 0..=1) => self.pick(&[P256, ED25519, X25519, b"prime256v1".as_slice()]).to_vec(),
                    _ => buf::bytes(&mut self.u, 300),
                },
            }
        };
        let mut b = Buf::from(&value);
        let (ptr, len) = match self.small(19) {
            0 => (null_mut(), 0),
            1 => (null_mut(), self.small(64) as CK_ULONG),
            _ => (b.ptr(), buf::claim_in(&mut self.u, b.len())),
        };
        t.attrs.push(CK_ATTRIBUTE { type_: atype, pValue: ptr as *mut _, ulValueLen: len });
        t.bufs.push(b);
    }

    /// The template pointer and count to pass: the real count, fewer, an
    /// absurd count, or NULL.
    fn tmpl_args(&mut self, t: &mut Tmpl) -> (*mut CK_ATTRIBUTE, CK_ULONG) {
        let n = t.attrs.len();
        match self.small(19) {
            0 => (null_mut(), n as CK_ULONG),
            1 => (t.ptr(), self.pick(&ABSURD)),
            2 => (t.ptr(), self.small(n) as CK_ULONG),
            _ => (t.ptr(), n as CK_ULONG),
        }
    }

    /// A mechanism with its parameter; the storage lives in the returned
    /// `Mech`.
    pub fn mechanism(&mut self) -> Mech {
        let mtype = self.pick(&self.w.mechs);
        let mtype = if self.small(30) == 0 { self.ulong() } else { mtype };
        let mut m = Mech {
            m: CK_MECHANISM { mechanism: mtype, pParameter: null_mut(), ulParameterLen: 0 },
            bufs: Vec::new(),
            tmpls: Vec::new(),
        };
        let pointer_param = matches!(
            mtype,
            CKM_AES_GCM
                | CKM_HKDF_DERIVE
                | CKM_HKDF_DATA
                | CKM_SP800_108_COUNTER_KDF
                | CKM_SP800_108_FEEDBACK_KDF
                | CKM_SP800_108_DOUBLE_PIPELINE_KDF
                | CKM_RSA_PKCS_OAEP
                | CKM_RSA_AES_KEY_WRAP
                | CKM_ECDH1_DERIVE
                | CKM_ECDH1_COFACTOR_DERIVE
                | CKM_EDDSA
                | CKM_AES_ECB_ENCRYPT_DATA
                | CKM_AES_CBC_ENCRYPT_DATA
                | CKM_AES_CCM
                | CKM_CHACHA20_POLY1305
                | CKM_DES_ECB_ENCRYPT_DATA
                | CKM_DES3_ECB_ENCRYPT_DATA
                | CKM_DES_CBC_ENCRYPT_DATA
                | CKM_DES3_CBC_ENCRYPT_DATA
                | CKM_CONCATENATE_BASE_AND_DATA
                | CKM_CONCATENATE_DATA_AND_BASE
                | CKM_XOR_BASE_AND_DATA
                | CKM_ML_DSA
        ) || mtype == ferrohsm::vendor::CKM_FHSM_KMS_WRAP;
        match self.small(5) {
            0 => {}
            1 => {
                let mut raw = buf::bytes(&mut self.u, 80);
                if pointer_param && raw.len().is_multiple_of(8) {
                    raw.push(0);
                }
                let mut b = Buf::from(&raw);
                m.m.pParameter = b.ptr() as *mut _;
                m.m.ulParameterLen =
                    if pointer_param { raw.len() as CK_ULONG } else { buf::claim_in(&mut self.u, raw.len()) };
                m.bufs.push(b);
            }
            _ => self.param(&mut m, mtype),
        }
        m
    }

    /// A byte string inside a parameter: its buffer kept in `m`, its
    /// pointer and claimed length returned.
    fn pbytes(&mut self, m: &mut Mech, max: usize) -> (*mut u8, CK_ULONG) {
        let v = buf::bytes(&mut self.u, max);
        let mut b = Buf::from(&v);
        let r = match self.small(15) {
            0 => (null_mut(), if self.flip() { 0 } else { 16 }),
            _ => (b.ptr(), buf::claim_in(&mut self.u, v.len())),
        };
        m.bufs.push(b);
        r
    }
}

/// Points `m`'s parameter at a copy of `p`, kept in `m`.
fn set_param<T>(m: &mut Mech, p: T) {
    {
        let mut b = Buf::of_one(&p);
        m.m.pParameter = b.ptr() as *mut _;
        m.m.ulParameterLen = std::mem::size_of::<T>() as CK_ULONG;
        m.bufs.push(b);
    }
}

impl Prog<'_> {
    fn hash(&mut self) -> CK_ULONG {
        match self.small(7) {
            0 => self.ulong(),
            _ => self.pick(&[CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512, CKM_SHA3_256]),
        }
    }

    fn param(&mut self, m: &mut Mech, mtype: CK_MECHANISM_TYPE) {
        match mtype {
            CKM_AES_GCM => {
                let (iv, ivl) = self.pbytes(m, 20);
                let (aad, aadl) = self.pbytes(m, 40);
                let tag: CK_ULONG = self.pick(&[128, 96, 64, 0, 129, 1 << 33]);
                if self.flip() {
                    set_param(
                        m,
                        CK_GCM_PARAMS {
                            pIv: iv,
                            ulIvLen: ivl,
                            ulIvBits: ivl.wrapping_mul(8),
                            pAAD: aad,
                            ulAADLen: aadl,
                            ulTagBits: tag,
                        },
                    );
                } else {
                    // The 2.40 layout (no ulIvBits).
                    set_param(m, [iv as CK_ULONG, ivl, aad as CK_ULONG, aadl, tag]);
                }
            }
            CKM_AES_CBC | CKM_AES_CBC_PAD | CKM_AES_CTR | CKM_AES_CMAC_GENERAL | CKM_SHA256_HMAC_GENERAL => {
                let v = buf::bytes(&mut self.u, 24);
                let mut b = Buf::from(&v);
                m.m.pParameter = b.ptr() as *mut _;
                m.m.ulParameterLen = buf::claim_in(&mut self.u, v.len());
                m.bufs.push(b);
            }
            CKM_RSA_PKCS_OAEP => {
                let (label, ll) = self.pbytes(m, 16);
                let p = CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: self.hash(),
                    mgf: self.pick(&[CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKG_MGF1_SHA512, 0, 77]),
                    source: self.pick(&[CKZ_DATA_SPECIFIED, 0, 2]),
                    pSourceData: label as *mut _,
                    ulSourceDataLen: ll,
                };
                set_param(m, p);
            }
            CKM_RSA_AES_KEY_WRAP => {
                let (label, ll) = self.pbytes(m, 16);
                let oaep = CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: self.hash(),
                    mgf: self.pick(&[CKG_MGF1_SHA1, CKG_MGF1_SHA256]),
                    source: CKZ_DATA_SPECIFIED,
                    pSourceData: label as *mut _,
                    ulSourceDataLen: ll,
                };
                let mut ob = Buf::of(std::slice::from_ref(&oaep));
                let op = if self.small(7) == 0 { null_mut() } else { ob.ptr() as *mut CK_RSA_PKCS_OAEP_PARAMS };
                m.bufs.push(ob);
                let bits = self.pick(&[128, 192, 256, 0, 100, 1 << 40]);
                set_param(m, CK_RSA_AES_KEY_WRAP_PARAMS { ulAESKeyBits: bits, pOAEPParams: op });
            }
            CKM_RSA_PKCS_PSS | CKM_SHA256_RSA_PKCS_PSS | CKM_SHA1_RSA_PKCS_PSS | CKM_SHA512_RSA_PKCS_PSS => {
                let p = CK_RSA_PKCS_PSS_PARAMS {
                    hashAlg: self.hash(),
                    mgf: self.pick(&[CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKG_MGF1_SHA512, 9]),
                    sLen: self.pick(&[0, 20, 32, 64, 222, 1 << 40, CK_ULONG::MAX]),
                };
                set_param(m, p);
            }
            CKM_HKDF_DERIVE | CKM_HKDF_DATA => {
                let (salt, sl) = self.pbytes(m, 32);
                let (info, il) = self.pbytes(m, 32);
                let p = CK_HKDF_PARAMS {
                    bExtract: self.flip() as CK_BBOOL,
                    bExpand: self.flip() as CK_BBOOL,
                    prfHashMechanism: self.hash(),
                    ulSaltType: self.pick(&[CKF_HKDF_SALT_NULL, CKF_HKDF_SALT_DATA, CKF_HKDF_SALT_KEY, 8]),
                    pSalt: salt,
                    ulSaltLen: sl,
                    hSaltKey: self.handle(),
                    pInfo: info,
                    ulInfoLen: il,
                };
                set_param(m, p);
            }
            CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
                let (shared, shl) = self.pbytes(m, 16);
                let (public, pl) = self.pbytes(m, 100);
                let p = CK_ECDH1_DERIVE_PARAMS {
                    kdf: self.pick(&[CKD_NULL, CKD_SHA256_KDF, CKD_SHA1_KDF, CKD_SHA512_KDF, 99]),
                    ulSharedDataLen: shl,
                    pSharedData: shared,
                    ulPublicDataLen: pl,
                    pPublicData: public,
                };
                set_param(m, p);
            }
            CKM_EDDSA => {
                let (ctx, cl) = self.pbytes(m, 16);
                set_param(
                    m,
                    CK_EDDSA_PARAMS { phFlag: self.flip() as CK_BBOOL, ulContextDataLen: cl, pContextData: ctx },
                );
            }
            CKM_AES_CCM => {
                let (n, nl) = self.pbytes(m, 14);
                let (a, al) = self.pbytes(m, 24);
                let data_len = self.pick(&[0, 16, 32, 100, 1 << 40]);
                let mac = self.pick(&[4, 8, 16, 3, 17]);
                set_param(
                    m,
                    CK_CCM_PARAMS {
                        ulDataLen: data_len,
                        pNonce: n,
                        ulNonceLen: nl,
                        pAAD: a,
                        ulAADLen: al,
                        ulMACLen: mac,
                    },
                );
            }
            CKM_CHACHA20_POLY1305 => {
                let (n, nl) = self.pbytes(m, 14);
                let (a, al) = self.pbytes(m, 24);
                set_param(m, CK_SALSA20_CHACHA20_POLY1305_PARAMS { pNonce: n, ulNonceLen: nl, pAAD: a, ulAADLen: al });
            }
            CKM_AES_ECB_ENCRYPT_DATA
            | CKM_DES_ECB_ENCRYPT_DATA
            | CKM_DES3_ECB_ENCRYPT_DATA
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA => {
                let (d, dl) = self.pbytes(m, 48);
                set_param(m, CK_KEY_DERIVATION_STRING_DATA { pData: d, ulLen: dl });
            }
            CKM_AES_CBC_ENCRYPT_DATA => {
                let (d, dl) = self.pbytes(m, 48);
                let mut iv = [0u8; 16];
                let _ = self.u.fill_buffer(&mut iv);
                set_param(m, CK_AES_CBC_ENCRYPT_DATA_PARAMS { iv, pData: d, length: dl });
            }
            CKM_DES_CBC_ENCRYPT_DATA | CKM_DES3_CBC_ENCRYPT_DATA => {
                let (d, dl) = self.pbytes(m, 48);
                let mut iv = [0u8; 8];
                let _ = self.u.fill_buffer(&mut iv);
                set_param(m, CK_DES_CBC_ENCRYPT_DATA_PARAMS { iv, pData: d, length: dl });
            }
            CKM_ML_DSA => {
                let (c, cl) = self.pbytes(m, 300);
                let hedge = self.pick(&[CKH_HEDGE_PREFERRED, CKH_HEDGE_REQUIRED, CKH_DETERMINISTIC_REQUIRED, 7]);
                set_param(m, CK_SIGN_ADDITIONAL_CONTEXT { hedgeVariant: hedge, pContext: c, ulContextLen: cl });
            }
            CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF | CKM_SP800_108_DOUBLE_PIPELINE_KDF => {
                let n = self.small(4);
                let mut items = Vec::new();
                for _ in 0..n {
                    let (ty, p, l) = match self.small(5) {
                        // Feedback/pipeline's iteration variable: no value.
                        3 => (CK_SP800_108_ITERATION_VARIABLE, null_mut(), 0),
                        4 => {
                            let f = CK_SP800_108_COUNTER_FORMAT {
                                bLittleEndian: self.flip() as CK_BBOOL,
                                ulWidthInBits: self.pick(&[8, 16, 32, 0]),
                            };
                            let mut b = Buf::of(std::slice::from_ref(&f));
                            let r = (CK_SP800_108_OPTIONAL_COUNTER, b.ptr(), std::mem::size_of_val(&f) as CK_ULONG);
                            m.bufs.push(b);
                            r
                        }
                        0 => {
                            let f = CK_SP800_108_COUNTER_FORMAT {
                                bLittleEndian: self.flip() as CK_BBOOL,
                                ulWidthInBits: self.pick(&[8, 16, 24, 32, 7, 0, 1 << 40]),
                            };
                            let mut b = Buf::of(std::slice::from_ref(&f));
                            let r = (CK_SP800_108_ITERATION_VARIABLE, b.ptr(), std::mem::size_of_val(&f) as CK_ULONG);
                            m.bufs.push(b);
                            r
                        }
                        1 => {
                            let f = CK_SP800_108_DKM_LENGTH_FORMAT {
                                dkmLengthMethod: self.pick(&[
                                    CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
                                    CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS,
                                    5,
                                ]),
                                bLittleEndian: self.flip() as CK_BBOOL,
                                ulWidthInBits: self.pick(&[8, 16, 32, 64, 0, 1 << 40]),
                            };
                            let mut b = Buf::of(std::slice::from_ref(&f));
                            let r = (CK_SP800_108_DKM_LENGTH, b.ptr(), std::mem::size_of_val(&f) as CK_ULONG);
                            m.bufs.push(b);
                            r
                        }
                        _ => {
                            let (p, l) = self.pbytes(m, 24);
                            (CK_SP800_108_BYTE_ARRAY, p, l)
                        }
                    };
                    items.push(CK_PRF_DATA_PARAM { type_: ty, pValue: p as *mut _, ulValueLen: l });
                }
                let mut ib = Buf::of(&items);
                let cnt = match self.small(9) {
                    0 => self.pick(&ABSURD),
                    _ => items.len() as CK_ULONG,
                };
                let ip = if items.is_empty() && self.flip() { null_mut() } else { ib.ptr() };
                m.bufs.push(ib);
                let prf = self.pick(&[CKM_SHA256_HMAC, CKM_AES_CMAC, CKM_SHA512_HMAC, CKM_SHA_1_HMAC, 3]);
                // Additional derived keys: none, a count with a NULL array,
                // or one entry with a small template and a real out-pointer.
                let (n_extra, p_extra) = match self.small(9) {
                    0 => (1, null_mut()),
                    1 => {
                        let mut t = self.template(1);
                        let (tp, tl) = (t.ptr(), t.attrs.len() as CK_ULONG);
                        m.tmpls.push(t);
                        let mut hb = Buf::of(&[0 as CK_OBJECT_HANDLE]);
                        let entry = CK_DERIVED_KEY {
                            pTemplate: tp,
                            ulAttributeCount: tl,
                            phKey: hb.ptr() as *mut CK_OBJECT_HANDLE,
                        };
                        m.bufs.push(hb);
                        let mut eb = Buf::of(std::slice::from_ref(&entry));
                        let p = eb.ptr() as *mut CK_DERIVED_KEY;
                        m.bufs.push(eb);
                        (1, p)
                    }
                    _ => (0, null_mut()),
                };
                if mtype == CKM_SP800_108_FEEDBACK_KDF {
                    let (iv, ivl) = self.pbytes(m, 32);
                    set_param(
                        m,
                        CK_SP800_108_FEEDBACK_KDF_PARAMS {
                            prfType: prf,
                            ulNumberOfDataParams: cnt,
                            pDataParams: ip as *mut _,
                            ulIVLen: ivl,
                            pIV: iv,
                            ulAdditionalDerivedKeys: n_extra,
                            pAdditionalDerivedKeys: p_extra,
                        },
                    );
                } else {
                    set_param(
                        m,
                        CK_SP800_108_KDF_PARAMS {
                            prfType: prf,
                            ulNumberOfDataParams: cnt,
                            pDataParams: ip as *mut _,
                            ulAdditionalDerivedKeys: n_extra,
                            pAdditionalDerivedKeys: p_extra,
                        },
                    );
                }
            }
            t if t == ferrohsm::vendor::CKM_FHSM_KMS_WRAP => {
                use ferrohsm::ffi::kms::{CK_FHSM_CONTEXT_PAIR, CK_FHSM_KMS_WRAP_PARAMS};
                let n = self.small(3);
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let (k, kl) = self.pbytes(m, 12);
                    let (v, vl) = self.pbytes(m, 12);
                    pairs.push(CK_FHSM_CONTEXT_PAIR { pKey: k, ulKeyLen: kl, pValue: v, ulValueLen: vl });
                }
                let mut pb = Buf::of(&pairs);
                let cnt = if self.small(9) == 0 { self.pick(&ABSURD) } else { pairs.len() as CK_ULONG };
                let pp = if pairs.is_empty() { null() } else { pb.ptr() as *const CK_FHSM_CONTEXT_PAIR };
                m.bufs.push(pb);
                set_param(m, CK_FHSM_KMS_WRAP_PARAMS { pContext: pp, ulContextCount: cnt });
            }
            _ => {}
        }
    }

    /// Input data for a call: arbitrary, or the last output, with its
    /// claimed length.
    fn data(&mut self) -> (Buf, CK_ULONG) {
        let v = match self.small(3) {
            0 => self.last.clone(),
            _ => buf::bytes(&mut self.u, 200),
        };
        let n = v.len();
        let b = Buf::from(&v);
        (b, buf::claim_in(&mut self.u, n))
    }

    /// An output buffer: NULL (length query) or one of up to 600 bytes,
    /// with the room claimed.
    fn out(&mut self) -> (Buf, bool, CK_ULONG) {
        if self.small(5) == 0 {
            return (Buf::new(0), true, self.ulong());
        }
        let n = self.small(600);
        let room = buf::claim_out(&mut self.u, n);
        (Buf::new(n), false, room)
    }

    /// Calls a one-shot or final function with the output protocol, and
    /// keeps what came out.
    fn with_out(&mut self, f: impl FnOnce(*mut u8, *mut CK_ULONG) -> CK_RV) {
        let (mut b, null, mut room) = self.out();
        let p = if null { null_mut() } else { b.ptr() };
        let lp: *mut CK_ULONG = if self.small(40) == 0 { null_mut() } else { &mut room };
        let rv = f(p, lp);
        if rv == CKR_OK && !null && (room as usize) <= b.len() {
            self.last = b.bytes()[..room as usize].to_vec();
        }
    }

    /// Runs ops chosen from `ops` until the input ends (at most 64).
    pub fn run(mut self, ops: &[Op]) {
        for _ in 0..64 {
            if self.u.is_empty() {
                break;
            }
            let op = self.pick(ops);
            self.step(op);
        }
    }

    fn step(&mut self, op: Op) {
        let w = self.w;
        match op {
            Op::Create => {
                let mut t = self.template(0);
                let (tp, n) = self.tmpl_args(&mut t);
                let s = self.session();
                let mut h = 0;
                let hp: *mut CK_OBJECT_HANDLE = if self.small(30) == 0 { null_mut() } else { &mut h };
                if call!(w, C_CreateObject(s, tp, n, hp)) == CKR_OK {
                    self.made.push(h);
                }
            }
            Op::Copy => {
                let src = self.handle();
                let mut t = self.template(0);
                let (tp, n) = self.tmpl_args(&mut t);
                let s = self.session();
                let mut h = 0;
                if call!(w, C_CopyObject(s, src, tp, n, &mut h)) == CKR_OK {
                    self.made.push(h);
                }
            }
            Op::Destroy => {
                let h = self.own_handle();
                let s = self.session();
                if call!(w, C_DestroyObject(s, h)) == CKR_OK {
                    self.made.retain(|&x| x != h);
                }
            }
            Op::GetAttr => {
                let h = self.handle();
                let n = self.small(8);
                let mut bufs = Vec::new();
                let mut attrs = Vec::new();
                for _ in 0..n {
                    let atype = self.atype();
                    let (mut b, null, room) = self.out();
                    let p = if null { null_mut() } else { b.ptr() };
                    attrs.push(CK_ATTRIBUTE {
                        type_: atype,
                        pValue: p as *mut _,
                        ulValueLen: if null { self.ulong() } else { room },
                    });
                    bufs.push(b);
                }
                let mut t = Tmpl { attrs, bufs, nested: Vec::new() };
                let tp = t.ptr();
                let cnt = match self.small(15) {
                    0 => self.pick(&ABSURD),
                    _ => t.attrs.len() as CK_ULONG,
                };
                let s = self.session();
                call!(w, C_GetAttributeValue(s, h, tp, cnt));
            }
            Op::SetAttr => {
                let h = self.own_handle();
                let mut t = self.template(0);
                let (tp, n) = self.tmpl_args(&mut t);
                let s = self.session();
                call!(w, C_SetAttributeValue(s, h, tp, n));
            }
            Op::Size => {
                let h = self.handle();
                let s = self.session();
                let mut n = 0;
                call!(w, C_GetObjectSize(s, h, &mut n));
            }
            Op::Find => {
                let mut t = self.template(0);
                let (tp, n) = self.tmpl_args(&mut t);
                let s = self.session();
                call!(w, C_FindObjectsInit(s, tp, n));
                let rounds = self.small(3);
                for _ in 0..rounds {
                    let max = self.small(20);
                    let mut hs = vec![0; max];
                    let room = buf::claim_out(&mut self.u, max) as CK_ULONG;
                    let mut got = 0;
                    let p = if max == 0 && self.flip() { null_mut() } else { hs.as_mut_ptr() };
                    call!(w, C_FindObjects(s, p, room, &mut got));
                }
                if self.small(5) != 0 {
                    call!(w, C_FindObjectsFinal(s));
                }
            }
            Op::Info => {
                let s = self.session();
                match self.small(3) {
                    0 => {
                        let mut i = CK_SESSION_INFO { slotID: 0, state: 0, flags: 0, ulDeviceError: 0 };
                        call!(w, C_GetSessionInfo(s, &mut i));
                    }
                    1 => {
                        let m = self.pick(&w.mechs);
                        let mut i = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
                        call!(w, C_GetMechanismInfo(w.slot, m, &mut i));
                    }
                    2 => {
                        let mut st = vec![0u8; 64];
                        let mut n = buf::claim_out(&mut self.u, 64);
                        let p = if self.flip() { null_mut() } else { st.as_mut_ptr() };
                        call!(w, C_GetOperationState(s, p, &mut n));
                    }
                    _ => {
                        // SAFETY: a zeroed C struct of plain fields.
                        let mut i: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
                        call!(w, C_GetTokenInfo(w.slot, &mut i));
                    }
                }
            }
            Op::SwitchSession => {
                self.cur = match self.small(2) {
                    0 => self.rw,
                    1 => self.ro,
                    _ => self.ulong(),
                };
            }
            Op::CloseSession => {
                let s = self.session();
                if s == self.rw || s == self.ro {
                    call!(w, C_CloseSession(s));
                    // Reopen, so the rest of the program has sessions.
                    let flags = if s == self.rw { CKF_SERIAL_SESSION | CKF_RW_SESSION } else { CKF_SERIAL_SESSION };
                    let mut h = 0;
                    ok(call!(w, C_OpenSession(w.slot, flags, null_mut(), None, &mut h)), "reopen");
                    // Session objects of the closed session are gone.
                    self.made.retain(|&o| {
                        let mut n = 0;
                        call!(w, C_GetObjectSize(h, o, &mut n)) != CKR_OBJECT_HANDLE_INVALID
                    });
                    if s == self.rw {
                        self.rw = h;
                    } else {
                        self.ro = h;
                    }
                    self.cur = h;
                }
            }
            Op::Login => {
                // The user is logged in already: this checks the repeat,
                // the SO while the user is in, and a context-specific login.
                let s = self.session();
                let ut = self.pick(&[CKU_USER, CKU_SO, CKU_CONTEXT_SPECIFIC, 7]);
                let (pin, n) = match self.small(3) {
                    0 => (null_mut(), 0),
                    1 => (USER_PIN.as_ptr() as *mut u8, self.pick(&ABSURD)),
                    _ => (USER_PIN.as_ptr() as *mut u8, USER_PIN.len() as CK_ULONG),
                };
                call!(w, C_Login(s, ut, pin, n));
            }
            Op::Init(kind) => {
                let mut m = self.mechanism();
                let mp: *mut CK_MECHANISM = if self.small(40) == 0 { null_mut() } else { &mut m.m };
                let k = self.handle();
                let s = self.session();
                match kind {
                    Fam::Encrypt => call!(w, C_EncryptInit(s, mp, k)),
                    Fam::Decrypt => call!(w, C_DecryptInit(s, mp, k)),
                    Fam::Sign => call!(w, C_SignInit(s, mp, k)),
                    Fam::Verify => call!(w, C_VerifyInit(s, mp, k)),
                    Fam::Digest => call!(w, C_DigestInit(s, mp)),
                    Fam::SignRecover => call!(w, C_SignRecoverInit(s, mp, k)),
                    Fam::VerifyRecover => call!(w, C_VerifyRecoverInit(s, mp, k)),
                };
            }
            Op::OneShot(kind) => {
                let (mut d, dl) = self.data();
                let s = self.session();
                let dp = d.ptr();
                match kind {
                    Fam::Encrypt => self.with_out(|o, l| call!(w, C_Encrypt(s, dp, dl, o, l))),
                    Fam::Decrypt => self.with_out(|o, l| call!(w, C_Decrypt(s, dp, dl, o, l))),
                    Fam::Sign => self.with_out(|o, l| call!(w, C_Sign(s, dp, dl, o, l))),
                    Fam::Digest => self.with_out(|o, l| call!(w, C_Digest(s, dp, dl, o, l))),
                    Fam::SignRecover => self.with_out(|o, l| call!(w, C_SignRecover(s, dp, dl, o, l))),
                    Fam::VerifyRecover => self.with_out(|o, l| call!(w, C_VerifyRecover(s, dp, dl, o, l))),
                    Fam::Verify => {
                        let (mut sig, sl) = self.data();
                        call!(w, C_Verify(s, dp, dl, sig.ptr(), sl));
                    }
                }
            }
            Op::Update(kind) => {
                let (mut d, dl) = self.data();
                let s = self.session();
                let dp = d.ptr();
                match kind {
                    Fam::Encrypt => self.with_out(|o, l| call!(w, C_EncryptUpdate(s, dp, dl, o, l))),
                    Fam::Decrypt => self.with_out(|o, l| call!(w, C_DecryptUpdate(s, dp, dl, o, l))),
                    Fam::Sign => {
                        call!(w, C_SignUpdate(s, dp, dl));
                    }
                    Fam::Verify => {
                        call!(w, C_VerifyUpdate(s, dp, dl));
                    }
                    _ => {
                        call!(w, C_DigestUpdate(s, dp, dl));
                    }
                }
            }
            Op::Final(kind) => {
                let s = self.session();
                match kind {
                    Fam::Encrypt => self.with_out(|o, l| call!(w, C_EncryptFinal(s, o, l))),
                    Fam::Decrypt => self.with_out(|o, l| call!(w, C_DecryptFinal(s, o, l))),
                    Fam::Sign => self.with_out(|o, l| call!(w, C_SignFinal(s, o, l))),
                    Fam::Verify => {
                        let (mut sig, sl) = self.data();
                        call!(w, C_VerifyFinal(s, sig.ptr(), sl));
                    }
                    _ => self.with_out(|o, l| call!(w, C_DigestFinal(s, o, l))),
                }
            }
            Op::DigestKey => {
                let s = self.session();
                let k = self.handle();
                call!(w, C_DigestKey(s, k));
            }
            Op::Random => {
                let s = self.session();
                if self.flip() {
                    let (mut d, dl) = self.data();
                    call!(w, C_SeedRandom(s, d.ptr(), dl));
                } else {
                    let n = self.small(512);
                    let mut b = Buf::new(n);
                    let room = buf::claim_out(&mut self.u, n);
                    call!(w, C_GenerateRandom(s, b.ptr(), room));
                }
            }
            Op::GenKey => {
                let mut m = self.mechanism();
                let mut t = self.template(0);
                let (tp, n) = self.tmpl_args(&mut t);
                let s = self.session();
                let mut h = 0;
                if call!(w, C_GenerateKey(s, &mut m.m, tp, n, &mut h)) == CKR_OK {
                    self.made.push(h);
                }
            }
            Op::GenPair => {
                let mut m = self.mechanism();
                let mut pubt = self.template(0);
                let mut privt = self.template(0);
                for t in [&mut pubt, &mut privt] {
                    clamp_modulus_bits(t);
                }
                let (pp, pn) = self.tmpl_args(&mut pubt);
                let (qp, qn) = self.tmpl_args(&mut privt);
                let s = self.session();
                let (mut a, mut b) = (0, 0);
                if call!(w, C_GenerateKeyPair(s, &mut m.m, pp, pn, qp, qn, &mut a, &mut b)) == CKR_OK {
                    self.made.push(a);
                    self.made.push(b);
                }
            }
            Op::Wrap => {
                let mut m = self.mechanism();
                let (wk, k) = (self.handle(), self.handle());
                let s = self.session();
                self.with_out(|o, l| call!(w, C_WrapKey(s, &mut m.m, wk, k, o, l)));
            }
            Op::Unwrap => {
                let mut m = self.mechanism();
                let uk = self.handle();
                let (mut d, dl) = self.data();
                let mut t = self.template(0);
                let (tp, n) = self.tmpl_args(&mut t);
                let s = self.session();
                let mut h = 0;
                if call!(w, C_UnwrapKey(s, &mut m.m, uk, d.ptr(), dl, tp, n, &mut h)) == CKR_OK {
                    self.made.push(h);
                }
            }
            Op::Derive => {
                let mut m = self.mechanism();
                let base = self.handle();
                let mut t = self.template(0);
                let (tp, n) = self.tmpl_args(&mut t);
                let s = self.session();
                let mut h = 0;
                if call!(w, C_DeriveKey(s, &mut m.m, base, tp, n, &mut h)) == CKR_OK {
                    self.made.push(h);
                }
            }
        }
    }
}

/// Makes every CKA_DESTROYABLE in `t` (nested templates too) true: a
/// token object the program could not destroy would stay in the store for
/// every later input (see the module docs).
fn keep_destroyable(t: &mut Tmpl) {
    for a in t.attrs.clone() {
        if a.type_ == CKA_DESTROYABLE && a.ulValueLen >= 1 {
            if let Some(b) = t.buf_at(a.pValue).filter(|b| !b.is_empty()) {
                b.bytes_mut()[0] = 1;
            }
        }
    }
    for n in &mut t.nested {
        keep_destroyable(n);
    }
}

/// Lowers CKA_MODULUS_BITS above 2048 to 1024 (see the module docs).
fn clamp_modulus_bits(t: &mut Tmpl) {
    for a in t.attrs.clone() {
        if a.type_ == CKA_MODULUS_BITS {
            if let Some(b) = t.buf_at(a.pValue).filter(|b| b.len() >= 8) {
                let mut v = [0u8; 8];
                v.copy_from_slice(&b.bytes()[..8]);
                if CK_ULONG::from_ne_bytes(v) > 2048 {
                    b.bytes_mut()[..8].copy_from_slice(&1024u64.to_ne_bytes());
                }
            }
        }
    }
}

impl Drop for Prog<'_> {
    /// Leaves the module as the program found it: objects destroyed,
    /// sessions (and their operations) closed.
    fn drop(&mut self) {
        let w = self.w;
        for &h in &self.made {
            if !w.fixed.contains(&h) {
                call!(w, C_DestroyObject(self.rw, h));
            }
        }
        call!(w, C_CloseSession(self.rw));
        call!(w, C_CloseSession(self.ro));
    }
}

/// A mechanism and the memory its parameter points into.
pub struct Mech {
    pub m: CK_MECHANISM,
    bufs: Vec<Buf>,
    /// Templates a parameter points to (CK_DERIVED_KEY).
    tmpls: Vec<Tmpl>,
}

#[derive(Clone, Copy, Debug)]
pub enum Fam {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    Digest,
    SignRecover,
    VerifyRecover,
}

#[derive(Clone, Copy, Debug)]
pub enum Op {
    Create,
    Copy,
    Destroy,
    GetAttr,
    SetAttr,
    Size,
    Find,
    Info,
    SwitchSession,
    CloseSession,
    Login,
    Init(Fam),
    OneShot(Fam),
    Update(Fam),
    Final(Fam),
    DigestKey,
    Random,
    GenKey,
    GenPair,
    Wrap,
    Unwrap,
    Derive,
}

const OBJECT_OPS: &[Op] = &[
    Op::Create,
    Op::Create,
    Op::Copy,
    Op::Destroy,
    Op::GetAttr,
    Op::GetAttr,
    Op::SetAttr,
    Op::Size,
    Op::Find,
    Op::Info,
    Op::SwitchSession,
    Op::CloseSession,
    Op::Login,
];

const CRYPTO_OPS: &[Op] = &[
    Op::Init(Fam::Encrypt),
    Op::Init(Fam::Decrypt),
    Op::Init(Fam::Sign),
    Op::Init(Fam::Verify),
    Op::Init(Fam::Digest),
    Op::Init(Fam::SignRecover),
    Op::Init(Fam::VerifyRecover),
    Op::OneShot(Fam::Encrypt),
    Op::OneShot(Fam::Decrypt),
    Op::OneShot(Fam::Sign),
    Op::OneShot(Fam::Verify),
    Op::OneShot(Fam::Digest),
    Op::OneShot(Fam::SignRecover),
    Op::OneShot(Fam::VerifyRecover),
    Op::Update(Fam::Encrypt),
    Op::Update(Fam::Decrypt),
    Op::Update(Fam::Sign),
    Op::Update(Fam::Verify),
    Op::Update(Fam::Digest),
    Op::Final(Fam::Encrypt),
    Op::Final(Fam::Decrypt),
    Op::Final(Fam::Sign),
    Op::Final(Fam::Verify),
    Op::Final(Fam::Digest),
    Op::DigestKey,
    Op::Random,
    Op::SwitchSession,
    Op::Info,
];

const KEY_OPS: &[Op] = &[
    Op::GenKey,
    Op::GenKey,
    Op::GenPair,
    Op::Wrap,
    Op::Wrap,
    Op::Unwrap,
    Op::Unwrap,
    Op::Derive,
    Op::Derive,
    Op::GetAttr,
    Op::Init(Fam::Encrypt),
    Op::OneShot(Fam::Encrypt),
    Op::Init(Fam::Sign),
    Op::OneShot(Fam::Sign),
    Op::Destroy,
];

/// `pkcs11_objects`: object management and attributes.
pub fn objects(data: &[u8]) {
    Prog::new(data).run(OBJECT_OPS);
}

/// `pkcs11_crypto`: the cryptographic operation families, any call order.
pub fn crypto(data: &[u8]) {
    Prog::new(data).run(CRYPTO_OPS);
}

/// `pkcs11_keys`: key generation, wrapping, unwrapping and derivation.
pub fn keys(data: &[u8]) {
    Prog::new(data).run(KEY_OPS);
}
