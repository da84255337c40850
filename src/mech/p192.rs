//! PKCS#8 and SubjectPublicKeyInfo for NIST P-192 keys. aws-lc runs P-192
//! as a custom group (it has no built-in one), and its encoders and parsers
//! only know named built-in curves, so these two encodings are made and
//! read here (RFC 5480 / RFC 5915 with the prime192v1 OID).

use der::asn1::ObjectIdentifier;
use der::Decode;
use pkcs8::PrivateKeyInfoRef;
use zeroize::Zeroizing;

/// id-ecPublicKey, prime192v1 (as DER, tag and length included).
const ALG: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
    0x01, 0x01,
];
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME192V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.1");
/// Scalar bytes; an uncompressed point is 1 + 2·24.
pub const LEN: usize = 24;
const POINT_LEN: usize = 1 + 2 * LEN;

/// SubjectPublicKeyInfo of an uncompressed point.
pub fn spki(point: &[u8]) -> Option<Vec<u8>> {
    if point.len() != POINT_LEN {
        return None;
    }
    let mut der = vec![0x30, (ALG.len() + 3 + POINT_LEN) as u8];
    der.extend_from_slice(ALG);
    der.extend_from_slice(&[0x03, 1 + POINT_LEN as u8, 0x00]);
    der.extend_from_slice(point);
    Some(der)
}

/// PKCS#8 PrivateKeyInfo holding an RFC 5915 ECPrivateKey (version 1,
/// the scalar, the public key).
pub fn pkcs8(scalar: &[u8], point: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if scalar.len() != LEN || point.len() != POINT_LEN {
        return None;
    }
    let mut ec = Zeroizing::new(vec![0x30, (3 + 2 + LEN + 2 + 3 + POINT_LEN) as u8, 0x02, 0x01, 0x01, 0x04, LEN as u8]);
    ec.extend_from_slice(scalar);
    ec.extend_from_slice(&[0xa1, (3 + POINT_LEN) as u8, 0x03, 1 + POINT_LEN as u8, 0x00]);
    ec.extend_from_slice(point);
    let mut der = Zeroizing::new(vec![0x30, (3 + ALG.len() + 2 + ec.len()) as u8, 0x02, 0x01, 0x00]);
    der.extend_from_slice(ALG);
    der.extend_from_slice(&[0x04, ec.len() as u8]);
    der.extend_from_slice(&ec);
    Some(der)
}

/// A P-192 private scalar (24 bytes) and the public point that came with it.
pub type Parsed = (Zeroizing<Vec<u8>>, Option<Vec<u8>>);

/// The scalar of a P-192 key in PKCS#8 (None for any other key or curve).
/// The curve is named in the algorithm's parameters or, failing that, in
/// the ECPrivateKey's own; a public key in it is returned for the caller
/// to check.
pub fn parse_pkcs8(der: &[u8]) -> Option<Parsed> {
    let info = PrivateKeyInfoRef::from_der(der).ok()?;
    if info.algorithm.oid != EC_PUBLIC_KEY {
        return None;
    }
    let ec = sec1::EcPrivateKey::from_der(info.private_key.as_bytes()).ok()?;
    let named = info.algorithm.parameters_oid().ok().or_else(|| ec.parameters.and_then(|p| p.named_curve()));
    if named != Some(PRIME192V1) || ec.private_key.len() > LEN {
        return None;
    }
    let mut scalar = Zeroizing::new(vec![0u8; LEN - ec.private_key.len()]);
    scalar.extend_from_slice(ec.private_key);
    Some((scalar, ec.public_key.map(<[u8]>::to_vec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_round_trip() {
        let (d, q) = ([7u8; LEN], [4u8; POINT_LEN]);
        let der = pkcs8(&d, &q).unwrap();
        let (d2, q2) = parse_pkcs8(&der).unwrap();
        assert_eq!((&d2[..], q2.as_deref()), (&d[..], Some(&q[..])));
        assert_eq!(der.len(), 113);
        let spki = spki(&q).unwrap();
        assert_eq!(spki[..3], [0x30, 0x49, 0x30]);
        assert!(pkcs8(&d[1..], &q).is_none());
        assert!(parse_pkcs8(&der[..der.len() - 1]).is_none());
    }
}
