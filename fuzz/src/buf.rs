//! Memory the harness hands the module, and the length convention.
//!
//! The convention (why the harness never makes a *correct* module read
//! out of bounds): PKCS#11 lets a module read `ulValueLen` bytes from
//! `pValue`, so every pointer the harness passes points at a real buffer
//! at least as long as the length it claims, except for an *absurd*
//! length: one of `ABSURD`, all >= 2^32-1, above every bound the module
//! documents for any input (attribute values: `policy::max_len` <= 64 KiB;
//! call data: 256 MiB; mechanism parameter strings: 64 KiB / 1 MiB;
//! template and context counts: a few hundred). The module must refuse
//! those from the length alone (CONVENTIONS rule 11, `ffi::decode`), and
//! a module that read such a buffer anyway would crash the fuzzer, which
//! is the bug being looked for. Output lengths (`*pulLen`, the
//! `ulValueLen` of C_GetAttributeValue) never claim more room than the
//! buffer has: a module may write that much.

use arbitrary::Unstructured;
use cryptoki_sys::CK_ULONG;

/// Lengths no input of any PKCS#11 call may have.
pub const ABSURD: [CK_ULONG; 5] = [0xffff_ffff, 1 << 32, 1 << 40, 0x8000_0000_0000_0000, CK_ULONG::MAX];

/// A byte buffer aligned for any C struct (backed by u64s).
pub struct Buf {
    words: Vec<u64>,
    len: usize,
}

impl Buf {
    pub fn new(len: usize) -> Buf {
        Buf { words: vec![0; len.div_ceil(8).max(1)], len }
    }
    pub fn from(bytes: &[u8]) -> Buf {
        let mut b = Buf::new(bytes.len());
        b.bytes_mut().copy_from_slice(bytes);
        b
    }
    /// `v`'s bytes, aligned (a C struct or an array of them).
    pub fn of<T: Copy>(v: &[T]) -> Buf {
        let n = std::mem::size_of_val(v);
        let mut b = Buf::new(n);
        // SAFETY: `b` has room for `n` bytes; T is Copy (plain data).
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr() as *const u8, b.words.as_mut_ptr() as *mut u8, n) };
        b
    }
    /// One C struct's bytes, aligned (its pointers stay the caller's).
    pub fn of_one<T>(v: &T) -> Buf {
        let n = std::mem::size_of::<T>();
        let mut b = Buf::new(n);
        // SAFETY: `b` has room for `n` bytes; a bit copy of plain C data.
        unsafe { std::ptr::copy_nonoverlapping(v as *const T as *const u8, b.words.as_mut_ptr() as *mut u8, n) };
        b
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialised bytes.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr() as *const u8, self.len) }
    }
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as `bytes`, uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr() as *mut u8, self.len) }
    }
    /// Where the bytes start (for comparing with a pointer handed out).
    pub fn addr(&self) -> *const u8 {
        self.words.as_ptr() as *const u8
    }
    pub fn ptr(&mut self) -> *mut u8 {
        self.words.as_mut_ptr() as *mut u8
    }
}

/// How a length is claimed for a buffer of `n` bytes the module reads.
pub fn claim_in(u: &mut Unstructured, n: usize) -> CK_ULONG {
    match u.int_in_range(0u8..=15).unwrap_or(0) {
        0 => *u.choose(&ABSURD).unwrap_or(&ABSURD[0]),
        1 if n > 0 => u.int_in_range(0..=n).unwrap_or(0) as CK_ULONG,
        _ => n as CK_ULONG,
    }
}

/// A claimed room for an output buffer of `n` bytes: never more than `n`.
pub fn claim_out(u: &mut Unstructured, n: usize) -> CK_ULONG {
    match u.int_in_range(0u8..=7).unwrap_or(0) {
        0 => u.int_in_range(0..=n).unwrap_or(0) as CK_ULONG,
        _ => n as CK_ULONG,
    }
}

/// Arbitrary bytes, at most `max`.
pub fn bytes(u: &mut Unstructured, max: usize) -> Vec<u8> {
    let n = u.int_in_range(0..=max).unwrap_or(0);
    let take = n.min(u.len());
    u.bytes(take).map(<[u8]>::to_vec).unwrap_or_default()
}
