//! The PKCS#11 3.0 message-based encryption and decryption functions
//! (C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin/Next,
//! C_MessageEncryptFinal and the decrypt side) over `mech::aead`.
//!
//! State rules: one message-encryption and one message-decryption
//! operation per session (a second init is CKR_OPERATION_ACTIVE); calls
//! without one are CKR_OPERATION_NOT_INITIALIZED; a message begun and not
//! yet ended (no CKF_END_OF_MESSAGE) makes C_EncryptMessage and another
//! Begin CKR_OPERATION_ACTIVE; only the Final call (or C_SessionCancel)
//! ends the operation. An error in a per-message call ends the message in
//! progress, never the operation; a length query or a too-short buffer
//! changes nothing (no IV is generated for it).
//!
//! The per-message functions' return codes (PKCS#11 3.0 §5.13) do not
//! include CKR_MECHANISM_PARAM_INVALID: a bad message parameter there is
//! CKR_ARGUMENTS_BAD (it is an argument of that call). A counter IV that
//! would wrap is CKR_KEY_EXHAUSTED.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::crypto::Produced;
use super::{ObjectHandle, SessionHandle, Sessions};
use crate::error::{Error, Result};
use crate::mech::aead::{self, Kind, Message};
use crate::mech::msgiv::IvState;
use crate::mech::registry;
use crate::model::MechType;

/// One message parameter (CK_GCM_MESSAGE_PARAMS, CK_CCM_MESSAGE_PARAMS or
/// CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS), copied at the boundary.
pub struct MsgParam {
    pub kind: Kind,
    /// The caller's IV (nonce) buffer as passed in.
    pub iv: Vec<u8>,
    pub fixed_bits: u64,
    pub generator: ck::CK_GENERATOR_FUNCTION,
    pub tag_len: usize,
    /// Decrypting: the tag read from the parameter's tag buffer (read only
    /// when `tag_len` bytes are there to read).
    pub tag: Vec<u8>,
    /// CCM's ulDataLen.
    pub data_len: Option<u64>,
}

/// What a per-message call hands back: the output under the length
/// protocol, and what the boundary writes into the parameter (the IV the
/// message used, the tag it made).
pub struct MsgOut {
    pub out: Produced,
    pub iv: Option<Vec<u8>>,
    pub tag: Option<Vec<u8>>,
}

impl MsgOut {
    fn only(out: Produced) -> MsgOut {
        MsgOut { out, iv: None, tag: None }
    }
}

pub(crate) struct MsgOp {
    kind: Kind,
    key: Zeroizing<Vec<u8>>,
    encrypt: bool,
    ivs: IvState,
    /// The message begun and not yet ended.
    active: Option<Message>,
}

fn arg(e: Error) -> Error {
    match e {
        Error::MechanismParamInvalid => Error::ArgumentsBad,
        e => e,
    }
}

fn flag(encrypt: bool) -> ck::CK_FLAGS {
    if encrypt {
        ck::CKF_MESSAGE_ENCRYPT
    } else {
        ck::CKF_MESSAGE_DECRYPT
    }
}

impl MsgOp {
    /// The IV for a message about to run: generated (and remembered) when
    /// encrypting, the caller's when decrypting.
    fn iv_for(&mut self, p: &MsgParam) -> Result<Vec<u8>> {
        if p.kind != self.kind {
            return Err(Error::ArgumentsBad);
        }
        aead::check_lengths(self.kind, p.iv.len(), p.tag_len).map_err(arg)?;
        if !self.encrypt {
            return Ok(p.iv.clone());
        }
        self.ivs.next(p.generator, p.fixed_bits, &p.iv).map_err(arg)
    }

    fn start(&self, p: &MsgParam, iv: &[u8], aad: &[u8]) -> Result<Message> {
        Message::start(self.kind, &self.key, iv, aad, p.tag_len, self.encrypt, p.data_len).map_err(arg)
    }

    /// A parameter's checks that need no state change (for length queries).
    fn precheck(&self, p: &MsgParam) -> Result<()> {
        if p.kind != self.kind {
            return Err(Error::ArgumentsBad);
        }
        aead::check_lengths(self.kind, p.iv.len(), p.tag_len).map_err(arg)?;
        if self.encrypt {
            crate::mech::msgiv::check(p.generator, p.fixed_bits, p.iv.len()).map_err(arg)?;
        }
        Ok(())
    }
}

impl Sessions<'_> {
    fn msg_slot(ops: &mut super::ops::Ops, encrypt: bool) -> &mut Option<MsgOp> {
        if encrypt {
            &mut ops.msg_encrypt
        } else {
            &mut ops.msg_decrypt
        }
    }

    /// C_MessageEncryptInit / C_MessageDecryptInit.
    pub fn message_init(&self, h: SessionHandle, mtype: MechType, key: ObjectHandle, encrypt: bool) -> Result<()> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let mut ops = s.ops.lock();
        if Self::msg_slot(&mut ops, encrypt).is_some() {
            return Err(Error::OperationActive);
        }
        let entry = registry::for_operation(mtype, flag(encrypt))?;
        let kind = aead::kind(mtype).ok_or(Error::MechanismInvalid)?;
        let usage = if encrypt { ck::CKA_ENCRYPT } else { ck::CKA_DECRYPT };
        let k = self.usable_key(&a, key, usage, mtype)?;
        let value = super::crypto::secret_value(&k, |t| t == aead::key_type(kind))?;
        if (value.len() as u64) < entry.min_key || value.len() as u64 > entry.max_key {
            return Err(Error::KeySizeRange);
        }
        *Self::msg_slot(&mut ops, encrypt) =
            Some(MsgOp { kind, key: Zeroizing::new(value.to_vec()), encrypt, ivs: IvState::default(), active: None });
        Ok(())
    }

    /// C_EncryptMessage / C_DecryptMessage: one whole message.
    pub fn message_oneshot(
        &self,
        h: SessionHandle,
        p: &MsgParam,
        aad: &[u8],
        data: &[u8],
        cap: Option<usize>,
        encrypt: bool,
    ) -> Result<MsgOut> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let op = Self::msg_slot(&mut ops, encrypt).as_mut().ok_or(Error::OperationNotInitialized)?;
        if op.active.is_some() {
            return Err(Error::OperationActive);
        }
        op.precheck(p)?;
        if let Some(q) = Produced::query(data.len(), cap) {
            return Ok(MsgOut::only(q));
        }
        let iv = op.iv_for(p)?;
        let tag = (!encrypt).then_some(&p.tag[..]);
        let (out, made) = op.start(p, &iv, aad)?.end(data, tag)?;
        Ok(if encrypt {
            MsgOut { out: Produced::Public(out.to_vec()), iv: Some(iv), tag: Some(made) }
        } else {
            MsgOut::only(Produced::Data(out))
        })
    }

    /// C_EncryptMessageBegin / C_DecryptMessageBegin; returns the IV used
    /// (encrypting).
    pub fn message_begin(&self, h: SessionHandle, p: &MsgParam, aad: &[u8], encrypt: bool) -> Result<Option<Vec<u8>>> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let op = Self::msg_slot(&mut ops, encrypt).as_mut().ok_or(Error::OperationNotInitialized)?;
        if op.active.is_some() {
            return Err(Error::OperationActive);
        }
        op.precheck(p)?;
        let iv = op.iv_for(p)?;
        op.active = Some(op.start(p, &iv, aad)?);
        Ok(encrypt.then_some(iv))
    }

    /// C_EncryptMessageNext / C_DecryptMessageNext.
    pub fn message_next(
        &self,
        h: SessionHandle,
        p: &MsgParam,
        data: &[u8],
        cap: Option<usize>,
        end: bool,
        encrypt: bool,
    ) -> Result<MsgOut> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let op = Self::msg_slot(&mut ops, encrypt).as_mut().ok_or(Error::OperationNotInitialized)?;
        let Some(msg) = op.active.as_mut() else {
            return Err(Error::OperationNotInitialized);
        };
        if p.kind != op.kind || p.tag_len != msg.tag_len() {
            op.active = None;
            return Err(Error::ArgumentsBad);
        }
        let n = if end { msg.end_len(data.len()) } else { msg.next_len(data.len()) };
        if let Some(q) = Produced::query(n, cap) {
            return Ok(MsgOut::only(q));
        }
        let r = if end {
            let msg = op.active.take().expect("checked above");
            let tag = (!encrypt).then_some(&p.tag[..]);
            msg.end(data, tag).map(|(out, t)| (out, encrypt.then_some(t)))
        } else {
            msg.next(data).map(|out| (out, None))
        };
        match r {
            Ok((out, tag)) => {
                let out = if encrypt { Produced::Public(out.to_vec()) } else { Produced::Data(out) };
                Ok(MsgOut { out, iv: None, tag })
            }
            Err(e) => {
                op.active = None;
                Err(e)
            }
        }
    }

    /// Ends the message in progress, if any (an argument fault the
    /// boundary found in a `Next` call).
    pub fn message_abort(&self, h: SessionHandle, encrypt: bool) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        if let Some(op) = Self::msg_slot(&mut ops, encrypt).as_mut() {
            op.active = None;
        }
        Ok(())
    }

    /// C_MessageEncryptFinal / C_MessageDecryptFinal.
    pub fn message_final(&self, h: SessionHandle, encrypt: bool) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        Self::msg_slot(&mut ops, encrypt).take().ok_or(Error::OperationNotInitialized)?;
        Ok(())
    }
}
