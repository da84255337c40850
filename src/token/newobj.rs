//! Building new objects from templates: one constructor per object kind
//! (`secret_key`, `public_key`, `private_key`, `certificate`,
//! `data_object`), each taking a template `Checked` against the policy
//! table and checking the material against it, with the table's defaults;
//! every creating path (generate, derive, unwrap, create, migration) goes
//! through them. Then storing the result where it belongs.

use super::Objects;
use cryptoki_sys as ck;

use super::{Access, ObjectHandle, Session, SessionObject};
use crate::error::{Error, Result};
use crate::hex::hex;
use crate::mech::curve::CurveId;
use crate::mech::keygen;
use crate::mech::keys::{Attrs, Key};
use crate::model::policy::{self, flag};
use crate::model::{AttrType, Object, Template, Ulong, Value};
use crate::store::codec;
use crate::sys::rand::random_uid;

/// Checks every attribute a caller supplied for a new object of class
/// `bit`: known, applicable, not token-set, CKA_TRUSTED only by the SO.
fn check_new_template(bit: u8, tmpl: &Template, is_so: bool) -> Result<()> {
    tmpl.check_consistent()?;
    for a in tmpl.iter() {
        let rule = policy::rule(a.atype).ok_or(Error::AttributeTypeInvalid)?;
        if rule.classes & bit == 0 {
            return Err(Error::AttributeTypeInvalid);
        }
        if rule.flags & flag::TOKEN_SET != 0 {
            return Err(Error::AttributeReadOnly);
        }
        if rule.flags & flag::SO_ONLY != 0 && a.value == Value::Bool(true) && !is_so {
            return Err(Error::AttributeReadOnly);
        }
    }
    Ok(())
}

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
    ck::CKA_SEED,
    ck::CKA_PUBLIC_KEY_INFO,
];

/// Where the key material of a new public or private key is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Material {
    /// In the template (C_CreateObject, migration).
    InTemplate,
    /// Made or opened by the token (C_GenerateKeyPair, C_UnwrapKey).
    FromToken,
}

/// A caller's template for a new object of one class, checked against the
/// policy table (`check_new_template`) before any work is spent on it. The
/// constructors below take nothing else, so no object is built from an
/// unchecked template.
pub(crate) struct Checked<'t> {
    bit: u8,
    tmpl: &'t Template,
    material: Material,
    /// A migrated object: it keeps what the source token said (its check
    /// value is recomputed, not compared; CKA_VALUE_LEN is recomputed).
    trusted: bool,
}

impl<'t> Checked<'t> {
    /// A template whose object's content (a key's components, a
    /// certificate's DER, a data object's value) is in the template itself
    /// (C_CreateObject; derive for a data object).
    pub(crate) fn new(bit: u8, tmpl: &'t Template, is_so: bool) -> Result<Self> {
        check_new_template(bit, tmpl, is_so)?;
        Ok(Checked { bit, tmpl, material: Material::InTemplate, trusted: false })
    }

    /// A template of an object migrated from another token: attributes only
    /// a token sets are left to the caller (`migrate`), CKA_TRUSTED is kept.
    pub(crate) fn migrated(bit: u8, tmpl: &'t Template) -> Result<Self> {
        Ok(Checked { trusted: true, ..Self::new(bit, tmpl, true)? })
    }

    /// One half of a key pair the token generates (`key_type` from the
    /// mechanism) or, with `key_type` None, a private key it unwraps: the
    /// class and key type may be repeated, not contradicted, and no key
    /// material may be given, except the public exponent of a generated key
    /// (CKR_TEMPLATE_INCONSISTENT).
    pub(crate) fn for_token_key(bit: u8, tmpl: &'t Template, is_so: bool, key_type: Option<Ulong>) -> Result<Self> {
        let class = if bit == policy::PUB { ck::CKO_PUBLIC_KEY } else { ck::CKO_PRIVATE_KEY };
        let wrong_type = |k| key_type.is_some_and(|want| want != k);
        if tmpl.ulong(ck::CKA_CLASS).is_some_and(|c| c != class) || tmpl.ulong(ck::CKA_KEY_TYPE).is_some_and(wrong_type)
        {
            return Err(Error::TemplateInconsistent);
        }
        if GENERATED.iter().any(|g| tmpl.contains(*g)) || (key_type.is_none() && tmpl.contains(ck::CKA_PUBLIC_EXPONENT))
        {
            return Err(Error::TemplateInconsistent);
        }
        check_new_template(bit, tmpl, is_so)?;
        Ok(Checked { bit, tmpl, material: Material::FromToken, trusted: false })
    }

    fn expect(&self, bit: u8, material: Material) -> Result<()> {
        if self.bit != bit || self.material != material {
            return Err(Error::general("object constructor called with a template checked for another use"));
        }
        Ok(())
    }
}

/// An object of class `bit` holding only its defaults: the policy table's,
/// in type order, made once and shared (`AttrMap::with_defaults`).
fn default_object(bit: u8) -> Object {
    type Defaults = Vec<(AttrType, Value)>;
    static CACHE: std::sync::OnceLock<Vec<(u8, Defaults)>> = std::sync::OnceLock::new();
    let all = CACHE.get_or_init(|| {
        [policy::DATA, policy::CERT, policy::PUB, policy::PRIV, policy::SECRET, policy::DOMAIN]
            .into_iter()
            .map(|b| {
                let mut o = Object::default();
                for (t, v) in policy::defaults(b) {
                    o.set(t, v);
                }
                (b, o.attrs.iter().map(|(t, v)| (*t, v.clone())).collect())
            })
            .collect()
    });
    let base = all.iter().find(|(b, _)| *b == bit).map(|(_, d)| &d[..]).unwrap_or(&[]);
    Object { attrs: crate::model::object::AttrMap::with_defaults(base), ..Object::default() }
}

/// Defaults, then the caller's template, then what the token sets. Only the
/// constructors below call it.
fn build(bit: u8, tmpl: &Template, token_set: Vec<(AttrType, Value)>) -> Object {
    let mut o = default_object(bit);
    for a in tmpl.iter() {
        o.set(a.atype, a.value.clone());
    }
    for (t, v) in token_set {
        o.set(t, v);
    }
    if bit & (policy::PRIV | policy::SECRET) != 0 {
        // Set at creation from the key's own flags (PKCS#11 §4.9).
        let sensitive = o.bool(ck::CKA_SENSITIVE);
        let extractable = o.bool(ck::CKA_EXTRACTABLE);
        let local = o.bool(ck::CKA_LOCAL);
        o.set(ck::CKA_ALWAYS_SENSITIVE, Value::Bool(local && sensitive));
        o.set(ck::CKA_NEVER_EXTRACTABLE, Value::Bool(local && !extractable));
    }
    o
}

/// A caller's template for a key made from another (unwrapped by a key with
/// CKA_UNWRAP_TEMPLATE, derived from one with CKA_DERIVE_TEMPLATE): the
/// governing template's attributes apply to the new key; the caller may
/// repeat them, never contradict them (CKR_TEMPLATE_INCONSISTENT).
pub(crate) fn governed(tmpl: &Template, governing: &[crate::model::Attribute]) -> Result<Template> {
    let mut full = tmpl.clone();
    for t in governing {
        match tmpl.get(t.atype) {
            Some(v) if v != &t.value => return Err(Error::TemplateInconsistent),
            Some(_) => {}
            None => full.push(t.clone()),
        }
    }
    Ok(full)
}

/// The one constructor of a new secret key, whatever made it (generate,
/// derive, unwrap, create, migration): the value checked for the key type
/// (CKR_ATTRIBUTE_VALUE_INVALID), CKA_VALUE_LEN and CKA_CHECK_VALUE set
/// from it (a check value the template gives must match it, but for a
/// migrated key), the policy table's defaults, the caller's template, then
/// what the token sets. `generated_by` is the key-generation mechanism of a
/// key made here (CKA_LOCAL true), None for one that came from elsewhere.
pub(crate) fn secret_key(
    t: &Checked,
    key_type: Ulong,
    value: zeroize::Zeroizing<Vec<u8>>,
    generated_by: Option<crate::model::MechType>,
) -> Result<Object> {
    if t.bit != policy::SECRET {
        return Err(Error::general("secret key built from a template checked for another class"));
    }
    let kcv = keygen::check_value(key_type, &value)?;
    if let Some(given) = t.tmpl.bytes(ck::CKA_CHECK_VALUE) {
        if !t.trusted && !given.is_empty() && given != &kcv[..given.len().min(kcv.len())] {
            return Err(Error::AttributeValueInvalid);
        }
    }
    let set = vec![
        (ck::CKA_VALUE_LEN, Value::Ulong(value.len() as u64)),
        (ck::CKA_CHECK_VALUE, Value::bytes(kcv)),
        (ck::CKA_CLASS, Value::Ulong(ck::CKO_SECRET_KEY)),
        (ck::CKA_KEY_TYPE, Value::Ulong(key_type)),
        (ck::CKA_VALUE, Value::Bytes(value)),
        (ck::CKA_LOCAL, Value::Bool(generated_by.is_some())),
        (ck::CKA_KEY_GEN_MECHANISM, Value::Ulong(generated_by.unwrap_or(ck::CK_UNAVAILABLE_INFORMATION))),
    ];
    Ok(build(policy::SECRET, t.tmpl, set))
}

/// A key the token made (`generated_by` its mechanism) or unwrapped (None),
/// and the CKA_EC_PARAMS encoding to keep for it (a generation template's).
pub(crate) struct TokenKey<'k> {
    pub key: &'k Key,
    pub generated_by: Option<crate::model::MechType>,
    pub ec_params: Option<&'k [u8]>,
}

/// What the token sets on either half of a key it made or unwrapped: the
/// public attributes from the key, its origin, and checks that the template
/// agrees with the key (its key type, an EC key's curve).
fn token_key_attrs(t: &Checked, k: &TokenKey, class: Ulong) -> Result<Attrs> {
    if t.tmpl.ulong(ck::CKA_KEY_TYPE).is_some_and(|kt| kt != k.key.key_type()) {
        return Err(Error::TemplateInconsistent);
    }
    let params = k.ec_params.or(t.tmpl.bytes(ck::CKA_EC_PARAMS));
    if let (Some(p), Some(curve)) = (params, k.key.curve_id()) {
        // CKA_EC_PARAMS must name the key's own curve (an unwrapped key's
        // template could name another).
        if CurveId::parse(p).ok() != Some(curve) {
            return Err(Error::TemplateInconsistent);
        }
    }
    if t.tmpl.ulong(ck::CKA_PARAMETER_SET).is_some_and(|p| k.key.pq().is_none_or(|q| q.set.ck() != p)) {
        return Err(Error::TemplateInconsistent);
    }
    let mut set = k.key.public_attrs(params)?;
    set.extend(pq_defaults(k.key, t.bit, t.tmpl));
    set.extend([
        (ck::CKA_CLASS, Value::Ulong(class)),
        (ck::CKA_LOCAL, Value::Bool(k.generated_by.is_some())),
        (ck::CKA_KEY_GEN_MECHANISM, Value::Ulong(k.generated_by.unwrap_or(ck::CK_UNAVAILABLE_INFORMATION))),
    ]);
    Ok(set)
}

/// The one constructor of a new public key: from a key the token made
/// (`Some`), or from the components in the template (None; they must form
/// a valid key, and the token adds what follows from them).
pub(crate) fn public_key(t: &Checked, key: Option<&TokenKey>) -> Result<Object> {
    let set = match key {
        Some(k) => {
            t.expect(policy::PUB, Material::FromToken)?;
            let mut set = token_key_attrs(t, k, ck::CKO_PUBLIC_KEY)?;
            if let Some(bits) = k.key.modulus_bits() {
                set.push((ck::CKA_MODULUS_BITS, Value::Ulong(bits)));
            }
            if let Some(v) = k.key.pq_public_value() {
                set.push((ck::CKA_VALUE, Value::bytes(v)));
            }
            set
        }
        None => {
            t.expect(policy::PUB, Material::InTemplate)?;
            imported_key_attrs(policy::PUB, t.tmpl)?
        }
    };
    Ok(build(policy::PUB, t.tmpl, set))
}

/// The one constructor of a new private key, as `public_key`.
pub(crate) fn private_key(t: &Checked, key: Option<&TokenKey>) -> Result<Object> {
    let set = match key {
        Some(k) => {
            t.expect(policy::PRIV, Material::FromToken)?;
            let mut set = token_key_attrs(t, k, ck::CKO_PRIVATE_KEY)?;
            set.extend(k.key.private_attrs()?);
            set
        }
        None => {
            t.expect(policy::PRIV, Material::InTemplate)?;
            imported_key_attrs(policy::PRIV, t.tmpl)?
        }
    };
    Ok(build(policy::PRIV, t.tmpl, set))
}

/// A public or private key whose components are in the template: they must
/// form a valid key (an RSA modulus and exponent, an EC point on the curve
/// CKA_EC_PARAMS names); the token adds what follows from them.
fn imported_key_attrs(bit: u8, tmpl: &Template) -> Result<Attrs> {
    if tmpl.ulong(ck::CKA_KEY_TYPE).is_none() {
        return Err(Error::TemplateIncomplete);
    }
    if bit == policy::PUB && tmpl.contains(ck::CKA_MODULUS_BITS) {
        // Set by the token from the modulus (PKCS#11 3.0 §2.1.2, note 2).
        return Err(Error::TemplateInconsistent);
    }
    // Attributes of some key types only: the DSA/DH components, the
    // PKCS#11 3.2 attributes of ML-KEM / ML-DSA, and a public key's
    // CKA_VALUE (a DSA or DH y, an ML-KEM or ML-DSA public key).
    let kt = tmpl.ulong(ck::CKA_KEY_TYPE);
    let dlog = matches!(kt, Some(ck::CKK_DSA | ck::CKK_DH));
    let pq = matches!(kt, Some(ck::CKK_ML_KEM | ck::CKK_ML_DSA));
    let dlog_only = [ck::CKA_PRIME, ck::CKA_SUBPRIME, ck::CKA_BASE, ck::CKA_VALUE_BITS];
    let pq_only = [ck::CKA_PARAMETER_SET, ck::CKA_SEED, ck::CKA_ENCAPSULATE, ck::CKA_DECAPSULATE];
    if (!dlog && dlog_only.iter().any(|a| tmpl.contains(*a)))
        || (!pq && pq_only.iter().any(|a| tmpl.contains(*a)))
        || (!dlog && !pq && bit == policy::PUB && tmpl.contains(ck::CKA_VALUE))
    {
        return Err(Error::AttributeTypeInvalid);
    }
    let probe = build(bit, tmpl, vec![]);
    let key = Key::from_object(&probe, true)?;
    let mut attrs = key.public_attrs(tmpl.bytes(ck::CKA_EC_PARAMS))?;
    attrs.extend(pq_defaults(&key, bit, tmpl));
    if key.pq().is_some() && bit == policy::PRIV {
        // A private key given by its seed gets its expanded form, and the
        // other way round only the expanded form is known.
        attrs.extend(key.private_attrs()?);
    }
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

/// What an ML-KEM key has by default: CKA_ENCAPSULATE on the public half,
/// CKA_DECAPSULATE on the private one, true unless the template says.
/// (Not in the policy table's defaults: keys stored before PKCS#11 3.2
/// lack them.)
fn pq_defaults(key: &Key, bit: u8, tmpl: &Template) -> Attrs {
    let usage = if bit == policy::PUB { ck::CKA_ENCAPSULATE } else { ck::CKA_DECAPSULATE };
    match key.pq() {
        Some(k) if k.set.key_type() == ck::CKK_ML_KEM && !tmpl.contains(usage) => vec![(usage, Value::Bool(true))],
        _ => vec![],
    }
}

/// The one constructor of a new certificate (X.509: the DER must be given;
/// subject, issuer and serial are filled in from it when left out; its
/// check value is computed, and one given must match).
pub(crate) fn certificate(t: &Checked) -> Result<Object> {
    t.expect(policy::CERT, Material::InTemplate)?;
    // Enumerations the spec closes: CKA_CERTIFICATE_CATEGORY 0..=3
    // (unspecified, token user, authority, other entity) and
    // CKA_JAVA_MIDP_SECURITY_DOMAIN 0..=3 (unspecified, manufacturer,
    // operator, third party).
    for atype in [ck::CKA_CERTIFICATE_CATEGORY, ck::CKA_JAVA_MIDP_SECURITY_DOMAIN] {
        if t.tmpl.ulong(atype).is_some_and(|v| v > 3) {
            return Err(Error::AttributeValueInvalid);
        }
    }
    let mut set = super::cert::cert_attrs(t.tmpl)?;
    set.push((ck::CKA_CLASS, Value::Ulong(ck::CKO_CERTIFICATE)));
    Ok(build(policy::CERT, t.tmpl, set))
}

/// The one constructor of a new data object: its value the template's, or
/// `value` when the token made it (derived data).
pub(crate) fn data_object(t: &Checked, value: Option<zeroize::Zeroizing<Vec<u8>>>) -> Result<Object> {
    t.expect(policy::DATA, Material::InTemplate)?;
    let mut set = vec![(ck::CKA_CLASS, Value::Ulong(ck::CKO_DATA))];
    if let Some(v) = value {
        set.push((ck::CKA_VALUE, Value::Bytes(v)));
    }
    Ok(build(policy::DATA, t.tmpl, set))
}

/// The one constructor of new DSA or DH domain parameters: from the
/// template (create, migration: CKA_PRIME, CKA_BASE and for DSA
/// CKA_SUBPRIME given) or made by the token (`made`: key type, p, q, g;
/// the template may then give none of them). CKA_PRIME_BITS is the
/// prime's; one a created object's template gives must match it.
pub(crate) fn domain_params(t: &Checked, made: Option<&crate::mech::dlog::Params>) -> Result<Object> {
    t.expect(policy::DOMAIN, Material::InTemplate)?;
    let material = [ck::CKA_PRIME, ck::CKA_SUBPRIME, ck::CKA_BASE];
    let (kt, p, q, g) = match made {
        Some(m) => {
            if material.iter().any(|a| t.tmpl.contains(*a)) {
                return Err(Error::TemplateInconsistent);
            }
            (m.key_type, &m.p[..], &m.q[..], &m.g[..])
        }
        None => {
            let kt = t.tmpl.ulong(ck::CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?;
            let get = |a| t.tmpl.bytes(a).ok_or(Error::TemplateIncomplete);
            let q = match kt {
                ck::CKK_DSA => get(ck::CKA_SUBPRIME)?,
                ck::CKK_DH if !t.tmpl.contains(ck::CKA_SUBPRIME) => &[][..],
                _ => return Err(Error::AttributeValueInvalid),
            };
            (kt, get(ck::CKA_PRIME)?, q, get(ck::CKA_BASE)?)
        }
    };
    let lead = p.iter().position(|b| *b != 0).unwrap_or(p.len());
    let bits = p[lead..].first().map_or(0, |f| (p.len() - lead) * 8 - f.leading_zeros() as usize) as u64;
    if !crate::mech::dlog::P_BITS.contains(&(bits as usize)) || g.iter().all(|b| *b == 0) {
        return Err(Error::AttributeValueInvalid);
    }
    if made.is_none() && !t.trusted && t.tmpl.ulong(ck::CKA_PRIME_BITS).is_some_and(|b| b != bits) {
        return Err(Error::AttributeValueInvalid);
    }
    let mut set = vec![
        (ck::CKA_CLASS, Value::Ulong(ck::CKO_DOMAIN_PARAMETERS)),
        (ck::CKA_KEY_TYPE, Value::Ulong(kt)),
        (ck::CKA_PRIME, Value::bytes(p.to_vec())),
        (ck::CKA_BASE, Value::bytes(g.to_vec())),
        (ck::CKA_PRIME_BITS, Value::Ulong(bits)),
        (ck::CKA_LOCAL, Value::Bool(made.is_some())),
    ];
    if kt == ck::CKK_DSA {
        set.push((ck::CKA_SUBPRIME, Value::bytes(q.to_vec())));
    }
    Ok(build(policy::DOMAIN, t.tmpl, set))
}

/// A new object of any class whose content is in its template (the class
/// from CKA_CLASS): C_CreateObject and migration. A secret key's type and
/// value must be given.
pub(crate) fn from_template(t: &Checked) -> Result<Object> {
    match t.bit {
        policy::PUB => public_key(t, None),
        policy::PRIV => private_key(t, None),
        policy::CERT => certificate(t),
        policy::DOMAIN => domain_params(t, None),
        policy::SECRET => {
            let key_type = t.tmpl.ulong(ck::CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?;
            let value = t.tmpl.bytes(ck::CKA_VALUE).ok_or(Error::TemplateIncomplete)?;
            if !t.trusted && t.tmpl.contains(ck::CKA_VALUE_LEN) {
                return Err(Error::TemplateInconsistent);
            }
            if !t.trusted && crate::mech::des::key_len(key_type).is_some() {
                // Length and odd parity (PKCS#11 3.0 §2.31); a migrated key
                // is kept as its token had it.
                crate::mech::des::check_key(key_type, value)?;
            }
            secret_key(t, key_type, zeroize::Zeroizing::new(value.to_vec()), None)
        }
        _ => data_object(t, None),
    }
}

impl Objects<'_> {
    /// Stores a new object as a token object or a session object of `s`,
    /// after the access checks every creating call shares.
    pub(crate) fn store_new(&self, a: &Access, s: &Session, mut obj: Object) -> Result<ObjectHandle> {
        if obj.is_private() {
            a.require(super::Need::User)?;
        }
        if obj.bool(crate::vendor::CKA_FHSM_KMS) && obj.get(crate::vendor::CKA_FHSM_VERSIONS).is_none() {
            // Only generation and import make master keys (not unwrap,
            // derive or copy).
            return Err(Error::TemplateInconsistent);
        }
        let uid = random_uid()?;
        if obj.is_token() {
            a.require(super::Need::Rw)?;
            let stored = codec::encode(a.sealer(), 0, &uid, &obj)?;
            let event = match (obj.is_key(), obj.bool(ck::CKA_LOCAL), obj.bool(crate::vendor::CKA_FHSM_KMS)) {
                (true, true, true) => "create-kms-key",
                (true, false, true) => "import-kms-key",
                (true, true, false) => "generate-key",
                (true, false, false) => "import-key",
                _ => "create-object",
            };
            let key = hex(&uid);
            let detail = format!("class {:#x}", obj.class());
            // Committed with the object, in one transaction.
            self.m.audit().with_next_write(&super::audit::Record {
                key: &key,
                detail: &detail,
                ..super::audit::Record::of(a, event)
            });
            let id = self.m.store.insert_object(a.token.token_id, a.writer()?, &stored)?;
            return ObjectHandle::try_from(id).map_err(|_| Error::general("object id out of range"));
        }
        obj.set(ck::CKA_UNIQUE_ID, Value::bytes(hex(&uid).into_bytes()));
        let entry = SessionObject {
            session: s.handle,
            slot: s.slot,
            object: crate::sync::RwLock::new(std::sync::Arc::new(obj)),
        };
        self.add_session_object(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attribute;

    fn tmpl(attrs: Vec<(AttrType, Value)>) -> Template {
        Template::new(attrs.into_iter().map(|(t, v)| Attribute::new(t, v)).collect())
    }

    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

    #[test]
    fn unwrapped_key_keeps_its_own_curve() {
        let key = Key::generate_ec(CurveId::parse(P256).unwrap()).unwrap();
        let made = TokenKey { key: &key, generated_by: None, ec_params: None };
        let p384 = tmpl(vec![(ck::CKA_EC_PARAMS, Value::bytes(P384.to_vec()))]);
        let t = Checked::for_token_key(policy::PRIV, &p384, false, None).unwrap();
        assert_eq!(private_key(&t, Some(&made)).err(), Some(Error::TemplateInconsistent));
        let p256 = tmpl(vec![(ck::CKA_EC_PARAMS, Value::bytes(P256.to_vec()))]);
        let t = Checked::for_token_key(policy::PRIV, &p256, false, None).unwrap();
        let obj = private_key(&t, Some(&made)).unwrap();
        assert!(!obj.bool(ck::CKA_LOCAL));
        assert_eq!(obj.class(), ck::CKO_PRIVATE_KEY);
    }

    #[test]
    fn token_key_templates_give_no_material() {
        let e = tmpl(vec![(ck::CKA_PUBLIC_EXPONENT, Value::bytes(vec![1, 0, 1]))]);
        // A generation template may choose the exponent; an unwrap template may not.
        assert!(Checked::for_token_key(policy::PUB, &e, false, Some(ck::CKK_RSA)).is_ok());
        assert_eq!(Checked::for_token_key(policy::PRIV, &e, false, None).err(), Some(Error::TemplateInconsistent));
        let m = tmpl(vec![(ck::CKA_MODULUS, Value::bytes(vec![1; 256]))]);
        assert_eq!(
            Checked::for_token_key(policy::PUB, &m, false, Some(ck::CKK_RSA)).err(),
            Some(Error::TemplateInconsistent)
        );
    }

    #[test]
    fn secret_key_value_and_check_value_are_checked() {
        let empty = tmpl(vec![]);
        let t = Checked::new(policy::SECRET, &empty, false).unwrap();
        let bad = secret_key(&t, ck::CKK_AES, zeroize::Zeroizing::new(vec![0; 15]), None);
        assert_eq!(bad.err(), Some(Error::AttributeValueInvalid));
        let kcv = tmpl(vec![(ck::CKA_CHECK_VALUE, Value::bytes(vec![0, 0, 0]))]);
        let t = Checked::new(policy::SECRET, &kcv, false).unwrap();
        let wrong = secret_key(&t, ck::CKK_AES, zeroize::Zeroizing::new(vec![7; 16]), None);
        assert_eq!(wrong.err(), Some(Error::AttributeValueInvalid));
        // A migrated key's check value is recomputed, not compared.
        let t = Checked::migrated(policy::SECRET, &kcv).unwrap();
        assert!(secret_key(&t, ck::CKK_AES, zeroize::Zeroizing::new(vec![7; 16]), None).is_ok());
    }

    #[test]
    fn a_template_checked_for_one_class_builds_no_other() {
        let empty = tmpl(vec![]);
        let t = Checked::new(policy::DATA, &empty, false).unwrap();
        assert!(certificate(&t).is_err());
        assert!(secret_key(&t, ck::CKK_AES, zeroize::Zeroizing::new(vec![0; 16]), None).is_err());
        assert_eq!(data_object(&t, None).unwrap().class(), ck::CKO_DATA);
    }
}
