//! `kms_ciphertext`: the KMS ciphertext blob (`token::kms::blob`) and the
//! stored encryption context, parsed directly and decrypted through the
//! vendor C interface (`FHSM_Decrypt`) against a real master key, from
//! arbitrary bytes or from edits of a valid blob.

use std::ptr::null;
use std::sync::OnceLock;

use arbitrary::Unstructured;
use cryptoki_sys::{CKR_OK, CK_SESSION_HANDLE, CK_ULONG};
use ferrohsm::ffi::kms::CK_FHSM_CONTEXT_PAIR;
use ferrohsm::token::kms::blob;

use crate::buf::{self, Buf};

extern "C" {
    fn FHSM_CreateKey(
        h: CK_SESSION_HANDLE,
        t: *mut cryptoki_sys::CK_ATTRIBUTE,
        n: CK_ULONG,
        id: *mut u8,
        idl: *mut CK_ULONG,
    ) -> cryptoki_sys::CK_RV;
    #[allow(clippy::too_many_arguments)]
    fn FHSM_Encrypt(
        h: CK_SESSION_HANDLE,
        id: *const u8,
        idn: CK_ULONG,
        cp: *const CK_FHSM_CONTEXT_PAIR,
        cn: CK_ULONG,
        flags: CK_ULONG,
        d: *const u8,
        dn: CK_ULONG,
        o: *mut u8,
        ol: *mut CK_ULONG,
    ) -> cryptoki_sys::CK_RV;
    fn FHSM_Decrypt(
        h: CK_SESSION_HANDLE,
        cp: *const CK_FHSM_CONTEXT_PAIR,
        cn: CK_ULONG,
        d: *const u8,
        dn: CK_ULONG,
        o: *mut u8,
        ol: *mut CK_ULONG,
    ) -> cryptoki_sys::CK_RV;
}

/// Two valid blobs under a fresh master key: with the context stored
/// ({"purpose": "fuzz"}) and without.
fn valid() -> &'static [Vec<u8>; 2] {
    static V: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    V.get_or_init(|| {
        let w = crate::p11::world();
        let h = w.anchor;
        let mut id = [0u8; 128];
        let mut idl = id.len() as CK_ULONG;
        // SAFETY: no template; an id buffer of idl bytes.
        assert_eq!(unsafe { FHSM_CreateKey(h, std::ptr::null_mut(), 0, id.as_mut_ptr(), &mut idl) }, CKR_OK);
        let (k, v) = (b"purpose", b"fuzz");
        let pair = CK_FHSM_CONTEXT_PAIR { pKey: k.as_ptr(), ulKeyLen: 7, pValue: v.as_ptr(), ulValueLen: 4 };
        let make = |flags: CK_ULONG| {
            let plain = b"fuzz plaintext";
            let mut out = vec![0u8; 1024];
            let mut ol = out.len() as CK_ULONG;
            // SAFETY: every pointer is a live local with its length.
            let rv = unsafe {
                FHSM_Encrypt(h, id.as_ptr(), idl, &pair, 1, flags, plain.as_ptr(), 14, out.as_mut_ptr(), &mut ol)
            };
            assert_eq!(rv, CKR_OK, "FHSM_Encrypt");
            out.truncate(ol as usize);
            out
        };
        [make(ferrohsm::vendor::FHSM_FLAG_STORE_CONTEXT), make(0)]
    })
}

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mode = u.int_in_range(0u8..=3).unwrap_or(0);
    let blob_bytes: Vec<u8> = match mode {
        0 => u.bytes(u.len()).unwrap_or_default().to_vec(),
        1 => {
            // A stored context alone.
            let rest = u.bytes(u.len()).unwrap_or_default();
            if let Some(pairs) = blob::parse_context(rest) {
                if let Ok(c) = blob::canonical_context(&pairs) {
                    assert!(blob::parse_context(&c).is_some(), "a canonical context parses");
                }
            }
            return;
        }
        _ => {
            let mut b = valid()[(mode & 1) as usize].clone();
            let edits = u.int_in_range(0..=6).unwrap_or(0);
            for _ in 0..edits {
                let pos = u.int_in_range(0..=b.len().saturating_sub(1)).unwrap_or(0);
                let byte: u8 = u.arbitrary().unwrap_or(0);
                match u.int_in_range(0u8..=3).unwrap_or(0) {
                    0 => b.truncate(pos),
                    1 => b.insert(pos.min(b.len()), byte),
                    _ => {
                        if let Some(x) = b.get_mut(pos) {
                            *x = byte;
                        }
                    }
                }
            }
            b
        }
    };
    if let Ok(p) = blob::Blob::parse(&blob_bytes) {
        assert_eq!(p.encode(), blob_bytes, "a parsed blob encodes back to its bytes");
    }
    // The decryption, through the C interface, with a context from the
    // input (usually the one the valid blobs were made under).
    let w = crate::p11::world();
    let mut keep = Vec::new();
    let mut pairs = Vec::new();
    let n = if mode >= 2 && u.int_in_range(0u8..=3).unwrap_or(0) != 0 { 1 } else { u.int_in_range(0..=3).unwrap_or(0) };
    for i in 0..n {
        let (k, v) = if mode >= 2 && i == 0 && n == 1 {
            (b"purpose".to_vec(), b"fuzz".to_vec())
        } else {
            (buf::bytes(&mut u, 16), buf::bytes(&mut u, 16))
        };
        let (mut kb, mut vb) = (Buf::from(&k), Buf::from(&v));
        let kl = buf::claim_in(&mut u, k.len());
        let vl = buf::claim_in(&mut u, v.len());
        pairs.push(CK_FHSM_CONTEXT_PAIR { pKey: kb.ptr(), ulKeyLen: kl, pValue: vb.ptr(), ulValueLen: vl });
        keep.push(kb);
        keep.push(vb);
    }
    let cn = if u.int_in_range(0u8..=15).unwrap_or(0) == 0 { buf::ABSURD[0] } else { pairs.len() as CK_ULONG };
    let cp = if pairs.is_empty() { null() } else { pairs.as_ptr() };
    let mut bb = Buf::from(&blob_bytes);
    let dl = buf::claim_in(&mut u, blob_bytes.len());
    let mut out = vec![0u8; 256];
    let mut ol = buf::claim_out(&mut u, out.len());
    // SAFETY: pointers per the buf convention; the output room never
    // exceeds the buffer.
    unsafe { FHSM_Decrypt(w.anchor, cp, cn, bb.ptr(), dl, out.as_mut_ptr(), &mut ol) };
}
