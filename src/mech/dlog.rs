//! Discrete-logarithm keys: DSA (FIPS 186) and PKCS #3 Diffie-Hellman.
//! Their components as object attributes (CKA_PRIME, CKA_SUBPRIME,
//! CKA_BASE, CKA_VALUE), their DER forms (SubjectPublicKeyInfo, PKCS #8 as
//! OpenSSL and SoftHSM write them), signatures as r||s, and the padded
//! shared secret. The arithmetic is aws-lc's (`sys::awslc::dsa`).

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::keys::{Attrs, Key};
use crate::error::{Error, Result};
use crate::model::{Object, Value};
use crate::sys::awslc::dsa as raw;

/// Sizes of p taken for a key: from FIPS 186's smallest to aws-lc's
/// largest (a SoftHSM token may hold any of these).
pub const P_BITS: std::ops::RangeInclusive<usize> = 1024..=10000;
/// Sizes generated (parameters and DSA keys): FIPS 186-4's L.
pub const GEN_BITS: std::ops::RangeInclusive<u64> = 1024..=3072;

/// A DSA or DH key: the domain parameters (q empty for DH), the public
/// value y and, for a private key, x.
pub struct DlogKey {
    pub p: Vec<u8>,
    pub q: Vec<u8>,
    pub g: Vec<u8>,
    pub y: Vec<u8>,
    pub x: Option<Zeroizing<Vec<u8>>>,
    /// DH: CKA_VALUE_BITS (0: not given).
    pub value_bits: u64,
}

fn strip(b: &[u8]) -> &[u8] {
    &b[b.iter().position(|x| *x != 0).unwrap_or(b.len())..]
}

fn bits(b: &[u8]) -> usize {
    let b = strip(b);
    b.first().map_or(0, |f| b.len() * 8 - f.leading_zeros() as usize)
}

impl DlogKey {
    pub fn p_bits(&self) -> usize {
        bits(&self.p)
    }

    pub fn q_len(&self) -> usize {
        strip(&self.q).len()
    }

    /// A key from an object's attributes (`kt` CKK_DSA or CKK_DH). A
    /// private key's public value is computed (g^x mod p). `check`: the
    /// values are verified as a key from outside must be.
    pub fn from_object(o: &Object, kt: ck::CK_KEY_TYPE, private: bool, check: bool) -> Result<DlogKey> {
        let get = |t| o.bytes(t).map(|b| strip(b).to_vec()).ok_or(Error::TemplateIncomplete);
        let (p, g) = (get(ck::CKA_PRIME)?, get(ck::CKA_BASE)?);
        let q = if kt == ck::CKK_DSA { get(ck::CKA_SUBPRIME)? } else { Vec::new() };
        let value = Zeroizing::new(get(ck::CKA_VALUE)?);
        let bad = |_| Error::AttributeValueInvalid;
        if check && (!P_BITS.contains(&bits(&p)) || value.is_empty() || g.is_empty()) {
            return Err(Error::AttributeValueInvalid);
        }
        let (y, x) = if private {
            let below_q = value.len() < q.len() || (value.len() == q.len() && value[..] < q[..]);
            if check && kt == ck::CKK_DSA && !below_q {
                return Err(Error::AttributeValueInvalid);
            }
            (raw::mod_exp(&g, &value, &p).map_err(bad)?, Some(value))
        } else {
            (value.to_vec(), None)
        };
        if check {
            if kt == ck::CKK_DSA {
                raw::dsa_check(&p, &q, &g, &y).map_err(bad)?;
            } else if y.len() > p.len() || (y.len() == p.len() && y[..] >= p[..]) || bits(&y) < 2 {
                return Err(Error::AttributeValueInvalid);
            }
        }
        let value_bits = o.ulong(ck::CKA_VALUE_BITS).unwrap_or(0);
        Ok(DlogKey { p, q, g, y, x, value_bits })
    }

    pub fn generate_dsa(p: &[u8], q: &[u8], g: &[u8]) -> Result<DlogKey> {
        let (x, y) = raw::dsa_keygen(p, q, g).map_err(|_| Error::DomainParamsInvalid)?;
        Ok(DlogKey { p: strip(p).to_vec(), q: strip(q).to_vec(), g: strip(g).to_vec(), y, x: Some(x), value_bits: 0 })
    }

    pub fn generate_dh(p: &[u8], g: &[u8], value_bits: u64) -> Result<DlogKey> {
        let vb = u32::try_from(value_bits).map_err(|_| Error::AttributeValueInvalid)?;
        let (x, y) = raw::dh_keygen(p, g, vb).map_err(|_| Error::DomainParamsInvalid)?;
        let value_bits = if value_bits > 0 { value_bits } else { bits(&x) as u64 };
        Ok(DlogKey { p: strip(p).to_vec(), q: Vec::new(), g: strip(g).to_vec(), y, x: Some(x), value_bits })
    }

    /// The attributes of the public half (also kept on the private one,
    /// whose CKA_VALUE `private_attrs` then sets to x).
    pub fn public_attrs(&self, kt: ck::CK_KEY_TYPE) -> Attrs {
        let mut a: Attrs = vec![
            (ck::CKA_KEY_TYPE, Value::Ulong(kt)),
            (ck::CKA_PRIME, Value::bytes(self.p.clone())),
            (ck::CKA_BASE, Value::bytes(self.g.clone())),
            (ck::CKA_VALUE, Value::bytes(self.y.clone())),
        ];
        if kt == ck::CKK_DSA {
            a.push((ck::CKA_SUBPRIME, Value::bytes(self.q.clone())));
        }
        a.push((ck::CKA_PUBLIC_KEY_INFO, Value::bytes(self.spki(kt))));
        a
    }

    pub fn private_attrs(&self, kt: ck::CK_KEY_TYPE) -> Result<Attrs> {
        let x = self.x.as_ref().ok_or(Error::KeyTypeInconsistent)?;
        let mut a: Attrs = vec![(ck::CKA_VALUE, Value::Bytes(x.clone()))];
        if kt == ck::CKK_DH {
            a.push((ck::CKA_VALUE_BITS, Value::Ulong(self.value_bits)));
        }
        Ok(a)
    }

    fn algorithm(&self, kt: ck::CK_KEY_TYPE) -> Vec<u8> {
        let params = if kt == ck::CKK_DSA {
            der::seq(&[der::int(&self.p), der::int(&self.q), der::int(&self.g)].concat())
        } else {
            der::seq(&[der::int(&self.p), der::int(&self.g)].concat())
        };
        let oid = if kt == ck::CKK_DSA { der::OID_DSA } else { der::OID_DH };
        der::seq(&[oid, &params[..]].concat())
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self, kt: ck::CK_KEY_TYPE) -> Vec<u8> {
        der::seq(&[self.algorithm(kt), der::bit_string(&der::int(&self.y))].concat())
    }

    /// DER PKCS #8 PrivateKeyInfo (DH with PKCS #3's dhKeyAgreement, as
    /// OpenSSL writes it).
    pub fn pkcs8(&self, kt: ck::CK_KEY_TYPE) -> Result<Zeroizing<Vec<u8>>> {
        let x = self.x.as_ref().ok_or(Error::KeyNotWrappable)?;
        let inner = Zeroizing::new(der::int(x));
        let octet = Zeroizing::new(der::tlv(0x04, &inner));
        let body = Zeroizing::new([&der::int(&[0])[..], &self.algorithm(kt), &octet].concat());
        Ok(Zeroizing::new(der::seq(&body)))
    }

    /// DSA: a signature (r||s) of a digest (aws-lc takes its leftmost bits).
    pub fn sign(&self, digest: &[u8]) -> Result<Vec<u8>> {
        let x = self.x.as_ref().ok_or(Error::KeyTypeInconsistent)?;
        raw::dsa_sign(&self.p, &self.q, &self.g, &self.y, x, digest).map_err(|_| Error::general("DSA signing failed"))
    }

    pub fn verify(&self, digest: &[u8], sig: &[u8]) -> bool {
        raw::dsa_verify(&self.p, &self.q, &self.g, &self.y, digest, sig)
    }

    /// DH: the shared secret with the peer's public value, p's length.
    pub fn agree(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let x = self.x.as_ref().ok_or(Error::KeyTypeInconsistent)?;
        raw::dh_compute(&self.p, &self.g, x, peer).map_err(|_| Error::MechanismParamInvalid)
    }
}

/// DSA or DH domain parameters (q empty for DH).
pub struct Params {
    pub key_type: ck::CK_KEY_TYPE,
    pub p: Vec<u8>,
    pub q: Vec<u8>,
    pub g: Vec<u8>,
}

/// New domain parameters of `bits`: DSA (q of 160 bits below 2048, else
/// 256) or PKCS #3 DH with generator 2.
pub fn generate_params(key_type: ck::CK_KEY_TYPE, bits: u32) -> Result<Params> {
    let failed = |_| Error::general("domain parameter generation failed");
    let (p, q, g) = if key_type == ck::CKK_DSA {
        raw::dsa_paramgen(bits).map_err(failed)?
    } else {
        let (p, g) = raw::dh_paramgen(bits).map_err(failed)?;
        (p, Vec::new(), g)
    };
    Ok(Params { key_type, p, q, g })
}

/// A DSA or DH private key from PKCS #8, or None if the DER names another
/// algorithm.
pub fn from_pkcs8(d: &[u8]) -> Option<Result<Key>> {
    let bad = Error::WrappedKeyInvalid;
    let parsed = (|| {
        let (body, rest) = der::read(d, 0x30)?;
        if !rest.is_empty() {
            return None;
        }
        let (_version, body) = der::read(body, 0x02)?;
        let (alg, body) = der::read(body, 0x30)?;
        let (octet, _) = der::read(body, 0x04)?;
        let (oid, params) = der::read_raw(alg)?;
        let (params, _) = der::read(params, 0x30)?;
        Some((oid.to_vec(), params.to_vec(), Zeroizing::new(octet.to_vec())))
    })();
    let (oid, params, octet) = parsed?;
    let kt = if oid[..] == der::OID_DSA[..] {
        ck::CKK_DSA
    } else if oid[..] == der::OID_DH[..] {
        ck::CKK_DH
    } else {
        return None;
    };
    let key = (|| {
        let (x, _) = der::read(&octet, 0x02)?;
        let (p, rest) = der::read(&params, 0x02)?;
        let (q, rest) = if kt == ck::CKK_DSA { der::read(rest, 0x02)? } else { (&[][..], rest) };
        let (g, rest) = der::read(rest, 0x02)?;
        let value_bits = match der::read(rest, 0x02) {
            Some((l, _)) if l.len() <= 4 => l.iter().fold(0u64, |a, b| a << 8 | u64::from(*b)),
            _ => 0,
        };
        Some((Zeroizing::new(strip(x).to_vec()), strip(p).to_vec(), strip(q).to_vec(), strip(g).to_vec(), value_bits))
    })();
    let Some((x, p, q, g, value_bits)) = key else { return Some(Err(bad)) };
    if !P_BITS.contains(&bits(&p)) || x.is_empty() || g.is_empty() {
        return Some(Err(bad));
    }
    let Ok(y) = raw::mod_exp(&g, &x, &p) else { return Some(Err(bad)) };
    if kt == ck::CKK_DSA && raw::dsa_check(&p, &q, &g, &y).is_err() {
        return Some(Err(bad));
    }
    let value_bits = if value_bits > 0 { value_bits } else { bits(&x) as u64 };
    let k = DlogKey { p, q, g, y, x: Some(x), value_bits };
    Some(Ok(if kt == ck::CKK_DSA { Key::Dsa(k) } else { Key::Dh(k) }))
}

/// The DER writers and readers (`mech::der`) and these keys' OIDs.
mod der {
    pub use crate::mech::der::*;

    /// 1.2.840.10040.4.1 (id-dsa) and 1.2.840.113549.1.3.1
    /// (dhKeyAgreement), with their tag and length.
    pub const OID_DSA: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
    pub const OID_DH: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x03, 0x01];
}
