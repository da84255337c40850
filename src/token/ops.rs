//! The operation state a session holds: the kinds of operation, the
//! per-session set of active ones (`Ops`), and the cipher engines' state.
//! Nothing here knows sessions or the module: `session` holds an `Ops`, and
//! the files that run operations (`cipher`, `sign`, `crypto`, `find`) fill
//! and read it, so dependencies point one way (they → `session` → `ops`).

use std::sync::Arc;

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::crypto::Op;
use super::find::FindOp;
use super::sign::SignState;
use crate::error::{Error, Result};
use crate::mech::aead::AeadCipher;
use crate::mech::aes::AesCipher;
use crate::mech::asym::CryptAlg;
use crate::mech::digest::Hasher;
use crate::mech::keys::Key;

/// Active operations of one session.
#[derive(Default)]
pub(crate) struct Ops {
    pub find: Option<FindOp>,
    pub digest: Option<Op<Hasher>>,
    pub sign: Option<Op<SignState>>,
    pub verify: Option<Op<SignState>>,
    pub encrypt: Option<Op<CipherOp>>,
    pub decrypt: Option<Op<CipherOp>>,
    pub sign_recover: Option<Op<RecoverOp>>,
    pub verify_recover: Option<Op<RecoverOp>>,
    pub msg_encrypt: Option<super::message::MsgOp>,
    pub msg_decrypt: Option<super::message::MsgOp>,
}

/// A sign-with-recovery or verify-with-recovery operation (single-part).
pub(crate) struct RecoverOp {
    pub alg: crate::mech::asym::SignAlg,
    pub key: Arc<Key>,
}

/// The kinds of cryptographic operation a session holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Digest,
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    SignRecover,
    VerifyRecover,
}

impl OpKind {
    pub(crate) fn flag(self) -> ck::CK_FLAGS {
        match self {
            OpKind::Digest => ck::CKF_DIGEST,
            OpKind::Sign => ck::CKF_SIGN,
            OpKind::Verify => ck::CKF_VERIFY,
            OpKind::Encrypt => ck::CKF_ENCRYPT,
            OpKind::Decrypt => ck::CKF_DECRYPT,
            OpKind::SignRecover => ck::CKF_SIGN_RECOVER,
            OpKind::VerifyRecover => ck::CKF_VERIFY_RECOVER,
        }
    }

    /// The kind of a cipher operation in the given direction.
    pub(crate) fn cipher(encrypt: bool) -> OpKind {
        if encrypt {
            OpKind::Encrypt
        } else {
            OpKind::Decrypt
        }
    }
}

impl Ops {
    /// Whether an operation of `kind` is active.
    pub(crate) fn active(&self, kind: OpKind) -> bool {
        match kind {
            OpKind::Digest => self.digest.is_some(),
            OpKind::Sign => self.sign.is_some(),
            OpKind::Verify => self.verify.is_some(),
            OpKind::Encrypt => self.encrypt.is_some(),
            OpKind::Decrypt => self.decrypt.is_some(),
            OpKind::SignRecover => self.sign_recover.is_some(),
            OpKind::VerifyRecover => self.verify_recover.is_some(),
        }
    }

    pub(crate) fn end(&mut self, kind: OpKind) {
        match kind {
            OpKind::Digest => self.digest = None,
            OpKind::Sign => self.sign = None,
            OpKind::Verify => self.verify = None,
            OpKind::Encrypt => self.encrypt = None,
            OpKind::Decrypt => self.decrypt = None,
            OpKind::SignRecover => self.sign_recover = None,
            OpKind::VerifyRecover => self.verify_recover = None,
        }
    }

    /// The encrypt or decrypt operation slot.
    pub(crate) fn cipher(&mut self, encrypt: bool) -> &mut Option<Op<CipherOp>> {
        if encrypt {
            &mut self.encrypt
        } else {
            &mut self.decrypt
        }
    }
}

/// RSA input is single-block: updates collect it, the final call
/// encrypts or decrypts it whole.
pub(crate) struct RsaCipher {
    pub alg: CryptAlg,
    pub key: Arc<Key>,
    pub encrypt: bool,
    pub buf: Zeroizing<Vec<u8>>,
}

pub(crate) enum Engine {
    Aes(AesCipher),
    Des(crate::mech::des::DesCipher),
    Rsa(RsaCipher),
    /// CKM_AES_CCM, CKM_CHACHA20_POLY1305.
    Aead(AeadCipher),
}

impl RsaCipher {
    fn run(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if self.encrypt {
            Ok(Zeroizing::new(self.alg.encrypt(&self.key, data)?))
        } else {
            self.alg.decrypt(&self.key, data)
        }
    }
}

impl Engine {
    pub(crate) fn oneshot(self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Engine::Aes(c) => c.oneshot(data),
            Engine::Des(c) => c.oneshot(data),
            Engine::Rsa(r) => r.run(data),
            Engine::Aead(c) => c.oneshot(data),
        }
    }

    pub(crate) fn finish(self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Engine::Aes(c) => c.finish(),
            Engine::Des(c) => c.finish(),
            Engine::Rsa(r) => r.run(&r.buf),
            Engine::Aead(c) => c.finish(),
        }
    }

    pub(crate) fn update_len(&self, n: usize) -> usize {
        match self {
            Engine::Aes(c) => c.update_len(n),
            Engine::Des(c) => c.update_len(n),
            Engine::Rsa(_) => 0,
            Engine::Aead(c) => c.update_len(n),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Engine::Aes(c) => c.update(data),
            Engine::Aead(c) => c.update(data),
            Engine::Des(c) => c.update(data),
            Engine::Rsa(r) => {
                // No RSA input exceeds a modulus; refuse growth beyond 2 KiB.
                if r.buf.len() + data.len() > 2048 {
                    return Err(if r.encrypt { Error::DataLenRange } else { Error::EncryptedDataLenRange });
                }
                r.buf.extend_from_slice(data);
                Ok(Zeroizing::new(Vec::new()))
            }
        }
    }
}

pub(crate) struct CipherOp {
    pub encrypt: bool,
    pub cipher: Option<Engine>,
    /// Output computed by a single-part or final call, awaiting a buffer.
    pub ready: Option<Zeroizing<Vec<u8>>>,
}
