//! CKA_EC_PARAMS and CKA_EC_POINT encodings: named-curve OIDs or printable
//! names in, OIDs out; points as DER OCTET STRINGs (raw points accepted).

use cryptoki_sys as ck;

use crate::error::{Error, Result};
use crate::model::Ulong;
use crate::sys::awslc::ec::{self, Curve};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveId {
    /// A short-Weierstrass curve on aws-lc (NIST, secp256k1, brainpool).
    Nist(Curve),
    Ed25519,
    X25519,
    /// Ed448 and X448: RustCrypto's crates (`mech::curve448`).
    Ed448,
    X448,
}

const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const OID_X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
const OID_P192: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
const OID_ED448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
const OID_X448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6f];
const OID_BP256R1: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07];
const OID_BP384R1: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b];
const OID_BP512R1: &[u8] = &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d];

impl CurveId {
    /// Parses CKA_EC_PARAMS: a namedCurve OID, or a PrintableString name
    /// (PKCS#11 3.0 allows one for Edwards and Montgomery curves; the NIST
    /// names are accepted too). Well-formed but unknown: CKR_CURVE_NOT_SUPPORTED.
    pub fn parse(der: &[u8]) -> Result<CurveId> {
        if der.first() == Some(&0x30) {
            // Explicit parameters (a SEQUENCE, often longer than 127
            // bytes): the curve they spell out, if it is one of aws-lc's
            // built-in curves (SoftHSM tokens may hold such keys; the
            // parameters are kept as given). Another curve, P-192
            // (not built in), or bad DER: CKR_CURVE_NOT_SUPPORTED.
            return ec::curve_of_explicit_params(der).map(CurveId::Nist).map_err(|_| Error::CurveNotSupported);
        }
        let (tag, body) = match der {
            [tag, len, body @ ..] if *len as usize == body.len() && *len < 0x80 => (*tag, body),
            _ => return Err(Error::DomainParamsInvalid),
        };
        match tag {
            0x06 => Ok(match der {
                OID_P256 => CurveId::Nist(Curve::P256),
                OID_P384 => CurveId::Nist(Curve::P384),
                OID_P521 => CurveId::Nist(Curve::P521),
                OID_SECP256K1 => CurveId::Nist(Curve::Secp256k1),
                OID_ED25519 => CurveId::Ed25519,
                OID_X25519 => CurveId::X25519,
                OID_P192 => CurveId::Nist(Curve::P192),
                OID_ED448 => CurveId::Ed448,
                OID_X448 => CurveId::X448,
                OID_BP256R1 => CurveId::Nist(Curve::BrainpoolP256r1),
                OID_BP384R1 => CurveId::Nist(Curve::BrainpoolP384r1),
                OID_BP512R1 => CurveId::Nist(Curve::BrainpoolP512r1),
                _ => return Err(Error::CurveNotSupported),
            }),
            0x13 => Ok(match body {
                b"prime256v1" | b"secp256r1" | b"P-256" => CurveId::Nist(Curve::P256),
                b"secp384r1" | b"P-384" => CurveId::Nist(Curve::P384),
                b"secp521r1" | b"P-521" => CurveId::Nist(Curve::P521),
                b"secp256k1" => CurveId::Nist(Curve::Secp256k1),
                b"edwards25519" | b"Ed25519" => CurveId::Ed25519,
                b"curve25519" | b"X25519" => CurveId::X25519,
                b"prime192v1" | b"secp192r1" | b"P-192" => CurveId::Nist(Curve::P192),
                b"edwards448" | b"Ed448" => CurveId::Ed448,
                b"curve448" | b"X448" => CurveId::X448,
                b"brainpoolP256r1" => CurveId::Nist(Curve::BrainpoolP256r1),
                b"brainpoolP384r1" => CurveId::Nist(Curve::BrainpoolP384r1),
                b"brainpoolP512r1" => CurveId::Nist(Curve::BrainpoolP512r1),
                _ => return Err(Error::CurveNotSupported),
            }),
            // implicitlyCA (NULL).
            0x05 => Err(Error::CurveNotSupported),
            _ => Err(Error::DomainParamsInvalid),
        }
    }

    pub fn oid(self) -> &'static [u8] {
        match self {
            CurveId::Nist(Curve::P256) => OID_P256,
            CurveId::Nist(Curve::P384) => OID_P384,
            CurveId::Nist(Curve::P521) => OID_P521,
            CurveId::Nist(Curve::Secp256k1) => OID_SECP256K1,
            CurveId::Ed25519 => OID_ED25519,
            CurveId::X25519 => OID_X25519,
            CurveId::Nist(Curve::P192) => OID_P192,
            CurveId::Ed448 => OID_ED448,
            CurveId::X448 => OID_X448,
            CurveId::Nist(Curve::BrainpoolP256r1) => OID_BP256R1,
            CurveId::Nist(Curve::BrainpoolP384r1) => OID_BP384R1,
            CurveId::Nist(Curve::BrainpoolP512r1) => OID_BP512R1,
        }
    }

    pub fn key_type(self) -> Ulong {
        match self {
            CurveId::Nist(_) => ck::CKK_EC,
            CurveId::Ed25519 | CurveId::Ed448 => ck::CKK_EC_EDWARDS,
            CurveId::X25519 | CurveId::X448 => ck::CKK_EC_MONTGOMERY,
        }
    }

    pub fn bits(self) -> usize {
        match self {
            CurveId::Nist(c) => c.bits(),
            CurveId::Ed25519 | CurveId::X25519 => 255,
            CurveId::Ed448 | CurveId::X448 => 448,
        }
    }

    /// Length of a raw public point: uncompressed for NIST curves.
    pub fn point_len(self) -> usize {
        match self {
            CurveId::Nist(c) => 1 + 2 * c.byte_len(),
            CurveId::Ed25519 | CurveId::X25519 => 32,
            CurveId::Ed448 => super::curve448::ED448_LEN,
            CurveId::X448 => super::curve448::X448_LEN,
        }
    }
}

/// The point in `v` for a curve whose raw points are `raw_len` bytes: a
/// value of exactly that length is the raw point (a raw point can look like
/// an OCTET STRING header, e.g. 04 3F ... for P-256, one time in 256), else
/// the OCTET STRING is unwrapped.
pub fn point_of(v: &[u8], raw_len: usize) -> &[u8] {
    if v.len() == raw_len {
        v
    } else {
        unwrap_point(v)
    }
}

/// DER OCTET STRING around `raw`.
pub fn octet_string(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    match raw.len() {
        n @ 0..=0x7f => out.push(n as u8),
        n @ 0x80..=0xff => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(raw);
    out
}

/// The point inside a CKA_EC_POINT (or ECDH public data) value: a DER
/// OCTET STRING whose length covers the rest exactly is unwrapped; anything
/// else is taken as the raw point.
fn unwrap_point(v: &[u8]) -> &[u8] {
    let inner = match v {
        [0x04, n, rest @ ..] if *n < 0x80 && *n as usize == rest.len() => Some(rest),
        [0x04, 0x81, n, rest @ ..] if *n >= 0x80 && *n as usize == rest.len() => Some(rest),
        _ => None,
    };
    inner.unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_points() {
        assert_eq!(CurveId::parse(OID_P256).unwrap(), CurveId::Nist(Curve::P256));
        assert_eq!(CurveId::parse(b"\x13\x0cedwards25519").unwrap(), CurveId::Ed25519);
        assert_eq!(CurveId::parse(&[0x06, 0x03, 0x2b, 0x65, 0x71]).unwrap(), CurveId::Ed448);
        assert_eq!(CurveId::parse(b"\x13\x0aedwards448").unwrap(), CurveId::Ed448);
        assert_eq!(CurveId::parse(b"\x13\x08curve448").unwrap(), CurveId::X448);
        assert_eq!(CurveId::parse(OID_BP384R1).unwrap(), CurveId::Nist(Curve::BrainpoolP384r1));
        // brainpoolP320r1: well-formed, not offered.
        let bp320 = [0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x09];
        assert_eq!(CurveId::parse(&bp320), Err(Error::CurveNotSupported));
        assert_eq!(CurveId::parse(b"\x13\x05P-224"), Err(Error::CurveNotSupported));
        assert_eq!(CurveId::parse(&[0x06, 0x09, 0x2b]), Err(Error::DomainParamsInvalid));
        let raw = [4u8; 65];
        assert_eq!(unwrap_point(&octet_string(&raw)), &raw[..]);
        assert_eq!(unwrap_point(&raw), &raw[..]);
        let big = [4u8; 133];
        assert_eq!(octet_string(&big)[..3], [0x04, 0x81, 133]);
        assert_eq!(unwrap_point(&octet_string(&big)), &big[..]);
        // A raw P-256 point whose X starts with 0x3F reads like an OCTET
        // STRING of 63 bytes; with the curve's length it is taken as raw.
        let mut tricky = [7u8; 65];
        tricky[0] = 4;
        tricky[1] = 63;
        assert_eq!(unwrap_point(&tricky).len(), 63);
        assert_eq!(point_of(&tricky, 65), &tricky[..]);
        assert_eq!(point_of(&octet_string(&tricky), 65), &tricky[..]);
    }
}
