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
}
