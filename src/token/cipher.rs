//! C_Encrypt* / C_Decrypt*: the operation-state rules of §5.2 over the
//! AES modes in `mech::aes` and RSA (PKCS#1 v1.5, OAEP, raw). Single-part and final calls compute their
//! output once and keep it until delivered, so the length a caller is told
//! is always exact.

use super::Sessions;
use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::crypto::{Op, Produced};
use super::ops::{CipherOp, Engine, RsaCipher};
use super::{Access, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::aead::AeadCipher;
use crate::mech::aes::{AesCipher, CipherSpec};
use crate::mech::asym::CryptAlg;
use crate::mech::registry;
use crate::model::Mechanism;

/// Hands out `ready` output with the length protocol; delivering ends the
/// operation.
fn deliver(op: &mut Option<Op<CipherOp>>, cap: Option<usize>) -> Result<Produced> {
    let n = op.as_ref().and_then(|o| o.state.ready.as_ref()).map_or(0, |r| r.len());
    match cap {
        None => Ok(Produced::Length(n)),
        Some(c) if c < n => Ok(Produced::TooSmall(n)),
        Some(_) => {
            let Some(done) = op.take() else { return Ok(Produced::Public(Vec::new())) };
            let mut out = done.state.ready.unwrap_or_default();
            if done.state.encrypt {
                // Ciphertext: hand the buffer over without wiping it.
                Ok(Produced::Public(std::mem::take(&mut *out)))
            } else {
                Ok(Produced::Data(out))
            }
        }
    }
}

impl Sessions<'_> {
    pub(crate) fn aes_cipher(
        &self,
        a: &Access,
        mech: &Mechanism,
        key: ObjectHandle,
        encrypt: bool,
    ) -> Result<AesCipher> {
        let flag = if encrypt { ck::CKF_ENCRYPT } else { ck::CKF_DECRYPT };
        let entry = registry::for_operation(mech.mtype, flag)?;
        let spec = CipherSpec::parse(mech.mtype, &mech.param)?;
        let usage = if encrypt { ck::CKA_ENCRYPT } else { ck::CKA_DECRYPT };
        let k = self.usable_key(a, key, usage, mech.mtype)?;
        let value = super::crypto::secret_value(&k, |kt| kt == ck::CKK_AES)?;
        if (value.len() as u64) < entry.min_key || value.len() as u64 > entry.max_key {
            return Err(Error::KeySizeRange);
        }
        AesCipher::new(spec, value, encrypt)
    }

    /// Single-part CKM_AES_CCM / CKM_CHACHA20_POLY1305.
    fn aead_cipher(&self, a: &Access, mech: &Mechanism, key: ObjectHandle, encrypt: bool) -> Result<AeadCipher> {
        let flag = if encrypt { ck::CKF_ENCRYPT } else { ck::CKF_DECRYPT };
        let entry = registry::for_operation(mech.mtype, flag)?;
        let kind = crate::mech::aead::kind(mech.mtype).ok_or(Error::MechanismInvalid)?;
        let usage = if encrypt { ck::CKA_ENCRYPT } else { ck::CKA_DECRYPT };
        let k = self.usable_key(a, key, usage, mech.mtype)?;
        let value = super::crypto::secret_value(&k, |kt| kt == crate::mech::aead::key_type(kind))?;
        if (value.len() as u64) < entry.min_key || value.len() as u64 > entry.max_key {
            return Err(Error::KeySizeRange);
        }
        AeadCipher::new(mech.mtype, &mech.param, value, encrypt)
    }

    pub(crate) fn des_cipher(
        &self,
        a: &Access,
        mech: &Mechanism,
        key: ObjectHandle,
        encrypt: bool,
    ) -> Result<crate::mech::des::DesCipher> {
        use crate::mech::des::{key_type_ok, DesCipher, DesSpec};
        let spec = DesSpec::parse(mech.mtype, &mech.param)?;
        let usage = if encrypt { ck::CKA_ENCRYPT } else { ck::CKA_DECRYPT };
        let k = self.usable_key(a, key, usage, mech.mtype)?;
        let value = super::crypto::secret_value(&k, |kt| key_type_ok(mech.mtype, kt))?;
        DesCipher::new(spec, value, encrypt)
    }
    pub fn cipher_init(&self, h: SessionHandle, mech: &Mechanism, key: ObjectHandle, encrypt: bool) -> Result<()> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let mut ops = s.ops.lock();
        if ops.cipher(encrypt).is_some() {
            return Err(Error::OperationActive);
        }
        let flag = if encrypt { ck::CKF_ENCRYPT } else { ck::CKF_DECRYPT };
        registry::for_operation(mech.mtype, flag)?;
        let (cipher, needs_login) = match CryptAlg::parse(mech)? {
            None if matches!(mech.mtype, ck::CKM_AES_CCM | ck::CKM_CHACHA20_POLY1305) => {
                (Engine::Aead(self.aead_cipher(&a, mech, key, encrypt)?), false)
            }
            None if crate::mech::des::is_cipher(mech.mtype) => {
                (Engine::Des(self.des_cipher(&a, mech, key, encrypt)?), false)
            }
            None => (Engine::Aes(self.aes_cipher(&a, mech, key, encrypt)?), false),
            Some(alg) => {
                let (usage, want) = if encrypt {
                    (ck::CKA_ENCRYPT, ck::CKO_PUBLIC_KEY)
                } else {
                    (ck::CKA_DECRYPT, ck::CKO_PRIVATE_KEY)
                };
                let (k, obj) = self.asym_key(&a, key, usage, mech.mtype, want, true)?;
                if k.rsa().is_none() {
                    return Err(Error::KeyTypeInconsistent);
                }
                if k.legacy_rsa() {
                    return Err(Error::KeySizeRange);
                }
                let login = !encrypt && obj.bool(ck::CKA_ALWAYS_AUTHENTICATE);
                (Engine::Rsa(RsaCipher { alg, key: k, encrypt, buf: Zeroizing::new(Vec::new()) }), login)
            }
        };
        let state = CipherOp { encrypt, cipher: Some(cipher), ready: None };
        *ops.cipher(encrypt) = Some(Op { state, multipart: false, single: false, needs_login });
        Ok(())
    }

    /// C_Encrypt / C_Decrypt. `out` is the caller's buffer when it may be
    /// written directly (it does not overlap `data`): GCM then encrypts or
    /// decrypts straight into it, and a length query needs no work, since
    /// the output length is known exactly.
    pub fn cipher_oneshot(
        &self,
        h: SessionHandle,
        data: &[u8],
        cap: Option<usize>,
        out: Option<&mut [u8]>,
        encrypt: bool,
    ) -> Result<Produced> {
        {
            let s = self.m.session(h)?;
            let mut ops = s.ops.lock();
            let op_slot = ops.cipher(encrypt);
            if let Some(op) = op_slot.as_mut() {
                let direct = match (&op.state.cipher, &op.state.ready) {
                    (Some(Engine::Aes(c)), None) if !op.multipart && !op.needs_login => c.direct_len(data.len()),
                    _ => None,
                };
                if let Some(n) = direct {
                    match (cap, out) {
                        (None, _) => {
                            op.single = true;
                            return Ok(Produced::Length(n));
                        }
                        (Some(c), _) if c < n => {
                            op.single = true;
                            return Ok(Produced::TooSmall(n));
                        }
                        (Some(_), Some(buf)) => {
                            let Some(Engine::Aes(c)) = op.state.cipher.take() else {
                                return Err(Error::general("cipher state missing"));
                            };
                            *op_slot = None;
                            return c.oneshot_into(data, buf).map(Produced::Written);
                        }
                        (Some(_), None) => {}
                    }
                }
            }
        }
        self.cipher_finish_with(h, cap, encrypt, true, |c| c.oneshot(data))
    }

    /// C_EncryptFinal / C_DecryptFinal.
    pub fn cipher_final(&self, h: SessionHandle, cap: Option<usize>, encrypt: bool) -> Result<Produced> {
        self.cipher_finish_with(h, cap, encrypt, false, Engine::finish)
    }

    fn cipher_finish_with(
        &self,
        h: SessionHandle,
        cap: Option<usize>,
        encrypt: bool,
        single: bool,
        run: impl FnOnce(Engine) -> Result<Zeroizing<Vec<u8>>>,
    ) -> Result<Produced> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let op_slot = ops.cipher(encrypt);
        let op = op_slot.as_mut().ok_or(Error::OperationNotInitialized)?;
        if (single && op.multipart) || (!single && op.single) {
            *op_slot = None;
            return Err(Error::OperationActive);
        }
        if op.needs_login {
            *op_slot = None;
            return Err(Error::UserNotLoggedIn);
        }
        if op.state.ready.is_none() {
            let cipher = op.state.cipher.take().ok_or_else(|| Error::general("cipher state missing"))?;
            match run(cipher) {
                Ok(out) => op.state.ready = Some(out),
                Err(e) => {
                    *op_slot = None;
                    return Err(e);
                }
            }
        }
        let r = deliver(op_slot, cap);
        if single {
            super::crypto::keep_single(op_slot, &r);
        }
        r
    }

    /// C_EncryptUpdate / C_DecryptUpdate; the operation continues.
    pub fn cipher_update(&self, h: SessionHandle, data: &[u8], cap: Option<usize>, encrypt: bool) -> Result<Produced> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let op_slot = ops.cipher(encrypt);
        let op = super::crypto::multi_part(op_slot)?;
        if op.needs_login {
            *op_slot = None;
            return Err(Error::UserNotLoggedIn);
        }
        let Some(cipher) = op.state.cipher.as_mut() else {
            // A final's output is waiting: the operation is finishing.
            *op_slot = None;
            return Err(Error::OperationActive);
        };
        let n = cipher.update_len(data.len());
        match cap {
            None => return Ok(Produced::Length(n)),
            Some(c) if c < n => return Ok(Produced::TooSmall(n)),
            Some(_) => {}
        }
        op.multipart = true;
        match cipher.update(data) {
            Ok(mut out) if encrypt => Ok(Produced::Public(std::mem::take(&mut *out))),
            Ok(out) => Ok(Produced::Data(out)),
            Err(e) => {
                *op_slot = None;
                Err(e)
            }
        }
    }
}
