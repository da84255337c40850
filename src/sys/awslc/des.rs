//! DES and triple-DES (two- and three-key) block modes through aws-lc's
//! EVP tables, TDES-CMAC through its CMAC, and the DES key rules (odd
//! parity, weak keys). Kept for tokens that hold such keys (SoftHSM's).

use std::os::raw::c_int;
use std::ptr::{null, null_mut};

use aws_lc_sys as sys;

use super::{len_c, ok, Cmac, Failed, R};

pub const BLOCK: usize = 8;

/// The EVP table for a DES key of `key_len` bytes (8: DES, 16: two-key
/// TDES, 24: three-key TDES) in ECB or CBC.
fn evp_des(cbc: bool, key_len: usize) -> R<*const sys::EVP_CIPHER> {
    // SAFETY: these return pointers to static cipher tables.
    Ok(unsafe {
        match (cbc, key_len) {
            (false, 8) => sys::EVP_des_ecb(),
            (true, 8) => sys::EVP_des_cbc(),
            (false, 16) => sys::EVP_des_ede(),
            (true, 16) => sys::EVP_des_ede_cbc(),
            (false, 24) => sys::EVP_des_ede3_ecb(),
            (true, 24) => sys::EVP_des_ede3_cbc(),
            _ => return Err(Failed),
        }
    })
}

/// A DES/TDES cipher context in one direction, without EVP padding.
pub struct DesCtx {
    ctx: *mut sys::EVP_CIPHER_CTX,
}

// SAFETY: the context is owned exclusively and only used through &mut self.
unsafe impl Send for DesCtx {}

impl DesCtx {
    /// `iv` is None for ECB, 8 bytes for CBC.
    pub fn new(key: &[u8], iv: Option<&[u8; 8]>, encrypt: bool) -> R<DesCtx> {
        let cipher = evp_des(iv.is_some(), key.len())?;
        // SAFETY: allocation; NULL checked.
        let ctx = unsafe { sys::EVP_CIPHER_CTX_new() };
        if ctx.is_null() {
            return Err(Failed);
        }
        let me = DesCtx { ctx };
        let ivp = iv.map_or(null(), |v| v.as_ptr());
        // SAFETY: ctx is valid; the cipher is a static table chosen for
        // key.len(); the IV, when given, is the 8 bytes the mode reads.
        unsafe {
            ok(sys::EVP_CipherInit_ex(me.ctx, cipher, null_mut(), key.as_ptr(), ivp, encrypt as c_int))?;
            ok(sys::EVP_CIPHER_CTX_set_padding(me.ctx, 0))?;
        }
        Ok(me)
    }

    /// Processes whole blocks; returns exactly `input.len()` bytes.
    pub fn update(&mut self, input: &[u8]) -> R<Vec<u8>> {
        if input.len() % BLOCK != 0 {
            return Err(Failed);
        }
        let mut out = vec![0u8; input.len() + BLOCK];
        let mut n: c_int = 0;
        if !input.is_empty() {
            // SAFETY: `out` has room for the input plus a block, the most
            // one update writes; the input is valid for its length.
            ok(unsafe {
                sys::EVP_CipherUpdate(self.ctx, out.as_mut_ptr(), &mut n, input.as_ptr(), len_c(input.len())?)
            })?;
        }
        if usize::try_from(n).map_err(|_| Failed)? != input.len() {
            return Err(Failed);
        }
        out.truncate(input.len());
        Ok(out)
    }
}

impl Drop for DesCtx {
    fn drop(&mut self) {
        // SAFETY: ctx came from EVP_CIPHER_CTX_new and is freed once; free
        // also cleanses the key schedule.
        unsafe { sys::EVP_CIPHER_CTX_free(self.ctx) }
    }
}

/// TDES-CMAC (SP 800-38B), multi-part: an 8-byte tag.
pub struct TdesCmac(Cmac);

impl TdesCmac {
    pub fn update(&mut self, data: &[u8]) -> R<()> {
        self.0.update(data)
    }

    pub fn finish(&mut self) -> R<[u8; 8]> {
        let mut out = [0u8; 16];
        let mut n = 0usize;
        // SAFETY: `out` has room for a full AES block, more than the 8
        // bytes a TDES CMAC writes.
        ok(unsafe { sys::CMAC_Final(self.0.ctx, out.as_mut_ptr(), &mut n) })?;
        if n != BLOCK {
            return Err(Failed);
        }
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&out[..8]);
        Ok(tag)
    }
}

/// TDES-CMAC with a 16- or 24-byte key.
pub fn tdes_cmac(key: &[u8]) -> R<TdesCmac> {
    if !matches!(key.len(), 16 | 24) {
        return Err(Failed);
    }
    // A two-key TDES key is K1 K2 K1 as three keys (CMAC wants CBC).
    let mut k = zeroize::Zeroizing::new(key.to_vec());
    if k.len() == 16 {
        k.extend_from_slice(&key[..8]);
    }
    let cipher = evp_des(true, 24)?;
    // SAFETY: allocation; NULL checked.
    let ctx = unsafe { sys::CMAC_CTX_new() };
    if ctx.is_null() {
        return Err(Failed);
    }
    let me = Cmac { ctx };
    // SAFETY: the key is valid for its length (24, what the cipher takes);
    // the cipher is a static table; aws-lc's CMAC takes 8-byte blocks.
    ok(unsafe { sys::CMAC_Init(me.ctx, k.as_ptr().cast(), k.len(), cipher, null_mut()) })?;
    Ok(TdesCmac(me))
}

/// Sets each byte's low bit so that the byte has odd parity.
pub fn set_odd_parity(key: &mut [u8]) {
    for b in key {
        *b = (*b & 0xfe) | u8::from((*b >> 1).count_ones() % 2 == 0);
    }
}

/// Whether every byte has odd parity (FIPS 46-3).
pub fn has_odd_parity(key: &[u8]) -> bool {
    key.iter().all(|b| b.count_ones() % 2 == 1)
}

/// One of the weak or semi-weak single-DES keys (parity bits ignored).
pub fn is_weak(block: &[u8; 8]) -> bool {
    let mut k = sys::DES_cblock { bytes: *block };
    set_odd_parity(&mut k.bytes);
    // SAFETY: `k` is a valid 8-byte DES_cblock the call only reads.
    unsafe { sys::DES_is_weak_key(&k) == 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_and_weak_keys() {
        let mut k = [0u8; 8];
        set_odd_parity(&mut k);
        assert_eq!(k, [1; 8]);
        assert!(has_odd_parity(&k));
        assert!(is_weak(&k), "0101010101010101 is weak (FIPS 74)");
        assert!(is_weak(&[0x01, 0xfe, 0x01, 0xfe, 0x01, 0xfe, 0x01, 0xfe]), "semi-weak");
        assert!(!is_weak(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]));
        assert!(!has_odd_parity(&[0; 8]));
    }
}
