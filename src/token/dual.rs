//! The dual-function calls (PKCS#11 3.0 §5.13): one call feeding two
//! active multi-part operations of the session. Both must be active before
//! any input is taken; the second operation gets its input only once the
//! cipher's output is delivered, so a length query or a short buffer leaves
//! both exactly as they were.

use super::crypto::Produced;
use super::ops::OpKind;
use super::{SessionHandle, Sessions};
use crate::error::{Error, Result};

/// Which pair of operations a dual-function call drives.
#[derive(Clone, Copy, Debug)]
pub enum Dual {
    /// C_DigestEncryptUpdate: digest the plaintext, encrypt it.
    DigestEncrypt,
    /// C_DecryptDigestUpdate: decrypt, digest the plaintext.
    DecryptDigest,
    /// C_SignEncryptUpdate: sign the plaintext, encrypt it.
    SignEncrypt,
    /// C_DecryptVerifyUpdate: decrypt, verify the plaintext.
    DecryptVerify,
}

impl Dual {
    /// The cipher operation (whose output the caller gets) and the other.
    pub fn kinds(self) -> (OpKind, OpKind) {
        match self {
            Dual::DigestEncrypt => (OpKind::Encrypt, OpKind::Digest),
            Dual::DecryptDigest => (OpKind::Decrypt, OpKind::Digest),
            Dual::SignEncrypt => (OpKind::Encrypt, OpKind::Sign),
            Dual::DecryptVerify => (OpKind::Decrypt, OpKind::Verify),
        }
    }
}

impl Sessions<'_> {
    pub fn dual_update(&self, h: SessionHandle, dual: Dual, data: &[u8], cap: Option<usize>) -> Result<Produced> {
        let (cipher, other) = dual.kinds();
        {
            let s = self.m.session(h)?;
            let ops = s.ops.lock();
            if !ops.active(cipher) || !ops.active(other) {
                return Err(Error::OperationNotInitialized);
            }
        }
        let encrypt = matches!(cipher, OpKind::Encrypt);
        let out = self.cipher_update(h, data, cap, encrypt)?;
        let fed: Option<&[u8]> = match (&out, encrypt) {
            (Produced::Public(_) | Produced::Data(_), true) => Some(data),
            (Produced::Data(plain), false) => Some(plain),
            _ => None,
        };
        if let Some(bytes) = fed {
            match other {
                OpKind::Digest => self.digest_update(h, bytes)?,
                OpKind::Sign => self.sign_update(h, bytes)?,
                OpKind::Verify => self.verify_update(h, bytes)?,
                _ => return Err(Error::general("dual-function pair without a second operation")),
            }
        }
        Ok(out)
    }
}
