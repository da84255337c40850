//! Asymmetric keys as the mechanisms use them, built from and turned into
//! object attributes: RSA, EC (NIST, secp256k1, brainpool), Ed25519,
//! X25519, Ed448, X448, ML-KEM, ML-DSA.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::curve::{octet_string, point_of, CurveId};
use super::curve448::{self, ED448_LEN, X448_LEN};
use super::pq::{PqKey, Set};
use crate::error::{Error, Result};
use crate::model::{AttrType, Object, Value};
use crate::sys::awslc::ec::{self, Curve, EcKey};
use crate::sys::awslc::pkey::{self, KeyRef, Parsed};
use crate::sys::awslc::rsa::{Rsa, RsaParts};

pub enum Key {
    Rsa {
        key: Rsa,
        private: bool,
    },
    Ec {
        curve: Curve,
        key: EcKey,
        private: bool,
    },
    Ed25519 {
        private: Option<Zeroizing<Vec<u8>>>,
        public: [u8; 32],
    },
    X25519 {
        private: Option<Zeroizing<Vec<u8>>>,
        public: [u8; 32],
    },
    Ed448 {
        private: Option<Zeroizing<Vec<u8>>>,
        public: [u8; ED448_LEN],
    },
    X448 {
        private: Option<Zeroizing<Vec<u8>>>,
        public: [u8; X448_LEN],
    },
    /// ML-KEM or ML-DSA (PKCS#11 3.2).
    Pq(PqKey),
    Dsa(super::dlog::DlogKey),
    Dh(super::dlog::DlogKey),
}

pub type Attrs = Vec<(AttrType, Value)>;

fn fixed<const N: usize>(b: &[u8]) -> Result<[u8; N]> {
    b.try_into().map_err(|_| Error::AttributeValueInvalid)
}

/// The smallest RSA public key taken (to verify old certificates).
pub const LEGACY_RSA_BITS: usize = 512;

impl Key {
    pub fn is_private(&self) -> bool {
        match self {
            Key::Rsa { private, .. } | Key::Ec { private, .. } => *private,
            Key::Ed25519 { private, .. }
            | Key::X25519 { private, .. }
            | Key::Ed448 { private, .. }
            | Key::X448 { private, .. } => private.is_some(),
            Key::Pq(k) => k.private.is_some(),
            Key::Dsa(k) | Key::Dh(k) => k.x.is_some(),
        }
    }

    pub fn key_type(&self) -> ck::CK_KEY_TYPE {
        match self {
            Key::Rsa { .. } => ck::CKK_RSA,
            Key::Ec { .. } => ck::CKK_EC,
            Key::Ed25519 { .. } | Key::Ed448 { .. } => ck::CKK_EC_EDWARDS,
            Key::X25519 { .. } | Key::X448 { .. } => ck::CKK_EC_MONTGOMERY,
            Key::Pq(k) => k.set.key_type(),
            Key::Dsa(_) => ck::CKK_DSA,
            Key::Dh(_) => ck::CKK_DH,
        }
    }

    pub fn pq(&self) -> Option<&PqKey> {
        match self {
            Key::Pq(k) => Some(k),
            _ => None,
        }
    }

    pub fn rsa(&self) -> Option<&Rsa> {
        match self {
            Key::Rsa { key, .. } => Some(key),
            _ => None,
        }
    }

    /// A key pair from the generator of its family.
    pub fn generate_rsa(bits: u32, e: &[u8]) -> Result<Key> {
        let key = Rsa::generate(bits, e).map_err(|_| Error::general("RSA key generation failed"))?;
        Ok(Key::Rsa { key, private: true })
    }

    pub fn generate_ec(curve: CurveId) -> Result<Key> {
        let mut seed = Zeroizing::new(vec![0u8; curve.point_len()]);
        let failed = || Error::general("Curve448 keygen failed");
        Ok(match curve {
            CurveId::Nist(c) => Key::Ec {
                curve: c,
                key: EcKey::generate(c).map_err(|_| Error::general("EC keygen failed"))?,
                private: true,
            },
            CurveId::Ed25519 => {
                crate::sys::rand::random(&mut seed)?;
                let public = ec::ed25519_public(&seed).map_err(|_| Error::general("Ed25519 keygen failed"))?;
                Key::Ed25519 { private: Some(seed), public }
            }
            CurveId::X25519 => {
                crate::sys::rand::random(&mut seed)?;
                let public = ec::x25519_public(&seed).map_err(|_| Error::general("X25519 keygen failed"))?;
                Key::X25519 { private: Some(seed), public }
            }
            CurveId::Ed448 => {
                crate::sys::rand::random(&mut seed)?;
                let public = curve448::ed448_public(&seed).ok_or_else(failed)?;
                Key::Ed448 { private: Some(seed), public }
            }
            CurveId::X448 => {
                crate::sys::rand::random(&mut seed)?;
                let public = curve448::x448_public(&seed).ok_or_else(failed)?;
                Key::X448 { private: Some(seed), public }
            }
        })
    }

    /// The key in an object (public or private class). `check`: verify the
    /// components' consistency (for keys coming from outside).
    pub fn from_object(o: &Object, check: bool) -> Result<Key> {
        let private = match o.class() {
            ck::CKO_PRIVATE_KEY => true,
            ck::CKO_PUBLIC_KEY => false,
            _ => return Err(Error::KeyTypeInconsistent),
        };
        let bytes = |t| o.bytes(t).ok_or(Error::TemplateIncomplete);
        let opt = |t| Zeroizing::new(o.bytes(t).map(<[u8]>::to_vec).unwrap_or_default());
        let bad = |_| Error::AttributeValueInvalid;
        match o.ulong(ck::CKA_KEY_TYPE) {
            Some(ck::CKK_RSA) => {
                let (n, e) = (bytes(ck::CKA_MODULUS)?, bytes(ck::CKA_PUBLIC_EXPONENT)?);
                let key = if private {
                    let parts = RsaParts {
                        n: Zeroizing::new(n.to_vec()),
                        e: Zeroizing::new(e.to_vec()),
                        d: Zeroizing::new(bytes(ck::CKA_PRIVATE_EXPONENT)?.to_vec()),
                        p: opt(ck::CKA_PRIME_1),
                        q: opt(ck::CKA_PRIME_2),
                        dp: opt(ck::CKA_EXPONENT_1),
                        dq: opt(ck::CKA_EXPONENT_2),
                        qinv: opt(ck::CKA_COEFFICIENT),
                    };
                    Rsa::private(&parts, check).map_err(bad)?
                } else {
                    Rsa::public(n, e).map_err(bad)?
                };
                // Public keys from 512 bits, to verify old certificates;
                // they never encrypt or wrap (`Key::legacy_rsa`), and no
                // private key below 1024 bits is taken.
                let min = if private { 1024 } else { LEGACY_RSA_BITS };
                if check && !(min..=16384).contains(&key.bits()) {
                    return Err(Error::AttributeValueInvalid);
                }
                Ok(Key::Rsa { key, private })
            }
            Some(kt @ (ck::CKK_EC | ck::CKK_EC_EDWARDS | ck::CKK_EC_MONTGOMERY)) => {
                let curve = CurveId::parse(bytes(ck::CKA_EC_PARAMS)?)?;
                if curve.key_type() != kt {
                    return Err(Error::TemplateInconsistent);
                }
                let scalar = if private { Some(bytes(ck::CKA_VALUE)?) } else { None };
                let point = || bytes(ck::CKA_EC_POINT).map(|v| point_of(v, curve.point_len()));
                Ok(match (curve, scalar) {
                    (CurveId::Nist(c), Some(d)) => {
                        Key::Ec { curve: c, key: EcKey::private(c, d).map_err(bad)?, private }
                    }
                    (CurveId::Nist(c), None) => {
                        Key::Ec { curve: c, key: EcKey::public(c, point()?).map_err(bad)?, private }
                    }
                    (CurveId::Ed25519, Some(s)) => Key::Ed25519 {
                        public: ec::ed25519_public(s).map_err(bad)?,
                        private: Some(Zeroizing::new(s.to_vec())),
                    },
                    (CurveId::Ed25519, None) => Key::Ed25519 { private: None, public: fixed(point()?)? },
                    (CurveId::X25519, Some(s)) => Key::X25519 {
                        public: ec::x25519_public(s).map_err(bad)?,
                        private: Some(Zeroizing::new(s.to_vec())),
                    },
                    (CurveId::X25519, None) => Key::X25519 { private: None, public: fixed(point()?)? },
                    (CurveId::Ed448, Some(s)) => Key::Ed448 {
                        public: curve448::ed448_public(s).ok_or(Error::AttributeValueInvalid)?,
                        private: Some(Zeroizing::new(s.to_vec())),
                    },
                    (CurveId::Ed448, None) => {
                        let public = fixed(point()?)?;
                        // A point from outside must decode.
                        if check && !curve448::ed448_point_valid(&public) {
                            return Err(Error::AttributeValueInvalid);
                        }
                        Key::Ed448 { private: None, public }
                    }
                    (CurveId::X448, Some(s)) => Key::X448 {
                        public: curve448::x448_public(s).ok_or(Error::AttributeValueInvalid)?,
                        private: Some(Zeroizing::new(s.to_vec())),
                    },
                    (CurveId::X448, None) => Key::X448 { private: None, public: fixed(point()?)? },
                })
            }
            Some(kt @ (ck::CKK_ML_KEM | ck::CKK_ML_DSA)) => {
                let p = o.ulong(ck::CKA_PARAMETER_SET).ok_or(Error::TemplateIncomplete)?;
                let set = Set::from_ck(kt, p).ok_or(Error::ParameterSetNotSupported)?;
                let k = if private {
                    match (o.bytes(ck::CKA_VALUE), o.bytes(ck::CKA_SEED)) {
                        (Some(v), seed) => PqKey::from_private(set, v, seed.filter(|s| !s.is_empty()))?,
                        (None, Some(seed)) => PqKey::from_seed(set, Zeroizing::new(seed.to_vec()))?,
                        (None, None) => return Err(Error::TemplateIncomplete),
                    }
                } else if check {
                    PqKey::from_public(set, bytes(ck::CKA_VALUE)?)?
                } else {
                    // A stored key was checked when it was made.
                    PqKey { set, public: bytes(ck::CKA_VALUE)?.to_vec(), private: None }
                };
                Ok(Key::Pq(k))
            }
            Some(kt @ (ck::CKK_DSA | ck::CKK_DH)) => {
                let k = super::dlog::DlogKey::from_object(o, kt, private, check)?;
                Ok(if kt == ck::CKK_DSA { Key::Dsa(k) } else { Key::Dh(k) })
            }
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// A DSA or DH key's components.
    pub fn dlog(&self) -> Option<&super::dlog::DlogKey> {
        match self {
            Key::Dsa(k) | Key::Dh(k) => Some(k),
            _ => None,
        }
    }

    fn key_ref(&self, private: bool) -> Result<KeyRef<'_>> {
        Ok(match self {
            Key::Rsa { key, .. } => KeyRef::Rsa(key),
            Key::Ec { key, .. } => KeyRef::Ec(key),
            Key::Ed25519 { private: Some(s), .. } if private => KeyRef::Ed25519(s),
            Key::X25519 { private: Some(s), .. } if private => KeyRef::X25519(s),
            Key::Ed25519 { public, .. } => KeyRef::Ed25519(public),
            Key::X25519 { public, .. } => KeyRef::X25519(public),
            Key::Ed448 { .. } | Key::X448 { .. } => return Err(Error::general("not an aws-lc key")),
            Key::Pq(_) => return Err(Error::KeyTypeInconsistent),
            Key::Dsa(_) | Key::Dh(_) => return Err(Error::KeyTypeInconsistent),
        })
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Result<Vec<u8>> {
        match self {
            Key::Pq(k) => Ok(k.spki()),
            Key::Dsa(k) | Key::Dh(k) => Ok(k.spki(self.key_type())),
            Key::Ec { curve: Curve::P192, key, .. } => {
                let point = key.public_point().map_err(|_| Error::general("EC point encoding failed"))?;
                super::p192::spki(&point).ok_or_else(|| Error::general("SPKI encoding failed"))
            }
            Key::Ed448 { public, .. } => Ok(curve448::spki(curve448::Kind::Ed448, public)),
            Key::X448 { public, .. } => Ok(curve448::spki(curve448::Kind::X448, public)),
            _ => pkey::spki(self.key_ref(false)?).map_err(|_| Error::general("SPKI encoding failed")),
        }
    }

    /// DER PKCS#8 PrivateKeyInfo (wrapping).
    pub fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        if !self.is_private() {
            return Err(Error::KeyNotWrappable);
        }
        match self {
            Key::Pq(k) => k.pkcs8(),
            Key::Dsa(k) | Key::Dh(k) => k.pkcs8(self.key_type()),
            Key::Ec { curve: Curve::P192, key, .. } => {
                let failed = || Error::general("PKCS#8 encoding failed");
                let (d, q) = (key.scalar().map_err(|_| failed())?, key.public_point().map_err(|_| failed())?);
                super::p192::pkcs8(&d, &q).ok_or_else(failed)
            }
            Key::Ed448 { private: Some(s), .. } => Ok(curve448::pkcs8(curve448::Kind::Ed448, s)),
            Key::X448 { private: Some(s), .. } => Ok(curve448::pkcs8(curve448::Kind::X448, s)),
            _ => pkey::pkcs8(self.key_ref(true)?).map_err(|_| Error::general("PKCS#8 encoding failed")),
        }
    }

    /// A private key from PKCS#8 (unwrapping). An RSA key outside
    /// 1024..=16384 bits is refused as a created one is.
    pub fn from_pkcs8(der: &[u8]) -> Result<Key> {
        if let Some(k) = PqKey::from_pkcs8(der) {
            return Ok(Key::Pq(k?));
        }
        if let Some(k) = super::dlog::from_pkcs8(der) {
            return k;
        }
        let bad = |_| Error::WrappedKeyInvalid;
        // Ed448 and X448 have fixed layouts aws-lc does not know.
        match curve448::parse_pkcs8(der) {
            Some((curve448::Kind::Ed448, s)) => {
                return Ok(Key::Ed448 {
                    public: curve448::ed448_public(&s).ok_or(Error::WrappedKeyInvalid)?,
                    private: Some(s),
                })
            }
            Some((curve448::Kind::X448, s)) => {
                return Ok(Key::X448 {
                    public: curve448::x448_public(&s).ok_or(Error::WrappedKeyInvalid)?,
                    private: Some(s),
                })
            }
            None => {}
        }
        // So has P-192, which aws-lc runs as a custom group.
        if let Some((d, q)) = super::p192::parse_pkcs8(der) {
            let key = EcKey::private(Curve::P192, &d).map_err(bad)?;
            if q.is_some_and(|q| key.public_point().ok() != Some(q)) {
                return Err(Error::WrappedKeyInvalid);
            }
            return Ok(Key::Ec { curve: Curve::P192, key, private: true });
        }
        Ok(match pkey::parse_pkcs8(der).map_err(bad)? {
            Parsed::Rsa(key) if !(1024..=16384).contains(&key.bits()) => return Err(Error::WrappedKeyInvalid),
            Parsed::Rsa(key) => Key::Rsa { key, private: true },
            Parsed::Ec(curve, key) => Key::Ec { curve, key, private: true },
            Parsed::Ed25519(s) => Key::Ed25519 { public: ec::ed25519_public(&s).map_err(bad)?, private: Some(s) },
            Parsed::X25519(s) => Key::X25519 { public: ec::x25519_public(&s).map_err(bad)?, private: Some(s) },
        })
    }

    pub fn curve_id(&self) -> Option<CurveId> {
        match self {
            Key::Rsa { .. } | Key::Pq(_) | Key::Dsa(_) | Key::Dh(_) => None,
            Key::Ec { curve, .. } => Some(CurveId::Nist(*curve)),
            Key::Ed25519 { .. } => Some(CurveId::Ed25519),
            Key::X25519 { .. } => Some(CurveId::X25519),
            Key::Ed448 { .. } => Some(CurveId::Ed448),
            Key::X448 { .. } => Some(CurveId::X448),
        }
    }

    /// The public point as raw bytes (uncompressed for NIST curves).
    pub fn public_point(&self) -> Result<Vec<u8>> {
        match self {
            Key::Rsa { .. } | Key::Pq(_) | Key::Dsa(_) | Key::Dh(_) => Err(Error::KeyTypeInconsistent),
            Key::Ec { key, .. } => key.public_point().map_err(|_| Error::general("EC point encoding failed")),
            Key::Ed25519 { public, .. } | Key::X25519 { public, .. } => Ok(public.to_vec()),
            Key::Ed448 { public, .. } => Ok(public.to_vec()),
            Key::X448 { public, .. } => Ok(public.to_vec()),
        }
    }

    /// The attributes describing the public half, for either object.
    /// `params` keeps the caller's CKA_EC_PARAMS encoding when given.
    pub fn public_attrs(&self, params: Option<&[u8]>) -> Result<Attrs> {
        if let Some(k) = self.dlog() {
            return Ok(k.public_attrs(self.key_type()));
        }
        let mut a: Attrs = vec![(ck::CKA_KEY_TYPE, Value::Ulong(self.key_type()))];
        match self {
            Key::Rsa { key, .. } => {
                let p = key.parts();
                a.push((ck::CKA_MODULUS, Value::Bytes(p.n)));
                a.push((ck::CKA_PUBLIC_EXPONENT, Value::Bytes(p.e)));
            }
            // The raw public key is the public object's CKA_VALUE
            // (`pq_public_value`): the private object's is its own.
            Key::Pq(k) => a.push((ck::CKA_PARAMETER_SET, Value::Ulong(k.set.ck()))),
            _ => {
                let curve = self.curve_id().expect("not RSA");
                let params = params.map_or_else(|| curve.oid().to_vec(), <[u8]>::to_vec);
                a.push((ck::CKA_EC_PARAMS, Value::bytes(params)));
                a.push((ck::CKA_EC_POINT, Value::bytes(octet_string(&self.public_point()?))));
            }
        }
        a.push((ck::CKA_PUBLIC_KEY_INFO, Value::bytes(self.spki()?)));
        Ok(a)
    }

    /// The public object's CKA_VALUE: the raw public key of an ML-KEM or
    /// ML-DSA key (PKCS#11 3.2), None for the other types.
    pub fn pq_public_value(&self) -> Option<Vec<u8>> {
        self.pq().map(|k| k.public.clone())
    }

    /// CKA_MODULUS_BITS, for the public object of an RSA key.
    /// An RSA public key below 1024 bits: imported to verify old
    /// signatures, never used to encrypt or wrap.
    pub fn legacy_rsa(&self) -> bool {
        self.modulus_bits().is_some_and(|b| b < 1024)
    }

    pub fn modulus_bits(&self) -> Option<u64> {
        self.rsa().map(|k| k.bits() as u64)
    }

    /// The secret components, for the private object.
    pub fn private_attrs(&self) -> Result<Attrs> {
        Ok(match self {
            Key::Rsa { key, .. } => {
                let p = key.parts();
                vec![
                    (ck::CKA_PRIVATE_EXPONENT, Value::Bytes(p.d)),
                    (ck::CKA_PRIME_1, Value::Bytes(p.p)),
                    (ck::CKA_PRIME_2, Value::Bytes(p.q)),
                    (ck::CKA_EXPONENT_1, Value::Bytes(p.dp)),
                    (ck::CKA_EXPONENT_2, Value::Bytes(p.dq)),
                    (ck::CKA_COEFFICIENT, Value::Bytes(p.qinv)),
                ]
            }
            Key::Ec { key, .. } => {
                vec![(ck::CKA_VALUE, Value::Bytes(key.scalar().map_err(|_| Error::general("no EC scalar"))?))]
            }
            Key::Ed25519 { private: Some(s), .. }
            | Key::X25519 { private: Some(s), .. }
            | Key::Ed448 { private: Some(s), .. }
            | Key::X448 { private: Some(s), .. } => {
                vec![(ck::CKA_VALUE, Value::Bytes(s.clone()))]
            }
            Key::Pq(PqKey { private: Some(p), .. }) => {
                let mut v = vec![(ck::CKA_VALUE, Value::Bytes(p.expanded.clone()))];
                if let Some(seed) = &p.seed {
                    v.push((ck::CKA_SEED, Value::Bytes(seed.clone())));
                }
                v
            }
            Key::Dsa(k) | Key::Dh(k) => k.private_attrs(self.key_type())?,
            _ => return Err(Error::KeyTypeInconsistent),
        })
    }
}
