//! Thin safe wrappers over the few aws-lc-sys primitives the safe aws-lc-rs
//! API lacks: raw AES block modes with arbitrary GCM IV lengths, AES key
//! wrap (RFC 3394 / RFC 5649), CMAC, HKDF extract/expand, RSA, EC and
//! PKCS#8 parsing. Each call checks lengths before touching memory.

use std::os::raw::c_int;
use std::ptr::{null, null_mut};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

pub mod aead;
mod bn;
pub mod des;
pub mod dsa;
pub mod ec;
pub mod pkey;
pub mod pq;
pub mod rsa;

/// Wipes a secret buffer, spare capacity included, at memset speed
/// (aws-lc's `OPENSSL_cleanse`: memset plus a compiler barrier) and leaves it
/// empty, so the zeroize crate's byte-by-byte volatile loop finds nothing
/// left when it drops. Measured: a 4 KiB GCM decryption spent 4 of its 7 µs
/// in three volatile wipes.
pub fn wipe(v: &mut Zeroizing<Vec<u8>>) {
    let mut inner = std::mem::take(&mut **v);
    let cap = inner.capacity();
    // SAFETY: the allocation holds `cap` bytes; writing zeros to all of them,
    // initialised or not, is sound for u8.
    unsafe { sys::OPENSSL_cleanse(inner.as_mut_ptr() as *mut std::ffi::c_void, cap) };
    drop(inner);
}

/// Wipes a buffer in place at memset speed.
pub fn cleanse(buf: &mut [u8]) {
    // SAFETY: writes exactly the slice's bytes.
    unsafe { sys::OPENSSL_cleanse(buf.as_mut_ptr() as *mut std::ffi::c_void, buf.len()) };
}

/// Mixes 32 bytes into the calling thread's generator (aws-lc keeps one
/// DRBG per thread) as prediction-resistance input: aws-lc reseeds that
/// DRBG from the OS *and* these bytes, so they add to OS entropy and never
/// replace it.
pub fn rand_mix(input: &[u8; 32]) -> Result<(), Failed> {
    let mut discard = [0u8; 16];
    // SAFETY: `discard` is writable for its length; `input` is the
    // RAND_PRED_RESISTANCE_LEN (32) bytes the call reads.
    let ok =
        unsafe { sys::RAND_bytes_with_user_prediction_resistance(discard.as_mut_ptr(), discard.len(), input.as_ptr()) };
    cleanse(&mut discard);
    if ok == 1 {
        Ok(())
    } else {
        Err(Failed)
    }
}

/// The primitive failed; callers map this to the right CK_RV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed;

type R<T> = std::result::Result<T, Failed>;

fn ok(rc: c_int) -> R<()> {
    if rc == 1 {
        Ok(())
    } else {
        Err(Failed)
    }
}

fn len_c(n: usize) -> R<c_int> {
    c_int::try_from(n).map_err(|_| Failed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ecb,
    Cbc,
    Ctr,
    Gcm,
}

fn evp_cipher(mode: Mode, key_len: usize) -> R<*const sys::EVP_CIPHER> {
    // SAFETY: these return pointers to static cipher tables.
    Ok(unsafe {
        match (mode, key_len) {
            (Mode::Ecb, 16) => sys::EVP_aes_128_ecb(),
            (Mode::Ecb, 24) => sys::EVP_aes_192_ecb(),
            (Mode::Ecb, 32) => sys::EVP_aes_256_ecb(),
            (Mode::Cbc, 16) => sys::EVP_aes_128_cbc(),
            (Mode::Cbc, 24) => sys::EVP_aes_192_cbc(),
            (Mode::Cbc, 32) => sys::EVP_aes_256_cbc(),
            (Mode::Ctr, 16) => sys::EVP_aes_128_ctr(),
            (Mode::Ctr, 24) => sys::EVP_aes_192_ctr(),
            (Mode::Ctr, 32) => sys::EVP_aes_256_ctr(),
            (Mode::Gcm, 16) => sys::EVP_aes_128_gcm(),
            (Mode::Gcm, 24) => sys::EVP_aes_192_gcm(),
            (Mode::Gcm, 32) => sys::EVP_aes_256_gcm(),
            _ => return Err(Failed),
        }
    })
}

/// An AES cipher context in one direction, without EVP padding (modes
/// that pad do it themselves, so lengths are known exactly).
pub struct AesCtx {
    ctx: *mut sys::EVP_CIPHER_CTX,
}

// SAFETY: the context is owned exclusively and only used through &mut self.
unsafe impl Send for AesCtx {}

impl AesCtx {
    /// `iv` is ignored for ECB; for GCM it may have any length from 1 byte.
    pub fn new(mode: Mode, key: &[u8], iv: &[u8], encrypt: bool) -> R<AesCtx> {
        let cipher = evp_cipher(mode, key.len())?;
        // SAFETY: allocation; NULL checked.
        let ctx = unsafe { sys::EVP_CIPHER_CTX_new() };
        if ctx.is_null() {
            return Err(Failed);
        }
        let me = AesCtx { ctx };
        let enc = encrypt as c_int;
        // SAFETY: ctx is valid; cipher is a static table; the key length
        // matches the cipher (chosen from key.len() above).
        unsafe {
            ok(sys::EVP_CipherInit_ex(me.ctx, cipher, null_mut(), null(), null(), enc))?;
            if mode == Mode::Gcm {
                if iv.is_empty() {
                    return Err(Failed);
                }
                ok(sys::EVP_CIPHER_CTX_ctrl(me.ctx, sys::EVP_CTRL_GCM_SET_IVLEN, len_c(iv.len())?, null_mut()))?;
            } else if mode != Mode::Ecb && iv.len() != 16 {
                return Err(Failed);
            }
            let ivp = if mode == Mode::Ecb { null() } else { iv.as_ptr() };
            ok(sys::EVP_CipherInit_ex(me.ctx, null(), null_mut(), key.as_ptr(), ivp, enc))?;
            ok(sys::EVP_CIPHER_CTX_set_padding(me.ctx, 0))?;
        }
        Ok(me)
    }

    /// Processes `input` (for ECB/CBC a whole number of blocks); returns the
    /// output, always `input.len()` bytes for these modes.
    pub fn update(&mut self, input: &[u8]) -> R<Vec<u8>> {
        // Not zero-filled first: EVP writes every byte it reports, and
        // memset of a 1 MiB buffer was a sixth of a 1 MiB GCM encryption.
        let cap = input.len() + 16;
        let mut out: Vec<u8> = Vec::with_capacity(cap);
        let mut n: c_int = 0;
        if !input.is_empty() {
            // SAFETY: `out` has capacity for input + one block, the most EVP
            // writes for one update.
            ok(unsafe {
                sys::EVP_CipherUpdate(self.ctx, out.as_mut_ptr(), &mut n, input.as_ptr(), len_c(input.len())?)
            })?;
        }
        let n = usize::try_from(n).map_err(|_| Failed)?;
        if n > cap {
            return Err(Failed);
        }
        // SAFETY: EVP initialised the first `n` bytes, n <= capacity.
        unsafe { out.set_len(n) };
        Ok(out)
    }

    /// Like `update`, into the caller's buffer, for stream modes (GCM) where
    /// EVP writes exactly `input.len()` bytes.
    pub fn update_into(&mut self, input: &[u8], out: &mut [u8]) -> R<()> {
        if out.len() < input.len() {
            return Err(Failed);
        }
        if input.is_empty() {
            return Ok(());
        }
        let mut n: c_int = 0;
        // SAFETY: `out` has at least input.len() bytes, all a stream-mode
        // update writes.
        ok(unsafe { sys::EVP_CipherUpdate(self.ctx, out.as_mut_ptr(), &mut n, input.as_ptr(), len_c(input.len())?) })?;
        if usize::try_from(n).map_err(|_| Failed)? != input.len() {
            return Err(Failed);
        }
        Ok(())
    }

    /// GCM additional data (before any update).
    pub fn aad(&mut self, aad: &[u8]) -> R<()> {
        if aad.is_empty() {
            return Ok(());
        }
        let mut n: c_int = 0;
        // SAFETY: a NULL output pointer makes EVP treat the input as AAD.
        ok(unsafe { sys::EVP_CipherUpdate(self.ctx, null_mut(), &mut n, aad.as_ptr(), len_c(aad.len())?) })
    }

    /// Sets the expected GCM tag before `finish` when decrypting.
    pub fn set_tag(&mut self, tag: &[u8]) -> R<()> {
        let mut t = tag.to_vec();
        // SAFETY: the tag buffer is valid for its length; EVP copies it.
        ok(unsafe {
            sys::EVP_CIPHER_CTX_ctrl(self.ctx, sys::EVP_CTRL_GCM_SET_TAG, len_c(t.len())?, t.as_mut_ptr().cast())
        })
    }

    /// Ends the operation; for GCM decryption this verifies the tag.
    pub fn finish(&mut self) -> R<()> {
        let mut out = [0u8; 32];
        let mut n: c_int = 0;
        // SAFETY: with padding off no more than one block is written.
        ok(unsafe { sys::EVP_CipherFinal_ex(self.ctx, out.as_mut_ptr(), &mut n) })?;
        if n != 0 {
            return Err(Failed);
        }
        Ok(())
    }

    /// The GCM tag after `finish` when encrypting.
    pub fn tag(&mut self, len: usize) -> R<Vec<u8>> {
        let mut t = vec![0u8; len];
        // SAFETY: `t` has room for `len` (<= 16) bytes.
        ok(unsafe {
            sys::EVP_CIPHER_CTX_ctrl(self.ctx, sys::EVP_CTRL_GCM_GET_TAG, len_c(len)?, t.as_mut_ptr().cast())
        })?;
        Ok(t)
    }
}

impl Drop for AesCtx {
    fn drop(&mut self) {
        // SAFETY: ctx came from EVP_CIPHER_CTX_new and is freed once; free
        // also cleanses the key schedule.
        unsafe { sys::EVP_CIPHER_CTX_free(self.ctx) }
    }
}

fn aes_key(key: &[u8], encrypt: bool) -> R<Box<sys::AES_KEY>> {
    if !matches!(key.len(), 16 | 24 | 32) {
        return Err(Failed);
    }
    // SAFETY: AES_KEY is plain data; all-zero is a valid initial value.
    let mut k: Box<sys::AES_KEY> = Box::new(unsafe { std::mem::zeroed() });
    let bits = (key.len() * 8) as u32;
    // SAFETY: key has bits/8 bytes; k is a valid AES_KEY.
    let rc = unsafe {
        if encrypt {
            sys::AES_set_encrypt_key(key.as_ptr(), bits, &mut *k)
        } else {
            sys::AES_set_decrypt_key(key.as_ptr(), bits, &mut *k)
        }
    };
    if rc != 0 {
        return Err(Failed);
    }
    Ok(k)
}

fn wipe_aes_key(k: &mut sys::AES_KEY) {
    // SAFETY: plain data, overwritten in place.
    unsafe { std::ptr::write_volatile(k, std::mem::zeroed()) };
}

/// RFC 3394 key wrap; `data` is a multiple of 8 bytes, at least 16.
pub fn kw_wrap(kek: &[u8], iv: Option<&[u8; 8]>, data: &[u8]) -> R<Vec<u8>> {
    if data.len() < 16 || data.len() % 8 != 0 {
        return Err(Failed);
    }
    let mut k = aes_key(kek, true)?;
    let mut out = vec![0u8; data.len() + 8];
    let ivp = iv.map_or(null(), |i| i.as_ptr());
    // SAFETY: out has in_len + 8 bytes as AES_wrap_key requires.
    let n = unsafe { sys::AES_wrap_key(&*k, ivp, out.as_mut_ptr(), data.as_ptr(), data.len()) };
    wipe_aes_key(&mut k);
    if n != out.len() as c_int {
        return Err(Failed);
    }
    Ok(out)
}

/// RFC 3394 key unwrap; fails on a bad integrity check.
pub fn kw_unwrap(kek: &[u8], iv: Option<&[u8; 8]>, wrapped: &[u8]) -> R<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
        return Err(Failed);
    }
    let mut k = aes_key(kek, false)?;
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    let ivp = iv.map_or(null(), |i| i.as_ptr());
    // SAFETY: out has in_len - 8 bytes as AES_unwrap_key requires.
    let n = unsafe { sys::AES_unwrap_key(&*k, ivp, out.as_mut_ptr(), wrapped.as_ptr(), wrapped.len()) };
    wipe_aes_key(&mut k);
    if n != out.len() as c_int {
        return Err(Failed);
    }
    Ok(out)
}

/// RFC 5649 key wrap with padding.
pub fn kwp_wrap(kek: &[u8], data: &[u8]) -> R<Vec<u8>> {
    if data.is_empty() {
        return Err(Failed);
    }
    let mut k = aes_key(kek, true)?;
    let max = data.len().div_ceil(8) * 8 + 8;
    let mut out = vec![0u8; max];
    let mut n = 0usize;
    // SAFETY: out has `max` bytes, the most RFC 5649 produces.
    let rc = unsafe { sys::AES_wrap_key_padded(&*k, out.as_mut_ptr(), &mut n, max, data.as_ptr(), data.len()) };
    wipe_aes_key(&mut k);
    ok(rc)?;
    out.truncate(n);
    Ok(out)
}

/// RFC 5649 key unwrap; fails on a bad integrity check or padding.
pub fn kwp_unwrap(kek: &[u8], wrapped: &[u8]) -> R<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 16 || wrapped.len() % 8 != 0 {
        return Err(Failed);
    }
    let mut k = aes_key(kek, false)?;
    let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
    let mut n = 0usize;
    // SAFETY: out has wrapped.len() bytes, more than any plaintext.
    let rc = unsafe {
        sys::AES_unwrap_key_padded(&*k, out.as_mut_ptr(), &mut n, out.len(), wrapped.as_ptr(), wrapped.len())
    };
    wipe_aes_key(&mut k);
    ok(rc)?;
    out.truncate(n);
    Ok(out)
}

/// AES-CMAC (SP 800-38B), multi-part.
pub struct Cmac {
    ctx: *mut sys::CMAC_CTX,
}

// SAFETY: exclusively owned, used through &mut self.
unsafe impl Send for Cmac {}

impl Cmac {
    pub fn new(key: &[u8]) -> R<Cmac> {
        let cipher = evp_cipher(Mode::Cbc, key.len())?;
        // SAFETY: allocation; NULL checked.
        let ctx = unsafe { sys::CMAC_CTX_new() };
        if ctx.is_null() {
            return Err(Failed);
        }
        let me = Cmac { ctx };
        // SAFETY: key valid for its length; cipher static. CMAC_Init wants
        // the CBC cipher of the key size.
        ok(unsafe { sys::CMAC_Init(me.ctx, key.as_ptr().cast(), key.len(), cipher, null_mut()) })?;
        Ok(me)
    }

    pub fn update(&mut self, data: &[u8]) -> R<()> {
        // SAFETY: data valid for its length.
        ok(unsafe { sys::CMAC_Update(self.ctx, data.as_ptr(), data.len()) })
    }

    pub fn finish(&mut self) -> R<[u8; 16]> {
        let mut out = [0u8; 16];
        let mut n = 0usize;
        // SAFETY: out has a full block.
        ok(unsafe { sys::CMAC_Final(self.ctx, out.as_mut_ptr(), &mut n) })?;
        if n != 16 {
            return Err(Failed);
        }
        Ok(out)
    }
}

impl Drop for Cmac {
    fn drop(&mut self) {
        // SAFETY: allocated by CMAC_CTX_new, freed once.
        unsafe { sys::CMAC_CTX_free(self.ctx) }
    }
}

/// A digest (HKDF, RSA padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Md {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

pub(super) fn evp_md(md: Md) -> *const sys::EVP_MD {
    // SAFETY: static digest tables.
    unsafe {
        match md {
            Md::Sha1 => sys::EVP_sha1(),
            Md::Sha224 => sys::EVP_sha224(),
            Md::Sha256 => sys::EVP_sha256(),
            Md::Sha384 => sys::EVP_sha384(),
            Md::Sha512 => sys::EVP_sha512(),
            Md::Sha3_256 => sys::EVP_sha3_256(),
            Md::Sha3_384 => sys::EVP_sha3_384(),
            Md::Sha3_512 => sys::EVP_sha3_512(),
        }
    }
}

/// HKDF-Extract (RFC 5869).
pub fn hkdf_extract(md: Md, salt: &[u8], ikm: &[u8]) -> R<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; 64]);
    let mut n = 0usize;
    // SAFETY: out has EVP_MAX_MD_SIZE (64) bytes; inputs valid for their lengths.
    ok(unsafe {
        sys::HKDF_extract(out.as_mut_ptr(), &mut n, evp_md(md), ikm.as_ptr(), ikm.len(), salt.as_ptr(), salt.len())
    })?;
    out.truncate(n);
    Ok(out)
}

/// HKDF-Expand (RFC 5869).
pub fn hkdf_expand(md: Md, prk: &[u8], info: &[u8], len: usize) -> R<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    // SAFETY: out has `len` bytes; inputs valid for their lengths.
    ok(unsafe {
        sys::HKDF_expand(out.as_mut_ptr(), len, evp_md(md), prk.as_ptr(), prk.len(), info.as_ptr(), info.len())
    })?;
    Ok(out)
}
