//! The PKCS#11 3.0 operation-state rules (§5.2 and each function's text),
//! one table over the operation kinds, through the C ABI:
//!
//! - a call without its Init: CKR_OPERATION_NOT_INITIALIZED;
//! - a second Init: CKR_OPERATION_ACTIVE, and the first goes on unharmed;
//! - Init with a NULL mechanism ends the active operation (CKR_OK; with
//!   none active, CKR_ARGUMENTS_BAD);
//! - a failed Init leaves nothing active;
//! - a length query and CKR_BUFFER_TOO_SMALL keep the operation, and the
//!   retry gives the same result;
//! - any other error ends it;
//! - a single-part call after an Update: CKR_OPERATION_ACTIVE (and ends it);
//! - Final ends it; C_SessionCancel ends only the kinds it names;
//! - operations of different kinds run side by side in one session;
//! - a closed session's handle: CKR_SESSION_HANDLE_INVALID.

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::raw::*;
use common::*;
use cryptoki_sys::*;

type Cancel = unsafe extern "C" fn(CK_SESSION_HANDLE, CK_FLAGS) -> CK_RV;

fn session_cancel(r: &Raw) -> Cancel {
    // SAFETY (test): our own module's export, with the 3.0 signature.
    *unsafe { r.lib.get::<Cancel>(b"C_SessionCancel") }.unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Encrypt,
    Decrypt,
    Digest,
    Sign,
    Verify,
}

const KINDS: [Kind; 5] = [Kind::Encrypt, Kind::Decrypt, Kind::Digest, Kind::Sign, Kind::Verify];

/// One session with an AES key (CBC-PAD for encrypt/decrypt) and an HMAC
/// key (SHA-256 HMAC for sign/verify).
struct Fixture {
    r: Raw,
    h: CK_SESSION_HANDLE,
    aes: CK_OBJECT_HANDLE,
    hmac: CK_OBJECT_HANDLE,
    iv: [u8; 16],
    data: Vec<u8>,
    ciphertext: Vec<u8>,
    mac: Vec<u8>,
}

impl Fixture {
    fn new() -> Fixture {
        let r = raw();
        init(&r);
        let h = ready_session(&r);
        let aes = secret_key(&r, h, CKK_AES, &[0x11; 16]);
        let hmac = secret_key(&r, h, CKK_GENERIC_SECRET, &[0x22; 32]);
        let mut f = Fixture {
            r,
            h,
            aes,
            hmac,
            iv: [7; 16],
            data: b"forty bytes of data, split in two parts".to_vec(),
            ciphertext: Vec::new(),
            mac: Vec::new(),
        };
        assert_eq!(f.init(Kind::Encrypt), CKR_OK);
        f.ciphertext = f.single(Kind::Encrypt).1;
        assert_eq!(f.init(Kind::Sign), CKR_OK);
        f.mac = f.single(Kind::Sign).1;
        assert_eq!((f.ciphertext.len(), f.mac.len()), (48, 32));
        f
    }

    fn init(&self, k: Kind) -> CK_RV {
        let (r, h) = (&self.r, self.h);
        let mut iv = self.iv;
        let mut cbc = mech_with(CKM_AES_CBC_PAD, &mut iv);
        cbc.ulParameterLen = 16;
        let mut hm = mech(CKM_SHA256_HMAC);
        let mut sha = mech(CKM_SHA256);
        match k {
            Kind::Encrypt => call!(r, C_EncryptInit(h, &mut cbc, self.aes)),
            Kind::Decrypt => call!(r, C_DecryptInit(h, &mut cbc, self.aes)),
            Kind::Digest => call!(r, C_DigestInit(h, &mut sha)),
            Kind::Sign => call!(r, C_SignInit(h, &mut hm, self.hmac)),
            Kind::Verify => call!(r, C_VerifyInit(h, &mut hm, self.hmac)),
        }
    }

    /// Init with a NULL mechanism (the spec's way to end an operation).
    fn init_null(&self, k: Kind) -> CK_RV {
        let (r, h) = (&self.r, self.h);
        match k {
            Kind::Encrypt => call!(r, C_EncryptInit(h, null_mut(), self.aes)),
            Kind::Decrypt => call!(r, C_DecryptInit(h, null_mut(), self.aes)),
            Kind::Digest => call!(r, C_DigestInit(h, null_mut())),
            Kind::Sign => call!(r, C_SignInit(h, null_mut(), self.hmac)),
            Kind::Verify => call!(r, C_VerifyInit(h, null_mut(), self.hmac)),
        }
    }

    /// Init with a key handle that names nothing (digest: an unknown mechanism).
    fn init_bad(&self, k: Kind) -> CK_RV {
        let (r, h) = (&self.r, self.h);
        let mut iv = self.iv;
        let mut cbc = mech_with(CKM_AES_CBC_PAD, &mut iv);
        cbc.ulParameterLen = 16;
        let mut hm = mech(CKM_SHA256_HMAC);
        let mut bogus = mech(0x8000_7777);
        match k {
            Kind::Encrypt => call!(r, C_EncryptInit(h, &mut cbc, 0xdead)),
            Kind::Decrypt => call!(r, C_DecryptInit(h, &mut cbc, 0xdead)),
            Kind::Digest => call!(r, C_DigestInit(h, &mut bogus)),
            Kind::Sign => call!(r, C_SignInit(h, &mut hm, 0xdead)),
            Kind::Verify => call!(r, C_VerifyInit(h, &mut hm, 0xdead)),
        }
    }

    /// The kind's input: plaintext, or for decrypt the ciphertext.
    fn input(&self, k: Kind) -> Vec<u8> {
        if k == Kind::Decrypt {
            self.ciphertext.clone()
        } else {
            self.data.clone()
        }
    }

    /// The single-part call with a buffer of `cap` (None: NULL, a length
    /// query); the return value and the output.
    fn single_cap(&self, k: Kind, cap: Option<usize>) -> (CK_RV, Vec<u8>) {
        let (r, h) = (&self.r, self.h);
        let mut input = self.input(k);
        let (ip, il) = (input.as_mut_ptr(), input.len() as CK_ULONG);
        let mut out = vec![0u8; cap.unwrap_or(0)];
        let op = if cap.is_some() { out.as_mut_ptr() } else { null_mut() };
        let mut len = cap.unwrap_or(0) as CK_ULONG;
        let rv = match k {
            Kind::Encrypt => call!(r, C_Encrypt(h, ip, il, op, &mut len)),
            Kind::Decrypt => call!(r, C_Decrypt(h, ip, il, op, &mut len)),
            Kind::Digest => call!(r, C_Digest(h, ip, il, op, &mut len)),
            Kind::Sign => call!(r, C_Sign(h, ip, il, op, &mut len)),
            Kind::Verify => {
                let mut sig = self.mac.clone();
                return (call!(r, C_Verify(h, ip, il, sig.as_mut_ptr(), sig.len() as CK_ULONG)), Vec::new());
            }
        };
        if rv == CKR_OK && cap.is_some() {
            out.truncate(len as usize);
        } else if rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL {
            out = vec![0; len as usize];
        }
        (rv, out)
    }

    fn single(&self, k: Kind) -> (CK_RV, Vec<u8>) {
        self.single_cap(k, Some(256))
    }

    /// An Update with the first part of the input.
    fn update(&self, k: Kind) -> CK_RV {
        let (r, h) = (&self.r, self.h);
        let mut input = self.input(k);
        let (ip, il) = (input.as_mut_ptr(), 16 as CK_ULONG);
        let mut out = [0u8; 256];
        let mut len = out.len() as CK_ULONG;
        match k {
            Kind::Encrypt => call!(r, C_EncryptUpdate(h, ip, il, out.as_mut_ptr(), &mut len)),
            Kind::Decrypt => call!(r, C_DecryptUpdate(h, ip, il, out.as_mut_ptr(), &mut len)),
            Kind::Digest => call!(r, C_DigestUpdate(h, ip, il)),
            Kind::Sign => call!(r, C_SignUpdate(h, ip, il)),
            Kind::Verify => call!(r, C_VerifyUpdate(h, ip, il)),
        }
    }

    fn final_(&self, k: Kind) -> CK_RV {
        let (r, h) = (&self.r, self.h);
        let mut out = [0u8; 256];
        let mut len = out.len() as CK_ULONG;
        match k {
            Kind::Encrypt => call!(r, C_EncryptFinal(h, out.as_mut_ptr(), &mut len)),
            Kind::Decrypt => call!(r, C_DecryptFinal(h, out.as_mut_ptr(), &mut len)),
            Kind::Digest => call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut len)),
            Kind::Sign => call!(r, C_SignFinal(h, out.as_mut_ptr(), &mut len)),
            Kind::Verify => {
                let mut sig = self.mac.clone();
                call!(r, C_VerifyFinal(h, sig.as_mut_ptr(), sig.len() as CK_ULONG))
            }
        }
    }

    /// A call that must fail on its input and so end the operation.
    fn failing_call(&self, k: Kind) -> (CK_RV, CK_RV) {
        let (r, h) = (&self.r, self.h);
        let mut out = [0u8; 256];
        let mut len = out.len() as CK_ULONG;
        let mut odd = [0u8; 15];
        match k {
            // Ciphertext not a multiple of the block.
            Kind::Decrypt => {
                (call!(r, C_Decrypt(h, odd.as_mut_ptr(), 15, out.as_mut_ptr(), &mut len)), CKR_ENCRYPTED_DATA_LEN_RANGE)
            }
            // A wrong MAC.
            Kind::Verify => {
                let mut d = self.data.clone();
                let mut bad = vec![0u8; 32];
                (
                    call!(r, C_Verify(h, d.as_mut_ptr(), d.len() as CK_ULONG, bad.as_mut_ptr(), 32)),
                    CKR_SIGNATURE_INVALID,
                )
            }
            // NULL length pointer.
            Kind::Encrypt => (call!(r, C_EncryptFinal(h, out.as_mut_ptr(), null_mut())), CKR_ARGUMENTS_BAD),
            Kind::Digest => (call!(r, C_DigestFinal(h, out.as_mut_ptr(), null_mut())), CKR_ARGUMENTS_BAD),
            Kind::Sign => (call!(r, C_SignFinal(h, out.as_mut_ptr(), null_mut())), CKR_ARGUMENTS_BAD),
        }
    }

    fn cancel_flag(k: Kind) -> CK_FLAGS {
        match k {
            Kind::Encrypt => CKF_ENCRYPT,
            Kind::Decrypt => CKF_DECRYPT,
            Kind::Digest => CKF_DIGEST,
            Kind::Sign => CKF_SIGN,
            Kind::Verify => CKF_VERIFY,
        }
    }

    /// The expected single-part output (decrypt: the plaintext).
    fn expected(&self, k: Kind) -> Vec<u8> {
        match k {
            Kind::Encrypt => self.ciphertext.clone(),
            Kind::Decrypt => self.data.clone(),
            Kind::Sign => self.mac.clone(),
            Kind::Verify => Vec::new(),
            Kind::Digest => Vec::new(),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        call!(self.r, C_Finalize(null_mut()));
    }
}

#[test]
fn without_init_a_call_is_not_initialized() {
    let _w = world("");
    let f = Fixture::new();
    for k in KINDS {
        assert_eq!(f.update(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?} update");
        assert_eq!(f.final_(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?} final");
        assert_eq!(f.single(k).0, CKR_OPERATION_NOT_INITIALIZED, "{k:?} single");
    }
}

#[test]
fn a_second_init_is_active_and_the_first_goes_on() {
    let _w = world("");
    let f = Fixture::new();
    for k in KINDS {
        assert_eq!(f.init(k), CKR_OK, "{k:?}");
        assert_eq!(f.init(k), CKR_OPERATION_ACTIVE, "{k:?} second init");
        let (rv, out) = f.single(k);
        assert_eq!(rv, CKR_OK, "{k:?} after the refused init");
        if k != Kind::Digest && k != Kind::Verify {
            assert_eq!(out, f.expected(k), "{k:?}");
        }
        assert_eq!(f.update(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?}: the single-part call ended it");
    }
}

#[test]
fn init_with_a_null_mechanism_ends_the_operation() {
    let _w = world("");
    let f = Fixture::new();
    for k in KINDS {
        assert_eq!(f.init(k), CKR_OK, "{k:?}");
        assert_eq!(f.update(k), CKR_OK, "{k:?}");
        assert_eq!(f.init_null(k), CKR_OK, "{k:?} NULL mechanism");
        assert_eq!(f.update(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?} after the NULL init");
        // With nothing active there is nothing to end: the NULL is a bad argument.
        assert_eq!(f.init_null(k), CKR_ARGUMENTS_BAD, "{k:?} NULL mechanism, none active");
        // And a fresh one starts cleanly.
        assert_eq!(f.init(k), CKR_OK, "{k:?}");
        assert_eq!(f.single(k).0, CKR_OK, "{k:?}");
    }
}

#[test]
fn a_failed_init_leaves_nothing_active() {
    let _w = world("");
    let f = Fixture::new();
    for k in KINDS {
        let want = if k == Kind::Digest { CKR_MECHANISM_INVALID } else { CKR_KEY_HANDLE_INVALID };
        assert_eq!(f.init_bad(k), want, "{k:?}");
        assert_eq!(f.update(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?}");
        assert_eq!(f.init(k), CKR_OK, "{k:?}: a good init after the failed one");
        assert_eq!(f.single(k).0, CKR_OK, "{k:?}");
    }
}

#[test]
fn a_length_query_and_a_short_buffer_keep_the_operation() {
    let _w = world("");
    let f = Fixture::new();
    for k in [Kind::Encrypt, Kind::Decrypt, Kind::Digest, Kind::Sign] {
        assert_eq!(f.init(k), CKR_OK, "{k:?}");
        let (rv, sized) = f.single_cap(k, None);
        assert_eq!(rv, CKR_OK, "{k:?} length query");
        assert!(!sized.is_empty(), "{k:?}");
        let (rv, _) = f.single_cap(k, Some(1));
        assert_eq!(rv, CKR_BUFFER_TOO_SMALL, "{k:?} one byte");
        let (rv, out) = f.single(k);
        assert_eq!(rv, CKR_OK, "{k:?} the retry");
        assert!(out.len() <= sized.len(), "{k:?}: the query's length is an upper bound");
        if k != Kind::Digest {
            assert_eq!(out, f.expected(k), "{k:?}");
        }
        assert_eq!(f.update(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?} done");
    }
}

#[test]
fn any_other_error_ends_the_operation() {
    let _w = world("");
    let f = Fixture::new();
    for k in KINDS {
        assert_eq!(f.init(k), CKR_OK, "{k:?}");
        let (rv, want) = f.failing_call(k);
        assert_eq!(rv, want, "{k:?}");
        assert_eq!(f.update(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?}: the error ended it");
        assert_eq!(f.final_(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?}");
    }
}

#[test]
fn single_part_after_update_is_refused_and_ends_it() {
    let _w = world("");
    let f = Fixture::new();
    for k in KINDS {
        assert_eq!(f.init(k), CKR_OK, "{k:?}");
        assert_eq!(f.update(k), CKR_OK, "{k:?}");
        assert_eq!(f.single(k).0, CKR_OPERATION_ACTIVE, "{k:?} single-part after update");
        assert_eq!(f.update(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?}");
    }
}

#[test]
fn final_ends_it_and_multi_part_equals_single_part() {
    let _w = world("");
    let f = Fixture::new();
    for k in KINDS {
        assert_eq!(f.init(k), CKR_OK, "{k:?}");
        assert_eq!(f.update(k), CKR_OK, "{k:?}");
        // The rest of the input, then Final.
        let (r, h) = (&f.r, f.h);
        let mut input = f.input(k);
        let rest = input.len() as CK_ULONG - 16;
        let ip = input[16..].as_mut_ptr();
        let mut out = [0u8; 256];
        let mut len = 256;
        let rv = match k {
            Kind::Encrypt => call!(r, C_EncryptUpdate(h, ip, rest, out.as_mut_ptr(), &mut len)),
            Kind::Decrypt => call!(r, C_DecryptUpdate(h, ip, rest, out.as_mut_ptr(), &mut len)),
            Kind::Digest => call!(r, C_DigestUpdate(h, ip, rest)),
            Kind::Sign => call!(r, C_SignUpdate(h, ip, rest)),
            Kind::Verify => call!(r, C_VerifyUpdate(h, ip, rest)),
        };
        assert_eq!(rv, CKR_OK, "{k:?}");
        assert_eq!(f.final_(k), CKR_OK, "{k:?} final");
        assert_eq!(f.final_(k), CKR_OPERATION_NOT_INITIALIZED, "{k:?}: Final ended it");
    }
}

#[test]
fn session_cancel_ends_only_the_kinds_it_names_and_kinds_run_side_by_side() {
    let _w = world("");
    let f = Fixture::new();
    let cancel = session_cancel(&f.r);
    for k in KINDS {
        assert_eq!(f.init(k), CKR_OK, "{k:?}");
    }
    // All five at once, each going on.
    for k in KINDS {
        assert_eq!(f.update(k), CKR_OK, "{k:?} side by side");
    }
    for (i, k) in KINDS.iter().enumerate() {
        // SAFETY (test): the module's C_SessionCancel with a live session.
        assert_eq!(unsafe { cancel(f.h, Fixture::cancel_flag(*k)) }, CKR_OK, "{k:?}");
        assert_eq!(f.update(*k), CKR_OPERATION_NOT_INITIALIZED, "{k:?} cancelled");
        for other in &KINDS[i + 1..] {
            assert_eq!(f.update(*other), CKR_OK, "{other:?} survives cancelling {k:?}");
        }
    }
}

#[test]
fn a_closed_sessions_handle_is_invalid() {
    let _w = world("");
    let mut f = Fixture::new();
    assert_eq!(f.init(Kind::Encrypt), CKR_OK);
    let mut other = 0;
    assert_eq!(call!(f.r, C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut other)), CKR_OK);
    assert_eq!(call!(f.r, C_CloseSession(f.h)), CKR_OK);
    for k in KINDS {
        assert_eq!(f.update(k), CKR_SESSION_HANDLE_INVALID, "{k:?}");
        assert_eq!(f.init(k), CKR_SESSION_HANDLE_INVALID, "{k:?}");
    }
    f.h = other;
}

#[test]
fn recover_inits_take_a_null_mechanism_too() {
    let _w = world("");
    let f = Fixture::new();
    let (r, h) = (&f.r, f.h);
    let mut m = mech(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let mut bits: CK_ULONG = 2048;
    let (mut y1, mut y2) = (1u8, 1u8);
    let mut public = [attr(CKA_MODULUS_BITS, &mut bits), attr(CKA_VERIFY_RECOVER, &mut y1)];
    let mut private = [attr(CKA_SIGN_RECOVER, &mut y2)];
    let (mut pk, mut sk) = (0, 0);
    assert_eq!(
        call!(r, C_GenerateKeyPair(h, &mut m, public.as_mut_ptr(), 2, private.as_mut_ptr(), 1, &mut pk, &mut sk)),
        CKR_OK
    );
    let mut data = b"recover me".to_vec();
    let mut sig = [0u8; 256];
    let mut len: CK_ULONG = 256;
    let mut pkcs = mech(CKM_RSA_PKCS);
    assert_eq!(call!(r, C_SignRecoverInit(h, null_mut(), sk)), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_SignRecoverInit(h, &mut pkcs, sk)), CKR_OK);
    assert_eq!(call!(r, C_SignRecoverInit(h, null_mut(), sk)), CKR_OK);
    assert_eq!(
        call!(r, C_SignRecover(h, data.as_mut_ptr(), 10, sig.as_mut_ptr(), &mut len)),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_eq!(call!(r, C_SignRecoverInit(h, &mut pkcs, sk)), CKR_OK);
    assert_eq!(call!(r, C_SignRecover(h, data.as_mut_ptr(), 10, sig.as_mut_ptr(), &mut len)), CKR_OK);
    let mut back = [0u8; 256];
    let mut blen: CK_ULONG = 256;
    assert_eq!(call!(r, C_VerifyRecoverInit(h, null_mut(), pk)), CKR_ARGUMENTS_BAD);
    assert_eq!(call!(r, C_VerifyRecoverInit(h, &mut pkcs, pk)), CKR_OK);
    assert_eq!(call!(r, C_VerifyRecoverInit(h, null_mut(), pk)), CKR_OK);
    assert_eq!(
        call!(r, C_VerifyRecover(h, sig.as_mut_ptr(), len, back.as_mut_ptr(), &mut blen)),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_eq!(call!(r, C_VerifyRecoverInit(h, &mut pkcs, pk)), CKR_OK);
    assert_eq!(call!(r, C_VerifyRecover(h, sig.as_mut_ptr(), len, back.as_mut_ptr(), &mut blen)), CKR_OK);
    assert_eq!(&back[..blen as usize], b"recover me");
}

/// The dual-function updates (§5.13) feed the second operation the
/// plaintext, and only once the cipher's output is delivered; both
/// operations must be active.
#[test]
fn dual_function_updates_feed_both_operations() {
    use sha2::Digest;
    let _w = world("");
    let f = Fixture::new();
    let sha = |d: &[u8]| sha2::Sha256::digest(d).to_vec();
    type DualFn = unsafe extern "C" fn(CK_SESSION_HANDLE, *mut u8, CK_ULONG, *mut u8, *mut CK_ULONG) -> CK_RV;
    let (r, h) = (&f.r, f.h);
    let digest_encrypt: DualFn = r.f.C_DigestEncryptUpdate.unwrap();
    let decrypt_digest: DualFn = r.f.C_DecryptDigestUpdate.unwrap();
    let sign_encrypt: DualFn = r.f.C_SignEncryptUpdate.unwrap();
    let decrypt_verify: DualFn = r.f.C_DecryptVerifyUpdate.unwrap();
    // Feeds `input` in two parts through `dual`, first asking for the
    // length each time (which must feed nothing); the output.
    let feed = |dual: DualFn, input: &[u8]| -> Vec<u8> {
        let mut all = Vec::new();
        for part in [&input[..16], &input[16..]] {
            let mut p = part.to_vec();
            let mut len: CK_ULONG = 0;
            // SAFETY (test): a length query through the module's export.
            assert_eq!(unsafe { dual(h, p.as_mut_ptr(), p.len() as CK_ULONG, null_mut(), &mut len) }, CKR_OK);
            let mut out = vec![0u8; len as usize];
            // SAFETY (test): the real call, with a buffer of the asked length.
            assert_eq!(unsafe { dual(h, p.as_mut_ptr(), p.len() as CK_ULONG, out.as_mut_ptr(), &mut len) }, CKR_OK);
            out.truncate(len as usize);
            all.extend(out);
        }
        all
    };
    let finish = |k: Kind| -> Vec<u8> {
        let mut out = [0u8; 64];
        let mut len: CK_ULONG = 64;
        let rv = match k {
            Kind::Encrypt => call!(r, C_EncryptFinal(h, out.as_mut_ptr(), &mut len)),
            Kind::Decrypt => call!(r, C_DecryptFinal(h, out.as_mut_ptr(), &mut len)),
            Kind::Digest => call!(r, C_DigestFinal(h, out.as_mut_ptr(), &mut len)),
            Kind::Sign => call!(r, C_SignFinal(h, out.as_mut_ptr(), &mut len)),
            Kind::Verify => {
                let mut sig = f.mac.clone();
                call!(r, C_VerifyFinal(h, sig.as_mut_ptr(), 32))
            }
        };
        assert_eq!(rv, CKR_OK, "{k:?} final");
        out[..if k == Kind::Verify { 0 } else { len as usize }].to_vec()
    };
    let data = f.data.clone();
    let ciphertext = f.ciphertext.clone();
    let mac = f.mac.clone();

    assert_eq!((f.init(Kind::Digest), f.init(Kind::Encrypt)), (CKR_OK, CKR_OK));
    let mut ct = feed(digest_encrypt, &data);
    ct.extend(finish(Kind::Encrypt));
    assert_eq!(ct, ciphertext, "DigestEncrypt's ciphertext");
    assert_eq!(finish(Kind::Digest), sha(&data), "DigestEncrypt's digest");

    assert_eq!((f.init(Kind::Digest), f.init(Kind::Decrypt)), (CKR_OK, CKR_OK));
    let mut pt = feed(decrypt_digest, &ciphertext);
    pt.extend(finish(Kind::Decrypt));
    assert_eq!(pt, data, "DecryptDigest's plaintext");
    // The digest saw what the decryption had delivered by then: the
    // plaintext but for the block CBC-PAD holds back until Final.
    assert_eq!(finish(Kind::Digest), sha(&data[..32]), "DecryptDigest's digest");

    assert_eq!((f.init(Kind::Sign), f.init(Kind::Encrypt)), (CKR_OK, CKR_OK));
    let mut ct = feed(sign_encrypt, &data);
    ct.extend(finish(Kind::Encrypt));
    assert_eq!(ct, ciphertext);
    assert_eq!(finish(Kind::Sign), mac, "SignEncrypt's MAC");

    // DecryptVerify: the MAC over the delivered plaintext (32 bytes here)
    // is not the whole message's, so VerifyFinal with the full MAC fails;
    // with the last part fed by C_VerifyUpdate it verifies.
    assert_eq!((f.init(Kind::Verify), f.init(Kind::Decrypt)), (CKR_OK, CKR_OK));
    let mut pt = feed(decrypt_verify, &ciphertext);
    let tail = finish(Kind::Decrypt);
    pt.extend(&tail);
    assert_eq!(pt, data);
    let mut t = tail.clone();
    assert_eq!(call!(f.r, C_VerifyUpdate(f.h, t.as_mut_ptr(), t.len() as CK_ULONG)), CKR_OK);
    finish(Kind::Verify);

    // Both operations must be active; with one missing nothing is taken.
    assert_eq!(f.init(Kind::Encrypt), CKR_OK);
    let mut p = data.clone();
    let mut out = [0u8; 64];
    let mut len: CK_ULONG = 64;
    // SAFETY (test): the module's export with live buffers.
    let rv = unsafe { digest_encrypt(f.h, p.as_mut_ptr(), 16, out.as_mut_ptr(), &mut len) };
    assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);
    let mut whole = vec![0u8; 64];
    let mut wl: CK_ULONG = 64;
    assert_eq!(call!(f.r, C_Encrypt(f.h, p.as_mut_ptr(), p.len() as CK_ULONG, whole.as_mut_ptr(), &mut wl)), CKR_OK);
    assert_eq!(&whole[..wl as usize], &ciphertext[..], "the encryption was untouched");
}

/// The 3.0 message-based Init functions take a NULL mechanism the same way.
#[test]
fn message_inits_take_a_null_mechanism_too() {
    use common::msg::{f3, init_msg, Alg};
    let _w = world("");
    let f = Fixture::new();
    let f3 = f3(&f.r);
    for enc in [true, false] {
        let init_null = || {
            // SAFETY (test): the module's 3.0 exports with a live session.
            unsafe {
                if enc {
                    (f3.C_MessageEncryptInit.unwrap())(f.h, null_mut(), f.aes)
                } else {
                    (f3.C_MessageDecryptInit.unwrap())(f.h, null_mut(), f.aes)
                }
            }
        };
        // SAFETY (test): as above.
        let final_ = || unsafe {
            if enc {
                (f3.C_MessageEncryptFinal.unwrap())(f.h)
            } else {
                (f3.C_MessageDecryptFinal.unwrap())(f.h)
            }
        };
        assert_eq!(init_null(), CKR_ARGUMENTS_BAD, "none active");
        assert_eq!(init_msg(f3, f.h, Alg::Gcm, f.aes, enc), CKR_OK);
        assert_eq!(init_msg(f3, f.h, Alg::Gcm, f.aes, enc), CKR_OPERATION_ACTIVE);
        assert_eq!(init_null(), CKR_OK, "ends it");
        assert_eq!(final_(), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(init_msg(f3, f.h, Alg::Gcm, f.aes, enc), CKR_OK);
        assert_eq!(final_(), CKR_OK);
    }
}
