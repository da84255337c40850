//! The one DER reader: a TLV at the start of a buffer (definite lengths up
//! to 4 bytes). Used for certificates in the token and PEM keys in the CLI.

/// One DER TLV: (tag, whole encoding, contents, rest).
pub type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

pub fn tlv(b: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = b.len() - rest.len();
    Some((tag, &b[..header + len], &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_long_and_truncated_lengths() {
        assert_eq!(super::tlv(&[0x04, 0x02, 1, 2, 9]), Some((0x04, &[0x04, 0x02, 1, 2][..], &[1, 2][..], &[9][..])));
        let mut long = vec![0x30, 0x81, 200];
        long.extend([7u8; 200]);
        assert_eq!(super::tlv(&long).map(|t| t.2.len()), Some(200));
        assert_eq!(super::tlv(&long[..100]), None);
        assert_eq!(super::tlv(&[0x30, 0x80]), None, "indefinite length");
        assert_eq!(super::tlv(&[0x30]), None);
    }
}
