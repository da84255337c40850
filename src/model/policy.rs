//! The spec's attribute rules in one table: which classes an attribute
//! belongs to, its value kind, who may set it and when, and which values are
//! secret components. Object creation, copy, set and read all consult it.

use cryptoki_sys as ck;

use super::attr::{AttrType, Kind, Value};

/// Class bits for `Rule::classes`.
pub const DATA: u8 = 1;
pub const CERT: u8 = 2;
pub const PUB: u8 = 4;
pub const PRIV: u8 = 8;
pub const SECRET: u8 = 16;
/// CKO_DOMAIN_PARAMETERS (DSA and DH).
pub const DOMAIN: u8 = 32;
const KEYS: u8 = PUB | PRIV | SECRET;
const ALL: u8 = DATA | CERT | KEYS | DOMAIN;

/// Rule flags.
pub mod flag {
    /// Set by the token only; a caller giving it gets CKR_ATTRIBUTE_READ_ONLY.
    pub const TOKEN_SET: u16 = 1;
    /// C_SetAttributeValue may change it (subject to the one-way flags).
    pub const MODIFIABLE: u16 = 2;
    /// C_CopyObject may change it even though C_SetAttributeValue may not.
    pub const COPY_MODIFIABLE: u16 = 4;
    /// May only go from false to true (CKA_SENSITIVE, CKA_WRAP_WITH_TRUSTED).
    pub const ONLY_TO_TRUE: u16 = 8;
    /// May only go from true to false (CKA_EXTRACTABLE, CKA_COPYABLE).
    pub const ONLY_TO_FALSE: u16 = 16;
    /// Only the SO may set it to true (CKA_TRUSTED).
    pub const SO_ONLY: u16 = 32;
    /// Secret component of a private or secret key: always sealed, never
    /// indexed, unreadable while the key is sensitive or unextractable.
    pub const SECRET_PART: u16 = 64;
}

pub struct Rule {
    pub atype: AttrType,
    pub name: &'static str,
    pub kind: Kind,
    pub classes: u8,
    pub flags: u16,
}

use flag::*;

/// The spec's names and ours, for the table.
mod names {
    pub use crate::vendor::*;
    pub use cryptoki_sys::*;
}

macro_rules! rules {
    ($( $ck:ident, $kind:ident, $classes:expr, $flags:expr; )*) => {
        pub static RULES: &[Rule] = &[
            $( Rule { atype: names::$ck, name: stringify!($ck), kind: Kind::$kind, classes: $classes, flags: $flags }, )*
        ];
    };
}

rules! {
    CKA_CLASS, Ulong, ALL, 0;
    CKA_TOKEN, Bool, ALL, COPY_MODIFIABLE;
    CKA_PRIVATE, Bool, ALL, COPY_MODIFIABLE;
    CKA_MODIFIABLE, Bool, ALL, COPY_MODIFIABLE;
    CKA_COPYABLE, Bool, ALL, COPY_MODIFIABLE | MODIFIABLE | ONLY_TO_FALSE;
    CKA_DESTROYABLE, Bool, ALL, COPY_MODIFIABLE;
    CKA_LABEL, Bytes, ALL, MODIFIABLE;
    CKA_UNIQUE_ID, Bytes, ALL, TOKEN_SET;
    CKA_APPLICATION, Bytes, DATA, MODIFIABLE;
    CKA_OBJECT_ID, Bytes, DATA, MODIFIABLE;
    // CKA_VALUE: modifiable on data objects only, secret on keys only; see
    // `is_modifiable` and `is_secret_part`.
    // (and the raw public key of ML-KEM / ML-DSA public keys, PKCS#11 3.2;
    // on a DSA or DH public key the public value y, on their private keys
    // x, sealed like every secret part).
    CKA_VALUE, Bytes, DATA | CERT | PUB | PRIV | SECRET, MODIFIABLE | SECRET_PART;
    CKA_KEY_TYPE, Ulong, KEYS | DOMAIN, 0;
    CKA_ID, Bytes, KEYS | CERT, MODIFIABLE;
    CKA_START_DATE, Date, KEYS | CERT, MODIFIABLE;
    CKA_END_DATE, Date, KEYS | CERT, MODIFIABLE;
    CKA_DERIVE, Bool, KEYS, MODIFIABLE;
    CKA_LOCAL, Bool, KEYS | DOMAIN, TOKEN_SET;
    CKA_KEY_GEN_MECHANISM, Ulong, KEYS, TOKEN_SET;
    CKA_ALLOWED_MECHANISMS, MechList, KEYS, 0;
    CKA_SUBJECT, Bytes, PUB | PRIV | CERT, MODIFIABLE;
    CKA_SENSITIVE, Bool, PRIV | SECRET, MODIFIABLE | ONLY_TO_TRUE;
    CKA_ENCRYPT, Bool, PUB | SECRET, MODIFIABLE;
    CKA_DECRYPT, Bool, PRIV | SECRET, MODIFIABLE;
    CKA_SIGN, Bool, PRIV | SECRET, MODIFIABLE;
    CKA_SIGN_RECOVER, Bool, PRIV, MODIFIABLE;
    CKA_VERIFY, Bool, PUB | SECRET, MODIFIABLE;
    CKA_VERIFY_RECOVER, Bool, PUB, MODIFIABLE;
    CKA_WRAP, Bool, PUB | SECRET, MODIFIABLE;
    CKA_UNWRAP, Bool, PRIV | SECRET, MODIFIABLE;
    CKA_EXTRACTABLE, Bool, PRIV | SECRET, MODIFIABLE | ONLY_TO_FALSE;
    CKA_ALWAYS_SENSITIVE, Bool, PRIV | SECRET, TOKEN_SET;
    CKA_NEVER_EXTRACTABLE, Bool, PRIV | SECRET, TOKEN_SET;
    CKA_CHECK_VALUE, Bytes, SECRET | CERT, 0;
    CKA_WRAP_WITH_TRUSTED, Bool, PRIV | SECRET, MODIFIABLE | ONLY_TO_TRUE;
    CKA_TRUSTED, Bool, PUB | SECRET | CERT, MODIFIABLE | SO_ONLY;
    CKA_WRAP_TEMPLATE, Template, PUB | SECRET, 0;
    CKA_UNWRAP_TEMPLATE, Template, PRIV | SECRET, 0;
    CKA_DERIVE_TEMPLATE, Template, PRIV | SECRET, 0;
    CKA_VALUE_LEN, Ulong, SECRET, 0;
    CKA_ALWAYS_AUTHENTICATE, Bool, PRIV, 0;
    // RSA components (PKCS#11 3.0 §2.1.2-3).
    CKA_MODULUS, Bytes, PUB | PRIV, 0;
    CKA_MODULUS_BITS, Ulong, PUB, 0;
    CKA_PUBLIC_EXPONENT, Bytes, PUB | PRIV, 0;
    CKA_PRIVATE_EXPONENT, Bytes, PRIV, SECRET_PART;
    CKA_PRIME_1, Bytes, PRIV, SECRET_PART;
    CKA_PRIME_2, Bytes, PRIV, SECRET_PART;
    CKA_EXPONENT_1, Bytes, PRIV, SECRET_PART;
    CKA_EXPONENT_2, Bytes, PRIV, SECRET_PART;
    CKA_COEFFICIENT, Bytes, PRIV, SECRET_PART;
    // EC, Edwards and Montgomery keys; CKA_EC_POINT is also kept on the
    // private half so either half answers it.
    CKA_EC_PARAMS, Bytes, PUB | PRIV, 0;
    CKA_EC_POINT, Bytes, PUB | PRIV, 0;
    CKA_PUBLIC_KEY_INFO, Bytes, PUB | PRIV, 0;
    // ML-KEM and ML-DSA keys (PKCS#11 3.2 §6.67-68): the parameter set, the
    // private key's seed (a secret component like CKA_VALUE), and the
    // encapsulation usage flags (absent from older keys: read as false) and
    // the templates that govern the keys they make.
    CKA_PARAMETER_SET, Ulong, PUB | PRIV, 0;
    CKA_SEED, Bytes, PRIV, SECRET_PART;
    CKA_ENCAPSULATE, Bool, PUB, MODIFIABLE;
    CKA_DECAPSULATE, Bool, PRIV, MODIFIABLE;
    CKA_ENCAPSULATE_TEMPLATE, Template, PUB, 0;
    CKA_DECAPSULATE_TEMPLATE, Template, PRIV, 0;
    // DSA and DH keys and domain parameters (PKCS#11 3.0 §2.2, §2.5):
    // p, q, g are public; x (CKA_VALUE of the private key) is the secret.
    CKA_PRIME, Bytes, PUB | PRIV | DOMAIN, 0;
    CKA_SUBPRIME, Bytes, PUB | PRIV | DOMAIN, 0;
    CKA_BASE, Bytes, PUB | PRIV | DOMAIN, 0;
    CKA_PRIME_BITS, Ulong, DOMAIN, 0;
    CKA_VALUE_BITS, Ulong, PRIV, 0;
    // X.509 certificates.
    CKA_CERTIFICATE_TYPE, Ulong, CERT, 0;
    CKA_ISSUER, Bytes, CERT, MODIFIABLE;
    CKA_SERIAL_NUMBER, Bytes, CERT, MODIFIABLE;
    CKA_CERTIFICATE_CATEGORY, Ulong, CERT, 0;
    CKA_URL, Bytes, CERT, 0;
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY, Bytes, CERT, 0;
    CKA_HASH_OF_ISSUER_PUBLIC_KEY, Bytes, CERT, 0;
    CKA_JAVA_MIDP_SECURITY_DOMAIN, Ulong, CERT, 0;
    CKA_NAME_HASH_ALGORITHM, Ulong, CERT, 0;
    // KMS master keys (vendor-defined, see model::vendor).
    CKA_FHSM_KMS, Bool, SECRET, 0;
    CKA_FHSM_KEY_STATE, Ulong, SECRET, TOKEN_SET;
    CKA_FHSM_KEY_VERSION, Ulong, SECRET, TOKEN_SET;
    CKA_FHSM_VERSIONS, Bytes, SECRET, TOKEN_SET | SECRET_PART;
    CKA_FHSM_CREATION_TIME, Ulong, SECRET, TOKEN_SET;
    CKA_FHSM_ROTATION_PERIOD, Ulong, SECRET, 0;
    CKA_FHSM_LAST_ROTATION, Ulong, SECRET, TOKEN_SET;
    CKA_FHSM_DELETION_TIME, Ulong, SECRET, TOKEN_SET;
    CKA_FHSM_DESCRIPTION, Bytes, SECRET, MODIFIABLE;
    CKA_FHSM_NEXT_ROTATION, Ulong, SECRET, TOKEN_SET;
    CKA_FHSM_KEY_POLICY, Bytes, SECRET, 0;
    CKA_FHSM_TAGS, Bytes, SECRET, 0;
    CKA_FHSM_KEY_SPEC, Bytes, SECRET, TOKEN_SET;
    CKA_FHSM_KEY_USAGE, Bytes, SECRET, TOKEN_SET;
    CKA_FHSM_PUBLIC_KEY, Bytes, SECRET, TOKEN_SET;
    CKA_FHSM_ORIGIN, Bytes, SECRET, 0;
    CKA_FHSM_MATERIAL_HASH, Bytes, SECRET, TOKEN_SET;
}

/// The rule for an attribute type, if the module knows it at all.
pub fn rule(atype: AttrType) -> Option<&'static Rule> {
    // Looked up several times per attribute of every template: a binary
    // search over the table sorted once, not a scan of ~80 rules.
    static SORTED: std::sync::OnceLock<Vec<&'static Rule>> = std::sync::OnceLock::new();
    let sorted = SORTED.get_or_init(|| {
        let mut v: Vec<&'static Rule> = RULES.iter().collect();
        v.sort_by_key(|r| r.atype);
        v
    });
    sorted.binary_search_by_key(&atype, |r| r.atype).ok().map(|i| sorted[i])
}

/// Most entries a caller's template (or a nested CKA_*_TEMPLATE) may hold:
/// every type the table knows, four times over. Repeats are legal only when
/// they agree and unknown types are answered one by one, so no meaningful
/// template comes near this; a longer count is refused (CKR_ARGUMENTS_BAD)
/// before a single entry is read.
pub fn max_template_len() -> usize {
    4 * RULES.len()
}

/// Longest byte string an attribute of unspecified size may carry: values
/// (secret keys, data objects, certificates), subjects, labels, IDs.
pub const MAX_BYTES: usize = 64 << 10;
/// RSA big numbers: 16 KiB is a 131072-bit modulus, far beyond any key the
/// module generates or uses.
pub const MAX_BIGNUM: usize = 16 << 10;
/// EC parameters and points: the largest supported point is under 200
/// bytes, explicit curve parameters under 1 KiB.
pub const MAX_EC: usize = 4 << 10;
/// Most mechanisms one CKA_ALLOWED_MECHANISMS may list.
pub const MAX_MECHS: usize = 1024;

/// The most bytes a caller may give for an attribute of this type, checked
/// against `ulValueLen` before `pValue` is read (beyond it:
/// CKR_ATTRIBUTE_VALUE_INVALID). Fixed-size kinds are exactly their size or
/// less (a shorter one is then refused by the decoder).
pub fn max_len(atype: AttrType) -> usize {
    let Some(r) = rule(atype) else { return MAX_BYTES };
    match r.kind {
        Kind::Bool => 1,
        Kind::Ulong => std::mem::size_of::<super::attr::Ulong>(),
        Kind::Date => 8,
        Kind::MechList => MAX_MECHS * std::mem::size_of::<super::attr::Ulong>(),
        Kind::Template => max_template_len() * std::mem::size_of::<ck::CK_ATTRIBUTE>(),
        Kind::Bytes => match atype {
            ck::CKA_MODULUS
            | ck::CKA_PUBLIC_EXPONENT
            | ck::CKA_PRIVATE_EXPONENT
            | ck::CKA_PRIME_1
            | ck::CKA_PRIME_2
            | ck::CKA_EXPONENT_1
            | ck::CKA_EXPONENT_2
            | ck::CKA_COEFFICIENT
            | ck::CKA_PRIME
            | ck::CKA_SUBPRIME
            | ck::CKA_BASE => MAX_BIGNUM,
            ck::CKA_EC_PARAMS | ck::CKA_EC_POINT => MAX_EC,
            _ => MAX_BYTES,
        },
    }
}

/// The value kind, for decoding C templates. Unknown types decode as bytes
/// so that the core can reject them with CKR_ATTRIBUTE_TYPE_INVALID.
pub fn kind_of(atype: AttrType) -> Kind {
    rule(atype).map_or(Kind::Bytes, |r| r.kind)
}

/// The class bit for a CKO_* value this module stores, if any.
pub fn class_bit(class: cryptoki_sys::CK_OBJECT_CLASS) -> Option<u8> {
    Some(match class {
        ck::CKO_DATA => DATA,
        ck::CKO_CERTIFICATE => CERT,
        ck::CKO_PUBLIC_KEY => PUB,
        ck::CKO_PRIVATE_KEY => PRIV,
        ck::CKO_SECRET_KEY => SECRET,
        ck::CKO_DOMAIN_PARAMETERS => DOMAIN,
        _ => return None,
    })
}

/// Does an object of this class have this attribute?
pub fn applies(class_bit: u8, atype: AttrType) -> bool {
    rule(atype).is_some_and(|r| r.classes & class_bit != 0)
}

/// Is this attribute a secret key component for this class?
pub fn is_secret_part(class_bit: u8, atype: AttrType) -> bool {
    class_bit & (PRIV | SECRET) != 0 && rule(atype).is_some_and(|r| r.flags & SECRET_PART != 0)
}

/// May C_SetAttributeValue change it on an object of this class?
pub fn is_modifiable(class_bit: u8, atype: AttrType) -> bool {
    if atype == ck::CKA_VALUE {
        return class_bit == DATA;
    }
    rule(atype).is_some_and(|r| r.flags & MODIFIABLE != 0)
}

/// May C_CopyObject's template change it?
pub fn is_copy_modifiable(class_bit: u8, atype: AttrType) -> bool {
    is_modifiable(class_bit, atype) || rule(atype).is_some_and(|r| r.flags & COPY_MODIFIABLE != 0)
}

pub fn has_flag(atype: AttrType, f: u16) -> bool {
    rule(atype).is_some_and(|r| r.flags & f != 0)
}

/// The documented defaults for a class: secret and private keys are
/// private, sensitive and non-extractable unless the template says
/// otherwise; usage flags default to true.
pub fn defaults(bit: u8) -> Vec<(AttrType, Value)> {
    use Value::{Bool, Bytes, MechList, Ulong};
    let empty = || Bytes(Default::default());
    let mut d = vec![
        (ck::CKA_TOKEN, Bool(false)),
        (ck::CKA_PRIVATE, Bool(bit & (DATA | PRIV | SECRET) != 0)),
        (ck::CKA_MODIFIABLE, Bool(true)),
        (ck::CKA_COPYABLE, Bool(true)),
        (ck::CKA_DESTROYABLE, Bool(true)),
        (ck::CKA_LABEL, empty()),
    ];
    if bit == DATA {
        d.extend([(ck::CKA_APPLICATION, empty()), (ck::CKA_OBJECT_ID, empty()), (ck::CKA_VALUE, empty())]);
    }
    if bit & (PUB | PRIV | SECRET) != 0 {
        d.extend([
            (ck::CKA_ID, empty()),
            (ck::CKA_START_DATE, empty()),
            (ck::CKA_END_DATE, empty()),
            (ck::CKA_DERIVE, Bool(false)),
            (ck::CKA_LOCAL, Bool(false)),
            (ck::CKA_KEY_GEN_MECHANISM, Ulong(ck::CK_UNAVAILABLE_INFORMATION)),
            (ck::CKA_ALLOWED_MECHANISMS, MechList(Vec::new())),
        ]);
    }
    if bit == SECRET {
        d.extend([
            (ck::CKA_SENSITIVE, Bool(true)),
            (ck::CKA_EXTRACTABLE, Bool(false)),
            (ck::CKA_ENCRYPT, Bool(true)),
            (ck::CKA_DECRYPT, Bool(true)),
            (ck::CKA_SIGN, Bool(true)),
            (ck::CKA_VERIFY, Bool(true)),
            (ck::CKA_WRAP, Bool(true)),
            (ck::CKA_UNWRAP, Bool(true)),
            (ck::CKA_WRAP_WITH_TRUSTED, Bool(false)),
            (ck::CKA_TRUSTED, Bool(false)),
            (ck::CKA_WRAP_TEMPLATE, Value::Template(Vec::new())),
            (ck::CKA_UNWRAP_TEMPLATE, Value::Template(Vec::new())),
            (ck::CKA_DERIVE_TEMPLATE, Value::Template(Vec::new())),
        ]);
    }
    if bit == PUB {
        d.extend([
            (ck::CKA_SUBJECT, empty()),
            (ck::CKA_ENCRYPT, Bool(true)),
            (ck::CKA_VERIFY, Bool(true)),
            (ck::CKA_VERIFY_RECOVER, Bool(false)),
            (ck::CKA_WRAP, Bool(true)),
            (ck::CKA_TRUSTED, Bool(false)),
            (ck::CKA_WRAP_TEMPLATE, Value::Template(Vec::new())),
        ]);
    }
    if bit == PRIV {
        d.extend([
            (ck::CKA_SUBJECT, empty()),
            (ck::CKA_SENSITIVE, Bool(true)),
            (ck::CKA_EXTRACTABLE, Bool(false)),
            (ck::CKA_DECRYPT, Bool(true)),
            (ck::CKA_SIGN, Bool(true)),
            (ck::CKA_SIGN_RECOVER, Bool(false)),
            (ck::CKA_UNWRAP, Bool(true)),
            (ck::CKA_WRAP_WITH_TRUSTED, Bool(false)),
            (ck::CKA_ALWAYS_AUTHENTICATE, Bool(false)),
            (ck::CKA_UNWRAP_TEMPLATE, Value::Template(Vec::new())),
            (ck::CKA_DERIVE_TEMPLATE, Value::Template(Vec::new())),
        ]);
    }
    if bit == DOMAIN {
        d.push((ck::CKA_LOCAL, Bool(false)));
    }
    if bit == CERT {
        d.extend([
            (ck::CKA_TRUSTED, Bool(false)),
            (ck::CKA_CERTIFICATE_CATEGORY, Ulong(ck::CK_CERTIFICATE_CATEGORY_UNSPECIFIED)),
            (ck::CKA_ID, empty()),
            (ck::CKA_ISSUER, empty()),
            (ck::CKA_SERIAL_NUMBER, empty()),
            (ck::CKA_START_DATE, empty()),
            (ck::CKA_END_DATE, empty()),
            (ck::CKA_URL, empty()),
            (ck::CKA_HASH_OF_SUBJECT_PUBLIC_KEY, empty()),
            (ck::CKA_HASH_OF_ISSUER_PUBLIC_KEY, empty()),
            (ck::CKA_JAVA_MIDP_SECURITY_DOMAIN, Ulong(ck::CK_SECURITY_DOMAIN_UNSPECIFIED)),
            (ck::CKA_NAME_HASH_ALGORITHM, Ulong(ck::CKM_SHA_1)),
        ]);
    }
    d
}

/// Is this attribute sealed at rest? Every attribute of a private object
/// and every secret key component. Follows from the class and CKA_PRIVATE
/// (both authenticated with the object), never from the stored row.
pub fn sealed_at_rest(class_bit: u8, private: bool, atype: AttrType) -> bool {
    private || is_secret_part(class_bit, atype)
}

/// Is a stored object of this class complete? Every object is built from
/// the class's defaults (`defaults`) plus its class and, for keys, its key
/// type (and a secret key's value): one missing is a removed row, never
/// something to fill in with a default. An attribute the class cannot have
/// is refused too. Returns the offending attribute type.
pub fn check_complete(
    class_bit: u8,
    has: &dyn Fn(AttrType) -> bool,
    types: &mut dyn Iterator<Item = AttrType>,
) -> std::result::Result<(), AttrType> {
    for t in types {
        if t != ck::CKA_UNIQUE_ID && !applies(class_bit, t) {
            return Err(t);
        }
    }
    match required(class_bit).iter().find(|t| !has(**t)) {
        Some(&t) => Err(t),
        None => Ok(()),
    }
}

/// The attribute types every stored object of a class has, worked out once
/// per class (every object read checks them).
fn required(class_bit: u8) -> &'static [AttrType] {
    static REQUIRED: std::sync::OnceLock<Vec<(u8, Vec<AttrType>)>> = std::sync::OnceLock::new();
    let all = REQUIRED.get_or_init(|| {
        [DATA, CERT, PUB, PRIV, SECRET, DOMAIN]
            .into_iter()
            .map(|bit| {
                let mut need: Vec<AttrType> = defaults(bit).into_iter().map(|(t, _)| t).collect();
                need.push(ck::CKA_CLASS);
                if bit & (PUB | PRIV | SECRET | DOMAIN) != 0 {
                    need.push(ck::CKA_KEY_TYPE);
                }
                if bit == SECRET {
                    need.push(ck::CKA_VALUE);
                }
                (bit, need)
            })
            .collect()
    });
    all.iter().find(|(b, _)| *b == class_bit).map_or(&[], |(_, need)| need.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_found() {
        for r in RULES {
            assert_eq!(rule(r.atype).map(|x| x.name), Some(r.name));
        }
        assert!(rule(ck::CKA_VENDOR_DEFINED).is_none());
    }

    #[test]
    fn table_has_no_duplicates() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(RULES[i + 1..].iter().all(|o| o.atype != r.atype), "{} twice", r.name);
        }
    }

    #[test]
    fn bounds_fit_every_kind() {
        assert_eq!(max_len(ck::CKA_TOKEN), 1);
        assert_eq!(max_len(ck::CKA_CLASS), 8);
        assert_eq!(max_len(ck::CKA_START_DATE), 8);
        assert_eq!(max_len(ck::CKA_MODULUS), MAX_BIGNUM);
        assert_eq!(max_len(ck::CKA_VALUE), MAX_BYTES);
        assert_eq!(max_len(ck::CKA_VENDOR_DEFINED), MAX_BYTES);
        assert!(max_template_len() >= RULES.len());
    }

    #[test]
    fn dsa_and_dh_private_values_are_sealed() {
        // x of a DSA or DH private key and every DES key value: secret
        // parts, sealed at rest whatever CKA_PRIVATE says.
        assert!(sealed_at_rest(PRIV, false, ck::CKA_VALUE));
        assert!(sealed_at_rest(SECRET, false, ck::CKA_VALUE));
        // y, p, q, g are public.
        assert!(!sealed_at_rest(PUB, false, ck::CKA_VALUE));
        for t in [ck::CKA_PRIME, ck::CKA_SUBPRIME, ck::CKA_BASE] {
            assert!(!sealed_at_rest(PRIV, false, t) && applies(DOMAIN, t) && applies(PUB, t));
        }
        assert_eq!(class_bit(ck::CKO_DOMAIN_PARAMETERS), Some(DOMAIN));
        assert!(applies(DOMAIN, ck::CKA_PRIME_BITS) && !applies(DOMAIN, ck::CKA_SENSITIVE));
    }

    #[test]
    fn value_is_secret_on_keys_only() {
        assert!(is_secret_part(SECRET, ck::CKA_VALUE));
        assert!(!is_secret_part(DATA, ck::CKA_VALUE));
        assert!(is_modifiable(DATA, ck::CKA_VALUE));
        assert!(!is_modifiable(SECRET, ck::CKA_VALUE));
        assert!(!applies(DATA, ck::CKA_SENSITIVE));
        assert!(applies(SECRET, ck::CKA_WRAP_TEMPLATE));
    }
}
