//! Digest, sign and verify operations and their state rules (PKCS#11 §5.2):
//! one operation of each kind per session; `*Init` while active is
//! CKR_OPERATION_ACTIVE; a length query or a too-short buffer keeps the
//! operation; success or any other error ends it; a single-part call after
//! an `Update` ends it with CKR_OPERATION_ACTIVE, and so does an `Update` or
//! `Final` after a single-part call that answered a length (the operation
//! stays single-part).

use super::Sessions;
use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::{Access, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::aes::AesMac;
use crate::mech::digest::{self, Hasher, Hmac};
use crate::mech::registry;
use crate::model::{AttrType, MechType, Mechanism, Object, Param, Value};

/// What a call that produces output hands back to the boundary.
pub enum Produced {
    /// The caller asked for the length only; the operation continues.
    Length(usize),
    /// The caller's buffer is too short; the operation continues.
    TooSmall(usize),
    /// The output; the operation has ended. Wiped when dropped.
    Data(Zeroizing<Vec<u8>>),
    /// Output that is not secret (ciphertext): not worth wiping.
    Public(Vec<u8>),
    /// This many bytes were written straight into the caller's buffer; the
    /// operation has ended.
    Written(usize),
}

impl Produced {
    /// The output protocol when the length is known before the work: a
    /// length query or a short buffer answers here; None means `len` bytes
    /// fit and the work should be done.
    pub fn query(len: usize, cap: Option<usize>) -> Option<Produced> {
        match cap {
            None => Some(Produced::Length(len)),
            Some(c) if c < len => Some(Produced::TooSmall(len)),
            Some(_) => None,
        }
    }

    /// Non-secret output under the protocol.
    pub fn public(out: Vec<u8>, cap: Option<usize>) -> Produced {
        Produced::query(out.len(), cap).unwrap_or(Produced::Public(out))
    }
}

impl Drop for Produced {
    fn drop(&mut self) {
        if let Produced::Data(d) = self {
            crate::mech::prims::wipe(d);
        }
    }
}

/// A multi-part-capable operation of one kind.
pub(crate) struct Op<T> {
    pub state: T,
    pub multipart: bool,
    /// A single-part call answered a length (or a too-short buffer): the
    /// operation may only be finished by that call.
    pub single: bool,
    /// The key is CKA_ALWAYS_AUTHENTICATE and C_Login(CKU_CONTEXT_SPECIFIC)
    /// has not been called since the operation started.
    pub needs_login: bool,
}

impl<T> Op<T> {
    pub fn new(state: T) -> Op<T> {
        Op { state, multipart: false, single: false, needs_login: false }
    }
}

pub(crate) enum MacState {
    Hmac(Hmac),
    Aes(AesMac),
    Des(crate::mech::des::DesMac),
}

impl MacState {
    pub(super) fn output_len(&self) -> usize {
        match self {
            MacState::Hmac(h) => h.output_len(),
            MacState::Aes(m) => m.output_len(),
            MacState::Des(m) => m.output_len(),
        }
    }
    pub(super) fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            MacState::Hmac(h) => {
                h.update(data);
                Ok(())
            }
            MacState::Aes(m) => m.update(data),
            MacState::Des(m) => m.update(data),
        }
    }
    pub(super) fn finish(self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            MacState::Hmac(h) => Ok(h.finish()),
            MacState::Aes(m) => m.finish(),
            MacState::Des(m) => m.finish(),
        }
    }
}

/// Finishes an operation held in `slot` with the output protocol.
pub(super) fn produce<T>(
    slot: &mut Option<Op<T>>,
    cap: Option<usize>,
    len: impl Fn(&T) -> usize,
    finish: impl FnOnce(T) -> Result<Zeroizing<Vec<u8>>>,
) -> Result<Produced> {
    let op = slot.as_ref().ok_or(Error::OperationNotInitialized)?;
    let n = len(&op.state);
    match cap {
        None => Ok(Produced::Length(n)),
        Some(c) if c < n => Ok(Produced::TooSmall(n)),
        Some(_) => Ok(Produced::Data(finish(slot.take().expect("checked above").state)?)),
    }
}

/// A single-part call: refused (ending the operation) after an Update.
pub(super) fn single_part<T>(slot: &mut Option<Op<T>>) -> Result<&mut Op<T>> {
    match slot {
        None => Err(Error::OperationNotInitialized),
        Some(op) if op.multipart => {
            *slot = None;
            Err(Error::OperationActive)
        }
        Some(op) => Ok(op),
    }
}

/// After a single-part call: one that answered a length or a too-short
/// buffer keeps the operation single-part.
pub(super) fn keep_single<T>(slot: &mut Option<Op<T>>, r: &Result<Produced>) {
    if let (Some(op), Ok(Produced::Length(_) | Produced::TooSmall(_))) = (slot.as_mut(), r) {
        op.single = true;
    }
}

/// An `Update` or `Final` call: refused (ending the operation) after a
/// single-part call answered a length.
pub(super) fn multi_part<T>(slot: &mut Option<Op<T>>) -> Result<&mut Op<T>> {
    match slot {
        None => Err(Error::OperationNotInitialized),
        Some(op) if op.single => {
            *slot = None;
            Err(Error::OperationActive)
        }
        Some(op) => Ok(op),
    }
}

pub(super) fn no_param(m: &Mechanism) -> Result<()> {
    match m.param {
        Param::None => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// CK_MAC_GENERAL_PARAMS: a CK_ULONG output length.
pub(super) fn mac_general_len(m: &Mechanism) -> Result<usize> {
    usize::try_from(ulong_param(m)?).map_err(|_| Error::MechanismParamInvalid)
}

/// A parameter that is one CK_ULONG (CK_MAC_GENERAL_PARAMS,
/// CK_OBJECT_HANDLE, CK_EXTRACT_PARAMS).
pub(super) fn ulong_param(m: &Mechanism) -> Result<ck::CK_ULONG> {
    match &m.param {
        Param::Bytes(b) if b.len() == std::mem::size_of::<ck::CK_ULONG>() => {
            Ok(ck::CK_ULONG::from_ne_bytes(b[..].try_into().map_err(|_| Error::MechanismParamInvalid)?))
        }
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Key types an HMAC mechanism accepts: generic secrets, the matching
/// CKK_SHA*_HMAC type, and AES keys (which several tools use for HMAC).
pub(super) fn hmac_key_type_ok(m: MechType, kt: ck::CK_KEY_TYPE) -> bool {
    let specific = match digest::algorithm(m).map(|a| a.output_len()) {
        Some(20) => ck::CKK_SHA_1_HMAC,
        Some(28) if matches!(m, ck::CKM_SHA3_224_HMAC | ck::CKM_SHA3_224_HMAC_GENERAL) => ck::CKK_SHA3_224_HMAC,
        Some(28) => ck::CKK_SHA224_HMAC,
        Some(32) if matches!(m, ck::CKM_SHA3_256_HMAC | ck::CKM_SHA3_256_HMAC_GENERAL) => ck::CKK_SHA3_256_HMAC,
        Some(32) => ck::CKK_SHA256_HMAC,
        Some(48) if matches!(m, ck::CKM_SHA3_384_HMAC | ck::CKM_SHA3_384_HMAC_GENERAL) => ck::CKK_SHA3_384_HMAC,
        Some(48) => ck::CKK_SHA384_HMAC,
        Some(64) if matches!(m, ck::CKM_SHA3_512_HMAC | ck::CKM_SHA3_512_HMAC_GENERAL) => ck::CKK_SHA3_512_HMAC,
        Some(64) => ck::CKK_SHA512_HMAC,
        _ => return false,
    };
    kt == specific || kt == ck::CKK_GENERIC_SECRET || kt == ck::CKK_AES
}

/// The value of a secret key whose type `accepts` takes, else
/// CKR_KEY_TYPE_INCONSISTENT.
pub(crate) fn secret_value(k: &Object, accepts: impl Fn(ck::CK_KEY_TYPE) -> bool) -> Result<&[u8]> {
    if k.class() != ck::CKO_SECRET_KEY || !k.ulong(ck::CKA_KEY_TYPE).is_some_and(accepts) {
        return Err(Error::KeyTypeInconsistent);
    }
    k.bytes(ck::CKA_VALUE).ok_or_else(|| Error::general("secret key without a value"))
}

impl Sessions<'_> {
    /// The usage flag, a KMS key's state and KMS-only use.
    fn key_allows(o: &Object, usage: AttrType, mech: MechType) -> Result<()> {
        use crate::vendor::{CKA_FHSM_KMS, CKM_FHSM_KMS_WRAP};
        let kms = o.bool(CKA_FHSM_KMS);
        if kms {
            super::kms::state_check(o)?;
        }
        if kms != (mech == CKM_FHSM_KMS_WRAP) {
            // A master key serves only KMS calls and the KMS wrap; its raw
            // use would outlive a rotation. The KMS wrap needs a master key.
            return Err(if kms { Error::KeyFunctionNotPermitted } else { Error::KeyTypeInconsistent });
        }
        if !o.bool(usage) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        Ok(())
    }

    /// Audits a use of `o` (every key use is, session keys too); KMS keys
    /// are audited by the KMS calls, with the version used.
    pub(crate) fn audit_use(&self, a: &Access, o: &Object, usage: AttrType, mech: MechType, r: &Result<()>) {
        if o.bool(crate::vendor::CKA_FHSM_KMS) {
            return;
        }
        let event = match usage {
            ck::CKA_ENCRYPT => "encrypt",
            ck::CKA_DECRYPT => "decrypt",
            ck::CKA_SIGN => "sign",
            ck::CKA_VERIFY => "verify",
            ck::CKA_WRAP => "wrap",
            ck::CKA_UNWRAP => "unwrap",
            ck::CKA_DERIVE => "derive",
            ck::CKA_ENCAPSULATE => "encapsulate",
            ck::CKA_DECAPSULATE => "decapsulate",
            _ => "use",
        };
        let key = o.bytes(ck::CKA_UNIQUE_ID).map(String::from_utf8_lossy).unwrap_or_default();
        let rec = super::audit::Record {
            key: &key,
            version: o.ulong(crate::vendor::CKA_FHSM_KEY_VERSION).unwrap_or(0),
            mechanism: Some(mech),
            ..super::audit::Record::of(a, event)
        };
        self.m.audit().key_use(&rec.result(r));
    }

    /// A key for an operation: handle errors become CKR_KEY_HANDLE_INVALID,
    /// the usage attribute and CKA_ALLOWED_MECHANISMS are enforced.
    pub(crate) fn usable_key(
        &self,
        a: &Access,
        h: ObjectHandle,
        usage: AttrType,
        mech: MechType,
    ) -> Result<std::sync::Arc<Object>> {
        self.check_usable(a, self.key_object(a, h)?, usage, mech)
    }

    /// The object behind a key handle: the session's kept copy, else looked
    /// up (and kept). Handle errors become CKR_KEY_HANDLE_INVALID.
    pub(crate) fn key_object(&self, a: &Access, h: ObjectHandle) -> Result<super::Found> {
        let handle_err = |e| match e {
            Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
            e => e,
        };
        Ok(match self.m.objects().kept_key(a, h).map_err(handle_err)? {
            Some(f) => f,
            None => self.m.objects().keep_key(a, self.m.objects().find_for_use(a, h).map_err(handle_err)?),
        })
    }

    /// The checks of `usable_key` on a key already found.
    pub(crate) fn check_usable(
        &self,
        a: &Access,
        found: super::Found,
        usage: AttrType,
        mech: MechType,
    ) -> Result<std::sync::Arc<Object>> {
        self.check_key(a, found, usage, mech, true)
    }

    /// The checks of `check_usable`; `is_use` false for a call that only
    /// asks an output length with the key (not a use, so not audited: the
    /// call that uses the key audits it with `audit_use`).
    pub(crate) fn check_key(
        &self,
        a: &Access,
        found: super::Found,
        usage: AttrType,
        mech: MechType,
        is_use: bool,
    ) -> Result<std::sync::Arc<Object>> {
        let o = found.object();
        if !o.is_key() {
            return Err(Error::KeyHandleInvalid);
        }
        let r = Self::key_allows(o, usage, mech);
        if is_use || r.is_err() {
            self.audit_use(a, o, usage, mech, &r);
        }
        r?;
        // An empty CKA_ALLOWED_MECHANISMS means "no restriction", and that
        // is the only meaning it has here: it is the value every key gets
        // by default (policy::defaults), it reads back as zero mechanisms,
        // and it restricts nothing. The spec (3.0 §4.4) defines the list's
        // entries as ulValueLen / sizeof(CK_MECHANISM_TYPE) and gives a
        // zero-length list no meaning of its own; SoftHSM and OpenSC read
        // it the same way. "Nothing allowed" would make every default key
        // unusable; a key meant for nothing has its usage flags false.
        if let Some(Value::MechList(allowed)) = o.get(ck::CKA_ALLOWED_MECHANISMS) {
            if !allowed.is_empty() && !allowed.contains(&mech) {
                return Err(Error::MechanismInvalid);
            }
        }
        if !o.locked.is_empty() {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(found.into_object())
    }

    pub fn digest_init(&self, h: SessionHandle, mech: &Mechanism) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        if ops.digest.is_some() {
            return Err(Error::OperationActive);
        }
        registry::for_operation(mech.mtype, ck::CKF_DIGEST)?;
        no_param(mech)?;
        let alg = digest::algorithm(mech.mtype).ok_or(Error::MechanismInvalid)?;
        ops.digest = Some(Op::new(Hasher::new(alg)));
        Ok(())
    }

    pub fn digest(&self, h: SessionHandle, data: &[u8], cap: Option<usize>) -> Result<Produced> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        single_part(&mut ops.digest)?;
        let r = produce(&mut ops.digest, cap, Hasher::output_len, |mut d| {
            d.update(data);
            Ok(Zeroizing::new(d.finish()))
        });
        keep_single(&mut ops.digest, &r);
        r
    }

    pub fn digest_update(&self, h: SessionHandle, data: &[u8]) -> Result<()> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        let op = multi_part(&mut ops.digest)?;
        op.multipart = true;
        super::hooks::panic_point("C_DigestUpdate");
        op.state.update(data);
        Ok(())
    }

    /// C_DigestKey: digests a secret key's value (which never leaves).
    pub fn digest_key(&self, h: SessionHandle, key: ObjectHandle) -> Result<()> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let mut ops = s.ops.lock();
        multi_part(&mut ops.digest)?;
        let value = match self.m.objects().find_for_use(&a, key) {
            Ok(f) if f.object().class() == ck::CKO_SECRET_KEY => match f.object().bytes(ck::CKA_VALUE) {
                Some(v) => Ok(Zeroizing::new(v.to_vec())),
                None => Err(Error::UserNotLoggedIn),
            },
            Ok(_) => Err(Error::KeyIndigestible),
            Err(Error::ObjectHandleInvalid) => Err(Error::KeyHandleInvalid),
            Err(e) => Err(e),
        };
        match value {
            Ok(v) => {
                let op = ops.digest.as_mut().expect("checked above");
                op.multipart = true;
                op.state.update(&v);
                Ok(())
            }
            Err(e) => {
                ops.digest = None;
                Err(e)
            }
        }
    }

    pub fn digest_final(&self, h: SessionHandle, cap: Option<usize>) -> Result<Produced> {
        let s = self.m.session(h)?;
        let mut ops = s.ops.lock();
        multi_part(&mut ops.digest)?;
        produce(&mut ops.digest, cap, Hasher::output_len, |d| Ok(Zeroizing::new(d.finish())))
    }
}
