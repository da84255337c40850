//! C_Sign* / C_Verify*: MACs (HMAC, CMAC) and asymmetric signatures (RSA,
//! ECDSA, EdDSA) under the operation-state rules of `crypto`. Hashing
//! mechanisms digest as data arrives; the raw ones (CKM_RSA_PKCS,
//! CKM_ECDSA, CKM_EDDSA, ...) collect the data and sign it at the end.

use super::Sessions;
use std::sync::Arc;

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::crypto::{
    hmac_key_type_ok, keep_single, mac_general_len, multi_part, no_param, produce, secret_value, single_part, MacState,
    Op, Produced,
};
use super::ops::RecoverOp;
use super::{Access, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::aes::AesMac;
use crate::mech::asym::{digest_alg, SignAlg};
use crate::mech::digest::{self, ct_eq, Hasher, Hmac};
use crate::mech::keys::Key;
use crate::mech::registry;
use crate::model::{AttrType, Mechanism};

/// Data waiting to be signed: hashed as it comes, or kept whole.
enum Input {
    Hash(Hasher),
    Whole(Zeroizing<Vec<u8>>),
}

pub(crate) struct AsymSign {
    alg: SignAlg,
    key: Arc<Key>,
    input: Input,
}

pub(crate) enum SignState {
    Mac(MacState),
    Asym(AsymSign),
}

impl AsymSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.input {
            Input::Hash(h) => h.update(data),
            Input::Whole(buf) => {
                if buf.len().saturating_add(data.len()) > crate::model::mechanism::bound::operation_bytes() {
                    return Err(Error::DataLenRange);
                }
                // Allocation failure is an error, never an abort.
                buf.try_reserve(data.len()).map_err(|_| Error::HostMemory)?;
                buf.extend_from_slice(data)
            }
        }
        Ok(())
    }

    fn input(self) -> (SignAlg, Arc<Key>, Zeroizing<Vec<u8>>) {
        let data = match self.input {
            Input::Hash(h) => Zeroizing::new(h.finish()),
            Input::Whole(b) => b,
        };
        (self.alg, self.key, data)
    }
}

impl SignState {
    fn output_len(&self) -> usize {
        match self {
            SignState::Mac(m) => m.output_len(),
            SignState::Asym(a) => a.alg.sig_len(&a.key),
        }
    }

    fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            SignState::Mac(m) => m.update(data),
            SignState::Asym(a) => a.update(data),
        }
    }

    fn finish(self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            SignState::Mac(m) => m.finish(),
            SignState::Asym(a) => {
                let (alg, key, data) = a.input();
                Ok(Zeroizing::new(alg.sign(&key, &data)?))
            }
        }
    }

    fn check(self, sig: &[u8]) -> Result<()> {
        match self {
            SignState::Mac(m) => {
                if sig.len() != m.output_len() {
                    return Err(Error::SignatureLenRange);
                }
                if ct_eq(&m.finish()?, sig) {
                    Ok(())
                } else {
                    Err(Error::SignatureInvalid)
                }
            }
            SignState::Asym(a) => {
                let (alg, key, data) = a.input();
                alg.verify(&key, &data, sig)
            }
        }
    }
}

/// An operation on a CKA_ALWAYS_AUTHENTICATE key without the context login
/// ends with CKR_USER_NOT_LOGGED_IN.
pub(super) fn require_context_login<T>(slot: &mut Option<Op<T>>) -> Result<()> {
    if slot.as_ref().is_some_and(|o| o.needs_login) {
        *slot = None;
        return Err(Error::UserNotLoggedIn);
    }
    Ok(())
}

impl Sessions<'_> {
    fn mac_state(&self, a: &Access, mech: &Mechanism, key: ObjectHandle, usage: AttrType) -> Result<MacState> {
        if matches!(mech.mtype, ck::CKM_AES_CMAC | ck::CKM_AES_CMAC_GENERAL | ck::CKM_AES_MAC) {
            let out_len = match mech.mtype {
                ck::CKM_AES_CMAC_GENERAL => mac_general_len(mech)?,
                _ => {
                    no_param(mech)?;
                    16
                }
            };
            let k = self.usable_key(a, key, usage, mech.mtype)?;
            let value = secret_value(&k, |kt| kt == ck::CKK_AES)?;
            let mac =
                if mech.mtype == ck::CKM_AES_MAC { AesMac::cbc_mac(value)? } else { AesMac::cmac(value, out_len)? };
            return Ok(MacState::Aes(mac));
        }
        if crate::mech::des::is_mac(mech.mtype) {
            let general = match mech.mtype {
                ck::CKM_DES3_CMAC_GENERAL | ck::CKM_DES3_MAC_GENERAL => Some(mac_general_len(mech)?),
                _ => {
                    no_param(mech)?;
                    None
                }
            };
            let k = self.usable_key(a, key, usage, mech.mtype)?;
            let value = secret_value(&k, |kt| crate::mech::des::key_type_ok(mech.mtype, kt))?;
            return Ok(MacState::Des(crate::mech::des::DesMac::new(mech.mtype, value, general)?));
        }
        let alg = digest::algorithm(mech.mtype).ok_or(Error::MechanismInvalid)?;
        let out_len = if digest::is_general_hmac(mech.mtype) {
            mac_general_len(mech)?
        } else {
            no_param(mech)?;
            alg.output_len()
        };
        let k = self.usable_key(a, key, usage, mech.mtype)?;
        let value = secret_value(&k, |kt| hmac_key_type_ok(mech.mtype, kt))?;
        Ok(MacState::Hmac(Hmac::new(alg, value, out_len)?))
    }

    /// The state for a sign or verify operation, and whether its key wants
    /// a context-specific login first.
    fn sign_state(&self, a: &Access, mech: &Mechanism, key: ObjectHandle, sign: bool) -> Result<(SignState, bool)> {
        let (flag, usage) = if sign { (ck::CKF_SIGN, ck::CKA_SIGN) } else { (ck::CKF_VERIFY, ck::CKA_VERIFY) };
        registry::for_operation(mech.mtype, flag)?;
        let Some(alg) = SignAlg::parse(mech)? else {
            return Ok((SignState::Mac(self.mac_state(a, mech, key, usage)?), false));
        };
        let want = if sign { ck::CKO_PRIVATE_KEY } else { ck::CKO_PUBLIC_KEY };
        let (k, obj) = self.asym_key(a, key, usage, mech.mtype, want, true)?;
        alg.check_key(&k)?;
        let input = match alg.prehash() {
            Some(md) => Input::Hash(Hasher::new(digest_alg(md).into())),
            None => Input::Whole(Zeroizing::new(Vec::new())),
        };
        let login = sign && obj.bool(ck::CKA_ALWAYS_AUTHENTICATE);
        Ok((SignState::Asym(AsymSign { alg, key: k, input }), login))
    }

    /// An asymmetric key of class `want` usable for `usage` with `mech`;
    /// `is_use` false for a length query (see `check_key`).
    pub(crate) fn asym_key(
        &self,
        a: &Access,
        h: ObjectHandle,
        usage: AttrType,
        mech: ck::CK_MECHANISM_TYPE,
        want: ck::CK_OBJECT_CLASS,
        is_use: bool,
    ) -> Result<(Arc<Key>, Arc<crate::model::Object>)> {
        let found = self.key_object(a, h)?;
        if found.object().class() != want {
            return Err(if found.object().is_key() { Error::KeyTypeInconsistent } else { Error::KeyHandleInvalid });
        }
        let obj = self.check_key(a, found, usage, mech, is_use)?;
        Ok((self.operation_key(a, &obj)?, obj))
    }

    /// C_SignRecoverInit / C_VerifyRecoverInit: CKM_RSA_PKCS and
    /// CKM_RSA_X_509, with a key whose CKA_SIGN_RECOVER / CKA_VERIFY_RECOVER
    /// is true.
    pub fn recover_init(&self, h: SessionHandle, mech: &Mechanism, key: ObjectHandle, sign: bool) -> Result<()> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let mut ops = s.ops.lock();
        let slot = if sign { &mut ops.sign_recover } else { &mut ops.verify_recover };
        if slot.is_some() {
            return Err(Error::OperationActive);
        }
        let (flag, usage, want) = if sign {
            (ck::CKF_SIGN_RECOVER, ck::CKA_SIGN_RECOVER, ck::CKO_PRIVATE_KEY)
        } else {
            (ck::CKF_VERIFY_RECOVER, ck::CKA_VERIFY_RECOVER, ck::CKO_PUBLIC_KEY)
        };
        registry::for_operation(mech.mtype, flag)?;
        let alg = match SignAlg::parse(mech)? {
            Some(alg @ (SignAlg::RsaPkcs | SignAlg::RsaX509)) => alg,
            _ => return Err(Error::MechanismInvalid),
        };
        let (k, obj) = self.asym_key(&a, key, usage, mech.mtype, want, true)?;
        alg.check_key(&k)?;
        let needs_login = sign && obj.bool(ck::CKA_ALWAYS_AUTHENTICATE);
        *slot = Some(Op { state: RecoverOp { alg, key: k }, multipart: false, single: false, needs_login });
        Ok(())
    }

    /// C_SignRecover / C_VerifyRecover (single-part; the operation ends
    /// unless only a length was asked or the buffer was short). A length
    /// query for recovered data answers the modulus length, an upper bound
    /// the spec allows.
    pub fn recover(&self, h: SessionHandle, data: &[u8], cap: Option<usize>, sign: bool) -> Result<Produced> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let slot = if sign { &mut ops.sign_recover } else { &mut ops.verify_recover };
        let op = slot.as_ref().ok_or(Error::OperationNotInitialized)?;
        let k = op.state.alg.sig_len(&op.state.key);
        if sign {
            if cap.is_some_and(|c| c >= k) {
                require_context_login(slot)?;
            }
            return produce(
                slot,
                cap,
                |st: &RecoverOp| st.alg.sig_len(&st.key),
                |st| Ok(Zeroizing::new(st.alg.sign(&st.key, data)?)),
            );
        }
        let Some(c) = cap else { return Ok(Produced::Length(k)) };
        let out = match op.state.alg.recover(&op.state.key, data) {
            Ok(out) => out,
            Err(e) => {
                *slot = None;
                return Err(e);
            }
        };
        if c < out.len() {
            return Ok(Produced::TooSmall(out.len()));
        }
        *slot = None;
        Ok(Produced::Data(out))
    }

    fn start_sign(&self, h: SessionHandle, mech: &Mechanism, key: ObjectHandle, sign: bool) -> Result<()> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let mut ops = s.ops.lock();
        let slot = if sign { &mut ops.sign } else { &mut ops.verify };
        if slot.is_some() {
            return Err(Error::OperationActive);
        }
        let (state, needs_login) = self.sign_state(&a, mech, key, sign)?;
        *slot = Some(Op { state, multipart: false, single: false, needs_login });
        Ok(())
    }

    pub fn sign_init(&self, h: SessionHandle, mech: &Mechanism, key: ObjectHandle) -> Result<()> {
        self.start_sign(h, mech, key, true)
    }

    pub fn sign(&self, h: SessionHandle, data: &[u8], cap: Option<usize>) -> Result<Produced> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        single_part(&mut ops.sign)?;
        if will_produce(&ops.sign, cap) {
            require_context_login(&mut ops.sign)?;
        }
        let r = finish_sign(&mut ops.sign, cap, Some(data));
        keep_single(&mut ops.sign, &r);
        r
    }

    pub fn sign_update(&self, h: SessionHandle, data: &[u8]) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        multi_part(&mut ops.sign)?;
        require_context_login(&mut ops.sign)?;
        sign_update(&mut ops.sign, data)
    }

    pub fn sign_final(&self, h: SessionHandle, cap: Option<usize>) -> Result<Produced> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        multi_part(&mut ops.sign)?;
        if will_produce(&ops.sign, cap) {
            require_context_login(&mut ops.sign)?;
        }
        finish_sign(&mut ops.sign, cap, None)
    }

    pub fn verify_init(&self, h: SessionHandle, mech: &Mechanism, key: ObjectHandle) -> Result<()> {
        self.start_sign(h, mech, key, false)
    }

    /// Single-part verify; the operation ends whatever the outcome.
    pub fn verify(&self, h: SessionHandle, data: &[u8], sig: &[u8]) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        single_part(&mut ops.verify)?;
        let mut op = ops.verify.take().expect("checked by single_part");
        op.state.update(data)?;
        op.state.check(sig)
    }

    pub fn verify_update(&self, h: SessionHandle, data: &[u8]) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        sign_update(&mut ops.verify, data)
    }

    pub fn verify_final(&self, h: SessionHandle, sig: &[u8]) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let op = ops.verify.take().ok_or(Error::OperationNotInitialized)?;
        op.state.check(sig)
    }
}

/// Is this call going to compute the signature (not just a length)?
fn will_produce(slot: &Option<Op<SignState>>, cap: Option<usize>) -> bool {
    match (slot, cap) {
        (Some(op), Some(c)) => c >= op.state.output_len(),
        _ => false,
    }
}

/// C_Sign (with `data`) or C_SignFinal: the output protocol; an error
/// while signing ends the operation.
fn finish_sign(slot: &mut Option<Op<SignState>>, cap: Option<usize>, data: Option<&[u8]>) -> Result<Produced> {
    produce(slot, cap, SignState::output_len, |mut st| {
        if let Some(d) = data {
            st.update(d)?;
        }
        st.finish()
    })
}

/// C_SignUpdate / C_VerifyUpdate: an error ends the operation.
fn sign_update(slot: &mut Option<Op<SignState>>, data: &[u8]) -> Result<()> {
    let op = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    op.multipart = true;
    let r = op.state.update(data);
    if r.is_err() {
        *slot = None;
    }
    r
}
