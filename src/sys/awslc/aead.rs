//! AEAD contexts over aws-lc's EVP_CIPHER interface for the three AEADs
//! PKCS#11 names: AES-GCM (any IV length), AES-CCM (`EVP_aes_*_ccm`: nonce
//! 7..13 bytes, tag 4..16 even; the whole message in one update, its length
//! given first) and ChaCha20-Poly1305 (`EVP_chacha20_poly1305`, 12-byte
//! nonce, streaming). Lengths are checked here before aws-lc sees them.

use std::os::raw::c_int;
use std::ptr::{null, null_mut};

use aws_lc_sys as sys;

use super::{len_c, ok, Failed, R};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadKind {
    Gcm,
    Ccm,
    ChaChaPoly,
}

fn cipher(kind: AeadKind, key_len: usize) -> R<*const sys::EVP_CIPHER> {
    // SAFETY: these return pointers to static cipher tables.
    Ok(unsafe {
        match (kind, key_len) {
            (AeadKind::Gcm, 16) => sys::EVP_aes_128_gcm(),
            (AeadKind::Gcm, 24) => sys::EVP_aes_192_gcm(),
            (AeadKind::Gcm, 32) => sys::EVP_aes_256_gcm(),
            (AeadKind::Ccm, 16) => sys::EVP_aes_128_ccm(),
            (AeadKind::Ccm, 24) => sys::EVP_aes_192_ccm(),
            (AeadKind::Ccm, 32) => sys::EVP_aes_256_ccm(),
            (AeadKind::ChaChaPoly, 32) => sys::EVP_chacha20_poly1305(),
            _ => return Err(Failed),
        }
    })
}

/// One AEAD message in one direction. For CCM, `new` takes the message
/// length (and, decrypting, the tag) up front, as CCM needs them first.
pub struct Aead {
    ctx: *mut sys::EVP_CIPHER_CTX,
    kind: AeadKind,
}

// SAFETY: the context is owned exclusively and only used through &mut self.
unsafe impl Send for Aead {}

impl Aead {
    /// `tag_len` is the tag length in bytes; for CCM decryption `ccm_tag`
    /// is the expected tag and `ccm_len` the message length.
    pub fn new(
        kind: AeadKind,
        key: &[u8],
        iv: &[u8],
        encrypt: bool,
        tag_len: usize,
        ccm: Option<(usize, Option<&[u8]>)>,
    ) -> R<Aead> {
        let c = cipher(kind, key.len())?;
        let iv_ok = match kind {
            AeadKind::Gcm => !iv.is_empty() && iv.len() <= 256,
            AeadKind::Ccm => (7..=13).contains(&iv.len()),
            AeadKind::ChaChaPoly => iv.len() == 12,
        };
        let tag_ok = match kind {
            AeadKind::Gcm => (1..=16).contains(&tag_len),
            AeadKind::Ccm => (4..=16).contains(&tag_len) && tag_len % 2 == 0,
            AeadKind::ChaChaPoly => tag_len == 16,
        };
        if !iv_ok || !tag_ok || (kind == AeadKind::Ccm) != ccm.is_some() {
            return Err(Failed);
        }
        // SAFETY: allocation; NULL checked.
        let ctx = unsafe { sys::EVP_CIPHER_CTX_new() };
        if ctx.is_null() {
            return Err(Failed);
        }
        let me = Aead { ctx, kind };
        let enc = encrypt as c_int;
        // SAFETY: ctx is valid; `c` is a static table whose key length is
        // key.len() (chosen above); the IV length is set before the IV.
        unsafe {
            ok(sys::EVP_CipherInit_ex(me.ctx, c, null_mut(), null(), null(), enc))?;
            ok(sys::EVP_CIPHER_CTX_ctrl(me.ctx, sys::EVP_CTRL_AEAD_SET_IVLEN, len_c(iv.len())?, null_mut()))?;
            if let Some((_, tag)) = ccm {
                // The tag length (M); decrypting, the expected tag itself.
                let mut t = tag.map(<[u8]>::to_vec);
                if t.as_ref().is_some_and(|t| t.len() != tag_len) {
                    return Err(Failed);
                }
                let p = t.as_mut().map_or(null_mut(), |t| t.as_mut_ptr().cast());
                ok(sys::EVP_CIPHER_CTX_ctrl(me.ctx, sys::EVP_CTRL_AEAD_SET_TAG, len_c(tag_len)?, p))?;
            }
            ok(sys::EVP_CipherInit_ex(me.ctx, null(), null_mut(), key.as_ptr(), iv.as_ptr(), enc))?;
            if let Some((len, _)) = ccm {
                // NULL in and out: the total message length (CCM's B0).
                let mut n: c_int = 0;
                ok(sys::EVP_CipherUpdate(me.ctx, null_mut(), &mut n, null(), len_c(len)?))?;
            }
        }
        Ok(me)
    }

    /// Additional data: before any message bytes (for CCM, in one call).
    pub fn aad(&mut self, aad: &[u8]) -> R<()> {
        if aad.is_empty() && self.kind != AeadKind::Ccm {
            return Ok(());
        }
        let dummy = [0u8; 1];
        let p = if aad.is_empty() { dummy.as_ptr() } else { aad.as_ptr() };
        let mut n: c_int = 0;
        // SAFETY: a NULL output pointer makes EVP treat the input as AAD; `p`
        // is valid for aad.len() bytes (a non-NULL dummy when empty).
        ok(unsafe { sys::EVP_CipherUpdate(self.ctx, null_mut(), &mut n, p, len_c(aad.len())?) })
    }

    /// Message bytes into `out` (exactly `input.len()` bytes are written).
    /// For CCM this is the whole message, and decrypting it verifies the
    /// tag (a failure wipes `out`).
    pub fn update_into(&mut self, input: &[u8], out: &mut [u8]) -> R<()> {
        if out.len() < input.len() {
            return Err(Failed);
        }
        if input.is_empty() && self.kind != AeadKind::Ccm {
            return Ok(());
        }
        // An empty CCM message still runs (it computes or checks the tag);
        // EVP needs non-NULL pointers for that.
        let (mut din, mut dout) = ([0u8; 1], [0u8; 1]);
        let ip = if input.is_empty() { din.as_mut_ptr() as *const u8 } else { input.as_ptr() };
        let op = if input.is_empty() { dout.as_mut_ptr() } else { out.as_mut_ptr() };
        let mut n: c_int = 0;
        // SAFETY: `op` has room for input.len() bytes, all a stream-mode
        // update writes; `ip` is readable for input.len() bytes.
        ok(unsafe { sys::EVP_CipherUpdate(self.ctx, op, &mut n, ip, len_c(input.len())?) })?;
        if usize::try_from(n).map_err(|_| Failed)? != input.len() {
            return Err(Failed);
        }
        Ok(())
    }

    /// GCM / ChaCha20-Poly1305 decryption: the expected tag, before `finish`.
    pub fn set_tag(&mut self, tag: &[u8]) -> R<()> {
        if self.kind == AeadKind::Ccm || tag.is_empty() || tag.len() > 16 {
            return Err(Failed);
        }
        let mut t = tag.to_vec();
        // SAFETY: the tag buffer is valid for its length; EVP copies it.
        ok(unsafe {
            sys::EVP_CIPHER_CTX_ctrl(self.ctx, sys::EVP_CTRL_AEAD_SET_TAG, len_c(t.len())?, t.as_mut_ptr().cast())
        })
    }

    /// Ends a GCM / ChaCha20-Poly1305 message; decrypting, verifies the tag.
    /// (CCM ends with its one update.)
    pub fn finish(&mut self) -> R<()> {
        if self.kind == AeadKind::Ccm {
            return Ok(());
        }
        let mut out = [0u8; 32];
        let mut n: c_int = 0;
        // SAFETY: stream AEADs write nothing at the final call; 32 bytes spare.
        ok(unsafe { sys::EVP_CipherFinal_ex(self.ctx, out.as_mut_ptr(), &mut n) })?;
        if n != 0 {
            return Err(Failed);
        }
        Ok(())
    }

    /// The tag after encrypting (after `finish`; for CCM after the update).
    pub fn tag(&mut self, len: usize) -> R<Vec<u8>> {
        if len == 0 || len > 16 {
            return Err(Failed);
        }
        let mut t = vec![0u8; len];
        // SAFETY: `t` has room for `len` (<= 16) bytes.
        ok(unsafe {
            sys::EVP_CIPHER_CTX_ctrl(self.ctx, sys::EVP_CTRL_AEAD_GET_TAG, len_c(len)?, t.as_mut_ptr().cast())
        })?;
        Ok(t)
    }
}

impl Drop for Aead {
    fn drop(&mut self) {
        // SAFETY: ctx came from EVP_CIPHER_CTX_new and is freed once; free
        // also cleanses the key schedule.
        unsafe { sys::EVP_CIPHER_CTX_free(self.ctx) }
    }
}
