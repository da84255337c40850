//! C_EncapsulateKey / C_DecapsulateKey (PKCS#11 3.2) with CKM_ML_KEM: the
//! shared secret becomes a new secret key object built from the caller's
//! template, as a derived key is: CKA_CLASS CKO_SECRET_KEY if given, the
//! key type the template's (a generic secret when it names none), CKA_VALUE
//! never given. Without CKA_VALUE_LEN the key is the whole 32-byte secret
//! (generic secret, AES-256, ChaCha20, HMAC types); a CKA_VALUE_LEN of 1 to
//! 32 that the key type allows takes the secret's leading bytes (an
//! AES-128 key, as python-pkcs11 asks for; a DES key's parity bits are not
//! set, so DES types are refused), more than 32 is TEMPLATE_INCONSISTENT; a
//! CKA_ENCAPSULATE_TEMPLATE / CKA_DECAPSULATE_TEMPLATE on the ML-KEM key
//! governs the new key as CKA_UNWRAP_TEMPLATE does an unwrapped one.

use super::Sessions;

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::crypto::Produced;
use super::newobj;
use super::{ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::pq::KEM_SHARED;
use crate::mech::{keygen, registry};
use crate::model::{policy, Mechanism, Object, Param, Template, Value};

/// The key type and length of the new key, after the template checks.
fn secret_template(tmpl: &Template) -> Result<(ck::CK_KEY_TYPE, usize)> {
    if tmpl.ulong(ck::CKA_CLASS).is_some_and(|c| c != ck::CKO_SECRET_KEY) || tmpl.contains(ck::CKA_VALUE) {
        return Err(Error::TemplateInconsistent);
    }
    let len = match tmpl.ulong(ck::CKA_VALUE_LEN) {
        None => KEM_SHARED,
        Some(l) if (1..=KEM_SHARED as u64).contains(&l) => l as usize,
        Some(_) => return Err(Error::TemplateInconsistent),
    };
    let key_type = tmpl.ulong(ck::CKA_KEY_TYPE).unwrap_or(ck::CKK_GENERIC_SECRET);
    if matches!(key_type, ck::CKK_DES | ck::CKK_DES2 | ck::CKK_DES3) {
        return Err(Error::TemplateInconsistent);
    }
    keygen::check_secret_len(key_type, len).map_err(|_| Error::TemplateInconsistent)?;
    Ok((key_type, len))
}

/// The new key's value: the secret's leading `len` bytes.
fn leading(mut secret: Zeroizing<Vec<u8>>, len: usize) -> Zeroizing<Vec<u8>> {
    secret.truncate(len);
    secret
}

/// The caller's template with the key's governing template applied.
fn governed<'t>(
    tmpl: &'t Template,
    key: &Object,
    which: ck::CK_ATTRIBUTE_TYPE,
) -> Result<std::borrow::Cow<'t, Template>> {
    match key.get(which) {
        Some(Value::Template(t)) => newobj::governed(tmpl, t).map(std::borrow::Cow::Owned),
        _ => Ok(std::borrow::Cow::Borrowed(tmpl)),
    }
}

fn no_param(mech: &Mechanism) -> Result<()> {
    match mech.param {
        Param::None => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

impl Sessions<'_> {
    /// C_EncapsulateKey: the ciphertext under the public key `key` and,
    /// once the caller's buffer takes it, the new key's handle. A length
    /// query or a short buffer makes no key.
    pub fn encapsulate_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        key: ObjectHandle,
        tmpl: &Template,
        cap: Option<usize>,
    ) -> Result<(Produced, Option<ObjectHandle>)> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        registry::for_operation(mech.mtype, ck::CKF_ENCAPSULATE)?;
        no_param(mech)?;
        // A length query (or a short buffer) checks the key but is not a
        // use of it: it is answered before the template is looked at, and
        // the call that makes the key checks that (and is audited).
        let (k, obj) = self.asym_key(&a, key, ck::CKA_ENCAPSULATE, mech.mtype, ck::CKO_PUBLIC_KEY, false)?;
        let pq = k.pq().ok_or(Error::KeyTypeInconsistent)?;
        let ct_len = pq.ciphertext_len()?;
        if let Some(p) = Produced::query(ct_len, cap) {
            return Ok((p, None));
        }
        self.audit_use(&a, &obj, ck::CKA_ENCAPSULATE, mech.mtype, &Ok(()));
        let tmpl = &*governed(tmpl, &obj, ck::CKA_ENCAPSULATE_TEMPLATE)?;
        let (key_type, len) = secret_template(tmpl)?;
        let checked = newobj::Checked::new(policy::SECRET, tmpl, a.is_so())?;
        let (ct, secret) = pq.encapsulate()?;
        let obj = newobj::secret_key(&checked, key_type, leading(secret, len), None)?;
        let handle = self.m.objects().store_new(&a, &s, obj)?;
        Ok((Produced::Public(ct), Some(handle)))
    }

    /// C_DecapsulateKey: the secret the ciphertext carries for the private
    /// key `key`, as a new key.
    pub fn decapsulate_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        key: ObjectHandle,
        tmpl: &Template,
        ct: &[u8],
    ) -> Result<ObjectHandle> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        registry::for_operation(mech.mtype, ck::CKF_DECAPSULATE)?;
        no_param(mech)?;
        let (k, obj) = self.asym_key(&a, key, ck::CKA_DECAPSULATE, mech.mtype, ck::CKO_PRIVATE_KEY, true)?;
        let pq = k.pq().ok_or(Error::KeyTypeInconsistent)?;
        let tmpl = &*governed(tmpl, &obj, ck::CKA_DECAPSULATE_TEMPLATE)?;
        let (key_type, len) = secret_template(tmpl)?;
        let checked = newobj::Checked::new(policy::SECRET, tmpl, a.is_so())?;
        let secret: Zeroizing<Vec<u8>> = pq.decapsulate(ct)?;
        let mut new = newobj::secret_key(&checked, key_type, leading(secret, len), None)?;
        // As a derived key: sensitive and never-extractable history follow
        // the private key's.
        let always = obj.bool(ck::CKA_ALWAYS_SENSITIVE) && new.bool(ck::CKA_SENSITIVE);
        let never = obj.bool(ck::CKA_NEVER_EXTRACTABLE) && !new.bool(ck::CKA_EXTRACTABLE);
        new.set(ck::CKA_ALWAYS_SENSITIVE, crate::model::Value::Bool(always));
        new.set(ck::CKA_NEVER_EXTRACTABLE, crate::model::Value::Bool(never));
        self.m.objects().store_new(&a, &s, new)
    }
}
