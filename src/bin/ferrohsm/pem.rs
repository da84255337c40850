//! PEM and hex decoding for key and certificate import (no key bytes are
//! ever printed; decoded buffers are wiped on drop).

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode};
use pkcs8::spki::AlgorithmIdentifier;
use pkcs8::{PrivateKeyInfo, PrivateKeyInfoRef};
use zeroize::Zeroizing;

/// The DER inside the first PEM block labelled `label` (e.g. "PRIVATE KEY"),
/// wherever it stands in the text (OpenSSL files may carry other blocks or
/// "Bag Attributes" lines around it); the block itself is decoded by
/// RFC 7468's rules (`der::pem`).
pub fn pem_block(text: &str, label: &str) -> Option<Zeroizing<Vec<u8>>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = start + text[start..].find(&end)? + end.len();
    let (got, der) = der::pem::decode_vec(&text.as_bytes()[start..stop]).ok()?;
    (got == label).then(|| Zeroizing::new(der))
}

/// A private key PEM as PKCS#8 DER: `PRIVATE KEY` as is, the traditional
/// `RSA PRIVATE KEY` (PKCS#1) and `EC PRIVATE KEY` (SEC 1, with its named
/// curve) wrapped into PKCS#8, as softhsm2-util (OpenSSL) accepts them.
pub fn private_key_pkcs8(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    if let Some(der) = pem_block(text, "PRIVATE KEY") {
        return Some(der);
    }
    if let Some(pkcs1) = pem_block(text, "RSA PRIVATE KEY") {
        // rsaEncryption, NULL parameters.
        let alg = AlgorithmIdentifier { oid: RSA_ENCRYPTION, parameters: Some(AnyRef::NULL) };
        return pkcs8(alg, &pkcs1);
    }
    let sec1 = pem_block(text, "EC PRIVATE KEY")?;
    let curve = sec1_curve(&sec1)?;
    // id-ecPublicKey, the named curve.
    let alg = AlgorithmIdentifier { oid: EC_PUBLIC_KEY, parameters: Some(AnyRef::from(&curve)) };
    pkcs8(alg, &sec1)
}

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

fn pkcs8(alg: AlgorithmIdentifier<AnyRef<'_>>, key: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let info: PrivateKeyInfoRef<'_> = PrivateKeyInfo::new(alg, OctetStringRef::new(key).ok()?);
    info.to_der().ok().map(Zeroizing::new)
}

/// The named curve of a SEC 1 ECPrivateKey's `[0]` parameters.
fn sec1_curve(sec1: &[u8]) -> Option<ObjectIdentifier> {
    sec1::EcPrivateKey::from_der(sec1).ok()?.parameters?.named_curve()
}

/// Hex text to bytes, with softhsm2-util's error messages.
pub fn hex_to_bin(s: &str) -> Result<Vec<u8>, &'static str> {
    if !s.is_ascii() {
        return Err("ERROR: Invalid character in hex string.");
    }
    if s.len() % 2 != 0 {
        return Err("ERROR: Invalid length on hex string.");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| "ERROR: Invalid character in hex string."))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes() {
        let der = super::pem_block("x\n-----BEGIN A-----\nAAECAw==\n-----END A-----\n", "A").unwrap();
        assert_eq!(&der[..], &[0, 1, 2, 3]);
        assert!(super::pem_block("-----BEGIN A-----\nAA!C\n-----END A-----\n", "A").is_none());
        assert_eq!(super::hex_to_bin("0aFf").unwrap(), vec![10, 255]);
        assert!(super::hex_to_bin("0g").is_err());
        assert!(super::hex_to_bin("abc").is_err());
    }

    #[test]
    fn wraps_sec1_into_pkcs8() {
        // A SEC 1 key with [0] prime256v1: version 1, a 1-byte "key".
        let sec1 = [
            0x30, 0x12, 0x02, 0x01, 0x01, 0x04, 0x01, 0x07, 0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
            0x01, 0x07,
        ];
        assert_eq!(super::sec1_curve(&sec1).map(|o| o.to_string()).as_deref(), Some("1.2.840.10045.3.1.7"));
        let curve = super::sec1_curve(&sec1).unwrap();
        let alg = pkcs8::spki::AlgorithmIdentifier {
            oid: super::EC_PUBLIC_KEY,
            parameters: Some(der::asn1::AnyRef::from(&curve)),
        };
        let p8 = super::pkcs8(alg, &sec1).unwrap();
        // SEQUENCE { INTEGER 0, SEQUENCE { ecPublicKey, prime256v1 }, OCTET STRING sec1 }
        assert_eq!(p8[..5], [0x30, 0x2e, 0x02, 0x01, 0x00]);
        assert!(p8.ends_with(&sec1));
    }
}
