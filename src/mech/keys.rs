//! Asymmetric keys as the mechanisms use them, built from and turned into
//! object attributes: RSA, NIST EC, Ed25519, X25519.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::curve::{octet_string, point_of, CurveId};
use crate::error::{Error, Result};
use crate::model::{AttrType, Object, Value};
use crate::sys::awslc::ec::{self, Curve, EcKey};
use crate::sys::awslc::pkey::{self, KeyRef, Parsed};
use crate::sys::awslc::rsa::{Rsa, RsaParts};

pub enum Key {
    Rsa { key: Rsa, private: bool },
    Ec { curve: Curve, key: EcKey, private: bool },
    Ed25519 { private: Option<Zeroizing<Vec<u8>>>, public: [u8; 32] },
    X25519 { private: Option<Zeroizing<Vec<u8>>>, public: [u8; 32] },
    Dsa(super::dlog::DlogKey),
    Dh(super::dlog::DlogKey),
}

pub type Attrs = Vec<(AttrType, Value)>;

fn fixed32(b: &[u8]) -> Result<[u8; 32]> {
    b.try_into().map_err(|_| Error::AttributeValueInvalid)
}

/// The smallest RSA public key taken (to verify old certificates).
pub const LEGACY_RSA_BITS: usize = 512;

impl Key {
    pub fn is_private(&self) -> bool {
        match self {
            Key::Rsa { private, .. } | Key::Ec { private, .. } => *private,
            Key::Ed25519 { private, .. } | Key::X25519 { private, .. } => private.is_some(),
            Key::Dsa(k) | Key::Dh(k) => k.x.is_some(),
        }
    }

    pub fn key_type(&self) -> ck::CK_KEY_TYPE {
        match self {
            Key::Rsa { .. } => ck::CKK_RSA,
            Key::Ec { .. } => ck::CKK_EC,
            Key::Ed25519 { .. } => ck::CKK_EC_EDWARDS,
            Key::X25519 { .. } => ck::CKK_EC_MONTGOMERY,
            Key::Dsa(_) => ck::CKK_DSA,
            Key::Dh(_) => ck::CKK_DH,
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
        let mut seed = Zeroizing::new(vec![0u8; 32]);
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
                    (CurveId::Ed25519, None) => Key::Ed25519 { private: None, public: fixed32(point()?)? },
                    (CurveId::X25519, Some(s)) => Key::X25519 {
                        public: ec::x25519_public(s).map_err(bad)?,
                        private: Some(Zeroizing::new(s.to_vec())),
                    },
                    (CurveId::X25519, None) => Key::X25519 { private: None, public: fixed32(point()?)? },
                })
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
            Key::Dsa(_) | Key::Dh(_) => return Err(Error::KeyTypeInconsistent),
        })
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Result<Vec<u8>> {
        if let Some(k) = self.dlog() {
            return Ok(k.spki(self.key_type()));
        }
        pkey::spki(self.key_ref(false)?).map_err(|_| Error::general("SPKI encoding failed"))
    }

    /// DER PKCS#8 PrivateKeyInfo (wrapping).
    pub fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        if !self.is_private() {
            return Err(Error::KeyNotWrappable);
        }
        if let Some(k) = self.dlog() {
            return k.pkcs8(self.key_type());
        }
        pkey::pkcs8(self.key_ref(true)?).map_err(|_| Error::general("PKCS#8 encoding failed"))
    }

    /// A private key from PKCS#8 (unwrapping). An RSA key outside
    /// 1024..=16384 bits is refused as a created one is.
    pub fn from_pkcs8(der: &[u8]) -> Result<Key> {
        if let Some(k) = super::dlog::from_pkcs8(der) {
            return k;
        }
        let bad = |_| Error::WrappedKeyInvalid;
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
            Key::Rsa { .. } | Key::Dsa(_) | Key::Dh(_) => None,
            Key::Ec { curve, .. } => Some(CurveId::Nist(*curve)),
            Key::Ed25519 { .. } => Some(CurveId::Ed25519),
            Key::X25519 { .. } => Some(CurveId::X25519),
        }
    }

    /// The public point as raw bytes (uncompressed for NIST curves).
    pub fn public_point(&self) -> Result<Vec<u8>> {
        match self {
            Key::Rsa { .. } | Key::Dsa(_) | Key::Dh(_) => Err(Error::KeyTypeInconsistent),
            Key::Ec { key, .. } => key.public_point().map_err(|_| Error::general("EC point encoding failed")),
            Key::Ed25519 { public, .. } | Key::X25519 { public, .. } => Ok(public.to_vec()),
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
            Key::Ed25519 { private: Some(s), .. } | Key::X25519 { private: Some(s), .. } => {
                vec![(ck::CKA_VALUE, Value::Bytes(s.clone()))]
            }
            Key::Dsa(k) | Key::Dh(k) => k.private_attrs(self.key_type())?,
            _ => return Err(Error::KeyTypeInconsistent),
        })
    }
}
