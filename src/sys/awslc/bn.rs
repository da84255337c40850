//! Owned BIGNUMs, wiped on drop, and big-endian byte conversions.

use std::ptr::{null_mut, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::{Failed, R};

pub(super) struct Bn(pub(super) NonNull<sys::BIGNUM>);

impl Bn {
    /// A BIGNUM from big-endian bytes (leading zeros allowed).
    pub(super) fn from_be(b: &[u8]) -> R<Bn> {
        // SAFETY: reads exactly `b.len()` bytes; a NULL `ret` asks for a new BIGNUM.
        let p = unsafe { sys::BN_bin2bn(b.as_ptr(), b.len(), null_mut()) };
        NonNull::new(p).map(Bn).ok_or(Failed)
    }

    pub(super) fn as_ptr(&self) -> *const sys::BIGNUM {
        self.0.as_ptr()
    }

    /// A new BIGNUM holding zero.
    pub(super) fn new() -> R<Bn> {
        // SAFETY: allocation only; NULL checked.
        NonNull::new(unsafe { sys::BN_new() }).map(Bn).ok_or(Failed)
    }

    pub(super) fn as_mut(&mut self) -> *mut sys::BIGNUM {
        self.0.as_ptr()
    }

    /// Number of significant bits.
    pub(super) fn bits(&self) -> u32 {
        // SAFETY: valid BIGNUM.
        unsafe { sys::BN_num_bits(self.as_ptr()) }
    }

    /// Big-endian bytes, minimal length.
    pub(super) fn to_vec(&self) -> Zeroizing<Vec<u8>> {
        to_be(self.as_ptr())
    }
}

/// A scratch context for BIGNUM arithmetic.
pub(super) struct BnCtx(NonNull<sys::BN_CTX>);

impl BnCtx {
    pub(super) fn new() -> R<BnCtx> {
        // SAFETY: allocation only; NULL checked.
        NonNull::new(unsafe { sys::BN_CTX_new() }).map(BnCtx).ok_or(Failed)
    }

    pub(super) fn as_ptr(&self) -> *mut sys::BN_CTX {
        self.0.as_ptr()
    }
}

impl Drop for BnCtx {
    fn drop(&mut self) {
        // SAFETY: we own the context.
        unsafe { sys::BN_CTX_free(self.0.as_ptr()) }
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: we own this BIGNUM; BN_clear_free wipes it before freeing.
        unsafe { sys::BN_clear_free(self.0.as_ptr()) }
    }
}

/// Minimal big-endian bytes of a borrowed BIGNUM (empty for NULL or zero).
pub(super) fn to_be(bn: *const sys::BIGNUM) -> Zeroizing<Vec<u8>> {
    if bn.is_null() {
        return Zeroizing::new(Vec::new());
    }
    // SAFETY: `bn` is a live BIGNUM owned by the key we borrow it from.
    let n = unsafe { sys::BN_num_bytes(bn) } as usize;
    let mut out = Zeroizing::new(vec![0u8; n]);
    // SAFETY: `out` has exactly BN_num_bytes bytes.
    unsafe { sys::BN_bn2bin(bn, out.as_mut_ptr()) };
    out
}

/// Big-endian bytes left-padded to `len`.
pub(super) fn to_be_padded(bn: *const sys::BIGNUM, len: usize) -> R<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    // SAFETY: `out` has `len` bytes; the call fails if the number does not fit.
    super::ok(unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) })?;
    Ok(out)
}
