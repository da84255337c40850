//! C_GenerateKeyPair (RSA, EC, Ed25519, X25519, ML-KEM, ML-DSA) and the checks for
//! importing asymmetric keys with C_CreateObject: components in, derived
//! public attributes (CKA_PUBLIC_KEY_INFO, CKA_EC_POINT, ...) computed.

use super::Sessions;
use std::sync::Arc;

use cryptoki_sys as ck;

use super::newobj;
use super::{Access, Found, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::curve::CurveId;
use crate::mech::dlog::DlogKey;
use crate::mech::keys::Key;
use crate::mech::pq::{PqKey, Set};
use crate::mech::registry;
use crate::model::{policy, Mechanism, Object, Param, Template};

/// An RSA public exponent: odd and greater than 1 (leading zeros allowed).
fn check_exponent(e: &[u8]) -> Result<()> {
    let e = &e[e.iter().position(|b| *b != 0).unwrap_or(e.len())..];
    if e.is_empty() || e.len() > 8 || e[e.len() - 1] & 1 == 0 || e == [1] {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(())
}

fn parse(obj: &Object) -> Result<Arc<Key>> {
    Ok(Arc::new(Key::from_object(obj, false).map_err(|e| Error::general(format!("stored key unusable: {e:?}")))?))
}

/// A DSA or DH key pair from the domain parameters in the public template
/// (CKA_PRIME, CKA_BASE, and CKA_SUBPRIME for DSA); a private template
/// may repeat them, not contradict them; a DH private template may ask
/// for CKA_VALUE_BITS.
fn dlog_pair(kt: ck::CK_KEY_TYPE, entry: &registry::Entry, pub_tmpl: &Template, priv_tmpl: &Template) -> Result<Key> {
    let mut params = vec![ck::CKA_PRIME, ck::CKA_BASE];
    if kt == ck::CKK_DSA {
        params.push(ck::CKA_SUBPRIME);
    }
    let mut got = Vec::new();
    for a in &params {
        let v = pub_tmpl.bytes(*a).ok_or(Error::TemplateIncomplete)?;
        if priv_tmpl.bytes(*a).is_some_and(|pv| pv != v) {
            return Err(Error::TemplateInconsistent);
        }
        got.push(v);
    }
    let p = got[0];
    let lead = p.iter().position(|b| *b != 0).unwrap_or(p.len());
    let bits = p[lead..].first().map_or(0, |f| (p.len() - lead) * 8 - f.leading_zeros() as usize) as u64;
    if bits < entry.min_key || bits > entry.max_key {
        return Err(Error::KeySizeRange);
    }
    Ok(if kt == ck::CKK_DSA {
        Key::Dsa(DlogKey::generate_dsa(p, got[2], got[1])?)
    } else {
        let vb = priv_tmpl.ulong(ck::CKA_VALUE_BITS).unwrap_or(0);
        if vb >= bits || (vb > 0 && vb < 160) {
            return Err(Error::AttributeValueInvalid);
        }
        Key::Dh(DlogKey::generate_dh(p, got[1], vb)?)
    })
}

impl Sessions<'_> {
    /// The parsed key for an operation: made once per object and kept with
    /// it (`Object::memo`). A session's kept copy of a key (see
    /// `session::Kept`) is its own object, so two sessions on two threads
    /// share neither the parsed key nor any map of them.
    pub(crate) fn operation_key(&self, _a: &Access, obj: &Arc<Object>) -> Result<Arc<Key>> {
        obj.memo.get_or_make(|| parse(obj))
    }

    pub fn generate_key_pair(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        pub_tmpl: &Template,
        priv_tmpl: &Template,
    ) -> Result<(ObjectHandle, ObjectHandle)> {
        let s = self.m.session(h)?;
        let a = self.m.access(&s)?;
        let entry = registry::for_operation(mech.mtype, ck::CKF_GENERATE_KEY_PAIR)?;
        if !matches!(mech.param, Param::None) {
            return Err(Error::MechanismParamInvalid);
        }
        let key_type = match mech.mtype {
            ck::CKM_RSA_PKCS_KEY_PAIR_GEN => ck::CKK_RSA,
            ck::CKM_EC_KEY_PAIR_GEN => ck::CKK_EC,
            ck::CKM_EC_EDWARDS_KEY_PAIR_GEN => ck::CKK_EC_EDWARDS,
            ck::CKM_ML_KEM_KEY_PAIR_GEN => ck::CKK_ML_KEM,
            ck::CKM_ML_DSA_KEY_PAIR_GEN => ck::CKK_ML_DSA,
            ck::CKM_DSA_KEY_PAIR_GEN => ck::CKK_DSA,
            ck::CKM_DH_PKCS_KEY_PAIR_GEN => ck::CKK_DH,
            _ => ck::CKK_EC_MONTGOMERY,
        };
        let pub_checked = newobj::Checked::for_token_key(policy::PUB, pub_tmpl, a.is_so(), Some(key_type))?;
        let priv_checked = newobj::Checked::for_token_key(policy::PRIV, priv_tmpl, a.is_so(), Some(key_type))?;
        // Refuse what could not be stored before spending time generating.
        for t in [pub_tmpl, priv_tmpl] {
            if t.bool(ck::CKA_TOKEN) == Some(true) {
                a.require(super::Need::Rw)?;
            }
        }
        if priv_tmpl.bool(ck::CKA_PRIVATE) != Some(false) {
            a.require(super::Need::User)?;
        }

        let mut params = None;
        let key = if matches!(key_type, ck::CKK_ML_KEM | ck::CKK_ML_DSA) {
            // PKCS#11 3.2: the parameter set is in the public template (or
            // the private one); both may say it if they agree.
            let (pp, vp) = (pub_tmpl.ulong(ck::CKA_PARAMETER_SET), priv_tmpl.ulong(ck::CKA_PARAMETER_SET));
            if pp.is_some() && vp.is_some() && pp != vp {
                return Err(Error::TemplateInconsistent);
            }
            let p = pp.or(vp).ok_or(Error::TemplateIncomplete)?;
            let set = Set::from_ck(key_type, p).ok_or(Error::ParameterSetNotSupported)?;
            Key::Pq(PqKey::generate(set)?)
        } else if key_type == ck::CKK_RSA {
            if priv_tmpl.contains(ck::CKA_MODULUS_BITS) {
                return Err(Error::TemplateInconsistent);
            }
            let bits = pub_tmpl.ulong(ck::CKA_MODULUS_BITS).ok_or(Error::TemplateIncomplete)?;
            // Any size in range: aws-lc makes the multiples of 128, the
            // others are made from primes we generate (`Rsa::generate`).
            if bits < entry.min_key || bits > entry.max_key {
                return Err(Error::KeySizeRange);
            }
            let e = pub_tmpl.bytes(ck::CKA_PUBLIC_EXPONENT).unwrap_or(&[1, 0, 1]).to_vec();
            check_exponent(&e)?;
            if priv_tmpl.bytes(ck::CKA_PUBLIC_EXPONENT).is_some_and(|pe| pe != e) {
                return Err(Error::TemplateInconsistent);
            }
            Key::generate_rsa(bits as u32, &e)?
        } else if matches!(key_type, ck::CKK_DSA | ck::CKK_DH) {
            dlog_pair(key_type, entry, pub_tmpl, priv_tmpl)?
        } else {
            let p = pub_tmpl.bytes(ck::CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete)?;
            if priv_tmpl.bytes(ck::CKA_EC_PARAMS).is_some_and(|pp| pp != p) {
                return Err(Error::TemplateInconsistent);
            }
            let curve = CurveId::parse(p)?;
            if curve.key_type() != key_type {
                return Err(Error::CurveNotSupported);
            }
            params = Some(p);
            Key::generate_ec(curve)?
        };

        let made = newobj::TokenKey { key: &key, generated_by: Some(mech.mtype), ec_params: params };
        let public = newobj::public_key(&pub_checked, Some(&made))?;
        let private = newobj::private_key(&priv_checked, Some(&made))?;
        let hpub = self.m.objects().store_new(&a, &s, public)?;
        match self.m.objects().store_new(&a, &s, private) {
            Ok(hpriv) => Ok((hpub, hpriv)),
            Err(e) => {
                self.discard(&a, hpub);
                Err(e)
            }
        }
    }

    /// Removes an object this call just made (a half-stored key pair).
    pub(super) fn discard(&self, a: &Access, h: ObjectHandle) {
        match self.m.objects().find_object(a, h) {
            Ok(Found::Token { token_id, id, .. }) => {
                if let Ok(w) = a.writer() {
                    let _ = self.m.store.delete_object(token_id, w, id);
                }
            }
            Ok(Found::Session { handle, .. }) => {
                self.m.objects().remove_session_object(handle);
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents() {
        assert!(check_exponent(&[1, 0, 1]).is_ok());
        assert!(check_exponent(&[0, 3]).is_ok());
        assert_eq!(check_exponent(&[1]), Err(Error::AttributeValueInvalid));
        assert_eq!(check_exponent(&[2]), Err(Error::AttributeValueInvalid));
        assert_eq!(check_exponent(&[]), Err(Error::AttributeValueInvalid));
    }
}
