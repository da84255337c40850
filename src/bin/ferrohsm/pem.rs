//! PEM and hex decoding for key and certificate import (no key bytes are
//! ever printed; decoded buffers are wiped on drop).

use zeroize::Zeroizing;

/// The DER inside the first PEM block labelled `label` (e.g. "PRIVATE KEY").
pub fn pem_block(text: &str, label: &str) -> Option<Zeroizing<Vec<u8>>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    base64(&text[start..stop])
}

fn base64(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() * 3 / 4));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
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
        let alg = der_tlv(0x30, &[&[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00][..]]);
        return Some(pkcs8(&alg, &pkcs1));
    }
    let sec1 = pem_block(text, "EC PRIVATE KEY")?;
    let curve = sec1_curve(&sec1)?;
    // id-ecPublicKey, the named curve.
    let alg = der_tlv(0x30, &[&[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01][..], curve]);
    Some(pkcs8(&alg, &sec1))
}

fn pkcs8(alg: &[u8], key: &[u8]) -> Zeroizing<Vec<u8>> {
    let octets = Zeroizing::new(der_tlv(0x04, &[key]));
    Zeroizing::new(der_tlv(0x30, &[&[0x02, 0x01, 0x00][..], alg, &octets]))
}

fn der_tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

use ferrohsm::model::der::tlv as der_next;

/// The named-curve OID element of a SEC 1 ECPrivateKey's `[0]` parameters.
fn sec1_curve(sec1: &[u8]) -> Option<&[u8]> {
    let (tag, _, body, _) = der_next(sec1)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, _, rest) = der_next(body)?; // version
    let (_, _, _, mut rest) = der_next(rest)?; // privateKey
    while let Some((tag, _, inner, next)) = der_next(rest) {
        if tag == 0xa0 {
            let (t, oid, _, _) = der_next(inner)?;
            return (t == 0x06).then_some(oid);
        }
        rest = next;
    }
    None
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
        let der = super::pem_block("x\n-----BEGIN A-----\nAAEC\nAw==\n-----END A-----\n", "A").unwrap();
        assert_eq!(&der[..], &[0, 1, 2, 3]);
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
        assert_eq!(super::sec1_curve(&sec1), Some(&sec1[10..]));
        assert_eq!(super::der_tlv(0x04, &[&[0u8; 200][..]])[..3], [0x04, 0x81, 200]);
    }
}
