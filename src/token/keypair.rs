//! C_GenerateKeyPair (RSA, EC, Ed25519, X25519) and the checks for
//! importing asymmetric keys with C_CreateObject: components in, derived
//! public attributes (CKA_PUBLIC_KEY_INFO, CKA_EC_POINT, ...) computed.

use std::sync::Arc;

use cryptoki_sys as ck;

use super::newobj::{build, check_new_template};
use super::{Access, Found, Module, ObjectHandle, SessionHandle};
use crate::error::{Error, Result};
use crate::mech::curve::CurveId;
use crate::mech::keys::{Attrs, Key};
use crate::mech::registry;
use crate::model::{policy, AttrType, Mechanism, Object, Param, Template, Value};

/// Key material and what follows from it: the token computes these for a
/// generated pair or an unwrapped private key, so a template may not give
/// them (the public exponent aside, which a generation template may choose).
pub(crate) const GENERATED: &[AttrType] = &[
    ck::CKA_MODULUS,
    ck::CKA_PRIVATE_EXPONENT,
    ck::CKA_PRIME_1,
    ck::CKA_PRIME_2,
    ck::CKA_EXPONENT_1,
    ck::CKA_EXPONENT_2,
    ck::CKA_COEFFICIENT,
    ck::CKA_EC_POINT,
    ck::CKA_VALUE,
    ck::CKA_PUBLIC_KEY_INFO,
];

fn check_class(t: &Template, class: ck::CK_OBJECT_CLASS, key_type: ck::CK_KEY_TYPE) -> Result<()> {
    if t.ulong(ck::CKA_CLASS).is_some_and(|c| c != class) || t.ulong(ck::CKA_KEY_TYPE).is_some_and(|k| k != key_type) {
        return Err(Error::TemplateInconsistent);
    }
    if GENERATED.iter().any(|g| t.contains(*g)) {
        return Err(Error::TemplateInconsistent);
    }
    Ok(())
}

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

impl Module {
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
        let s = self.session(h)?;
        let a = self.access(&s)?;
        let entry = registry::for_operation(mech.mtype, ck::CKF_GENERATE_KEY_PAIR)?;
        if !matches!(mech.param, Param::None) {
            return Err(Error::MechanismParamInvalid);
        }
        let key_type = match mech.mtype {
            ck::CKM_RSA_PKCS_KEY_PAIR_GEN => ck::CKK_RSA,
            ck::CKM_EC_KEY_PAIR_GEN => ck::CKK_EC,
            ck::CKM_EC_EDWARDS_KEY_PAIR_GEN => ck::CKK_EC_EDWARDS,
            _ => ck::CKK_EC_MONTGOMERY,
        };
        check_class(pub_tmpl, ck::CKO_PUBLIC_KEY, key_type)?;
        check_class(priv_tmpl, ck::CKO_PRIVATE_KEY, key_type)?;
        check_new_template(policy::PUB, pub_tmpl, a.is_so())?;
        check_new_template(policy::PRIV, priv_tmpl, a.is_so())?;
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
        let key = if key_type == ck::CKK_RSA {
            if priv_tmpl.contains(ck::CKA_MODULUS_BITS) {
                return Err(Error::TemplateInconsistent);
            }
            let bits = pub_tmpl.ulong(ck::CKA_MODULUS_BITS).ok_or(Error::TemplateIncomplete)?;
            // aws-lc generates multiples of 128 bits; other sizes would be
            // silently rounded, so they are refused.
            if bits < entry.min_key || bits > entry.max_key || bits % 128 != 0 {
                return Err(Error::KeySizeRange);
            }
            let e = pub_tmpl.bytes(ck::CKA_PUBLIC_EXPONENT).unwrap_or(&[1, 0, 1]).to_vec();
            check_exponent(&e)?;
            if priv_tmpl.bytes(ck::CKA_PUBLIC_EXPONENT).is_some_and(|pe| pe != e) {
                return Err(Error::TemplateInconsistent);
            }
            Key::generate_rsa(bits as u32, &e)?
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

        let common = |pubpart: Attrs| -> Attrs {
            let mut v = pubpart;
            v.push((ck::CKA_LOCAL, Value::Bool(true)));
            v.push((ck::CKA_KEY_GEN_MECHANISM, Value::Ulong(mech.mtype)));
            v
        };
        let public_attrs = key.public_attrs(params)?;
        let mut pub_set = common(public_attrs.clone());
        pub_set.push((ck::CKA_CLASS, Value::Ulong(ck::CKO_PUBLIC_KEY)));
        if let Some(bits) = key.modulus_bits() {
            pub_set.push((ck::CKA_MODULUS_BITS, Value::Ulong(bits)));
        }
        let mut priv_set = common(public_attrs);
        priv_set.push((ck::CKA_CLASS, Value::Ulong(ck::CKO_PRIVATE_KEY)));
        priv_set.extend(key.private_attrs()?);

        let public = build(policy::PUB, pub_tmpl, pub_set);
        let private = build(policy::PRIV, priv_tmpl, priv_set);
        let hpub = self.store_new(&a, &s, public)?;
        match self.store_new(&a, &s, private) {
            Ok(hpriv) => Ok((hpub, hpriv)),
            Err(e) => {
                self.discard(&a, hpub);
                Err(e)
            }
        }
    }

    /// Removes an object this call just made (a half-stored key pair).
    fn discard(&self, a: &Access, h: ObjectHandle) {
        match self.find_object(a, h) {
            Ok(Found::Token { token_id, id, .. }) => {
                if let Ok(w) = a.writer() {
                    let _ = self.store.delete_object(token_id, w, id);
                }
            }
            Ok(Found::Session { handle, .. }) => {
                self.sessions.objects.write().remove(&handle);
            }
            Err(_) => {}
        }
    }
}

/// C_CreateObject of a public or private key: the template's components
/// must form a valid key; the token adds what follows from them.
pub(crate) fn imported_key_attrs(bit: u8, tmpl: &Template) -> Result<Attrs> {
    if tmpl.ulong(ck::CKA_KEY_TYPE).is_none() {
        return Err(Error::TemplateIncomplete);
    }
    if bit == policy::PUB && tmpl.contains(ck::CKA_MODULUS_BITS) {
        // Set by the token from the modulus (PKCS#11 3.0 §2.1.2, note 2).
        return Err(Error::TemplateInconsistent);
    }
    let probe = build(bit, tmpl, vec![]);
    let key = Key::from_object(&probe, true)?;
    let mut attrs = key.public_attrs(tmpl.bytes(ck::CKA_EC_PARAMS))?;
    if let Some(given) = tmpl.bytes(ck::CKA_PUBLIC_KEY_INFO) {
        let ours = attrs.iter().find(|(t, _)| *t == ck::CKA_PUBLIC_KEY_INFO).and_then(|(_, v)| v.as_bytes());
        if !given.is_empty() && Some(given) != ours {
            return Err(Error::AttributeValueInvalid);
        }
    }
    if bit == policy::PRIV {
        if let (Some(given), Ok(point)) = (tmpl.bytes(ck::CKA_EC_POINT), key.public_point()) {
            if crate::mech::curve::point_of(given, point.len()) != &point[..] {
                return Err(Error::TemplateInconsistent);
            }
        }
    } else if let Some(bits) = key.modulus_bits() {
        attrs.push((ck::CKA_MODULUS_BITS, Value::Ulong(bits)));
    }
    // The caller's components stay as given (they are the key); only the
    // attributes derived from them are added.
    attrs.retain(|(t, _)| !tmpl.contains(*t) || matches!(*t, ck::CKA_PUBLIC_KEY_INFO | ck::CKA_EC_POINT));
    Ok(attrs)
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
